/**
 * MADV_FREE (src/mm/madvise.ts, swap.ts, vmscan.ts, rmap.ts, huge_memory.ts; mm/madvise.c
 * madvise_free_pte_range, mm/huge_memory.c madvise_free_huge_pmd and unmap_huge_pmd_locked,
 * mm/swap.c folio_mark_lazyfree, mm/vmscan.c shrink_folio_list, mm/rmap.c try_to_unmap_one):
 * private anon pages are made clean, old and lazyfree; MADV_PAGEOUT's reclaim then drops the clean
 * ones without swap, and keeps (swap-backed again) those written since. Every machine runs
 * `check: full` with page contents on.
 */
import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/index.js';
import { errnoOf as errno } from '../helpers.js';

const PAGE = 4096;
const PMD = 2 << 20;

function setup(swap?: string) {
  const m = new Machine({
    memory: '1G',
    check: 'full',
    thp: 'madvise',
    contents: true,
    ...(swap ? { swap } : {}),
  });
  const p = m.spawn('p');
  const anon = (len: number) => m.mmap(p, { length: len, prot: 'rw', flags: ['private', 'anonymous'] });
  return { m, p, anon };
}

const swapbacked = (m: Machine, p: number, a: number) =>
  m.pageAt(p, a)!.flagNames.split('|').includes('swapbacked');
const pteBits = (m: Machine, p: number, a: number) => m.pageAt(p, a)!.pte.split('|');
const readsAll = (m: Machine, p: number, a: number, byte: number) =>
  m.read(p, a, PAGE).bytes.every((b) => b === byte);

describe('MADV_FREE marks private anon pages lazyfree', () => {
  it('PG_swapbacked and the PTE dirty and young bits go; the mapping, RSS and bytes stay', () => {
    const { m, p, anon } = setup();
    const a = anon(4 * PAGE);
    m.write(p, a, { byte: 0x5a, len: 4 * PAGE });
    const pfn = m.pageAt(p, a)!.pfn;
    expect(pteBits(m, p, a)).toEqual(expect.arrayContaining(['dirty', 'young']));
    m.madvise(p, a, 4 * PAGE, 'free');
    for (let i = 0; i < 4; i++) {
      expect(swapbacked(m, p, a + i * PAGE)).toBe(false);
      expect(pteBits(m, p, a + i * PAGE)).not.toContain('dirty');
      expect(pteBits(m, p, a + i * PAGE)).not.toContain('young');
      // MADV_FREE does not write-protect: a later store needs no fault, only the dirty bit.
      expect(pteBits(m, p, a + i * PAGE)).toContain('write');
    }
    expect(m.process(p).rss).toMatchObject({ anon: 4 });
    expect(m.vmstat()).toMatchObject({ pglazyfree: 4, pglazyfreed: 0 });
    expect(m.pageAt(p, a)!.pfn).toBe(pfn);
    expect(readsAll(m, p, a + 3 * PAGE, 0x5a)).toBe(true);
  });

  it('the zero page and the huge zero page are skipped', () => {
    const { m, p, anon } = setup();
    const a = anon(PAGE);
    m.read(p, a, 1);
    m.madvise(p, a, PAGE, 'free');
    expect(m.pageAt(p, a)?.type).toBe('zero');
    const h = anon(2 * PMD);
    const ha = h + ((PMD - (h % PMD)) % PMD);
    m.madvise(p, ha, PMD, 'hugepage');
    m.read(p, ha, 1);
    expect(m.pageAt(p, ha)).toMatchObject({ level: 'pmd', type: 'zero' });
    m.madvise(p, ha, PMD, 'free');
    m.madvise(p, ha, 4 * PAGE, 'free');
    expect(m.pageAt(p, ha)).toMatchObject({ level: 'pmd', type: 'zero' });
    expect(m.vmstat().pglazyfree).toBe(0);
  });

  it('is EINVAL on a file mapping and on shared anonymous memory, fine on private anon', () => {
    const { m, p, anon } = setup();
    m.fileCreate('f', 2 * PAGE, 7);
    const f = m.mmap(p, { length: 2 * PAGE, prot: 'rw', flags: ['private'], file: 'f' });
    m.write(p, f, { byte: 1, len: 1 });
    expect(errno(() => m.madvise(p, f, 2 * PAGE, 'free'))).toBe('EINVAL');
    const s = m.mmap(p, { length: PAGE, prot: 'rw', flags: ['shared', 'anonymous'] });
    m.write(p, s, { byte: 1, len: 1 });
    expect(errno(() => m.madvise(p, s, PAGE, 'free'))).toBe('EINVAL');
    expect(swapbacked(m, p, s)).toBe(true);
    const a = anon(PAGE);
    expect(errno(() => m.madvise(p, a, PAGE, 'MADV_FREE'))).toBeUndefined();
  });
});

describe('reclaim of lazyfree pages (MADV_PAGEOUT)', () => {
  it('clean ones are discarded without swap: RSS down, a later read is zeros, pglazyfreed counts', () => {
    const { m, p, anon } = setup();
    const a = anon(2 * PAGE);
    m.write(p, a, { byte: 0x77, len: 2 * PAGE });
    m.madvise(p, a, 2 * PAGE, 'free');
    const free = m.meminfo().MemFree;
    m.pageout(p, a, 2 * PAGE);
    expect(m.pageAt(p, a)).toBeUndefined();
    expect(m.swapEntry(p, a)).toBeUndefined();
    expect(m.process(p).rss).toMatchObject({ anon: 0, swap: 0 });
    expect(m.vmstat()).toMatchObject({ pglazyfreed: 2, pswpout: 0 });
    expect(m.meminfo().MemFree).toBe(free + 8);
    expect(readsAll(m, p, a, 0)).toBe(true);
    expect(m.pageAt(p, a)?.type).toBe('zero');
  });

  it('with a swap device, lazyfree pages still take no slot', () => {
    const { m, p, anon } = setup('64M');
    const a = anon(PAGE);
    m.write(p, a, { byte: 3, len: PAGE });
    m.madvise(p, a, PAGE, 'free');
    m.pageout(p, a, PAGE);
    expect(m.meminfo().SwapFree).toBe(m.meminfo().SwapTotal);
    expect(m.vmstat()).toMatchObject({ pswpout: 0, pglazyfreed: 1 });
    expect(readsAll(m, p, a, 0)).toBe(true);
  });

  it('a write after MADV_FREE keeps the page: swap-backed again, bytes intact; then it swaps as anon', () => {
    const { m, p, anon } = setup('64M');
    const a = anon(2 * PAGE);
    m.write(p, a, { byte: 0x42, len: 2 * PAGE });
    m.madvise(p, a, 2 * PAGE, 'free');
    m.write(p, a + PAGE, { byte: 0x43, len: 1 });
    m.pageout(p, a, 2 * PAGE);
    expect(m.pageAt(p, a)).toBeUndefined();
    const kept = m.pageAt(p, a + PAGE)!;
    expect(swapbacked(m, p, a + PAGE)).toBe(true);
    expect(kept.flagNames.split('|')).toContain('dirty');
    expect(m.vmstat()).toMatchObject({ pglazyfreed: 1, pswpout: 0 });
    const r = m.read(p, a + PAGE, PAGE).bytes;
    expect(r[0]).toBe(0x43);
    expect(r.slice(1).every((b) => b === 0x42)).toBe(true);
    // Swap-backed again, the next reclaim writes it to swap like any anon page.
    m.pageout(p, a + PAGE, PAGE);
    expect(m.vmstat().pswpout).toBe(1);
    expect(m.read(p, a + PAGE, 2).bytes).toEqual(new Uint8Array([0x43, 0x42]));
  });

  it('a pinned lazyfree page is kept: references beyond the mappings stop the discard', () => {
    const { m, p, anon } = setup();
    const a = anon(PAGE);
    m.write(p, a, { byte: 9, len: PAGE });
    m.pinUserPages(p, a, 1, ['longterm']);
    m.madvise(p, a, PAGE, 'free');
    m.pageout(p, a, PAGE);
    expect(m.pageAt(p, a)).toBeDefined();
    expect(m.vmstat().pglazyfreed).toBe(0);
    expect(readsAll(m, p, a, 9)).toBe(true);
  });
});

describe('swap entries in the range', () => {
  it('are freed and cleared: the slot goes back, rss.swap down, a read is zeros and no swap-in', () => {
    const { m, p, anon } = setup('64M');
    const a = anon(2 * PAGE);
    m.write(p, a, { byte: 0x11, len: 2 * PAGE });
    m.pageout(p, a, 2 * PAGE);
    expect(m.process(p).rss).toMatchObject({ anon: 0, swap: 2 });
    expect(m.meminfo().SwapFree).toBe(m.meminfo().SwapTotal - 8);
    m.madvise(p, a, PAGE, 'free');
    expect(m.swapEntry(p, a)).toBeUndefined();
    expect(m.swapEntry(p, a + PAGE)).toBeDefined();
    expect(m.process(p).rss).toMatchObject({ swap: 1 });
    expect(m.meminfo().SwapFree).toBe(m.meminfo().SwapTotal - 4);
    expect(readsAll(m, p, a, 0)).toBe(true);
    expect(m.vmstat().pswpin).toBe(0);
  });
});

describe('fork and MADV_FREE', () => {
  it('fork after MADV_FREE: the child maps the clean lazyfree page too; once alone, its reclaim discards it', () => {
    const { m, p, anon } = setup();
    const a = anon(PAGE);
    m.write(p, a, { byte: 5, len: PAGE });
    m.madvise(p, a, PAGE, 'free');
    const c = m.fork(p, 'c');
    expect(m.pageAt(c, a)).toMatchObject({ mapcount: 2 });
    expect(pteBits(m, c, a)).not.toContain('dirty');
    // MADV_PAGEOUT leaves a folio another MM maps (folio_maybe_mapped_shared).
    m.pageout(p, a, PAGE);
    expect(m.pageAt(c, a)).toBeDefined();
    m.exit(p);
    m.pageout(c, a, PAGE);
    expect(m.pageAt(c, a)).toBeUndefined();
    expect(m.vmstat().pglazyfreed).toBe(1);
    expect(readsAll(m, c, a, 0)).toBe(true);
  });

  it("MADV_FREE after fork: a clean shared page is marked, but the child's dirty PTE keeps it from discard", () => {
    const { m, p, anon } = setup();
    const a = anon(PAGE);
    m.write(p, a, { byte: 6, len: PAGE });
    const c = m.fork(p, 'c');
    m.madvise(p, a, PAGE, 'free');
    expect(swapbacked(m, c, a)).toBe(false);
    expect(pteBits(m, p, a)).not.toContain('dirty');
    // Fork kept the dirty bit in the child's copy of a private PTE.
    expect(pteBits(m, c, a)).toContain('dirty');
    m.exit(p);
    m.pageout(c, a, PAGE);
    expect(swapbacked(m, c, a)).toBe(true);
    expect(readsAll(m, c, a, 6)).toBe(true);
    expect(m.vmstat().pglazyfreed).toBe(0);
  });

  it('a swap-cache page another process maps is left alone (not exclusive)', () => {
    const { m, p, anon } = setup('64M');
    const a = anon(PAGE);
    m.write(p, a, { byte: 8, len: PAGE });
    m.pageout(p, a, PAGE);
    const c = m.fork(p, 'c');
    m.read(p, a, 1);
    m.read(c, a, 1);
    expect(m.pageAt(p, a)).toMatchObject({ mapcount: 2 });
    expect(m.pageAt(p, a)!.flagNames.split('|')).toContain('owner_priv_1'); // PG_swapcache
    m.madvise(p, a, PAGE, 'free');
    expect(swapbacked(m, p, a)).toBe(true);
    expect(m.vmstat().pglazyfree).toBe(0);
  });
});

describe('THPs', () => {
  function thp(swap?: string) {
    const s = setup(swap);
    const h = s.anon(2 * PMD);
    const a = h + ((PMD - (h % PMD)) % PMD);
    s.m.madvise(s.p, a, PMD, 'hugepage');
    s.m.write(s.p, a, { byte: 0x21, len: PMD });
    expect(s.m.pageAt(s.p, a)?.level).toBe('pmd');
    return { ...s, a };
  }

  it('a range covering the PMD marks the THP whole; reclaim drops it whole, without a split', () => {
    const { m, p, a } = thp('64M');
    m.madvise(p, a, PMD, 'free');
    expect(m.pageAt(p, a)).toMatchObject({ level: 'pmd', order: 9 });
    expect(swapbacked(m, p, a)).toBe(false);
    expect(pteBits(m, p, a)).not.toContain('dirty');
    expect(m.vmstat().pglazyfree).toBe(512);
    m.pageout(p, a, PMD);
    expect(m.pageAt(p, a + 5 * PAGE)).toBeUndefined();
    expect(m.process(p).rss).toMatchObject({ anon: 0, swap: 0 });
    expect(m.vmstat()).toMatchObject({ pglazyfreed: 512, thp_split_pmd: 0, thp_split_page: 0, pswpout: 0 });
    expect(readsAll(m, p, a + 7 * PAGE, 0)).toBe(true);
  });

  it('a write to a lazyfree THP dirties its PMD: reclaim keeps it, swap-backed again', () => {
    const { m, p, a } = thp();
    m.madvise(p, a, PMD, 'free');
    m.write(p, a + 9 * PAGE, { byte: 0x22, len: 1 });
    m.pageout(p, a, PMD);
    expect(m.pageAt(p, a)).toMatchObject({ level: 'pmd' });
    expect(swapbacked(m, p, a)).toBe(true);
    expect(m.read(p, a + 9 * PAGE, 2).bytes).toEqual(new Uint8Array([0x22, 0x21]));
  });

  it('a range covering part of the PMD splits the THP; only the pages in it become lazyfree', () => {
    const { m, p, a } = thp();
    m.madvise(p, a, 4 * PAGE, 'free');
    expect(m.vmstat()).toMatchObject({ thp_split_page: 1, pglazyfree: 4 });
    expect(m.pageAt(p, a)).toMatchObject({ level: 'pte', order: 0 });
    expect(swapbacked(m, p, a + 3 * PAGE)).toBe(false);
    expect(swapbacked(m, p, a + 4 * PAGE)).toBe(true);
    m.pageout(p, a, 8 * PAGE);
    expect(m.pageAt(p, a + 3 * PAGE)).toBeUndefined();
    expect(m.pageAt(p, a + 4 * PAGE)).toBeDefined();
    expect(m.process(p).rss.anon).toBe(508);
    expect(readsAll(m, p, a + 4 * PAGE, 0x21)).toBe(true);
  });
});
