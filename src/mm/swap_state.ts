/**
 * The swap cache and the I/O between folios and the swap device.
 *
 * Models: mm/swap_state.c — add_to_swap_cache (the cache holds one reference per page and sets
 * PG_swapcache), swap_cache_get_folio, total_swapcache_pages (SwapCached); mm/page_io.c —
 * swap_writeout (pswpout, thp_swpout) and swap_read_folio (pswpin), synchronous as on zram.
 * Removal from the cache and the freeing of slots are in swapfile.ts (delete_from_swap_cache,
 * folio_free_swap, free_swap_and_cache).
 * Leaves out: readahead (swapin_readahead reads exactly the faulting slot: swap_ra stays 0),
 * shadow entries and workingset refaults, zswap (every page goes to the device).
 */
import { PG } from './folio.js';
import type { Kernel } from './kernel.js';
import { KernelBug } from './types.js';

/** add_to_swap_cache(): a folio of `nr` pages takes the slots from `off`, one reference per page. */
export function addToSwapCache(k: Kernel, row: number, off: number): void {
  const si = k.swap!;
  const nr = k.folios.nrPages(row);
  if (si.folioSwap.has(row))
    throw new KernelBug('folio added to the swap cache twice', {
      pfn: k.folios.pfn[row],
      rule: 'add_to_swap_cache',
    });
  for (let i = 0; i < nr; i++) {
    si.cache.set(off + i, row);
    si.hasCache[off + i] = 1;
  }
  si.folioSwap.set(row, off);
  k.folios.setFlag(row, PG.owner_priv_1);
  k.folios.refcount[row] += nr;
}

/** swap_cache_get_folio(): the folio caching slot `off`, or -1. */
export function swapCacheGetFolio(k: Kernel, off: number): number {
  return k.swap?.cache.get(off) ?? -1;
}

/** folio_test_swapcache(). */
export const folioTestSwapcache = (k: Kernel, row: number): boolean =>
  k.folios.testFlag(row, PG.owner_priv_1);

/** swap_writeout(): write every page of a swap-cache folio to its slots; the folio is clean afterwards. */
export function swapWriteout(k: Kernel, row: number): void {
  const si = k.swap!;
  const f = k.folios;
  const off = si.folioSwap.get(row)!;
  const nr = f.nrPages(row);
  for (let i = 0; i < nr; i++) si.store.copyFrom(off + i, k.frames, f.pfn[row] + i);
  f.clearFlag(row, PG.dirty);
  k.stat.events.pswpout += nr;
  if (nr > 1) k.stat.events.thp_swpout++;
}

/** swap_read_folio(): each page of the folio gets the contents of its slot from `off` on (a major fault's read). */
export function swapReadFolio(k: Kernel, row: number, off: number): void {
  const nr = k.folios.nrPages(row);
  for (let j = 0; j < nr; j++) k.frames.copyFrom(k.folios.pfn[row] + j, k.swap!.store, off + j);
  k.folios.setFlag(row, PG.uptodate);
  k.stat.events.pswpin += nr;
}

/** total_swapcache_pages(): pages in the swap cache (SwapCached). */
export const totalSwapcachePages = (k: Kernel): number => k.swap?.cache.size ?? 0;
