/**
 * Pageblock isolation: a pageblock's free blocks become unallocatable (MIGRATE_ISOLATE) while
 * compaction, memory offlining or a contiguous allocation works on it, then get their type back.
 *
 * Models: mm/page_isolation.c set_migratetype_isolate / unset_migratetype_isolate and
 * mm/page_alloc.c __move_freepages_block_isolate. The type a pageblock had before isolation is
 * kept beside it (PageAlloc.isolatedFrom), as current Linux keeps isolation as a separate bit.
 * Also here: taking given free frames off the allocator for good, which memory failure, compaction
 * and contiguous allocation do (mm/page_alloc.c take_page_off_buddy, break_down_buddy_pages).
 */
import { MT, mdMigratetype, mdOrder, mdType, pfnToPageblock, pfnToSection } from './memdesc.js';
import { MAX_BLOCK, MIGRATE, type Zone } from './mmzone.js';
import type { PageAlloc } from './page_alloc.js';
import { moveFreeBlocks } from './page_alloc_fallback.js';
import { KernelError, MAX_PAGE_ORDER, PAGEBLOCK_ORDER, PAGEBLOCK_PAGES, PAGES_PER_SECTION } from './types.js';

/** set_migratetype_isolate() for the pageblock holding `pfn`: its free blocks leave the allocator. */
export function setMigratetypeIsolate(pa: PageAlloc, pfn: number): void {
  const pb = pfnToPageblock(pfn);
  if (pa.pageblockMt[pb] === MIGRATE.ISOLATE)
    throw new KernelError('EBUSY', `pageblock ${pb} is already isolated`);
  const start = pb * PAGEBLOCK_PAGES;
  const z = pa.zoneOf(start);
  pa.ensurePopulated(start);
  splitMaxOrderCovering(pa, z, start);
  pa.isolatedFrom.set(pb, pa.pageblockMt[pb]);
  pa.pageblockMt[pb] = MIGRATE.ISOLATE;
  moveFreeBlocks(pa, z, start, start + PAGEBLOCK_PAGES, MIGRATE.ISOLATE);
}

/**
 * unset_migratetype_isolate() for the pageblock holding `pfn`. It gets back the migratetype it had
 * before it was isolated, unless `mt` says otherwise.
 */
export function unsetMigratetypeIsolate(pa: PageAlloc, pfn: number, mt?: number): void {
  const pb = pfnToPageblock(pfn);
  if (pa.pageblockMt[pb] !== MIGRATE.ISOLATE)
    throw new KernelError('EINVAL', `pageblock ${pb} is not isolated`);
  const start = pb * PAGEBLOCK_PAGES;
  mt ??= pa.isolatedFrom.get(pb) ?? MIGRATE.MOVABLE;
  pa.isolatedFrom.delete(pb);
  const z = pa.zoneOf(start);
  // Two isolated buddies merge like any same-type pair; split such a block first so only this
  // pageblock changes type (__move_freepages_block_isolate splits a free page spanning it).
  splitMaxOrderCovering(pa, z, start);
  pa.pageblockMt[pb] = mt;
  moveFreeBlocks(pa, z, start, start + PAGEBLOCK_PAGES, mt);
  // A wholly free pageblock could not merge with its buddy while isolated; take it off its list
  // and free it again so it does (__putback_isolated_page).
  const lo = pa.memmap.lo(start);
  if (mdType(lo) === MT.BUDDY && mdOrder(lo) === PAGEBLOCK_ORDER) {
    pa.area.removeFree(z, start, PAGEBLOCK_ORDER);
    pa.mergeFree(z, start, PAGEBLOCK_ORDER);
    pa.maybeDepopulate(Math.floor(start / PAGES_PER_SECTION));
  }
}

/** A free max-order block spans two pageblocks; split it so one pageblock can change type. */
function splitMaxOrderCovering(pa: PageAlloc, z: Zone, pfn: number): void {
  const head = pfn - (pfn % MAX_BLOCK);
  const lo = pa.memmap.lo(head);
  if (mdType(lo) !== MT.BUDDY || mdOrder(lo) !== MAX_PAGE_ORDER) return;
  const mt = mdMigratetype(lo);
  pa.area.removeFree(z, head, MAX_PAGE_ORDER);
  pa.area.insertFree(z, head + PAGEBLOCK_PAGES, PAGEBLOCK_ORDER, mt, false);
  pa.area.insertFree(z, head, PAGEBLOCK_ORDER, mt, false);
}

/** The free block containing `pfn`, if any (as take_page_off_buddy looks for it). */
export function findFreeBlock(pa: PageAlloc, pfn: number): { pfn: number; order: number } | undefined {
  for (let order = 0; order <= MAX_PAGE_ORDER; order++) {
    const head = pfn - (pfn % (1 << order));
    const lo = pa.memmap.lo(head);
    if (mdType(lo) === MT.BUDDY && mdOrder(lo) >= order) return { pfn: head, order: mdOrder(lo) };
  }
  return undefined;
}

/**
 * Take [pfn, pfn + 2^order) off the free lists, giving the rest of the free block holding it back
 * split (take_page_off_buddy / break_down_buddy_pages; compaction's isolate_freepages_block for a
 * whole block). The frames read untyped; the caller types them. False when no free block covers it.
 */
export function takeFreeRange(pa: PageAlloc, pfn: number, order: number): boolean {
  const found = findFreeBlock(pa, pfn);
  if (!found || found.order < order) return false;
  const z = pa.zoneOf(pfn);
  pa.ensurePopulated(found.pfn);
  pa.area.removeFree(z, found.pfn, found.order);
  let head = found.pfn;
  for (let o = found.order; o > order; ) {
    o--;
    const half = 1 << o;
    const rest = pfn >= head + half ? head : head + half;
    pa.area.insertFree(z, rest, o, pa.pageblockMt[pfnToPageblock(rest)], false);
    if (rest === head) head += half;
  }
  const n = 1 << order;
  z.freePages -= n;
  pa.sectionFree[pfnToSection(pfn)] -= n;
  return true;
}
