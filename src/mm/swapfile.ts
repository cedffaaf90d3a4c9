/**
 * The swap device: its slots and their reference counts, the slot allocator, and what the device
 * holds.
 *
 * Models: mm/swapfile.c — swap_info_struct with swap_map (one count per slot: PTEs naming it) and
 * SWAP_HAS_CACHE (the slot's folio is in the swap cache), the header page at slot 0 (never
 * allocated: SwapTotal leaves it out, as mkswap's header), folio_alloc_swap for order 0 (next
 * free slot from a cursor) and for PMD-sized folios (a wholly free 512-slot cluster, THP_SWAP),
 * swap_duplicate (fork, try_to_unmap), swap_free_nr (swap-in), free_swap_and_cache_nr (zap) with
 * __try_to_reclaim_swap, vm_swap_full, and si_swapinfo's totals. The device is synchronous
 * (SWP_SYNCHRONOUS_IO, as the zram device the oracle uses): a write completes before
 * pageout returns. What it holds is sparse: a slot whose page was all zeros stores nothing.
 * Leaves out: several devices and priorities, swap count continuations (counts are 32-bit),
 * per-CPU clusters and their fragmentation rules, discard, swapoff, cgroup swap accounting.
 */

import { DirtyRows } from './dirty.js';
import { PG } from './folio.js';
import { ContentStore } from './highmem.js';
import type { Kernel } from './kernel.js';
import { MM_SWAPENTS, type Vma } from './mm_types.js';
import { isSwapEntry, swapOffset } from './pgtable.js';
import { HPAGE_PMD_ORDER, KernelBug } from './types.js';

/** SWAPFILE_CLUSTER: slots per cluster, one PMD-sized folio's worth (CONFIG_THP_SWAP). */
export const SWAPFILE_CLUSTER = 1 << HPAGE_PMD_ORDER;

/** One swap device (the model has at most one: swap type 0). */
export class SwapInfo {
  /** swap_map's counts: how many page-table entries name each slot. */
  readonly swapMap: Uint32Array;
  /** Slots whose swap_map count changed since the incremental check last looked (dirty.ts). */
  readonly touched = new DirtyRows();
  /** swap_map's SWAP_HAS_CACHE bit, one byte per slot. */
  readonly hasCache: Uint8Array;
  /** Slots in use per cluster (the cluster allocator's count). */
  private readonly clusterUsed: Uint16Array;
  /** The swap cache (an xarray in Linux): slot -> folio row, for every slot of a cached folio. */
  readonly cache = new Map<number, number>();
  /** folio->swap: the first slot of each folio in the swap cache, by folio row. */
  readonly folioSwap = new Map<number, number>();
  /** Page contents written to the device, by slot; zero pages are not stored. */
  readonly store: ContentStore;
  /** Slots in use (si->inuse_pages). */
  inuse = 0;
  private cursor = 1;

  /** A device of `slots` page-sized slots; slot 0 is the header. */
  constructor(
    readonly slots: number,
    contents: boolean,
  ) {
    this.swapMap = new Uint32Array(slots);
    this.hasCache = new Uint8Array(slots);
    this.clusterUsed = new Uint16Array(Math.ceil(slots / SWAPFILE_CLUSTER));
    this.store = new ContentStore(contents);
    this.clusterUsed[0] = 1;
  }

  /** si->pages: usable slots, the header excluded (SwapTotal). */
  get pages(): number {
    return this.slots - 1;
  }

  /** Free slots (nr_swap_pages; SwapFree). */
  get free(): number {
    return this.pages - this.inuse;
  }

  /** vm_swap_full(): more than half the swap space is in use. */
  get full(): boolean {
    return this.free * 2 < this.pages;
  }

  /** __swap_count(): page-table references of a slot. */
  count(off: number): number {
    return this.swapMap[off];
  }

  private take(off: number): void {
    this.inuse++;
    this.clusterUsed[Math.floor(off / SWAPFILE_CLUSTER)]++;
  }

  private release(off: number): void {
    this.inuse--;
    this.clusterUsed[Math.floor(off / SWAPFILE_CLUSTER)]--;
    this.store.clear(off);
  }

  /**
   * The slot allocation of folio_alloc_swap(): `nr` slots for a folio of that many pages, marked
   * SWAP_HAS_CACHE, or -1 when there are none (a PMD-sized folio needs a wholly free cluster).
   */
  allocSlots(nr: number): number {
    let first = -1;
    if (nr === 1) {
      for (let i = 0; i < this.pages && first < 0; i++) {
        const off = 1 + ((this.cursor - 1 + i) % this.pages);
        if (this.swapMap[off] === 0 && !this.hasCache[off]) first = off;
      }
      if (first > 0) this.cursor = first + 1;
    } else {
      for (let c = 1; c < this.clusterUsed.length && first < 0; c++)
        if (this.clusterUsed[c] === 0 && (c + 1) * SWAPFILE_CLUSTER <= this.slots)
          first = c * SWAPFILE_CLUSTER;
    }
    if (first < 0) return -1;
    for (let i = 0; i < nr; i++) {
      this.hasCache[first + i] = 1;
      this.take(first + i);
    }
    return first;
  }

  private check(off: number, what: string): void {
    if (off <= 0 || off >= this.slots || (this.swapMap[off] === 0 && !this.hasCache[off]))
      throw new KernelBug(`${what} of swap slot ${off}, which is not in use`, {
        rule: `${what}: bad swap entry`,
      });
  }

  /** swap_duplicate(): one more page-table entry names the slot. */
  dup(off: number): void {
    this.check(off, 'swap_duplicate');
    this.swapMap[off]++;
    this.touched.add(off);
  }

  /** swap_free(): an entry naming the slot went; the slot is free once nothing holds it. */
  put(off: number): void {
    this.check(off, 'swap_free');
    if (this.swapMap[off] === 0)
      throw new KernelBug(`swap_free of slot ${off} with count 0`, { rule: 'swap_free' });
    this.swapMap[off]--;
    this.touched.add(off);
    if (this.swapMap[off] === 0 && !this.hasCache[off]) this.release(off);
  }

  /** put_swap_folio() for one slot: the swap cache lets go of it. */
  dropCache(off: number): void {
    this.hasCache[off] = 0;
    if (this.swapMap[off] === 0) this.release(off);
  }
}

/** swap_only_has_cache(): no page table names any of the `nr` slots from `off` any more. */
function onlyHasCache(si: SwapInfo, off: number, nr: number): boolean {
  for (let i = 0; i < nr; i++) if (si.swapMap[off + i] !== 0 || !si.hasCache[off + i]) return false;
  return true;
}

/**
 * delete_from_swap_cache(): the folio leaves the swap cache, which drops its slots' cache bits and
 * its one reference per page (the folio is freed here if nothing else holds it).
 */
export function deleteFromSwapCache(k: Kernel, row: number): void {
  const si = k.swap!;
  const off = si.folioSwap.get(row)!;
  const nr = k.folios.nrPages(row);
  for (let i = 0; i < nr; i++) {
    si.cache.delete(off + i);
    si.dropCache(off + i);
  }
  si.folioSwap.delete(row);
  k.folios.clearFlag(row, PG.owner_priv_1);
  k.folios.putRow(row, nr);
}

/**
 * folio_free_swap(): a swap-cache folio no page table refers to through its slots gives them up
 * (its data now lives only in memory, so it becomes dirty). False when some slot is still named.
 */
export function folioFreeSwap(k: Kernel, row: number): boolean {
  const si = k.swap;
  const off = si?.folioSwap.get(row);
  if (!si || off === undefined || !onlyHasCache(si, off, k.folios.nrPages(row))) return false;
  k.folios.setFlag(row, PG.dirty);
  deleteFromSwapCache(k, row);
  return true;
}

/**
 * free_swap_cache(): when unmapping (zap's free_pages_and_swap_cache, wp_page_copy's old page)
 * drops a swap-cache folio's last mapping, its slots go too if no swap entry names them.
 */
export function freeSwapCache(k: Kernel, row: number): void {
  if (k.folios.testFlag(row, PG.owner_priv_1) && k.folios.mapcountOf(row) === 0) folioFreeSwap(k, row);
}

/**
 * free_swap_and_cache_nr() for one entry: drop the entry's reference on its slot; when only the
 * swap cache holds the slot then, __try_to_reclaim_swap(TTRS_UNMAPPED | TTRS_FULL) frees the
 * cached folio's slots if the folio is mapped nowhere (or swap is more than half full).
 */
export function freeSwapAndCache(k: Kernel, off: number): void {
  const si = k.swap!;
  si.put(off);
  if (si.swapMap[off] !== 0 || !si.hasCache[off]) return;
  const row = si.cache.get(off)!;
  if (k.folios.mapcountOf(row) === 0 || si.full) folioFreeSwap(k, row);
}

/**
 * zap_nonpresent_ptes() for a swap entry (the caller cleared the PTE): the mm loses a swap entry,
 * the slot a reference. False, doing nothing, when `pte` is not a swap entry.
 */
export function zapSwapEntry(k: Kernel, vma: Vma, pte: number): boolean {
  if (!isSwapEntry(pte)) return false;
  vma.mm.rss[MM_SWAPENTS]--;
  freeSwapAndCache(k, swapOffset(pte));
  return true;
}
