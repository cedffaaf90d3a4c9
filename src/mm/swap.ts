/**
 * Moving folios between LRU lists, reduced to the one move whose flags the model can see:
 * MADV_FREE's lazyfree.
 *
 * Models: mm/swap.c — folio_mark_lazyfree / lru_lazyfree, and folio_test_lazyfree
 * (include/linux/page-flags.h). A lazyfree folio is a clean anonymous folio with PG_swapbacked
 * cleared: that is how reclaim tells it from ordinary anon memory (it needs no swap slot and may
 * be dropped, vmscan.ts), and how a fault path that re-dirties it is noticed (rmap.ts).
 * Leaves out: the LRU lists themselves (the kernel moves the folio to the inactive file list, where
 * file reclaim finds it) and the per-CPU folio batches (the move is done at once).
 */
import { PG } from './folio.js';
import type { Kernel } from './kernel.js';
import { MT } from './memdesc.js';

/** folio_test_lazyfree(): anonymous and not swap-backed, i.e. marked by MADV_FREE. */
export function folioTestLazyfree(k: Kernel, row: number): boolean {
  return k.folios.kind[row] === MT.ANON && !k.folios.testFlag(row, PG.swapbacked);
}

/**
 * folio_mark_lazyfree() + lru_lazyfree(): a swap-backed anon folio on the LRU that is not in the
 * swap cache (its data would still be named by a slot) and not unevictable (mlocked) loses
 * PG_active, PG_referenced and PG_swapbacked; PGLAZYFREE counts its pages. Anything else is left.
 */
export function folioMarkLazyfree(k: Kernel, row: number): void {
  const f = k.folios;
  if (f.kind[row] !== MT.ANON) return;
  if ((f.flags[row] & (PG.lru | PG.swapbacked)) !== (PG.lru | PG.swapbacked)) return;
  if (f.flags[row] & (PG.owner_priv_1 | PG.unevictable)) return;
  f.clearFlag(row, PG.active | PG.referenced | PG.swapbacked);
  k.stat.events.pglazyfree += f.nrPages(row);
}
