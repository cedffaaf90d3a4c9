/**
 * mremap (src/mm/mremap.ts, mm/mremap.c): the errnos of check_mremap_params and check_prep_vma,
 * shrink, growth in place and by moving, MREMAP_FIXED (several VMAs, gaps kept), MREMAP_DONTUNMAP,
 * page tables moved rather than copied (frames, counts, rss and anon-exclusive bits unchanged, the
 * rmap finding the new address), PMD-mapped THPs moved whole or split, KSM pages broken, the move
 * back after a page-table allocation fails, and fork afterwards. Every machine runs `check: full`.
 */
import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/index.js';
import { VM } from '../../src/mm/mm_types.js';
import { errnoOf as errno } from '../helpers.js';

const PAGE = 4096;
const M2 = 2 << 20;
const TASK_SIZE = 0x7ffffffff000;

function setup(memory = '512M', thp: 'always' | 'madvise' | 'never' = 'madvise') {
  const m = new Machine({ memory, check: 'full', thp });
  const p = m.spawn('p');
  const anon = (length: number, prot = 'rw', flags = ['private', 'anonymous']) =>
    m.mmap(p, { length, prot, flags });
  return { m, p, anon };
}

/** The frame each page of [addr, addr+pages) maps (undefined where nothing is mapped). */
const frames = (m: Machine, p: number, addr: number, pages: number) =>
  Array.from({ length: pages }, (_, i) => m.translate(p, addr + i * PAGE)?.pfn);

/** A PMD-mapped THP written with `byte`. */
function thp(m: Machine, p: number, byte = 1): number {
  const a = m.mmap(p, { length: M2, prot: 'rw', flags: ['private', 'anonymous'] });
  m.madvise(p, a, M2, 'hugepage');
  m.write(p, a, { byte, len: M2 });
  expect(m.pageAt(p, a)?.level).toBe('pmd');
  return a;
}

describe('mremap: the errnos', () => {
  it('check_mremap_params refuses bad flags, alignment, lengths and combinations with EINVAL', () => {
    const { m, p, anon } = setup();
    const a = anon(4 * PAGE);
    const mr = (addr: number, o: number, n: number, flags: string[] | number, newAddr?: number) =>
      errno(() => m.mremap(p, addr, o, n, { flags, newAddr }));
    expect(mr(a + 1, PAGE, PAGE, [])).toBe('EINVAL');
    expect(mr(a, PAGE, PAGE, 8)).toBe('EINVAL');
    expect(mr(a, PAGE, 0, [])).toBe('EINVAL');
    expect(mr(a, PAGE, 2 ** 47, ['maymove'])).toBe('EINVAL'); // new_len > TASK_SIZE
    expect(mr(a, PAGE, PAGE, ['fixed'], a + 8 * PAGE)).toBe('EINVAL'); // FIXED without MAYMOVE
    expect(mr(a, PAGE, PAGE, ['dontunmap'], 0)).toBe('EINVAL');
    expect(mr(a, PAGE, 2 * PAGE, ['maymove', 'dontunmap'])).toBe('EINVAL'); // DONTUNMAP resizes
    expect(mr(a, 2 * PAGE, 2 * PAGE, ['maymove', 'fixed'], a + PAGE)).toBe('EINVAL'); // overlap
    expect(mr(a, PAGE, PAGE, ['maymove', 'fixed'], a + 9 * PAGE + 1)).toBe('EINVAL');
    expect(mr(a, PAGE, PAGE, ['maymove', 'fixed'], TASK_SIZE)).toBe('EINVAL'); // ends past TASK_SIZE
    expect(mr(a, 0, PAGE, ['maymove'])).toBe('EINVAL'); // duplicating a private mapping
    expect(m.process(p).vmas).toHaveLength(1);
  });

  it('EFAULT when the old range is not one VMA, ENOMEM when it cannot grow and may not move', () => {
    const { m, p, anon } = setup();
    const a = anon(4 * PAGE);
    expect(errno(() => m.mremap(p, 0x10000, PAGE, 2 * PAGE, { flags: ['maymove'] }))).toBe('EFAULT');
    expect(errno(() => m.mremap(p, a, 8 * PAGE, 16 * PAGE, { flags: ['maymove'] }))).toBe('EFAULT');
    // Growth that only a move could give, without MREMAP_MAYMOVE.
    const b = anon(8 * PAGE);
    m.munmap(p, b + 4 * PAGE, PAGE);
    expect(errno(() => m.mremap(p, b, 4 * PAGE, 6 * PAGE))).toBe('ENOMEM');
    expect(errno(() => m.mremap(p, b, 2 * PAGE, 3 * PAGE))).toBe('ENOMEM'); // not at the VMA's end
    // Nothing checks a shrink or a same-size call in place (mremap_at returns at once).
    expect(m.mremap(p, a, 16 * PAGE, 16 * PAGE)).toBe(a);
  });

  it('a pfn map may move but neither grow (EFAULT) nor be left behind (DONTUNMAP: EINVAL)', () => {
    const { m, p } = setup();
    const io = m.ioRegion('256K', { name: 'bar0' });
    m.defineDevice('io', { mmap: (ctx) => ctx.remapPfnRange(ctx.start, io, ctx.end - ctx.start) });
    const d = m.mmapDevice(p, { length: 4 * PAGE, prot: 'rw', flags: ['shared'], device: 'io' });
    const pfn = m.translate(p, d)!.pfn;
    expect(errno(() => m.mremap(p, d, 4 * PAGE, 8 * PAGE, { flags: ['maymove'] }))).toBe('EFAULT');
    expect(errno(() => m.mremap(p, d, 4 * PAGE, 4 * PAGE, { flags: ['maymove', 'dontunmap'] }))).toBe(
      'EINVAL',
    );
    const to = m.mmap(p, { length: 4 * PAGE, prot: 'none', flags: ['private', 'anonymous'] });
    expect(m.mremap(p, d, 4 * PAGE, 4 * PAGE, { flags: ['maymove', 'fixed'], newAddr: to })).toBe(to);
    expect(m.translate(p, to)!.pfn).toBe(pfn);
    expect(m.vmNormalPage(p, to)).toBeNull();
  });
});

describe('mremap: resizing in place', () => {
  it('a shrink unmaps the tail and frees its pages', () => {
    const { m, p, anon } = setup();
    const a = anon(8 * PAGE);
    m.write(p, a, { byte: 7, len: 8 * PAGE });
    const free = m.meminfo().MemFree;
    expect(m.mremap(p, a, 8 * PAGE, 2 * PAGE)).toBe(a);
    expect(m.process(p).vmas.map((v) => v.end - v.start)).toEqual([2 * PAGE]);
    expect(m.process(p).rss.anon).toBe(2);
    expect(m.meminfo().MemFree).toBe(free + 6 * 4);
    expect(m.read(p, a + 2 * PAGE, 1).signal).toBe('SIGSEGV');
  });

  it('a shrink may reach past the VMA: everything in the tail range is unmapped', () => {
    const { m, p, anon } = setup();
    const low = anon(4 * PAGE);
    const a = anon(4 * PAGE); // just below `low`
    expect(a + 4 * PAGE).toBe(low);
    m.mremap(p, a, 8 * PAGE, 2 * PAGE);
    expect(m.process(p).vmas.map((v) => [v.start, v.end])).toEqual([[a, a + 2 * PAGE]]);
  });

  it('grows in place when the range after is free, keeping the pages; the new part faults fresh', () => {
    const { m, p, anon } = setup();
    const a = anon(8 * PAGE);
    m.munmap(p, a + 2 * PAGE, 6 * PAGE);
    m.write(p, a, { byte: 3, len: 2 * PAGE });
    const before = frames(m, p, a, 2);
    expect(m.mremap(p, a, 2 * PAGE, 5 * PAGE)).toBe(a);
    expect(frames(m, p, a, 2)).toEqual(before);
    expect(m.read(p, a + 4 * PAGE, 1).bytes[0]).toBe(0);
    expect(m.process(p).vmas).toHaveLength(1);
  });

  it('MREMAP_MAYMOVE moves what cannot grow in place: same frames, new address, old range gone', () => {
    const { m, p, anon } = setup();
    const hi = anon(4 * PAGE);
    const b = anon(4 * PAGE); // placed just below `hi`, which blocks growing in place
    expect(b + 4 * PAGE).toBe(hi);
    m.write(p, b, Uint8Array.of(1, 2, 3, 4));
    m.write(p, b + 3 * PAGE, { byte: 9, len: PAGE });
    const before = frames(m, p, b, 4);
    const rss = m.process(p).rss;
    const to = m.mremap(p, b, 4 * PAGE, 8 * PAGE, { flags: ['maymove'] });
    expect(to).not.toBe(b);
    expect(frames(m, p, to, 4)).toEqual(before);
    expect(frames(m, p, b, 4)).toEqual([undefined, undefined, undefined, undefined]);
    expect([...m.read(p, to, 4).bytes]).toEqual([1, 2, 3, 4]);
    expect(m.read(p, to + 3 * PAGE, 1).bytes[0]).toBe(9);
    expect(m.process(p).rss).toEqual(rss);
    const pg = m.page(before[0]!);
    expect(pg.mapcount).toBe(1);
    expect(pg.anonExclusive).toBe(true);
    expect(m.rmap(before[0]!)).toEqual([{ pid: p, addr: to, level: 'pte' }]);
    expect(m.read(p, b, 1).signal).toBe('SIGSEGV');
    // The grown part is fresh anonymous memory.
    expect(m.read(p, to + 6 * PAGE, 1).bytes[0]).toBe(0);
  });
});

describe('mremap: MREMAP_FIXED', () => {
  it('moves onto the named address, unmapping what was there', () => {
    const { m, p, anon } = setup();
    const dst = anon(8 * PAGE);
    m.write(p, dst, { byte: 0x58, len: 8 * PAGE });
    const src = anon(4 * PAGE);
    m.write(p, src, { byte: 0x61, len: 4 * PAGE });
    const moved = frames(m, p, src, 4);
    const old = frames(m, p, dst, 8);
    expect(m.mremap(p, src, 4 * PAGE, 4 * PAGE, { flags: ['maymove', 'fixed'], newAddr: dst })).toBe(dst);
    expect(frames(m, p, dst, 4)).toEqual(moved);
    expect(frames(m, p, dst + 4 * PAGE, 4)).toEqual(old.slice(4));
    for (const pfn of old.slice(0, 4)) expect(m.page(pfn!).type).toBe('buddy');
    expect(m.read(p, dst + 5 * PAGE, 1).bytes[0]).toBe(0x58);
  });

  it('a fixed move of one length may span VMAs: each moves, the gaps between them kept (what was there stays)', () => {
    const { m, p, anon } = setup();
    const dst = anon(64 * PAGE, 'none');
    const src = anon(8 * PAGE);
    m.mprotect(p, src + 2 * PAGE, PAGE, 'r');
    m.munmap(p, src + 5 * PAGE, PAGE);
    m.touch(p, src, 2 * PAGE, { write: true });
    m.touch(p, src + 6 * PAGE, 2 * PAGE, { write: true });
    const f = frames(m, p, src, 8);
    expect(m.mremap(p, src, 8 * PAGE, 8 * PAGE, { flags: ['maymove', 'fixed'], newAddr: dst })).toBe(dst);
    expect(frames(m, p, dst, 8)).toEqual(f);
    const vmas = m.process(p).vmas.filter((v) => v.start >= dst && v.end <= dst + 8 * PAGE);
    expect(vmas.map((v) => [(v.start - dst) / PAGE, (v.end - dst) / PAGE])).toEqual([
      [0, 2],
      [2, 3],
      [3, 5],
      [5, 6],
      [6, 8],
    ]);
    expect(vmas.map((v) => v.flags.split('|')[0])).toEqual(['read', 'read', 'read', 'mayread', 'read']);
    expect(vmas[1].flags.split('|')).not.toContain('write');
    expect(m.process(p).vmas.some((v) => v.start < src + 8 * PAGE && v.end > src)).toBe(false);
  });

  it('a gap at the start of a fixed move is EFAULT; growing or a DONTUNMAP over VMAs is EFAULT', () => {
    const { m, p, anon } = setup();
    const dst = anon(64 * PAGE, 'none');
    const a = anon(8 * PAGE);
    m.munmap(p, a, PAGE);
    expect(
      errno(() => m.mremap(p, a, 8 * PAGE, 8 * PAGE, { flags: ['maymove', 'fixed'], newAddr: dst })),
    ).toBe('EFAULT');
    const b = anon(8 * PAGE);
    m.mprotect(p, b + 2 * PAGE, PAGE, 'r');
    expect(errno(() => m.mremap(p, b, 8 * PAGE, 9 * PAGE, { flags: ['maymove'] }))).toBe('EFAULT');
    expect(errno(() => m.mremap(p, b, 8 * PAGE, 8 * PAGE, { flags: ['maymove', 'dontunmap'] }))).toBe(
      'EFAULT',
    );
  });

  it('a fixed shrink shrinks first, then moves what is kept', () => {
    const { m, p, anon } = setup();
    const dst = anon(16 * PAGE, 'none');
    const a = anon(8 * PAGE);
    m.touch(p, a, 8 * PAGE, { write: true });
    const f = frames(m, p, a, 2);
    expect(m.mremap(p, a, 8 * PAGE, 2 * PAGE, { flags: ['maymove', 'fixed'], newAddr: dst })).toBe(dst);
    expect(frames(m, p, dst, 2)).toEqual(f);
    expect(m.process(p).rss.anon).toBe(2);
  });

  it('moving below mmap_min_addr is EPERM, as for a process without CAP_SYS_RAWIO', () => {
    const { m, p, anon } = setup();
    const a = anon(PAGE);
    expect(errno(() => m.mremap(p, a, PAGE, PAGE, { flags: ['maymove', 'fixed'], newAddr: 0x1000 }))).toBe(
      'EPERM',
    );
  });
});

describe('mremap: MREMAP_DONTUNMAP', () => {
  it('private anonymous: the pages move, the old VMA stays and reads zeros; its anon_vma goes', () => {
    const { m, p, anon } = setup();
    const a = anon(5 * PAGE);
    m.write(p, a, { byte: 0x61, len: 5 * PAGE });
    const f = frames(m, p, a, 5);
    const to = m.mremap(p, a, 5 * PAGE, 5 * PAGE, { flags: ['maymove', 'dontunmap'] });
    expect(to).not.toBe(a);
    expect(frames(m, p, to, 5)).toEqual(f);
    expect(frames(m, p, a, 5)).toEqual([undefined, undefined, undefined, undefined, undefined]);
    expect(m.process(p).vmas.some((v) => v.start === a && v.end === a + 5 * PAGE)).toBe(true);
    expect(m.read(p, a, 5 * PAGE).bytes.every((b) => b === 0)).toBe(true);
    expect(m.read(p, to, 5 * PAGE).bytes.every((b) => b === 0x61)).toBe(true);
    // The old VMA's anon_vma was unlinked: new pages there get their own.
    const vma = m.kernel.processes.get(p)!.mm.vmas.find((v) => v.start === a)!;
    expect(vma.anonVma).toBeNull();
    m.write(p, a, { byte: 1, len: 1 });
    expect(vma.anonVma).not.toBeNull();
  });

  it('a part of a VMA: the rest stays, the anon_vma too; a hint is honoured when free', () => {
    const { m, p, anon } = setup();
    const a = anon(10 * PAGE);
    m.write(p, a, { byte: 0x61, len: 10 * PAGE });
    const hint = a - 64 * PAGE;
    const to = m.mremap(p, a + 5 * PAGE, 5 * PAGE, 5 * PAGE, {
      flags: ['maymove', 'dontunmap'],
      newAddr: hint,
    });
    expect(to).toBe(hint);
    expect(m.read(p, a, 5 * PAGE).bytes.every((b) => b === 0x61)).toBe(true);
    expect(m.read(p, a + 5 * PAGE, 5 * PAGE).bytes.every((b) => b === 0)).toBe(true);
    expect(m.read(p, to, 5 * PAGE).bytes.every((b) => b === 0x61)).toBe(true);
    expect(m.kernel.processes.get(p)!.mm.vmas.find((v) => v.start === a)!.anonVma).not.toBeNull();
  });

  it('shared and file mappings too (Linux 5.13+): shared memory reads the same, a private file its file', () => {
    const { m, p } = setup();
    const s = m.mmap(p, { length: 4 * PAGE, prot: 'rw', flags: ['shared', 'anonymous'] });
    m.write(p, s, { byte: 5, len: 1 });
    const to = m.mremap(p, s, 4 * PAGE, 4 * PAGE, { flags: ['maymove', 'dontunmap'] });
    expect(m.read(p, s, 1).bytes[0]).toBe(5);
    expect(m.read(p, to, 1).bytes[0]).toBe(5);
    expect(m.translate(p, s)!.pfn).toBe(m.translate(p, to)!.pfn);
    m.fileCreate('f', 4 * PAGE, 7);
    const f = m.mmap(p, { length: 4 * PAGE, prot: 'rw', flags: ['private'], file: 'f' });
    m.write(p, f, { byte: 9, len: 1 });
    const g = m.mremap(p, f, 4 * PAGE, 4 * PAGE, { flags: ['maymove', 'dontunmap'] });
    expect(m.read(p, f, 1).bytes[0]).toBe(7);
    expect(m.read(p, g, 1).bytes[0]).toBe(9);
  });
});

describe('mremap: shared and file mappings', () => {
  it('growing shared anonymous memory reaches past its shmem object: the new pages are SIGBUS', () => {
    const { m, p } = setup();
    m.mmap(p, { length: PAGE, prot: 'r', flags: ['private', 'anonymous'] }); // blocks growth in place
    const s = m.mmap(p, { length: 2 * PAGE, prot: 'rw', flags: ['shared', 'anonymous'] });
    m.write(p, s, { byte: 4, len: 2 * PAGE });
    const to = m.mremap(p, s, 2 * PAGE, 4 * PAGE, { flags: ['maymove'] });
    expect(to).not.toBe(s);
    expect(m.read(p, to + PAGE, 1).bytes[0]).toBe(4);
    expect(m.read(p, to + 3 * PAGE, 1).signal).toBe('SIGBUS');
    expect(m.process(p).rss.shmem).toBe(2);
  });

  it('old_len 0 duplicates a shared mapping (the source stays): both map the same shmem pages', () => {
    const { m, p } = setup();
    const s = m.mmap(p, { length: 2 * PAGE, prot: 'rw', flags: ['shared', 'anonymous'] });
    m.write(p, s, { byte: 7, len: 1 });
    m.write(p, s + PAGE, { byte: 8, len: 1 });
    const dup = m.mremap(p, s, 0, 2 * PAGE, { flags: ['maymove'] });
    expect(dup).not.toBe(s);
    expect(m.read(p, dup + PAGE, 1).bytes[0]).toBe(8);
    m.write(p, dup, { byte: 9, len: 1 });
    expect(m.read(p, s, 1).bytes[0]).toBe(9);
    const second = m.mremap(p, s + PAGE, 0, PAGE, { flags: ['maymove'] });
    expect(m.read(p, second, 1).bytes[0]).toBe(8);
    expect(m.process(p).vmas).toHaveLength(3);
  });

  it('a file mapping keeps its offset: the moved VMA maps the same file pages, a growth the next ones', () => {
    const { m, p } = setup();
    m.fileCreate('f', 8 * PAGE, 0);
    m.write(p, m.mmap(p, { length: 8 * PAGE, prot: 'rw', flags: ['shared'], file: 'f' }), {
      byte: 0,
      len: 1,
    });
    const f = m.mmap(p, { length: 2 * PAGE, prot: 'rw', flags: ['shared'], file: 'f', offset: 2 * PAGE });
    m.write(p, f, { byte: 8, len: 1 });
    const to = m.mremap(p, f, 2 * PAGE, 4 * PAGE, { flags: ['maymove'] });
    expect(m.process(p).vmas.find((v) => v.start === to)!.pgoff).toBe(2);
    expect(m.read(p, to, 1).bytes[0]).toBe(8);
    m.write(p, to + 3 * PAGE, { byte: 9, len: 1 });
    expect(m.read(p, m.process(p).vmas.find((v) => v.pgoff === 0)!.start + 5 * PAGE, 1).bytes[0]).toBe(9);
  });
});

describe('mremap: transparent huge pages', () => {
  it('a PMD-aligned move takes the PMD leaf whole, with its deposited table', () => {
    const { m, p } = setup('1G');
    thp(m, p, 2); // placed above the next one: it cannot grow in place
    const a = thp(m, p);
    const head = m.translate(p, a)!.pfn;
    const tables = m.meminfo().PageTables;
    const to = m.mremap(p, a, M2, 2 * M2, { flags: ['maymove'] });
    expect(to).not.toBe(a);
    expect(to % M2).toBe(0);
    expect(m.pageAt(p, to)).toMatchObject({ level: 'pmd', pfn: head });
    const mm = m.kernel.processes.get(p)!.mm;
    expect(mm.deposited.has(to)).toBe(true);
    expect(mm.deposited.has(a)).toBe(false);
    expect(m.page(head)).toMatchObject({ order: 9, mapcount: 1, anonExclusive: true });
    expect(m.rmap(head)).toEqual([{ pid: p, addr: to, level: 'pmd' }]);
    expect(m.meminfo().PageTables).toBeGreaterThanOrEqual(tables);
  });

  it('grows a THP in place when the space after it is free: still one PMD', () => {
    const { m, p } = setup('1G');
    const a = thp(m, p);
    expect(m.mremap(p, a, M2, 2 * M2)).toBe(a);
    expect(m.pageAt(p, a)?.level).toBe('pmd');
  });

  it('a move to an address of another PMD offset splits the PMD: the same frames, PTE-mapped', () => {
    const { m, p } = setup('1G');
    const dst = m.mmap(p, { length: 3 * M2, prot: 'none', flags: ['private', 'anonymous'] });
    const a = thp(m, p);
    const head = m.translate(p, a)!.pfn;
    const to = dst + M2 + PAGE;
    m.mremap(p, a, M2, M2, { flags: ['maymove', 'fixed'], newAddr: to });
    expect(m.pageAt(p, to)).toMatchObject({ level: 'pte', pfn: head });
    expect(m.pageAt(p, to + PAGE)).toMatchObject({ level: 'pte', pfn: head + 1 });
    expect(m.page(head)).toMatchObject({ order: 9, mapcount: 1, folioMapcount: 512 });
    expect(m.vmstat().thp_split_pmd).toBe(1);
  });

  it("cow.c's partially mremap()'ed THP: half the folio at a new address, both halves PTE-mapped", () => {
    const { m, p } = setup('1G');
    const a = thp(m, p);
    const head = m.translate(p, a)!.pfn;
    const place = m.mmap(p, { length: M2 / 2, prot: 'none', flags: ['private', 'anonymous'] });
    const to = m.mremap(p, a + M2 / 2, M2 / 2, M2 / 2, { flags: ['maymove', 'fixed'], newAddr: place });
    expect(to).toBe(place);
    expect(m.pageAt(p, a)).toMatchObject({ level: 'pte', pfn: head });
    expect(m.pageAt(p, place)).toMatchObject({ level: 'pte', pfn: head + 256 });
    expect(m.translate(p, a + M2 / 2)).toBeUndefined();
    expect(m.rmap(head + 256)).toContainEqual({ pid: p, addr: place, level: 'pte' });
    // fork afterwards: both halves shared with the child, a write in the parent copies one page.
    const c = m.fork(p, 'c');
    m.write(p, a, { byte: 0xff, len: 1 });
    expect(m.read(c, a, 1).bytes[0]).toBe(1);
    expect(m.read(c, place, 1).bytes[0]).toBe(1);
    expect(m.translate(c, place)!.pfn).toBe(head + 256);
    expect(m.page(head + 256).mapcount).toBe(2);
  });

  it('the huge zero page moves as a PMD too', () => {
    const { m, p } = setup('1G');
    const a = m.mmap(p, { length: M2, prot: 'rw', flags: ['private', 'anonymous'] });
    m.madvise(p, a, M2, 'hugepage');
    m.read(p, a, 1);
    expect(m.page(m.translate(p, a)!.pfn).type).toBe('zero');
    const to = m.mremap(p, a, M2, 2 * M2, { flags: ['maymove'] });
    expect(m.pageAt(p, to)?.level).toBe('pmd');
    m.write(p, to, { byte: 2, len: 1 });
    expect(m.pageAt(p, to)).toMatchObject({ level: 'pmd', type: 'anon' });
  });
});

describe('mremap: what moves with the pages', () => {
  it('rmap and anon_vma: a page faulted after the move and a moved one are both found', () => {
    const { m, p, anon } = setup();
    const a = anon(4 * PAGE);
    m.write(p, a, { byte: 1, len: PAGE });
    const to = m.mremap(p, a, 4 * PAGE, 8 * PAGE, { flags: ['maymove'] });
    m.write(p, to + 5 * PAGE, { byte: 2, len: PAGE });
    expect(m.rmap(m.translate(p, to)!.pfn)).toEqual([{ pid: p, addr: to, level: 'pte' }]);
    expect(m.rmap(m.translate(p, to + 5 * PAGE)!.pfn)).toEqual([
      { pid: p, addr: to + 5 * PAGE, level: 'pte' },
    ]);
  });

  it('a pinned page moves with its pin: DMA lands where the process now reads', () => {
    const { m, p, anon } = setup();
    const a = anon(2 * PAGE);
    m.write(p, a, { byte: 1, len: 2 * PAGE });
    const pin = m.pinUserPages(p, a, 2, ['write', 'longterm']);
    const to = m.mremap(p, a, 2 * PAGE, 4 * PAGE, { flags: ['maymove'] });
    m.dmaWrite(pin.id, { byte: 0x77, len: 16 }, PAGE);
    expect(m.read(p, to + PAGE, 1).bytes[0]).toBe(0x77);
    m.unpinUserPages(pin.id);
    expect(m.page(m.translate(p, to)!.pfn).pins).toBe(0);
  });

  it('fork after a move shares the moved pages with the child; COW keeps them apart', () => {
    const { m, p, anon } = setup();
    const a = anon(4 * PAGE);
    m.write(p, a, { byte: 1, len: 4 * PAGE });
    const to = m.mremap(p, a, 4 * PAGE, 4 * PAGE, { flags: ['maymove', 'dontunmap'] });
    const c = m.fork(p, 'c');
    expect(m.translate(c, to)!.pfn).toBe(m.translate(p, to)!.pfn);
    m.write(c, to, { byte: 2, len: 1 });
    expect(m.read(p, to, 1).bytes[0]).toBe(1);
    expect(m.read(c, to, 1).bytes[0]).toBe(2);
    m.exit(c);
    m.write(p, to + PAGE, { byte: 3, len: 1 });
    expect(m.vmstat().pgreuse).toBeGreaterThan(0);
  });

  it('KSM pages in a mergeable range are broken first (prep_move_vma)', () => {
    const { m, p, anon } = setup();
    anon(PAGE); // above the next one: growing means moving
    const a = anon(4 * PAGE);
    m.madvise(p, a, 4 * PAGE, 'mergeable');
    m.write(p, a, { byte: 0x42, len: 4 * PAGE });
    expect(m.ksmScan()).toBeGreaterThan(0);
    expect(m.page(m.translate(p, a)!.pfn).flagNames).toContain('ksm');
    const to = m.mremap(p, a, 4 * PAGE, 8 * PAGE, { flags: ['maymove'] });
    for (let i = 0; i < 4; i++) {
      const pg = m.page(m.translate(p, to + i * PAGE)!.pfn);
      expect(pg.flagNames).not.toContain('ksm');
      expect(pg.anonExclusive).toBe(true);
    }
    expect(m.process(p).vmas.find((v) => v.start === to)!.flags).toContain('mergeable');
  });

  it('a KSM page that does move (its VMA no longer VM_MERGEABLE, set up by hand) takes its stable-node entry along', () => {
    const { m, p, anon } = setup();
    anon(PAGE);
    const a = anon(4 * PAGE);
    m.madvise(p, a, 4 * PAGE, 'mergeable');
    m.write(p, a, { byte: 0x42, len: 4 * PAGE });
    m.ksmScan();
    // Not a state Linux reaches (MADV_UNMERGEABLE breaks the pages): it makes move_ptes see KSM pages.
    m.kernel.processes.get(p)!.mm.vmas.find((v) => v.start === a)!.flags &= ~VM.MERGEABLE;
    const to = m.mremap(p, a, 4 * PAGE, 8 * PAGE, { flags: ['maymove'] });
    expect(m.pageAt(p, to + 3 * PAGE)!.flagNames).toContain('ksm');
    expect(m.rmap(m.translate(p, to)!.pfn)).toContainEqual({ pid: p, addr: to + 3 * PAGE, level: 'pte' });
    m.check('full');
  });

  it('whole PTE tables move when both ends share their PMD offset (move_normal_pmd, realigned)', () => {
    const { m, p } = setup('1G');
    const arena = m.mmap(p, { length: 8 * M2, prot: 'none', flags: ['private', 'anonymous'] });
    m.munmap(p, arena, 8 * M2);
    // A VMA starting 64 KiB into a PMD, nothing below it in that PMD; the destination likewise.
    const src = arena + M2 + 16 * PAGE;
    m.mmap(p, { addr: src, length: M2, prot: 'rw', flags: ['private', 'anonymous', 'fixed'] });
    m.touch(p, src, M2, { write: true });
    const tables = m.meminfo().PageTables;
    const to = arena + 5 * M2 + 16 * PAGE;
    m.mremap(p, src, M2, M2, { flags: ['maymove', 'fixed'], newAddr: to });
    expect(m.read(p, to + M2 - PAGE, 1).bytes[0]).toBe(1);
    // Two PTE tables moved; the destination needed no new PTE table, the source freed none.
    expect(m.meminfo().PageTables).toBe(tables);
  });

  it('a whole, mutually aligned PUD moves its PMD table (move_normal_pud), deposits included', () => {
    const { m, p } = setup('1G');
    const G = 2 ** 30;
    const a = 0x400000000000;
    const b = 0x500000000000;
    m.mmap(p, { addr: a, length: G, prot: 'rw', flags: ['private', 'anonymous', 'fixed'] });
    m.madvise(p, a, M2, 'hugepage');
    m.write(p, a, { byte: 1, len: M2 });
    m.write(p, a + 512 * 2 ** 20, { byte: 2, len: PAGE });
    const head = m.translate(p, a)!.pfn;
    const levels = m.kernel.ptdesc.countByLevel();
    m.mremap(p, a, G, G, { flags: ['maymove', 'fixed'], newAddr: b });
    expect(m.pageAt(p, b)).toMatchObject({ level: 'pmd', pfn: head });
    expect(m.kernel.processes.get(p)!.mm.deposited.has(b)).toBe(true);
    expect(m.read(p, b + 512 * 2 ** 20, 1).bytes[0]).toBe(2);
    // The same PMD and PTE tables; the PUD table moved to the new PGD slot's (one freed, one new).
    expect(m.kernel.ptdesc.countByLevel()).toEqual(levels);
  });

  it('no memory for a page table: everything moves back, the new VMA goes, ENOMEM', () => {
    const m = new Machine({ memory: '128M', check: 'full' });
    const p = m.spawn('p');
    const a = m.mmap(p, { length: 4 * PAGE, prot: 'rw', flags: ['private', 'anonymous'] });
    m.write(p, a, { byte: 5, len: 4 * PAGE });
    const f = frames(m, p, a, 4);
    // Use up memory, then ask for a destination 512 GiB away (new PUD, PMD and PTE tables).
    m.checkLevel = 'off';
    for (let order = 10; order >= 0; order--)
      for (;;) {
        try {
          m.allocPages(order);
        } catch {
          break;
        }
      }
    m.checkLevel = 'full';
    const far = 0x100000000000;
    expect(
      errno(() => m.mremap(p, a, 4 * PAGE, 4 * PAGE, { flags: ['maymove', 'fixed'], newAddr: far })),
    ).toBe('ENOMEM');
    expect(frames(m, p, a, 4)).toEqual(f);
    expect(m.process(p).vmas.map((v) => v.start)).toEqual([a]);
    expect(m.read(p, a, 1).bytes[0]).toBe(5);
  });

  it('a move cut short after its first PMD moves that part back: nothing leaks, ENOMEM', () => {
    const m = new Machine({ memory: '128M', check: 'full' });
    const p = m.spawn('p');
    const arena = m.mmap(p, { length: 4 * M2, prot: 'none', flags: ['private', 'anonymous'] });
    m.munmap(p, arena, 4 * M2);
    // Eight pages across a PMD boundary, four on each side.
    const src = arena + M2 - 4 * PAGE;
    m.mmap(p, { addr: src, length: 8 * PAGE, prot: 'rw', flags: ['private', 'anonymous', 'fixed'] });
    m.write(p, src, { byte: 6, len: 8 * PAGE });
    const f = frames(m, p, src, 8);
    const tables = m.meminfo().PageTables;
    m.checkLevel = 'off';
    const held: [number, number][] = [];
    for (let order = 10; order >= 0; order--)
      for (;;) {
        try {
          held.push([m.allocPages(order), order]);
        } catch {
          break;
        }
      }
    // Two pages: the PUD and PMD tables of the destination; its second PTE table cannot be had.
    const pair = held.find(([, o]) => o === 1);
    if (pair) m.freePages(pair[0], 1);
    else for (const [pfn] of held.filter(([, o]) => o === 0).slice(0, 2)) m.freePages(pfn, 0);
    expect(m.meminfo().MemFree).toBe(8);
    m.checkLevel = 'full';
    const far = 0x100000000000 + M2 - 4 * PAGE;
    expect(
      errno(() => m.mremap(p, src, 8 * PAGE, 8 * PAGE, { flags: ['maymove', 'fixed'], newAddr: far })),
    ).toBe('ENOMEM');
    expect(frames(m, p, src, 8)).toEqual(f);
    expect(m.read(p, src + 7 * PAGE, 1).bytes[0]).toBe(6);
    expect(m.process(p).vmas.map((v) => v.start)).toEqual([src]);
    expect(m.meminfo().PageTables).toBe(tables);
  });
});

describe('mremap: where a move lands and what it marks', () => {
  it('an anonymous move of PMD-multiple length lands PMD-aligned, whatever the source offset (pgoff is 0 for anon)', () => {
    const m = new Machine({ memory: '512M', check: 'full', thp: 'madvise' });
    const p = m.spawn('p');
    const a = m.mmap(p, { length: 4 * PAGE, prot: 'rw', flags: ['private', 'anonymous'] });
    m.write(p, a, { byte: 7, len: 4 * PAGE });
    // Block growth in place.
    m.mmap(p, { addr: a + 4 * PAGE, length: PAGE, prot: 'r', flags: ['private', 'anonymous', 'fixed'] });
    expect(a % M2).not.toBe(0);
    const to = m.mremap(p, a, 4 * PAGE, M2, { flags: ['maymove'] });
    expect(to % M2).toBe(0);
    expect(m.read(p, to, 1).bytes[0]).toBe(7);
  });

  it('a moved swap entry is soft-dirty at its new address (move_soft_dirty_pte), and so is the page after swap-in', () => {
    const m = new Machine({ memory: '512M', check: 'full', swap: '64M' });
    const p = m.spawn('p');
    const a = m.mmap(p, { length: 4 * PAGE, prot: 'rw', flags: ['private', 'anonymous'] });
    m.write(p, a, { byte: 1, len: 4 * PAGE });
    m.pageout(p, a, 4 * PAGE);
    expect(m.swapEntry(p, a)).toBeDefined();
    expect(m.walk(p, a).at(-1)!.flags).not.toContain('soft_dirty');
    const to = m.mremap(p, a, 4 * PAGE, 4 * PAGE, { flags: ['maymove', 'dontunmap'] });
    expect(m.swapEntry(p, to)).toBeDefined();
    expect(m.walk(p, to).at(-1)!.flags).toContain('soft_dirty');
    expect(m.read(p, to, 1).bytes[0]).toBe(1);
    expect(m.pageAt(p, to)?.pte).toContain('soft_dirty');
  });
});

describe('mremap: moving several VMAs (remap_move, 6.17)', () => {
  it('a userfaultfd-armed VMA in a move of several is EFAULT, with a VMA after it or a gap, and nothing moves', () => {
    const { m, p, anon } = setup();
    const dst = anon(64 * PAGE);
    const a = anon(8 * PAGE);
    m.write(p, a, { byte: 3, len: 8 * PAGE });
    m.uffdOpen(p);
    m.uffdRegister(p, a, 4 * PAGE); // splits: [a, a+4p) armed, [a+4p, a+8p) not
    const move = () => m.mremap(p, a, 8 * PAGE, 8 * PAGE, { flags: ['maymove', 'fixed'], newAddr: dst });
    expect(errno(move)).toBe('EFAULT');
    expect(m.read(p, a + 5 * PAGE, 1).bytes[0]).toBe(3);
    m.munmap(p, a + 4 * PAGE, 4 * PAGE);
    expect(errno(move)).toBe('EFAULT');
    // The armed VMA alone moves.
    expect(m.mremap(p, a, 4 * PAGE, 4 * PAGE, { flags: ['maymove', 'fixed'], newAddr: dst })).toBe(dst);
    expect(m.read(p, dst, 1).bytes[0]).toBe(3);
  });
});
