/**
 * MADV_POPULATE_READ and MADV_POPULATE_WRITE (src/mm/madvise.ts; mm/madvise.c madvise_populate,
 * mm/gup.c faultin_page_range): read and write faults over a range without touching its bytes, on
 * anonymous, file, shared and THP ranges, and the kernel's errnos — no VMA is ENOMEM (what came
 * before stays populated), a VMA check_vma_flags refuses is EINVAL, a SIGBUS is EFAULT, a
 * hwpoison entry EHWPOISON. Every machine runs `check: full`.
 */
import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/index.js';
import { errnoOf as errno } from '../helpers.js';

const PAGE = 4096;
const M2 = 2 << 20;

function setup(memory = '512M') {
  const m = new Machine({ memory, check: 'full', thp: 'madvise' });
  const p = m.spawn('p');
  const map = (length: number, prot: string, flags: string[], file?: string) =>
    m.mmap(p, { length, prot, flags, file });
  return { m, p, map };
}

/** A device 'bar' whose mmap remap_pfn_range()s a 256 KiB I/O region (VM_IO | VM_PFNMAP). */
function barDevice(m: Machine): void {
  const io = m.ioRegion('256K', { name: 'bar0' });
  m.defineDevice('bar', { mmap: (ctx) => ctx.remapPfnRange(ctx.start, io + ctx.pgoff, ctx.end - ctx.start) });
}

const type = (m: Machine, p: number, addr: number) => {
  const t = m.translate(p, addr);
  return t ? m.page(t.pfn).type : 'none';
};

describe('MADV_POPULATE_READ', () => {
  it('maps the zero page into private anonymous memory, and no anon page', () => {
    const { m, p, map } = setup();
    const a = map(4 * PAGE, 'r', ['private', 'anonymous']);
    m.madvise(p, a, 4 * PAGE, 'populate_read');
    for (let i = 0; i < 4; i++) expect(type(m, p, a + i * PAGE)).toBe('zero');
    expect(m.process(p).rss.anon).toBe(0);
  });

  it('maps the huge zero page into a THP range', () => {
    const { m, p, map } = setup('1G');
    const a = map(M2, 'rw', ['private', 'anonymous']);
    m.madvise(p, a, M2, 'hugepage');
    m.madvise(p, a, M2, 'populate_read');
    expect(m.pageAt(p, a + PAGE)).toMatchObject({ level: 'pmd', type: 'zero' });
  });

  it('shares what fork shared, and maps page-cache pages of a file', () => {
    const { m, p, map } = setup();
    const a = map(PAGE, 'rw', ['private', 'anonymous']);
    m.write(p, a, { byte: 1, len: PAGE });
    const c = m.fork(p, 'c');
    m.madvise(p, a, PAGE, 'populate_read');
    expect(m.translate(p, a)!.pfn).toBe(m.translate(c, a)!.pfn);
    expect(m.pageAt(p, a)).toMatchObject({ mapcount: 2, anonExclusive: false });
    m.fileCreate('f', 2 * PAGE, 7);
    const f = map(2 * PAGE, 'r', ['private'], 'f');
    m.madvise(p, f, 2 * PAGE, 'populate_read');
    expect(type(m, p, f + PAGE)).toBe('file');
    expect(m.fileInfo('f').cached).toBe(2);
  });

  it('needs VM_READ: PROT_WRITE alone and PROT_NONE are EINVAL', () => {
    const { m, p, map } = setup();
    expect(errno(() => m.madvise(p, map(PAGE, 'w', ['private', 'anonymous']), PAGE, 'populate_read'))).toBe(
      'EINVAL',
    );
    expect(
      errno(() => m.madvise(p, map(PAGE, 'none', ['private', 'anonymous']), PAGE, 'populate_read')),
    ).toBe('EINVAL');
  });
});

describe('MADV_POPULATE_WRITE', () => {
  it('write-faults private anonymous memory: exclusive zeroed pages, bytes untouched', () => {
    const { m, p, map } = setup();
    const a = map(4 * PAGE, 'rw', ['private', 'anonymous']);
    m.write(p, a, { byte: 9, len: 16 });
    m.madvise(p, a, 4 * PAGE, 'populate_write');
    for (let i = 0; i < 4; i++)
      expect(m.pageAt(p, a + i * PAGE)).toMatchObject({ type: 'anon', anonExclusive: true });
    expect(m.read(p, a, 16).bytes.every((b) => b === 9)).toBe(true);
    expect(m.read(p, a + PAGE, PAGE).bytes.every((b) => b === 0)).toBe(true);
    expect(m.process(p).rss.anon).toBe(4);
  });

  it('breaks COW of what fork shared and unshares the zero page', () => {
    const { m, p, map } = setup();
    const a = map(2 * PAGE, 'rw', ['private', 'anonymous']);
    m.write(p, a, { byte: 1, len: PAGE });
    m.read(p, a + PAGE, 1);
    expect(type(m, p, a + PAGE)).toBe('zero');
    const c = m.fork(p, 'c');
    const shared = m.translate(p, a)!.pfn;
    m.madvise(p, a, 2 * PAGE, 'populate_write');
    expect(m.translate(p, a)!.pfn).not.toBe(shared);
    expect(m.translate(c, a)!.pfn).toBe(shared);
    expect(m.read(p, a, 1).bytes[0]).toBe(1);
    expect(m.pageAt(p, a + PAGE)).toMatchObject({ type: 'anon', anonExclusive: true });
  });

  it('replaces the huge zero page by a THP', () => {
    const { m, p, map } = setup('1G');
    const a = map(M2, 'rw', ['private', 'anonymous']);
    m.madvise(p, a, M2, 'hugepage');
    m.madvise(p, a, M2, 'populate_read');
    m.madvise(p, a, M2, 'populate_write');
    expect(m.pageAt(p, a + PAGE)).toMatchObject({ level: 'pmd', type: 'anon', order: 9 });
  });

  it('a private file page gets an anon copy; a shared one is dirtied in the page cache', () => {
    const { m, p, map } = setup();
    m.fileCreate('f', PAGE, 7);
    const priv = map(PAGE, 'rw', ['private'], 'f');
    m.madvise(p, priv, PAGE, 'populate_write');
    expect(m.pageAt(p, priv)).toMatchObject({ type: 'anon', anonExclusive: true });
    expect(m.read(p, priv, 1).bytes[0]).toBe(7);
    expect(m.fileInfo('f').dirty).toBe(false);
    const sh = map(PAGE, 'rw', ['shared'], 'f');
    m.madvise(p, sh, PAGE, 'populate_write');
    expect(type(m, p, sh)).toBe('file');
    expect(m.translate(p, sh)!.flags).toContain('write');
    expect(m.fileInfo('f').dirty).toBe(true);
  });

  it('needs VM_WRITE: PROT_READ and a read-only shared file are EINVAL; PROT_WRITE alone is enough', () => {
    const { m, p, map } = setup();
    expect(errno(() => m.madvise(p, map(PAGE, 'r', ['private', 'anonymous']), PAGE, 'populate_write'))).toBe(
      'EINVAL',
    );
    m.fileCreate('f', PAGE, 1);
    expect(errno(() => m.madvise(p, map(PAGE, 'r', ['shared'], 'f'), PAGE, 'populate_write'))).toBe('EINVAL');
    const w = map(PAGE, 'w', ['private', 'anonymous']);
    m.madvise(p, w, PAGE, 'populate_write');
    expect(type(m, p, w)).toBe('anon');
  });

  it('breaks a KSM page, as a store would', () => {
    const { m, p, map } = setup();
    const a = map(2 * PAGE, 'rw', ['private', 'anonymous']);
    m.madvise(p, a, 2 * PAGE, 'mergeable');
    m.write(p, a, { byte: 3, len: 2 * PAGE });
    m.ksmScan();
    expect(m.pageAt(p, a)!.flagNames).toContain('ksm');
    m.madvise(p, a, PAGE, 'populate_write');
    expect(m.pageAt(p, a)!.flagNames).not.toContain('ksm');
    expect(m.pageAt(p, a + PAGE)!.flagNames).toContain('ksm');
  });
});

describe('MADV_POPULATE errnos', () => {
  it('a hole is ENOMEM, and what lies before it stays populated', () => {
    const { m, p, map } = setup();
    const a = map(8 * PAGE, 'rw', ['private', 'anonymous']);
    m.munmap(p, a + PAGE, PAGE);
    expect(errno(() => m.madvise(p, a, 8 * PAGE, 'populate_read'))).toBe('ENOMEM');
    expect(type(m, p, a)).toBe('zero');
    expect(type(m, p, a + 2 * PAGE)).toBe('none');
    expect(errno(() => m.madvise(p, a, 2 * PAGE, 'populate_write'))).toBe('ENOMEM');
    expect(type(m, p, a)).toBe('anon');
    expect(errno(() => m.madvise(p, a + PAGE, PAGE, 'populate_write'))).toBe('ENOMEM');
    expect(m.madvise(p, a, 0, 'populate_write')).toBeUndefined();
    expect(errno(() => m.madvise(p, a + 1, PAGE, 'populate_write'))).toBe('EINVAL');
  });

  it('a fault that ends in SIGBUS is EFAULT (a file page past EOF); the pages before it stay', () => {
    const { m, p, map } = setup();
    m.fileCreate('f', PAGE, 5);
    const f = map(4 * PAGE, 'r', ['private'], 'f');
    expect(errno(() => m.madvise(p, f, 4 * PAGE, 'populate_read'))).toBe('EFAULT');
    expect(type(m, p, f)).toBe('file');
    expect(type(m, p, f + PAGE)).toBe('none');
    expect(m.process(p).signals).toEqual([]);
  });

  it('a pfn map (VM_IO | VM_PFNMAP) is EINVAL', () => {
    const { m, p } = setup();
    const io = m.ioRegion('256K', { name: 'bar0' });
    m.defineDevice('io', { mmap: (ctx) => ctx.remapPfnRange(ctx.start, io, ctx.end - ctx.start) });
    const d = m.mmapDevice(p, { length: PAGE, prot: 'rw', flags: ['shared'], device: 'io' });
    expect(errno(() => m.madvise(p, d, PAGE, 'populate_read'))).toBe('EINVAL');
  });

  it('a hwpoison entry is EHWPOISON (FOLL_HWPOISON)', () => {
    const { m, p, map } = setup();
    const a = map(2 * PAGE, 'rw', ['private', 'anonymous']);
    m.write(p, a, { byte: 1, len: 2 * PAGE });
    m.memoryFailure({ pid: p, addr: a + PAGE });
    expect(errno(() => m.madvise(p, a, 2 * PAGE, 'populate_read'))).toBe('EHWPOISON');
  });
});

describe('madvise_walk_vmas: VMA by VMA (mm/madvise.c)', () => {
  it('MADV_WIPEONFORK over [private anon][private file]: EINVAL at the file VMA, the anon one is wiped already', () => {
    const { m, p } = setup();
    const a = m.mmap(p, { length: 4 * PAGE, prot: 'rw', flags: ['private', 'anonymous'] });
    m.fileCreate('f', 2 * PAGE, 3);
    m.mmap(p, { addr: a + 2 * PAGE, length: 2 * PAGE, prot: 'rw', flags: ['private', 'fixed'], file: 'f' });
    m.write(p, a, { byte: 5, len: PAGE });
    expect(errno(() => m.madvise(p, a, 4 * PAGE, 'wipeonfork'))).toBe('EINVAL');
    expect(m.process(p).vmas[0].flags).toContain('wipeonfork');
    const c = m.fork(p, 'c');
    expect(m.read(c, a, 1).bytes[0]).toBe(0);
    expect(m.read(p, a, 1).bytes[0]).toBe(5);
  });

  it('MADV_DOFORK over [DONTCOPY anon][VM_IO pfnmap]: EINVAL at the device VMA, DONTCOPY gone from the anon one', () => {
    const { m, p } = setup();
    barDevice(m);
    const a = m.mmap(p, { length: 4 * PAGE, prot: 'rw', flags: ['private', 'anonymous'] });
    m.mmapDevice(p, {
      device: 'bar',
      addr: a + 2 * PAGE,
      length: 2 * PAGE,
      prot: 'rw',
      flags: ['shared', 'fixed'],
    });
    m.madvise(p, a, 2 * PAGE, 'dontfork');
    expect(m.process(p).vmas[0].flags).toContain('dontcopy');
    expect(errno(() => m.madvise(p, a, 4 * PAGE, 'dofork'))).toBe('EINVAL');
    expect(m.process(p).vmas[0].flags).not.toContain('dontcopy');
  });
});

describe('ksm_madvise: flags that do not change split nothing; UNMERGEABLE out of memory is EAGAIN', () => {
  it('MERGEABLE inside a shared VMA (not KSM-compatible) and UNMERGEABLE inside a non-mergeable one leave one VMA', () => {
    const { m, p } = setup();
    const s = m.mmap(p, { length: 4 * PAGE, prot: 'rw', flags: ['shared', 'anonymous'] });
    m.madvise(p, s + PAGE, PAGE, 'mergeable');
    expect(m.process(p).vmas).toHaveLength(1);
    expect(m.process(p).vmas[0].flags).not.toContain('mergeable');
    // Still one VMA, so it can grow as a whole.
    expect(errno(() => m.mremap(p, s, 4 * PAGE, 8 * PAGE, { flags: ['maymove'] }))).toBeUndefined();
    const a = m.mmap(p, { length: 4 * PAGE, prot: 'rw', flags: ['private', 'anonymous'] });
    m.madvise(p, a + PAGE, PAGE, 'unmergeable');
    expect(m.process(p).vmas).toHaveLength(2);
    // A compatible VMA does split around the range it becomes mergeable in.
    m.madvise(p, a + PAGE, PAGE, 'mergeable');
    expect(m.process(p).vmas).toHaveLength(4);
  });

  it('UNMERGEABLE whose break_ksm cannot copy a page fails with EAGAIN, the VMA still mergeable', () => {
    const m = new Machine({ memory: '128M', check: 'off' });
    const p = m.spawn('p');
    const n = 600;
    const a = m.mmap(p, { length: n * PAGE, prot: 'rw', flags: ['private', 'anonymous'] });
    m.madvise(p, a, n * PAGE, 'mergeable');
    m.touch(p, a, n * PAGE, { write: true, byte: 1 });
    expect(m.ksmScan()).toBeGreaterThan(500);
    for (const order of [10, 5, 0])
      try {
        for (;;) m.allocPages(order);
      } catch {}
    expect(errno(() => m.madvise(p, a, n * PAGE, 'unmergeable'))).toBe('EAGAIN');
    expect(m.process(p).vmas[0].flags).toContain('mergeable');
    m.check('full');
  });
});

describe('MADV_PAGEOUT and the accessed bit', () => {
  it('leaves the PTE young (only MADV_COLD clears it: `!pageout && pte_young`)', () => {
    const { m, p } = setup(); // no swap: the anon page stays mapped
    const a = m.mmap(p, { length: PAGE, prot: 'rw', flags: ['private', 'anonymous'] });
    m.write(p, a, { byte: 1, len: PAGE });
    expect(m.pageAt(p, a)?.pte).toContain('young');
    m.pageout(p, a, PAGE);
    expect(m.translate(p, a)).toBeDefined();
    expect(m.pageAt(p, a)?.pte).toContain('young');
  });
});

describe('MADV_COLD (madvise_cold)', () => {
  it('clears the young bit and PG_referenced of pages only this process maps; a page shared after fork keeps both', () => {
    const { m, p } = setup();
    const a = m.mmap(p, { length: 2 * PAGE, prot: 'rw', flags: ['private', 'anonymous'] });
    m.write(p, a, { byte: 1, len: 2 * PAGE });
    const c = m.fork(p, 'c');
    m.write(p, a, { byte: 2, len: PAGE }); // COW: the first page is the parent's own again
    m.read(c, a + PAGE, 1); // the second stays shared with the child
    m.madvise(p, a, 2 * PAGE, 'cold');
    expect(m.pageAt(p, a)?.pte).not.toContain('young');
    expect(m.pageAt(p, a + PAGE)?.pte).toContain('young');
    expect(m.read(p, a, 1).bytes[0]).toBe(2); // nothing is reclaimed
    expect(m.process(p).rss.anon).toBe(2);
  });

  it('refuses what can_madv_lru_vma refuses, as PAGEOUT does', () => {
    const { m, p } = setup();
    barDevice(m);
    const d = m.mmapDevice(p, { device: 'bar', length: 2 * PAGE, prot: 'rw', flags: ['shared'] });
    expect(errno(() => m.madvise(p, d, 2 * PAGE, 'cold'))).toBe('EINVAL');
  });
});

describe('the VMA-flag advice: RANDOM, SEQUENTIAL, NORMAL, DONTDUMP, DODUMP', () => {
  it('RANDOM and SEQUENTIAL exclude each other, NORMAL clears both; each splits only where a flag changes', () => {
    const { m, p } = setup();
    const a = m.mmap(p, { length: 4 * PAGE, prot: 'rw', flags: ['private', 'anonymous'] });
    const flags = () => m.process(p).vmas.map((v) => v.flags.split('|').filter((f) => f.endsWith('_read')));
    m.madvise(p, a + PAGE, PAGE, 'random');
    expect(flags()).toEqual([[], ['rand_read'], []]);
    m.madvise(p, a + PAGE, PAGE, 'sequential');
    expect(flags()).toEqual([[], ['seq_read'], []]);
    m.madvise(p, a, 4 * PAGE, 'normal');
    expect(flags()).toEqual([[], [], []]);
  });

  it('DODUMP on a VM_SPECIAL mapping is EINVAL (remap_pfn_range set VM_DONTDUMP there); DONTDUMP/DODUMP toggle it elsewhere', () => {
    const { m, p } = setup();
    barDevice(m);
    const d = m.mmapDevice(p, { device: 'bar', length: 2 * PAGE, prot: 'rw', flags: ['shared'] });
    expect(errno(() => m.madvise(p, d, 2 * PAGE, 'dodump'))).toBe('EINVAL');
    expect(errno(() => m.madvise(p, d, 2 * PAGE, 'dontdump'))).toBeUndefined();
    const a = m.mmap(p, { length: 2 * PAGE, prot: 'rw', flags: ['private', 'anonymous'] });
    const vma = () => m.process(p).vmas.find((v) => v.start === a)!;
    m.madvise(p, a, 2 * PAGE, 'dontdump');
    expect(vma().flags).toContain('dontdump');
    m.madvise(p, a, 2 * PAGE, 'dodump');
    expect(vma().flags).not.toContain('dontdump');
  });
});
