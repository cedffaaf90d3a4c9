/**
 * Which frames a FOLL_LONGTERM pin may hold, asked along the GUP walk.
 *
 * Models: mm/gup.c and include/linux/mm.h — folio_is_longterm_pinnable(), as
 * check_and_migrate_movable_folios() asks it of every page a long-term pin took (the migration
 * itself is in gup.ts and migrate.ts). Split out of gup.ts, which keeps the walk.
 */
import type { Kernel } from './kernel.js';
import { MIGRATE, ZONE } from './mmzone.js';
import { mod, PAGEBLOCK_PAGES } from './types.js';

/** folio_is_longterm_pinnable(). */
export function longtermPinnable(k: Kernel, pfn: number): boolean {
  if (k.pa.isZeroPfn(pfn)) return true;
  // ZONE_DEVICE pages of a generic pagemap are pinnable (only coherent and fsdax ones are not).
  if (pfn >= k.pa.maxPfn) return true;
  const mt = k.pa.pageblockMigratetype(pfn);
  if (mt === MIGRATE.CMA || mt === MIGRATE.ISOLATE) return false;
  return k.pa.zoneOf(pfn).id !== ZONE.MOVABLE;
}

/**
 * folio_is_longterm_pinnable() is a property of the pageblock (zone, migratetype) for every
 * frame but the zero pages and device memory: asked once per pageblock of one walk, the answer
 * kept for the frames [blockLo, blockHi) (a walk starts with forgetPageblock()).
 */
let blockLo = 0;
let blockHi = 0;
let blockOk = true;

function pageblockPinnable(k: Kernel, pfn: number): void {
  blockLo = pfn - mod(pfn, PAGEBLOCK_PAGES);
  blockHi = blockLo + PAGEBLOCK_PAGES;
  blockOk = longtermPinnable(k, pfn);
}

export function noteUnpinnable(k: Kernel, pfn: number, unpinnable: number[]): void {
  if (k.pa.isZeroPfn(pfn) || pfn >= k.pa.maxPfn) return;
  if (pfn < blockLo || pfn >= blockHi) pageblockPinnable(k, pfn);
  if (!blockOk) unpinnable.push(pfn);
}

/** A new walk: the pageblock answer of the last one no longer holds (the zone may have changed). */
export function forgetPageblock(): void {
  blockHi = 0;
}
