/**
 * `explain` shows both layouts of a frame: the memdesc word decoded, and the 64-byte struct page
 * Linux would keep (dump_page()'s raw: lines), with PTEs in x86-64 bit positions, real anon
 * indices and canonical kernel addresses (x86-64, 4-level paging, no KASLR).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { decodeFlagsWord, flagsWord, Machine, PG } from '../../src/index.js';
import { structPage } from '../../src/machine/struct_page.js';
import { scratchDir } from '../helpers.js';

const dir = scratchDir('pagelab-layouts-');

function file(name: string, steps: string[], machine = '{ memory: 128M }'): string {
  const path = join(dir, name);
  writeFileSync(
    path,
    ['name: t', `machine: ${machine}`, 'steps:', ...steps.map((s) => `  - ${s}`), ''].join('\n'),
  );
  return path;
}

async function cli(...argv: string[]) {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (s) => (out += s), err: (s) => (err += s) });
  return { code, out, err };
}

/** The eight words of the raw: lines of a dump (the first two raw: lines). */
function rawWords(text: string, prefix = 'raw: '): bigint[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith(prefix) && /^[0-9a-f]{16} /.test(l.slice(prefix.length)))
    .slice(0, 2)
    .flatMap((l) => l.slice(prefix.length).split(' '))
    .map((w) => BigInt(`0x${w}`));
}

const vm = file('vm.yaml', [
  '{ op: spawn, name: p }',
  '{ op: mmap, proc: p, name: buf, size: 8K, prot: rw, flags: [private, anonymous] }',
  '{ op: write, proc: p, addr: buf+4K, byte: 7, len: 1 }',
  '{ op: mmap, proc: p, name: code, size: 4K, prot: rx, flags: [private, anonymous] }',
  '{ op: read, proc: p, addr: code, len: 1 }',
  '{ op: folio_alloc, order: 2, as: big }',
  '{ op: kmalloc, size: 64, as: obj }',
  '{ op: vmalloc, size: 8K, as: v }',
]);

describe('explain: the flags word in the kernel bit positions', () => {
  it('node, zone and a reset last_cpupid sit above the page flags as on an x86-64 distribution kernel', () => {
    // A free page of ZONE_NORMAL on node 0 reads 0x17ffffc0000000 in real dump_page() output.
    expect(flagsWord(0, 'Normal', 0)).toBe(0x17ffffc0000000n);
    const w = flagsWord(1, 'DMA32', PG.head | PG.swapbacked);
    expect(decodeFlagsWord(w)).toEqual({
      nid: 1,
      zone: 1,
      lastCpupid: 0x1fffff,
      flags: PG.head | PG.swapbacked,
    });
    expect(w >> 54n).toBe(1n);
  });

  it('a page on the second node of a two-node machine has node 1 in its flags word', () => {
    const m = new Machine({ memory: '256M', nodes: 2 });
    const pfn = m.folioPfn(m.folioAlloc(0, { nid: 1 }));
    const sp = structPage(m.kernel, pfn, m.page(pfn).nid, m.page(pfn).zone);
    expect(decodeFlagsWord(sp.words[0]).nid).toBe(1);
    expect(decodeFlagsWord(sp.words[0]).flags).toBe(PG.swapbacked);
  });
});

describe('explain --pfn: both layouts', () => {
  it('a mapped anon page: its real anon index, mapping with PAGE_MAPPING_ANON, counts and addresses', async () => {
    const walk = await cli('explain', vm, '--after', '3', '--proc', 'p', '--addr', 'buf+4K');
    const addr = BigInt(/= (0x[0-9a-f]+):/.exec(walk.out)![1]);
    const pfn = Number(/maps pfn (0x[0-9a-f]+)/.exec(walk.out)![1]);
    const r = await cli('explain', vm, '--after', '3', '--pfn', String(pfn));
    expect(r.code).toBe(0);
    // The anon index is the page's linear index in its anon_vma: the address in pages.
    expect(r.out).toContain(`index:0x${(addr >> 12n).toString(16)} pfn:0x${pfn.toString(16)}`);
    const w = rawWords(r.out);
    expect(w).toHaveLength(8);
    expect(decodeFlagsWord(w[0]).flags).toBe(PG.lru | PG.anon_exclusive | PG.swapbacked);
    expect(w[3] & 3n).toBe(1n); // PAGE_MAPPING_ANON
    expect(w[4]).toBe(addr >> 12n);
    // _mapcount 0 (one mapping, -1 based) in the low half, _refcount 1 in the high half.
    expect(w[6]).toBe(0x0000000100000000n);
    expect(r.out).toContain(
      'memdesc word: 0x0000000000000002: type 2 (anon), order 0, descriptor: folio row 0',
    );
    expect(r.out).toContain(
      `addresses: struct page 0x${(0xffffea0000000000n + BigInt(pfn) * 64n).toString(16)} (vmemmap), page_address 0x${(0xffff888000000000n + BigInt(pfn) * 4096n).toString(16)} (direct map)`,
    );
    expect(r.out).toMatch(/raw words: flags, lru\.next\*, lru\.prev\*, mapping\*, index, private/);
  });

  it('a large folio: head and tail pages, the second page holding the folio mapcounts and size', async () => {
    const head = await cli('explain', vm, '--pfn', 'big');
    const pfn = Number(/labels: big \(folio, pfn (0x[0-9a-f]+)/.exec(head.out)![1]);
    const hw = rawWords(head.out);
    expect(decodeFlagsWord(hw[0]).flags).toBe(PG.head | PG.swapbacked);
    expect(hw[6]).toBe(0x00000001ffffffffn); // unmapped: _mapcount -1, _refcount 1
    const second = await cli('explain', vm, '--pfn', String(pfn + 1));
    const sw = rawWords(second.out);
    // PG_large_rmappable is PG_workingset on the second page.
    expect(decodeFlagsWord(sw[0]).flags).toBe(PG.workingset);
    expect(sw[1]).toBe((0xffffea0000000000n + BigInt(pfn) * 64n) | 1n); // _head_1 = head | 1
    expect(sw[2]).toBe(0x00000000ffffffffn); // _large_mapcount -1, _nr_pages_mapped 0
    expect(sw[7]).toBe(4n); // _nr_pages
    expect(second.out).toContain('raw words: _flags_1, _head_1, _large_mapcount|_nr_pages_mapped');
    // A tail page also prints its head's struct page, as dump_page() does.
    expect(rawWords(second.out, 'head: ')).toEqual(hw);
    const third = await cli('explain', vm, '--pfn', String(pfn + 2));
    const tw = rawWords(third.out);
    expect(tw[1]).toBe(sw[1]);
    expect(tw[3]).toBe(0xdead000000000400n); // TAIL_MAPPING
    expect(third.out).toContain(`index:0x2 pfn:0x${(pfn + 2).toString(16)}`);
  });

  it('a free buddy block, a slab, a page table and a vmalloc page each in their own layout', async () => {
    const slab = await cli('explain', vm, '--pfn', 'obj');
    const w = rawWords(slab.out);
    expect(w[6]).toBe(0x00000001f5000000n); // PGTY_slab, refcount 1
    expect(w[5] & 0xffffn).toBe(1n); // counters.inuse
    expect((w[5] >> 16n) & 0x7fffn).toBe(64n); // counters.objects: 4096 / 64
    expect(slab.out).toContain('raw words: flags, slab_cache*');
    const v = await cli('explain', vm, '--pfn', 'v');
    expect(v.out).toContain('type 7 (vmalloc), order 0, page 0 of its area, descriptor: scamem row 0');
    expect(v.out).toContain('vmalloc 0xffffc90000000000');
    const vw = rawWords(v.out);
    expect(vw[6]).toBe(0x00000001ffffffffn); // refcount 1 (vmalloc's own), unmapped
    expect([vw[1], vw[2]]).toEqual([0xdead000000000100n, 0xdead000000000122n]); // LIST_POISON1/2
    const free = await cli('explain', vm, '--after', '0', '--pfn', '0x400');
    const fw = rawWords(free.out);
    expect(fw[6]).toBe(0x00000000f0000000n); // PGTY_buddy, refcount 0
    expect(fw[5]).toBe(BigInt(/order (\d+)/.exec(free.out)![1])); // private = order
    const walk = await cli('explain', vm, '--after', '3', '--proc', 'p', '--addr', 'buf');
    const table = Number(/pte table pfn (0x[0-9a-f]+)/.exec(walk.out)![1]);
    const pt = await cli('explain', vm, '--after', '3', '--pfn', String(table));
    expect(rawWords(pt.out)[6]).toBe(0x00000001f2000000n); // PGTY_table
  });
});

describe('explain --proc --addr: entries in x86-64 bit positions', () => {
  it('a writable anon PTE is P|RW|US|A|D|NX over the pfn; table entries are _PAGE_TABLE; rx has no NX', async () => {
    const r = await cli('explain', vm, '--after', '5', '--proc', 'p', '--addr', 'buf+4K');
    const pfn = BigInt(/maps pfn (0x[0-9a-f]+)/.exec(r.out)![1]);
    const pte = `0x${((pfn << 12n) | 0x8000000000000067n).toString(16).padStart(16, '0')}`;
    expect(r.out).toContain(`${pte} -> pfn 0x${pfn.toString(16)} (x86: P RW US A D NX)`);
    const pmd = /pmd table pfn 0x[0-9a-f]+ \[\s*\d+\] (0x[0-9a-f]+) -> table pfn (0x[0-9a-f]+)/.exec(r.out)!;
    expect(BigInt(pmd[1])).toBe((BigInt(pmd[2]) << 12n) | 0x67n);
    const code = await cli('explain', vm, '--after', '5', '--proc', 'p', '--addr', 'code');
    // A read fault on private anon memory maps the zero page: special, read-only, and executable (rx).
    const zero = BigInt(/maps pfn (0x[0-9a-f]+)/.exec(code.out)![1]);
    const entry = `0x${((zero << 12n) | 0x225n).toString(16).padStart(16, '0')}`;
    expect(code.out).toContain(`${entry} -> pfn 0x${zero.toString(16)} (x86: P US A SPECIAL)`);
  });

  it('--json carries the same layouts and the x86 entries', async () => {
    const r = await cli('explain', vm, '--after', '3', '--proc', 'p', '--addr', 'buf+4K', '--json');
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.out);
    const words = doc.layouts.structPage.words.map((w: string) => BigInt(w));
    expect(words).toEqual(rawWords(doc.dump));
    expect(doc.layouts.structPage.synthesised).toEqual([false, true, true, true, false, false, false, true]);
    expect(doc.layouts.memdescWord).toMatch(/^0x[0-9a-f]{16}: type 2 \(anon\)/);
    const leaf = doc.walk.at(-1);
    expect(leaf.x86).toMatch(/^0x8000000000[0-9a-f]{3}067$/);
    expect(leaf.x86Bits).toBe('P RW US A D NX');
  });

  it('a bad offset in --addr is one line and exit 2', async () => {
    const r = await cli('explain', vm, '--proc', 'p', '--addr', 'buf+2M+4K');
    expect(r.code).toBe(2);
    expect(r.err).toBe(
      "pagelab: 'buf+2M+4K': bad size '2M+4K': expected a number with an optional K, M, G, T or P suffix\n",
    );
  });
});
