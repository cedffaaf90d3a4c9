/**
 * Reclaim of a given list of folios, as MADV_PAGEOUT asks for it.
 *
 * Models: mm/vmscan.c — reclaim_pages / reclaim_folio_list and the parts of shrink_folio_list
 * they run with ignore_references: an anon folio not yet in the swap cache is skipped if it may
 * be DMA-pinned, gets swap slots (a PMD-sized one a whole cluster; failing that it is split and
 * its pages go one by one, thp_swpout_fallback) and joins the swap cache dirty; try_to_unmap
 * (with TTU_SPLIT_HUGE_PMD) replaces its PTEs by swap entries; a folio that may be pinned once
 * unmapped is kept (anon or file, since v6.4); a dirty folio is written
 * (pageout → swap_writeout); __remove_mapping frees it when the swap cache holds the only
 * references, and keeps it cached otherwise (a GUP reference, say). A page-cache folio is unmapped;
 * a dirty one is left in the cache for the flusher (only kswapd writes file folios: it gets
 * PG_reclaim), a clean one leaves the cache and is freed if nothing else holds it.
 * A lazyfree folio (MADV_FREE: anon, PG_swapbacked clear) needs no swap device and gets no slot:
 * try_to_unmap discards its PTEs, and a PMD whole (unmap_huge_pmd_locked, no split), as long as
 * nothing re-dirtied it and nothing but its mappings holds it; it is then freed (PGLAZYFREED). One
 * written since is swap-backed again and stays mapped, for a later reclaim to swap as any anon.
 * Leaves out: LRU lists and isolation (but for the one reference a lazyfree folio's discard
 * counts on), references and the active/inactive balance, mlocked folios, shmem folios (kept:
 * shmem's own swap-out is not modelled), KSM folios (kept), writeback throttling, memcg.
 */
import { PG } from './folio.js';
import { splitFolio, splitFolioPmds, unmapHugePmdLocked } from './huge_memory.js';
import type { Kernel } from './kernel.js';
import { MT } from './memdesc.js';
import { rmapWalk, tryToUnmap } from './rmap.js';
import { addToSwapCache, folioTestSwapcache, swapWriteout } from './swap_state.js';
import { deleteFromSwapCache } from './swapfile.js';

/** What reclaim_pages() did: pages freed, and folios it had to leave where they were. */
export interface ReclaimResult {
  reclaimed: number;
  kept: number;
}

/** reclaim_pages(): shrink_folio_list over `rows`, each folio once. */
export function reclaimPages(k: Kernel, rows: readonly number[]): ReclaimResult {
  const out: ReclaimResult = { reclaimed: 0, kept: 0 };
  const list = [...rows];
  while (list.length > 0) {
    const row = list.shift()!;
    const f = k.folios;
    const nr = f.nrPages(row);
    const r = f.kind[row] === MT.ANON ? shrinkAnonFolio(k, row, list) : shrinkFileFolio(k, row);
    if (r === 'freed') out.reclaimed += nr;
    else if (r === 'kept') out.kept++;
  }
  return out;
}

type Outcome = 'freed' | 'kept' | 'split';

/** shrink_folio_list() for an anon folio; a split puts its pages back on `list`. */
function shrinkAnonFolio(k: Kernel, row: number, list: number[]): Outcome {
  const f = k.folios;
  const si = k.swap;
  if (f.testFlag(row, PG.ksm)) return 'kept';
  if (!f.testFlag(row, PG.swapbacked)) return shrinkLazyfreeFolio(k, row);
  if (!si) return 'kept';
  if (!folioTestSwapcache(k, row)) {
    if (k.folioMaybeDmaPinned(row)) return 'kept';
    const nr = f.nrPages(row);
    // A partly mapped THP is split at once: its unmapped pages are freed without I/O.
    if (nr > 1 && f.entireMapcountOf(row) === 0 && f.nrPagesMapped[f.large[row]] < nr)
      return splitOnto(k, row, list) ? 'split' : 'kept';
    const off = si.allocSlots(nr);
    if (off < 0) {
      if (nr === 1 || !splitOnto(k, row, list)) return 'kept';
      k.stat.events.thp_swpout_fallback++;
      return 'split';
    }
    addToSwapCache(k, row, off);
    f.setFlag(row, PG.dirty);
  }
  splitFolioPmds(k, row);
  if (f.mapcountOf(row) > 0 && !tryToUnmap(k, row, si.folioSwap.get(row)!)) return 'kept';
  if (unmappedButPinned(k, row)) return 'kept';
  if (f.testFlag(row, PG.dirty)) swapWriteout(k, row);
  // __remove_mapping(): only the swap cache's own references may be left.
  if (f.refcount[row] !== f.nrPages(row)) return 'kept';
  deleteFromSwapCache(k, row);
  return 'freed';
}

/**
 * shrink_folio_list() for a lazyfree folio: no swap slot; try_to_unmap discards its mappings (the
 * PMDs first, whole). Reclaim holds the folio by its isolation reference meanwhile, so that
 * try_to_unmap_one's "only the mappings and us" test reads as in the kernel; when that reference
 * is the last one left (folio_ref_freeze(folio, 1)), the folio is freed and PGLAZYFREED counts it.
 * A large lazyfree folio is not split: it is discarded or kept whole.
 */
function shrinkLazyfreeFolio(k: Kernel, row: number): Outcome {
  const f = k.folios;
  const nr = f.nrPages(row);
  f.refcount[row]++;
  let unmapped = true;
  if (f.entireMapcountOf(row) > 0)
    for (const hit of rmapWalk(k, row))
      if (hit.level === 'pmd' && !unmapHugePmdLocked(k, hit.vma, hit.addr, row)) {
        unmapped = false;
        break;
      }
  if (unmapped && f.mapcountOf(row) > 0) unmapped = tryToUnmap(k, row, -1);
  const free = unmapped && !unmappedButPinned(k, row) && f.refcount[row] === 1;
  if (free) k.stat.events.pglazyfreed += nr;
  f.putRow(row);
  return free ? 'freed' : 'kept';
}

/**
 * After try_to_unmap (commit d824ec2a1546, v6.4): an unmapped folio can no longer be newly
 * pinned, so a folio that may be pinned now is not written or freed (goto activate_locked):
 * the pinner may be changing it, under the filesystem too.
 */
function unmappedButPinned(k: Kernel, row: number): boolean {
  return k.folioMaybeDmaPinned(row);
}

/** split_folio_to_list(): the pages of the split folio go on the list in its place. */
function splitOnto(k: Kernel, row: number, list: number[]): boolean {
  const f = k.folios;
  const head = f.pfn[row];
  const nr = f.nrPages(row);
  if (!splitFolio(k, row)) return false;
  const pages: number[] = [];
  for (let i = 0; i < nr; i++) {
    const r = f.pageRow(head + i);
    if (r >= 0 && f.mapcountOf(r) > 0) pages.push(r);
  }
  list.unshift(...pages);
  return true;
}

/** shrink_folio_list() for a page-cache folio. */
function shrinkFileFolio(k: Kernel, row: number): Outcome {
  const f = k.folios;
  const file = f.mapping[row] !== 0 ? k.pagecache.byMappingId(f.mapping[row]) : undefined;
  if (!file || file.shmem) return 'kept';
  if (f.mapcountOf(row) > 0 && !tryToUnmap(k, row, -1)) return 'kept';
  if (unmappedButPinned(k, row)) return 'kept';
  if (f.testFlag(row, PG.dirty)) {
    f.setFlag(row, PG.reclaim);
    return 'kept';
  }
  if (f.refcount[row] !== f.nrPages(row)) return 'kept';
  k.pagecache.removeFolio(file, f.index[row], true);
  return 'freed';
}
