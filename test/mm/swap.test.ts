/**
 * Swap: MADV_PAGEOUT (mm/madvise.c, mm/vmscan.c), swap entries and their exclusive marker
 * (try_to_unmap_one, include/linux/swapops.h), swap-in (do_swap_page), fork of a swap entry
 * (copy_nonpresent_pte), zap (free_swap_and_cache), GUP faulting a swapped page back, and the
 * counters (SwapTotal/SwapFree/SwapCached, pswpin/pswpout). Every machine runs the full checks,
 * so each step also proves swap_map counts equal the swap entries naming each slot.
 */
import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/index.js';

const PAGE = 4096;
const PMD = 2 << 20;

function swapMachine(opts: { swap?: string; thp?: 'madvise' | 'never' } = {}) {
  const m = new Machine({
    memory: '1G',
    check: 'full',
    swap: opts.swap ?? '64M',
    thp: opts.thp ?? 'madvise',
  });
  const p = m.spawn('p');
  return { m, p };
}

function anon(m: Machine, p: number, len: number) {
  return m.mmap(p, { length: len, prot: 'rw', flags: ['private', 'anonymous'] });
}

describe('the swap device', () => {
  it('SwapTotal leaves out the header page, SwapFree starts full, no swap means zeros', () => {
    const { m } = swapMachine({ swap: '256M' });
    expect(m.meminfo()).toMatchObject({ SwapTotal: 262140, SwapFree: 262140, SwapCached: 0 });
    const none = new Machine({ memory: '1G' });
    expect(none.meminfo()).toMatchObject({ SwapTotal: 0, SwapFree: 0 });
  });

  it('a swap size that is not whole pages, or too small, is a configuration error', () => {
    expect(() => new Machine({ swap: '5000' })).toThrow(/swap: 5000 is not a whole number of pages/);
    expect(() => new Machine({ swap: '8K' })).toThrow(/from 40K/);
  });
});

describe('MADV_PAGEOUT of an exclusive anon page', () => {
  it('the PTE becomes an exclusive swap entry, the page is freed, pswpout counts it', () => {
    const { m, p } = swapMachine();
    const buf = anon(m, p, PAGE);
    m.write(p, buf, { byte: 0x5a, len: PAGE });
    const free = m.meminfo().MemFree;
    m.pageout(p, buf, PAGE);
    expect(m.pageAt(p, buf)).toBeUndefined();
    expect(m.swapEntry(p, buf)).toMatchObject({ exclusive: true, count: 1, cached: false });
    expect(m.process(p).rss).toMatchObject({ anon: 0, swap: 1 });
    expect(m.vmstat().pswpout).toBe(1);
    expect(m.meminfo().MemFree).toBe(free + 4);
    expect(m.meminfo().SwapFree).toBe(m.meminfo().SwapTotal - 4);
  });

  it('a read swaps it back exclusive and writable, with its bytes; a write then reuses it', () => {
    const { m, p } = swapMachine();
    const buf = anon(m, p, PAGE);
    m.write(p, buf, { byte: 0x5a, len: PAGE });
    m.pageout(p, buf, PAGE);
    const r = m.read(p, buf, PAGE);
    expect(r.bytes.every((b) => b === 0x5a)).toBe(true);
    const pg = m.pageAt(p, buf)!;
    expect(pg).toMatchObject({ anonExclusive: true, refcount: 1, mapcount: 1 });
    expect(pg.pte).toContain('write');
    expect(m.vmstat()).toMatchObject({ pswpin: 1, pgmajfault: 1 });
    // Read bypassing the swap cache (zram, one reference): the slot is free again.
    expect(m.meminfo()).toMatchObject({ SwapCached: 0, SwapFree: m.meminfo().SwapTotal });
    const reuse = m.vmstat().pgreuse;
    m.write(p, buf, { byte: 0x11, len: 1 });
    expect(m.pageAt(p, buf)!.pfn).toBe(pg.pfn);
    expect(m.vmstat().pgreuse).toBe(reuse);
  });

  it('a page never written (the zero page) is skipped; an all-zero page written once is swapped', () => {
    const { m, p } = swapMachine();
    const buf = anon(m, p, 2 * PAGE);
    m.read(p, buf, 1);
    m.write(p, buf + PAGE, { byte: 0, len: 1 });
    m.pageout(p, buf, 2 * PAGE);
    expect(m.pageAt(p, buf)?.type).toBe('zero');
    expect(m.swapEntry(p, buf + PAGE)).toBeDefined();
    expect(m.read(p, buf + PAGE, PAGE).bytes.every((b) => b === 0)).toBe(true);
  });

  it('without swap, an anon page stays where it is', () => {
    const m = new Machine({ memory: '1G', check: 'full' });
    const p = m.spawn('p');
    const buf = anon(m, p, PAGE);
    m.write(p, buf, { byte: 1, len: 1 });
    m.pageout(p, buf, PAGE);
    expect(m.pageAt(p, buf)).toBeDefined();
    expect(m.vmstat().pswpout).toBe(0);
  });

  it('a pinned page is not reclaimed (folio_maybe_dma_pinned)', () => {
    const { m, p } = swapMachine();
    const buf = anon(m, p, PAGE);
    m.write(p, buf, { byte: 1, len: 1 });
    m.pinUserPages(p, buf, 1, ['write', 'longterm']);
    m.pageout(p, buf, PAGE);
    expect(m.pageAt(p, buf)).toBeDefined();
    expect(m.swapEntry(p, buf)).toBeUndefined();
  });

  it('a page with a GUP reference is unmapped and written but stays in the swap cache, and comes back as the same frame', () => {
    const { m, p } = swapMachine();
    const buf = anon(m, p, PAGE);
    m.write(p, buf, { byte: 7, len: PAGE });
    const pfn = m.pageAt(p, buf)!.pfn;
    const g = m.getUserPages(p, buf, 1);
    m.pageout(p, buf, PAGE);
    expect(m.swapEntry(p, buf)).toMatchObject({ cached: true, exclusive: true, count: 1 });
    expect(m.meminfo().SwapCached).toBe(4);
    expect(m.vmstat().pswpout).toBe(1);
    m.read(p, buf, 1);
    const back = m.pageAt(p, buf)!;
    expect(back.pfn).toBe(pfn);
    // From the swap cache: exclusive as the entry said; no read from the device.
    expect(back.anonExclusive).toBe(true);
    expect(m.vmstat().pswpin).toBe(0);
    m.putUserPages(g.id);
  });

  it('a range with an unmapped hole is ENOMEM after the mapped part was paged out; a pfnmap is EINVAL', () => {
    const { m, p } = swapMachine();
    const buf = anon(m, p, 3 * PAGE);
    m.write(p, buf, { byte: 1, len: PAGE });
    m.munmap(p, buf + PAGE, PAGE);
    expect(() => m.pageout(p, buf, 3 * PAGE)).toThrow(/ENOMEM|unmapped holes/);
    expect(m.swapEntry(p, buf)).toBeDefined();
  });
});

describe('fork and zap of swap entries', () => {
  it('fork duplicates the entry (count 2) and clears the exclusive marker on both sides', () => {
    const { m, p } = swapMachine();
    const buf = anon(m, p, PAGE);
    m.write(p, buf, { byte: 3, len: PAGE });
    m.pageout(p, buf, PAGE);
    const c = m.fork(p, 'c');
    expect(m.swapEntry(p, buf)).toMatchObject({ exclusive: false, count: 2 });
    expect(m.swapEntry(c, buf)).toMatchObject({ exclusive: false, count: 2 });
    expect(m.process(c).rss.swap).toBe(1);
  });

  it('after fork a swap-in goes through the swap cache, comes back read-only and shared, and a write copies', () => {
    const { m, p } = swapMachine();
    const buf = anon(m, p, PAGE);
    m.write(p, buf, { byte: 3, len: PAGE });
    m.pageout(p, buf, PAGE);
    const c = m.fork(p, 'c');
    m.read(c, buf, 1);
    const inChild = m.pageAt(c, buf)!;
    expect(inChild).toMatchObject({ anonExclusive: false, refcount: 2 });
    expect(inChild.pte).not.toContain('write');
    expect(m.meminfo().SwapCached).toBe(4);
    m.read(p, buf, 1);
    expect(m.pageAt(p, buf)!.pfn).toBe(inChild.pfn);
    expect(m.vmstat().pswpin).toBe(1);
    m.write(p, buf, { byte: 9, len: 1 });
    expect(m.pageAt(p, buf)!.pfn).not.toBe(inChild.pfn);
    expect(m.read(c, buf, 1).bytes[0]).toBe(3);
  });

  it('when the other side lets go, a write reuses the swap-cache page after freeing its slot', () => {
    const { m, p } = swapMachine();
    const buf = anon(m, p, PAGE);
    m.write(p, buf, { byte: 3, len: PAGE });
    m.pageout(p, buf, PAGE);
    const c = m.fork(p, 'c');
    m.read(p, buf, 1);
    const pfn = m.pageAt(p, buf)!.pfn;
    m.exit(c);
    // The slot is only the cache's now, but the page is mapped: it stays cached (TTRS_UNMAPPED).
    expect(m.meminfo().SwapCached).toBe(4);
    m.write(p, buf, { byte: 4, len: 1 });
    expect(m.pageAt(p, buf)).toMatchObject({ pfn, anonExclusive: true });
    expect(m.meminfo()).toMatchObject({ SwapCached: 0, SwapFree: m.meminfo().SwapTotal });
  });

  it('munmap of a swap entry frees its slot; exit of both sides frees a shared one', () => {
    const { m, p } = swapMachine();
    const buf = anon(m, p, 2 * PAGE);
    m.write(p, buf, { byte: 3, len: 2 * PAGE });
    m.pageout(p, buf, 2 * PAGE);
    const total = m.meminfo().SwapTotal;
    expect(m.meminfo().SwapFree).toBe(total - 8);
    m.munmap(p, buf, PAGE);
    expect(m.meminfo().SwapFree).toBe(total - 4);
    const c = m.fork(p, 'c');
    m.exit(p);
    expect(m.meminfo().SwapFree).toBe(total - 4);
    m.exit(c);
    expect(m.meminfo().SwapFree).toBe(total);
  });

  it('a page shared with a child is not paged out (folio_maybe_mapped_shared)', () => {
    const { m, p } = swapMachine();
    const buf = anon(m, p, PAGE);
    m.write(p, buf, { byte: 3, len: 1 });
    m.fork(p, 'c');
    m.pageout(p, buf, PAGE);
    expect(m.pageAt(p, buf)).toBeDefined();
    expect(m.vmstat().pswpout).toBe(0);
  });
});

describe('GUP and swap', () => {
  it('pinning a swapped-out page faults it back in first', () => {
    const { m, p } = swapMachine();
    const buf = anon(m, p, PAGE);
    m.write(p, buf, { byte: 0x66, len: PAGE });
    m.pageout(p, buf, PAGE);
    const pin = m.pinUserPages(p, buf, 1, ['write', 'longterm']);
    expect(pin.pages).toBe(1);
    expect(m.pageAt(p, buf)).toMatchObject({ pfn: pin.pfns[0], anonExclusive: true });
    expect(m.dmaRead(pin.id, 0, 1)[0]).toBe(0x66);
  });
});

describe('THPs and swap', () => {
  function thp() {
    const { m, p } = swapMachine();
    const buf = anon(m, p, PMD);
    m.madvise(p, buf, PMD, 'hugepage');
    m.write(p, buf, { byte: 0x21, len: PMD });
    expect(m.pageAt(p, buf)?.level).toBe('pmd');
    return { m, p, buf };
  }

  it('a PMD-mapped THP the range covers is swapped out whole: 512 entries, one thp_swpout', () => {
    const { m, p, buf } = thp();
    m.pageout(p, buf, PMD);
    expect(m.vmstat()).toMatchObject({ pswpout: 512, thp_swpout: 1, thp_split_pmd: 1, thp_split_page: 0 });
    const first = m.swapEntry(p, buf)!;
    expect(m.swapEntry(p, buf + 511 * PAGE)).toMatchObject({ offset: first.offset + 511, exclusive: true });
    // Swap-in is page by page: a small exclusive folio per fault.
    m.read(p, buf + 3 * PAGE, 1);
    expect(m.pageAt(p, buf + 3 * PAGE)).toMatchObject({ order: 0, anonExclusive: true });
    expect(m.process(p).rss).toMatchObject({ anon: 1, swap: 511 });
  });

  it('a THP the range covers in part is split; only the pages in the range go to swap', () => {
    const { m, p, buf } = thp();
    m.pageout(p, buf, 4 * PAGE);
    expect(m.vmstat()).toMatchObject({ pswpout: 4, thp_split_page: 1, thp_swpout: 0 });
    expect(m.swapEntry(p, buf + 3 * PAGE)).toBeDefined();
    expect(m.pageAt(p, buf + 4 * PAGE)).toMatchObject({ order: 0, anonExclusive: true, refcount: 1 });
  });

  it('a single remaining PTE of a THP: the THP is split, its unmapped pages freed, the page swapped', () => {
    const { m, p, buf } = thp();
    m.madvise(p, buf + PAGE, PMD - PAGE, 'dontneed');
    const free = m.meminfo().MemFree;
    m.pageout(p, buf, PAGE);
    expect(m.swapEntry(p, buf)).toMatchObject({ exclusive: true });
    expect(m.meminfo().MemFree).toBe(free + 2048);
    expect(m.read(p, buf, 1).bytes[0]).toBe(0x21);
  });

  it('a PTE-mapped THP wholly in range is swapped whole; a pinned THP is not touched', () => {
    const { m, p, buf } = thp();
    m.mprotect(p, buf + PAGE, PAGE, 'r');
    m.mprotect(p, buf + PAGE, PAGE, 'rw');
    expect(m.pageAt(p, buf)?.level).toBe('pte');
    m.pageout(p, buf, PMD);
    expect(m.vmstat()).toMatchObject({ pswpout: 512, thp_swpout: 1, thp_split_page: 0 });
    const t = thp();
    t.m.pinUserPages(t.p, t.buf, 1, ['write', 'longterm']);
    t.m.pageout(t.p, t.buf, PMD);
    expect(t.m.pageAt(t.p, t.buf)?.level).toBe('pmd');
  });
});

describe('page-cache pages under MADV_PAGEOUT', () => {
  function fileMap(flags: string[]) {
    const { m, p } = swapMachine();
    m.fileCreate('f', 2 * PAGE, 0x44);
    const buf = m.mmap(p, { length: 2 * PAGE, prot: 'rw', flags, file: 'f' });
    m.read(p, buf, 2 * PAGE);
    return { m, p, buf };
  }

  it('a clean page leaves the page cache, and the next read fetches it from the file again', () => {
    const { m, p, buf } = fileMap(['private']);
    expect(m.fileInfo('f').cached).toBe(2);
    m.pageout(p, buf, PAGE);
    expect(m.fileInfo('f').cached).toBe(1);
    expect(m.pageAt(p, buf)).toBeUndefined();
    expect(m.swapEntry(p, buf)).toBeUndefined();
    expect(m.read(p, buf, 1).bytes[0]).toBe(0x44);
    expect(m.vmstat().pswpout).toBe(0);
  });

  it('a dirty shared page is unmapped but stays cached and dirty for the flusher (PG_reclaim)', () => {
    const { m, p, buf } = fileMap(['shared']);
    m.write(p, buf, { byte: 0x55, len: 1 });
    const pfn = m.pageAt(p, buf)!.pfn;
    m.pageout(p, buf, PAGE);
    expect(m.pageAt(p, buf)).toBeUndefined();
    expect(m.fileInfo('f')).toMatchObject({ cached: 2, dirty: true });
    expect(m.page(pfn).flags & (1 << 16)).not.toBe(0);
    expect(m.fileContents('f', 0, 1)[0]).toBe(0x44);
    expect(m.read(p, buf, 1).bytes[0]).toBe(0x55);
    expect(m.pageAt(p, buf)!.pfn).toBe(pfn);
  });

  it('a pinned page is unmapped, then kept: not marked for writeback, not dropped (since v6.4)', () => {
    // shrink_folio_list: after try_to_unmap, folio_maybe_dma_pinned() sends it back
    // (activate_locked) before the dirty handling; try_to_unmap itself ignores pins on file pages.
    const { m, p, buf } = fileMap(['shared']);
    m.write(p, buf, { byte: 0x55, len: 1 });
    const pfn = m.pageAt(p, buf)!.pfn;
    const pin = m.pinUserPages(p, buf, 1, ['write']);
    m.pageout(p, buf, 2 * PAGE);
    expect(m.pageAt(p, buf)).toBeUndefined();
    expect(m.page(pfn).flags & (1 << 16)).toBe(0);
    // The clean, unpinned neighbour leaves the cache; the pinned page stays, dirty.
    expect(m.fileInfo('f')).toMatchObject({ cached: 1, dirty: true });
    expect(m.read(p, buf, 1).bytes[0]).toBe(0x55);
    expect(m.pageAt(p, buf)!.pfn).toBe(pfn);
    m.unpinUserPages(pin.id);
  });

  it('a page another process maps is left alone', () => {
    const { m, p, buf } = fileMap(['shared']);
    const q = m.spawn('q');
    const other = m.mmap(q, { length: 2 * PAGE, prot: 'r', flags: ['shared'], file: 'f' });
    m.read(q, other, 1);
    m.pageout(p, buf, 2 * PAGE);
    expect(m.pageAt(p, buf)).toBeDefined();
    expect(m.pageAt(p, buf + PAGE)).toBeUndefined();
  });
});

describe('running out of swap, and swap more than half full', () => {
  it('with too few slots, the pages that find none stay in memory', () => {
    const { m, p } = swapMachine({ swap: '40K' });
    const buf = anon(m, p, 12 * PAGE);
    m.madvise(p, buf, 12 * PAGE, 'nohugepage');
    m.write(p, buf, { byte: 9, len: 12 * PAGE });
    m.pageout(p, buf, 12 * PAGE);
    expect(m.vmstat().pswpout).toBe(9);
    expect(m.meminfo().SwapFree).toBe(0);
    expect(m.pageAt(p, buf + 11 * PAGE)).toBeDefined();
  });

  it('a THP with no free cluster is split and goes page by page (thp_swpout_fallback)', () => {
    const { m, p } = swapMachine({ swap: '1M' });
    const buf = anon(m, p, PMD);
    m.madvise(p, buf, PMD, 'hugepage');
    m.write(p, buf, { byte: 5, len: PMD });
    m.pageout(p, buf, PMD);
    expect(m.vmstat()).toMatchObject({
      thp_swpout_fallback: 1,
      thp_swpout: 0,
      pswpout: 255,
      thp_split_page: 1,
    });
    expect(m.pageAt(p, buf + 300 * PAGE)).toMatchObject({ order: 0 });
  });

  it('when swap is more than half full, zapping the last entry frees even a mapped swap-cache page (vm_swap_full)', () => {
    for (const [swap, cached] of [
      ['80K', 0],
      ['64M', 4],
    ] as const) {
      const { m, p } = swapMachine({ swap });
      const buf = anon(m, p, 12 * PAGE);
      m.madvise(p, buf, 12 * PAGE, 'nohugepage');
      m.write(p, buf, { byte: 9, len: 12 * PAGE });
      m.pageout(p, buf, 12 * PAGE);
      const c = m.fork(p, 'c');
      m.read(c, buf, 1);
      m.exit(p);
      expect(m.meminfo().SwapCached, swap).toBe(cached);
    }
  });
});

describe('other paths over swap entries', () => {
  it('mprotect leaves a swap entry as it is; the page comes back under the new protection', () => {
    const { m, p } = swapMachine();
    const buf = anon(m, p, PAGE);
    m.write(p, buf, { byte: 8, len: 1 });
    m.pageout(p, buf, PAGE);
    m.mprotect(p, buf, PAGE, 'r');
    expect(m.swapEntry(p, buf)).toMatchObject({ exclusive: true, count: 1 });
    m.read(p, buf, 1);
    expect(m.pageAt(p, buf)!.pte).not.toContain('write');
    m.mprotect(p, buf, PAGE, 'rw');
    expect(m.pageAt(p, buf)!.pte).toContain('write');
  });

  it('MADV_DONTNEED frees the slot; a WIPEONFORK child gets no entry; madvise(pageout) is the same op', () => {
    const { m, p } = swapMachine();
    const buf = anon(m, p, 2 * PAGE);
    m.write(p, buf, { byte: 8, len: 2 * PAGE });
    m.madvise(p, buf, 2 * PAGE, 'pageout');
    const total = m.meminfo().SwapTotal;
    m.madvise(p, buf, PAGE, 'dontneed');
    expect(m.meminfo().SwapFree).toBe(total - 4);
    m.madvise(p, buf, 2 * PAGE, 'wipeonfork');
    const c = m.fork(p, 'c');
    expect(m.swapEntry(c, buf + PAGE)).toBeUndefined();
    expect(m.read(c, buf + PAGE, 1).bytes[0]).toBe(0);
    expect(m.swapEntry(p, buf + PAGE)).toMatchObject({ count: 1 });
  });

  it('a KSM page is not paged out (the model keeps KSM folios in memory)', () => {
    const { m, p } = swapMachine();
    const buf = anon(m, p, 2 * PAGE);
    m.write(p, buf, { byte: 8, len: 2 * PAGE });
    m.madvise(p, buf, 2 * PAGE, 'mergeable');
    expect(m.ksmScan()).toBe(1);
    // Mapped once now, so only the KSM rule keeps it (not folio_maybe_mapped_shared).
    m.munmap(p, buf + PAGE, PAGE);
    expect(m.pageAt(p, buf)!.mapcount).toBe(1);
    m.pageout(p, buf, PAGE);
    expect(m.pageAt(p, buf)!.flags & (1 << 27)).not.toBe(0);
    expect(m.vmstat().pswpout).toBe(0);
  });
});
