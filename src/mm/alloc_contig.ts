/**
 * Allocating a given PFN range: alloc_contig_range() and the free-page isolation under it, plus
 * the typed variants a capture's replay uses to put every frame back where it was.
 *
 * Models: mm/page_alloc.c alloc_contig_range_noprof() (the range must lie in one zone; with
 * __GFP_COMP it becomes one compound page of order ilog2(nr), so nr must be a power of two and
 * the range aligned to it; without, split_free_pages() leaves every page an order-0 allocation
 * of refcount 1, which free_contig_range() frees page by page), and mm/compaction.c
 * isolate_freepages_range() (each free block meeting the range leaves the free lists, and the
 * parts of it outside the range go back split: takeFreeRange (page_isolation.ts), which models
 * break_down_buddy_pages()).
 *
 * Leaves out: __alloc_contig_migrate_range() — the kernel first migrates the in-use movable
 * pages out of the range; here a range with any frame in use is EBUSY and nothing changes
 * (compact first) — and the pageblock isolation that fences off concurrent allocators, which the
 * model does not have.
 */

import { PG } from './folio.js';
import { mmGetHugeZeroFolio } from './huge_memory.js';
import type { Kernel } from './kernel.js';
import { type MemType, MT, mdWord } from './memdesc.js';
import { GFP } from './mmzone.js';
import type { PageAlloc } from './page_alloc.js';
import { findFreeBlock, takeFreeRange } from './page_isolation.js';
import { drainAllPages } from './pcp.js';
import type { KmemCache } from './slab.js';
import { KernelError, MAX_PAGE_ORDER, PAGEBLOCK_PAGES, PAGES_PER_SECTION } from './types.js';

/** The largest order a block at `pfn` may have and still end by `end`. */
function fittingOrder(pfn: number, end: number): number {
  let order = MAX_PAGE_ORDER;
  while (order > 0 && (pfn % (1 << order) !== 0 || pfn + (1 << order) > end)) order--;
  return order;
}

/** EINVAL unless [start, end) is RAM of one zone (alloc_contig_range: "must belong to a single zone"). */
function checkRange(pa: PageAlloc, start: number, end: number): void {
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end <= start || end > pa.maxPfn)
    throw new KernelError('EINVAL', `pfn range ${start}..${end} is not a range of RAM`);
  for (let s = Math.floor(start / PAGES_PER_SECTION); s * PAGES_PER_SECTION < end; s++)
    if (!pa.memmap.isPresentSection(s))
      throw new KernelError('EINVAL', `pfn range ${start}..${end} crosses a hole (section ${s})`);
  if (pa.zoneOf(start) !== pa.zoneOf(end - 1))
    throw new KernelError('EINVAL', `pfn range ${start}..${end} spans two zones`);
}

/**
 * isolate_freepages_range(): take every frame of [start, end) off the free lists, splitting the
 * free blocks that stick out of it. The frames read untyped and still count as free in the
 * type counters; the caller types them. EBUSY, with nothing taken, when a frame is not free.
 */
export function isolateFreepagesRange(pa: PageAlloc, start: number, end: number): void {
  checkRange(pa, start, end);
  // alloc_contig_range() drains the zone's per-CPU lists before it looks (drain_all_pages).
  drainAllPages(pa, pa.zoneOf(start));
  // First look, then take: the kernel undoes a partial isolation; checking first needs no undo.
  for (let pfn = start; pfn < end; ) {
    const b = findFreeBlock(pa, pfn);
    if (!b) throw new KernelError('EBUSY', `pfn 0x${pfn.toString(16)} in ${start}..${end} is in use`);
    pfn = b.pfn + (1 << b.order);
  }
  for (let pfn = start; pfn < end; ) {
    const order = fittingOrder(pfn, end);
    takeFreeRange(pa, pfn, order);
    pfn += 1 << order;
  }
}

/**
 * alloc_contig_range(start, end, gfp): with GFP.COMP one compound allocation of the whole range,
 * else one order-0 allocation per frame — both alloc_pages()-style frames with no owner type.
 */
export function allocContigRange(k: Kernel, start: number, end: number, gfp = 0): void {
  const nr = end - start;
  if (gfp & GFP.COMP) {
    const order = Math.round(Math.log2(nr));
    if (nr !== 1 << order || start % nr !== 0 || order > MAX_PAGE_ORDER)
      throw new KernelError(
        'EINVAL',
        `a compound range must be 2^order (≤ ${MAX_PAGE_ORDER}) aligned frames, got ${nr} at ${start}`,
      );
  }
  isolateFreepagesRange(k.pa, start, end);
  if (gfp & GFP.COMP) k.folios.install(start, Math.log2(nr), MT.UNKNOWN);
  else for (let pfn = start; pfn < end; pfn++) k.folios.install(pfn, 0, MT.UNKNOWN);
}

/** free_contig_range(): drop the reference of every allocation alloc_contig_range made in the range. */
export function freeContigRange(k: Kernel, start: number, nr: number): void {
  const { folios } = k;
  for (let pfn = start; pfn < start + nr; ) {
    const row = folios.pageRow(pfn);
    if (row < 0 || folios.kind[row] !== MT.UNKNOWN || folios.pfn[row] !== pfn)
      throw new KernelError(
        'EINVAL',
        `pfn 0x${pfn.toString(16)} does not start an alloc_contig_range allocation`,
      );
    pfn += folios.nrPages(row);
    folios.put(folios.handleOf(row));
  }
}

/**
 * A folio of `kind` and `order` at `pfn` (alloc_contig_range + __GFP_COMP, as hugetlb's
 * gigantic folios are allocated), with the flags folio_alloc() gives. Returns its handle.
 */
export function allocContigFolio(k: Kernel, pfn: number, order: number, kind: MemType): number {
  isolateFreepagesRange(k.pa, pfn, pfn + (1 << order));
  const h = k.folios.install(pfn, order, kind);
  if (order > 0 && kind !== MT.LARGE_KMALLOC) k.folios.setFlag(h >>> 0, PG.large_rmappable);
  if (kind === MT.ANON) k.folios.setFlag(h >>> 0, PG.swapbacked);
  return h;
}

/** A slab of cache `c` at `pfn` (the cache's order), holding one object so it is kept. Returns the object's address. */
export function allocContigSlab(k: Kernel, c: KmemCache, pfn: number): number {
  isolateFreepagesRange(k.pa, pfn, pfn + (1 << c.order));
  k.slab.installSlab(c, pfn);
  return k.slab.alloc(c);
}

/** A page table of `level` at `pfn`, owned by no mm. Returns the ptdesc handle. */
export function allocContigPagetable(k: Kernel, pfn: number, level = 1): number {
  isolateFreepagesRange(k.pa, pfn, pfn + 1);
  return k.ptdesc.install(pfn, level, 0);
}

/** The huge zero folio at `pfn` (a pageblock), if the machine has none yet. */
export function allocContigHugeZero(k: Kernel, pfn: number): number {
  isolateFreepagesRange(k.pa, pfn, pfn + PAGEBLOCK_PAGES);
  return mmGetHugeZeroFolio(k, pfn);
}

/**
 * Frames typed without a descriptor — reserved, offline, hwpoison — at
 * [pfn, pfn + nr): memblock_reserve()'s effect after boot. Reserved frames leave the zone's
 * managed pages, as memory memblock kept never reached the buddy allocator — unless `allocated`:
 * pages the buddy allocator handed out and their owner then marked reserved (SetPageReserved on
 * an alloc_pages() page), which stay managed.
 */
export function allocContigTyped(k: Kernel, pfn: number, nr: number, type: MemType, allocated = false): void {
  if (type !== MT.RESERVED && type !== MT.OFFLINE && type !== MT.HWPOISON)
    throw new KernelError('EINVAL', `frames of type ${type} need a descriptor`);
  isolateFreepagesRange(k.pa, pfn, pfn + nr);
  k.pa.memmap.setRange(pfn, nr, mdWord(type), 0);
  k.stat.retype(MT.BUDDY, type, nr);
  if (type === MT.RESERVED && !allocated) k.pa.zoneOf(pfn).managedPages -= nr;
}
