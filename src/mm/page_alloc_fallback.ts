/**
 * The buddy allocator's anti-fragmentation fallbacks: when a migratetype's own lists are empty it
 * steals from another type, and a large enough block claims its whole pageblock(s).
 *
 * Models: mm/page_alloc.c fallbacks[], __rmqueue_claim / try_to_claim_block (reduced: a block of
 * at least half a pageblock claims it), move_freepages_block.
 */
import { MT, mdOrder, mdType, mdWord } from './memdesc.js';
import { listIndex, MIGRATE, NIL, type Zone } from './mmzone.js';
import type { PageAlloc } from './page_alloc.js';
import { MAX_PAGE_ORDER, PAGEBLOCK_ORDER, PAGEBLOCK_PAGES } from './types.js';

/** Where each migratetype may steal from when its own lists are empty (fallbacks[] in page_alloc.c). */
const FALLBACKS: readonly (readonly number[])[] = [
  [MIGRATE.RECLAIMABLE, MIGRATE.MOVABLE],
  [MIGRATE.RECLAIMABLE, MIGRATE.UNMOVABLE],
  [MIGRATE.UNMOVABLE, MIGRATE.MOVABLE],
];

/**
 * __rmqueue_claim(): steal the largest free block of a fallback type; a block of at least half
 * a pageblock claims its whole pageblock(s) for the new type (as try_to_claim_block does when
 * enough of the block is free).
 */
export function rmqueueFallback(pa: PageAlloc, z: Zone, order: number, mt: number): number {
  if (mt >= FALLBACKS.length) return -1;
  for (let o = MAX_PAGE_ORDER; o >= order; o--) {
    for (const fmt of FALLBACKS[mt]) {
      const row = z.head[listIndex(o, fmt)];
      if (row === NIL) continue;
      const pfn = pa.area.rowPfn(row);
      pa.ensurePopulated(pfn);
      pa.stat.events.pageblock_steal++;
      if (o >= PAGEBLOCK_ORDER / 2) claimPageblocks(pa, z, pfn, o, mt);
      pa.area.removeFree(z, pfn, o);
      pa.expand(z, pfn, order, o, o >= PAGEBLOCK_ORDER / 2 ? mt : fmt);
      return pfn;
    }
  }
  return -1;
}

/** Convert the pageblock(s) around a block to `mt` and move their free blocks across. */
function claimPageblocks(pa: PageAlloc, z: Zone, pfn: number, order: number, mt: number): void {
  const span = Math.max(PAGEBLOCK_PAGES, 1 << order);
  const start = Math.floor(pfn / span) * span;
  pa.setPageblockMigratetype(start, Math.max(order, PAGEBLOCK_ORDER), mt);
  moveFreeBlocks(pa, z, start, start + span, mt);
}

/** move_freepages(): every free block whose head lies in [start, end) goes to the `mt` list. */
export function moveFreeBlocks(pa: PageAlloc, z: Zone, start: number, end: number, mt: number): void {
  for (let p = start; p < end; ) {
    const lo = pa.memmap.lo(p);
    if (mdType(lo) !== MT.BUDDY) {
      p++;
      continue;
    }
    const order = mdOrder(lo);
    const row = pa.area.rowOf(p, order);
    pa.area.listDel(z, row);
    pa.area.listAddTail(z, row, listIndex(order, mt));
    pa.memmap.setIfPopulated(p, mdWord(MT.BUDDY, order, mt), row);
    p += 1 << order;
  }
}
