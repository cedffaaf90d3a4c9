/**
 * Reverse mapping: mapcount bookkeeping when a folio is mapped or unmapped, and the walk from a
 * folio to every (mm, address) that maps it.
 *
 * Models: mm/rmap.c and include/linux/rmap.h — folio_add_new_anon_rmap, folio_add_anon_rmap_ptes/
 * _pmd, folio_add_file_rmap_ptes/_pmd, folio_remove_rmap_ptes/_pmd, folio_dup_*_rmap, the
 * _large_mapcount / _entire_mapcount / _nr_pages_mapped counters and the two-slot MM-id tracking
 * with its "maybe mapped by more than one MM" bit, and rmap_walk
 * over anon_vma and i_mmap (and rmap_walk_ksm over a KSM folio's stable node, whose bookkeeping lives here so the fault
 * path never depends on ksm.ts). Per-page mapcounts of large folios are kept too (CONFIG_PAGE_MAPCOUNT)
 * because /proc/kpagecount reports them.
 */
import type { FolioPool } from './folio.js';
import { PG } from './folio.js';
import type { Kernel } from './kernel.js';
import { MT } from './memdesc.js';
import {
  findVma,
  MM_ANONPAGES,
  MM_FILEPAGES,
  MM_SHMEMPAGES,
  MM_SWAPENTS,
  type Mm,
  type Vma,
} from './mm_types.js';
import { folioMarkDirty } from './page-writeback.js';
import { entryBits, entryPfn, mkSwapEntry, PT_LEVEL, PTE } from './pgtable.js';
import { PAGE_SIZE } from './types.js';
import { pteInstallUffdWpIfNeeded } from './userfaultfd_k.js';

/** The rss counter a folio's mappings are charged to (mm_counter_file / mm_counter). */
export function mmCounter(f: FolioPool, row: number): number {
  if (f.kind[row] === MT.ANON) return MM_ANONPAGES;
  return f.testFlag(row, PG.swapbacked) ? MM_SHMEMPAGES : MM_FILEPAGES;
}

/** folio_maybe_mapped_shared() (include/linux/mm.h): might another MM map this folio? */
export function folioMaybeMappedShared(k: Kernel, row: number): boolean {
  const f = k.folios;
  const mapcount = f.mapcountOf(row);
  if (!f.isLarge(row)) return mapcount > 1;
  if (mapcount <= 1) return false;
  if (f.entireMapcountOf(row) > 0 || mapcount > f.nrPages(row)) return true;
  return f.mmShared[f.large[row]] !== 0;
}

/** Record one more mapping of a large folio by `mm` in the MM-id slots. */
function mmIdAdd(f: FolioPool, lg: number, mm: number, n: number): void {
  const s = lg * 2;
  if (f.mmId[s] === mm) f.mmIdMapcount[s] += n;
  else if (f.mmId[s + 1] === mm) f.mmIdMapcount[s + 1] += n;
  else if (f.mmId[s] === 0) {
    f.mmId[s] = mm;
    f.mmIdMapcount[s] = n - 1;
  } else if (f.mmId[s + 1] === 0) {
    f.mmId[s + 1] = mm;
    f.mmIdMapcount[s + 1] = n - 1;
  }
}

function mmIdRemove(f: FolioPool, lg: number, mm: number, n: number): void {
  const s = lg * 2;
  for (const slot of [s, s + 1]) {
    if (f.mmId[slot] !== mm) continue;
    f.mmIdMapcount[slot] -= n;
    if (f.mmIdMapcount[slot] < 0) {
      f.mmId[slot] = 0;
      f.mmIdMapcount[slot] = -1;
    }
    return;
  }
}

/** The "maybe mapped by more than one MM" bit: clear only while one tracked MM holds every mapping. */
function mmIdUpdateShared(f: FolioPool, row: number): void {
  const lg = f.large[row];
  const total = f.mapcount[row] + 1;
  const s = lg * 2;
  const exclusive = total === 0 || f.mmIdMapcount[s] + 1 === total || f.mmIdMapcount[s + 1] + 1 === total;
  f.mmShared[lg] = exclusive ? 0 : 1;
}

/** Map `nr` consecutive pages from `pfn` of a folio with PTEs of `mm`. */
export function addRmapPtes(k: Kernel, row: number, pfn: number, nr: number, mm: Mm): void {
  const f = k.folios;
  f.touched.add(row);
  if (!f.isLarge(row)) {
    f.mapcount[row] += nr;
    return;
  }
  const lg = f.large[row];
  for (let i = 0; i < nr; i++) {
    f.addPageMapcount(row, pfn + i, 1);
    if (f.pageMapcountOf(row, pfn + i) - f.entireMapcountOf(row) === 1) f.nrPagesMapped[lg]++;
  }
  f.mapcount[row] += nr;
  mmIdAdd(f, lg, mm.id, nr);
  mmIdUpdateShared(f, row);
}

export function removeRmapPtes(k: Kernel, row: number, pfn: number, nr: number, mm: Mm): void {
  const f = k.folios;
  f.touched.add(row);
  if (!f.isLarge(row)) {
    f.mapcount[row] -= nr;
    return;
  }
  const lg = f.large[row];
  for (let i = 0; i < nr; i++) {
    f.addPageMapcount(row, pfn + i, -1);
    if (f.pageMapcountOf(row, pfn + i) - f.entireMapcountOf(row) === 0) f.nrPagesMapped[lg]--;
  }
  f.mapcount[row] -= nr;
  mmIdRemove(f, lg, mm.id, nr);
  mmIdUpdateShared(f, row);
}

/** Map a whole large folio with one PMD of `mm`. */
export function addRmapPmd(k: Kernel, row: number, mm: Mm): void {
  const f = k.folios;
  f.touched.add(row);
  const lg = f.large[row];
  f.entireMapcount[lg]++;
  f.mapcount[row]++;
  mmIdAdd(f, lg, mm.id, 1);
  mmIdUpdateShared(f, row);
}

export function removeRmapPmd(k: Kernel, row: number, mm: Mm): void {
  const f = k.folios;
  f.touched.add(row);
  const lg = f.large[row];
  f.entireMapcount[lg]--;
  f.mapcount[row]--;
  mmIdRemove(f, lg, mm.id, 1);
  mmIdUpdateShared(f, row);
}

/**
 * folio_add_new_anon_rmap(): a fresh anon folio joins the VMA's anon_vma at its linear index,
 * exclusive to this mapping: every page for a PTE mapping, the head for a PMD mapping.
 */
export function addNewAnonRmap(k: Kernel, row: number, vma: Vma, addr: number, pmd: boolean): void {
  const f = k.folios;
  f.mapping[row] = vma.anonVma!.id;
  f.index[row] = vma.pgoff + (addr - vma.start) / PAGE_SIZE;
  f.setFlag(row, PG.lru | PG.swapbacked);
  const pfn = f.pfn[row];
  if (pmd) {
    f.setPageAnonExclusive(row, pfn, true);
    addRmapPmd(k, row, vma.mm);
  } else {
    const n = f.nrPages(row);
    for (let i = 0; i < n; i++) f.setPageAnonExclusive(row, pfn + i, true);
    addRmapPtes(k, row, pfn, n, vma.mm);
  }
}

/** One place a folio is mapped, found by the rmap walk. */
export interface RmapHit {
  mm: Mm;
  vma: Vma;
  addr: number;
  pfn: number;
  level: 'pte' | 'pmd';
}

/**
 * rmap_walk(): every mapping of a folio. Candidate VMAs come from the anon_vma or the file's
 * i_mmap; each page's address follows from the folio index; the page tables confirm it.
 */
export function rmapWalk(k: Kernel, row: number): RmapHit[] {
  const f = k.folios;
  if (f.testFlag(row, PG.ksm)) return rmapWalkKsm(k, row);
  const id = f.mapping[row];
  if (id === 0) return [];
  const vmas = f.kind[row] === MT.ANON ? k.anonVmas.get(id)?.vmas : k.pagecache.byMappingId(id)?.mmap;
  if (!vmas) return [];
  const hits: RmapHit[] = [];
  const head = f.pfn[row];
  const n = f.nrPages(row);
  for (const vma of vmas) {
    for (let i = 0; i < n; i++) {
      const addr = vma.start + (f.index[row] + i - vma.pgoff) * PAGE_SIZE;
      if (addr < vma.start || addr >= vma.end) continue;
      const levels = k.ptdesc.walk(vma.mm.pgd, addr);
      const last = levels[levels.length - 1];
      if (last.entry === 0 || !(entryBits(last.entry) & PTE.PRESENT)) continue;
      if (last.level === PT_LEVEL.PMD) {
        if (i === 0 && entryPfn(last.entry) === head)
          hits.push({ mm: vma.mm, vma, addr, pfn: head, level: 'pmd' });
      } else if (entryPfn(last.entry) === head + i) {
        hits.push({ mm: vma.mm, vma, addr, pfn: head + i, level: 'pte' });
      }
    }
  }
  return hits;
}

/**
 * rmap_walk_ksm(): a KSM folio is mapped from many anon_vmas at unrelated addresses, so its
 * mappings come from its stable node's list (ksm.ts), each confirmed by the page tables.
 */
function rmapWalkKsm(k: Kernel, row: number): RmapHit[] {
  const pfn = k.folios.pfn[row];
  const hits: RmapHit[] = [];
  for (const m of k.ksm.stable.get(row) ?? []) {
    const vma = findVma(m.mm, m.addr);
    if (!vma) continue;
    const levels = k.ptdesc.walk(m.mm.pgd, m.addr);
    const last = levels[levels.length - 1];
    if (last.level !== PT_LEVEL.PTE || !(entryBits(last.entry) & PTE.PRESENT)) continue;
    if (entryPfn(last.entry) === pfn) hits.push({ mm: m.mm, vma, addr: m.addr, pfn, level: 'pte' });
  }
  return hits;
}

/**
 * try_to_unmap() of a folio mapped by PTEs only (the caller split any PMD: TTU_SPLIT_HUGE_PMD):
 * every PTE goes. An anon page's PTE becomes the swap entry of its slot (`swapOff` + its index),
 * taking a reference on the slot and keeping the page's anon-exclusive bit as the entry's marker
 * while the page loses it (folio_try_share_anon_rmap_pte); a page-cache page's PTE is cleared. A
 * dirty PTE dirties the folio. An exclusive anon page that may be DMA-pinned cannot be shared, so
 * the walk stops there (walk_abort). True when the folio is mapped nowhere afterwards.
 *
 * A lazyfree folio (anon, not swap-backed: MADV_FREE) gets no swap entry: each PTE is simply
 * discarded, the mm losing an anon page, while the folio is clean and only its mappings and the
 * caller's isolation reference hold it. A dirty PTE, or PG_dirty from a GUP user, means it was
 * written after MADV_FREE: the folio is swap-backed again and the walk stops with the PTE as it
 * was; an extra reference (GUP, a pin) stops the walk likewise, and reclaim looks again later.
 */
export function tryToUnmap(k: Kernel, row: number, swapOff: number): boolean {
  const f = k.folios;
  const anon = f.kind[row] === MT.ANON;
  if (anon && !f.testFlag(row, PG.swapbacked)) return tryToUnmapLazyfree(k, row);
  // __folio_try_share_anon_rmap() asks folio_maybe_dma_pinned() of the folio: asked at the
  // first exclusive page, and the answer holds for the walk.
  let pinned: boolean | undefined;
  for (const hit of rmapWalk(k, row)) {
    const slot = k.ptdesc.leafSlot(hit.mm.pgd, hit.addr);
    const pte = k.ptdesc.entries[slot];
    const exclusive = anon && f.pageAnonExclusive(row, hit.pfn);
    if (exclusive)
      pinned ??= k.folioMaybeDmaPinned(row, {
        mm: hit.mm,
        addr: hit.addr - (hit.pfn - f.pfn[row]) * PAGE_SIZE,
      });
    if (exclusive && pinned) return false;
    if (entryBits(pte) & PTE.DIRTY) folioMarkDirty(k, row);
    const table = Math.floor(slot / 512);
    if (anon) {
      const off = swapOff + (hit.pfn - f.pfn[row]);
      k.swap!.dup(off);
      k.ptdesc.set(table, slot - table * 512, mkSwapEntry(off, exclusive, entryBits(pte)));
      f.setPageAnonExclusive(row, hit.pfn, false);
      hit.mm.rss[MM_SWAPENTS]++;
    } else {
      k.ptdesc.set(table, slot - table * 512, 0);
      // try_to_unmap_one(): a write-protected file PTE leaves its uffd-wp marker.
      pteInstallUffdWpIfNeeded(k.ptdesc, hit.vma, table, slot - table * 512, pte);
    }
    hit.mm.rss[mmCounter(f, row)]--;
    removeRmapPtes(k, row, hit.pfn, 1, hit.mm);
    f.putRow(row);
  }
  return f.mapcountOf(row) === 0;
}

/** try_to_unmap_one()'s MADV_FREE branch for every PTE of lazyfree folio `row` (see tryToUnmap). */
function tryToUnmapLazyfree(k: Kernel, row: number): boolean {
  const f = k.folios;
  for (const hit of rmapWalk(k, row)) {
    // A PMD mapping is the caller's to discard first (unmap_huge_pmd_locked, huge_memory.ts).
    if (hit.level !== 'pte') return false;
    const slot = k.ptdesc.leafSlot(hit.mm.pgd, hit.addr);
    // The kernel clears the PTE first and puts it back on failure; here it is left until the end.
    if (entryBits(k.ptdesc.entries[slot]) & PTE.DIRTY) folioMarkDirty(k, row);
    if (f.testFlag(row, PG.dirty)) {
      f.setFlag(row, PG.swapbacked);
      return false;
    }
    if (f.refcount[row] !== f.mapcountOf(row) + 1) return false;
    const table = Math.floor(slot / 512);
    k.ptdesc.set(table, slot - table * 512, 0);
    hit.mm.rss[MM_ANONPAGES]--;
    removeRmapPtes(k, row, hit.pfn, 1, hit.mm);
    f.putRow(row);
  }
  return f.mapcountOf(row) === 0;
}

// ---------------------------------------------------------------- KSM stable nodes
// The bookkeeping rmap_walk_ksm() reads. It lives with rmap, not in ksm.ts, because zap, COW,
// fork and migration maintain it, and ksm.ts (scan, merge, unmerge) calls the fault path:
// memory.ts must not depend on ksm.ts.

/** One mapping of a KSM folio (the kernel's rmap_item on a stable node). */
export interface KsmMapping {
  mm: Mm;
  addr: number;
}

/**
 * The stable tree, reduced to what the model needs: KSM folio row -> its mappings. The list is
 * exact at every moment (rmap_walk_ksm and the invariants read it); the sysfs counters are not:
 * Linux moves pages_shared / pages_sharing only when ksmd appends an rmap_item to a stable node
 * (stable_tree_append) or removes a stale one (remove_rmap_item_from_tree, and
 * remove_node_from_stable_tree for a node whose page went). A COW, munmap, exit, unmerge or fork
 * leaves them as they were until the next scan, which is when `recount()` runs.
 */
export class KsmState {
  readonly stable = new Map<number, KsmMapping[]>();
  /** Completed ksmScan() calls (/sys/kernel/mm/ksm/full_scans counts real passes). */
  fullScans = 0;
  private shared = 0;
  private sharing = 0;

  /** pages_shared: stable nodes with rmap_items, as of the last scan. */
  get pagesShared(): number {
    return this.shared;
  }

  /** pages_sharing: rmap_items beyond each stable node's first — the pages saved, as of the last scan. */
  get pagesSharing(): number {
    return this.sharing;
  }

  /** End of a ksmd pass: stale rmap_items are gone, every live mapping has one. */
  recount(): void {
    this.shared = this.stable.size;
    this.sharing = 0;
    for (const maps of this.stable.values()) this.sharing += maps.length - 1;
  }
}

/** Fork gave `mm` a mapping of KSM folio `row` at `addr` (the child's copy_present_pte). */
export function ksmAddMapping(k: Kernel, row: number, mm: Mm, addr: number): void {
  k.ksm.stable.get(row)?.push({ mm, addr });
}

/**
 * A mapping of KSM folio `row` went (zap, COW or unshare). With its last mapping the stable node
 * goes too; the folio keeps PG_ksm until freed, as a KSM page someone still references does.
 */
export function ksmRemoveMapping(k: Kernel, row: number, mm: Mm, addr: number): void {
  const maps = k.ksm.stable.get(row);
  if (!maps) return;
  const i = maps.findIndex((m) => m.mm === mm && m.addr === addr);
  if (i >= 0) maps.splice(i, 1);
  if (maps.length === 0) k.ksm.stable.delete(row);
}

/** folio_migrate_ksm(): the stable node follows its folio to the new frame. */
export function ksmMigrate(k: Kernel, from: number, to: number): void {
  const maps = k.ksm.stable.get(from);
  if (!maps) return;
  k.ksm.stable.delete(from);
  k.ksm.stable.set(to, maps);
}
