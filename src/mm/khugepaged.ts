/**
 * MADV_COLLAPSE: synchronous collapse of anonymous memory into PMD-mapped THPs.
 *
 * Models: mm/khugepaged.c — madvise_collapse (one VMA at a time, each PMD-aligned 2 MiB of the
 * range in address order, the whitelist of results that let the walk go on, madvise_collapse_errno),
 * hpage_collapse_scan_pmd (the PTE scan that decides whether to try), collapse_huge_page (allocate,
 * swap in, isolate, copy, install), __collapse_huge_page_swapin, __collapse_huge_page_isolate with
 * is_refcount_suitable, __collapse_huge_page_copy and its _succeeded half; and from
 * mm/huge_memory.c the part of __thp_vma_allowable_orders() madvise_collapse asks (TVA_FORCED_COLLAPSE:
 * the sysfs `enabled` setting, `never` included, is not consulted).
 *
 * The rules, as Linux 6.18 has them (checked on the host kernel, which wins over older sources):
 * - A VMA is refused (EINVAL) for VM_NOHUGEPAGE, VM_SPECIAL or hugetlb mappings, when no
 *   PMD-aligned 2 MiB fits inside it, and when it has no anon_vma yet (a range only ever read maps
 *   the zero page, which prepares none).
 * - MADV_COLLAPSE is not khugepaged (cc->is_khugepaged is false): max_ptes_none, max_ptes_swap and
 *   max_ptes_shared do not apply, nor does the "young" requirement. Since 6.18 a collapse needs no
 *   writable PTE either (SCAN_PAGE_RO is gone): read-only and PROT_NONE ranges collapse.
 * - A page whose references are more than its mappings (plus the swap cache's) is pinned or
 *   referenced by someone else (a GUP pin, a pipe): SCAN_PAGE_COUNT, EAGAIN — the walk goes on.
 * - A PMD entry that is none stops the walk (SCAN_PMD_NONE, EINVAL); a missing PMD table does not
 *   (SCAN_PMD_NULL); a PMD leaf (a THP or the huge zero page) counts as collapsed (SCAN_PMD_MAPPED).
 * - Swap entries are swapped in (do_swap_page) before the copy; none and zero-page PTEs become
 *   zero-filled subpages; every other subpage is copied, so the bytes stay.
 * - The new folio is counted (thp_collapse_alloc) when allocated, before swap-in and isolation,
 *   so a collapse that fails after that still counted it; ENOMEM when none can be had.
 * - The old pages lose this mm's mappings and references (shared ones stay with their other
 *   mappers, so a collapse after fork leaves the other process's pages alone), the old PTE table
 *   becomes the deposited table of the new PMD, and the rss stays 512 pages.
 * - The walk sees VMAs as Linux has them: neighbours the model kept apart after an madvise and its
 *   undo (Linux merged them) are merged first, since no PMD leaf may span two model VMAs.
 * Leaves out: khugepaged itself (the scanner thread and its limits), file and shmem collapse
 * (hpage_collapse_scan_file: a regular file is refused here as on a kernel without
 * CONFIG_READ_ONLY_THP_FOR_FS; shmem is refused with EOPNOTSUPP as not modelled), mTHP orders,
 * NUMA node choice and memcg charging. MADV_DONTNEED of a whole PMD's range frees its PTE table
 * (CONFIG_PT_RECLAIM, 6.14+), so a later collapse there meets SCAN_PMD_NONE, as on Linux.
 */
import { doSwapPage } from './do_swap_page.js';
import { PG } from './folio.js';
import { allocAnonFolio, HPAGE_PMD_NR, userBits, vmfGet, vmfPut } from './internal.js';
import type { Kernel } from './kernel.js';
import { wouldMerge } from './madvise.js';
import { MT } from './memdesc.js';
import { vmNormalPage } from './memory.js';
import { isHwpoisonEntry } from './memory-failure.js';
import { MM_ANONPAGES, type Mm, VM, type Vma } from './mm_types.js';
import {
  entryBits,
  entryPfn,
  isSwapEntry,
  levelIndex,
  mkEntry,
  PMD_SIZE,
  PT_LEVEL,
  PTE,
  pteSwpUffdWpAny,
} from './pgtable.js';
import { addNewAnonRmap, ksmRemoveMapping, removeRmapPtes } from './rmap.js';
import { folioTestSwapcache } from './swap_state.js';
import { freeSwapCache } from './swapfile.js';
import { type Errno, HPAGE_PMD_ORDER, KernelError, PAGE_SIZE } from './types.js';

/** enum scan_result, the values madvise_collapse can meet for anonymous memory. */
export type ScanResult =
  | 'succeed'
  | 'fail'
  | 'pmd_null'
  | 'pmd_none'
  | 'pmd_mapped'
  | 'pte_non_present'
  | 'pte_uffd_wp'
  | 'page_null'
  | 'page_count'
  | 'page_lru'
  | 'page_anon'
  | 'alloc_huge_page_fail';

/** The results after which madvise_collapse() goes on to the next PMD (its "whitelisted set"). */
const GO_ON: ReadonlySet<ScanResult> = new Set<ScanResult>([
  'pmd_null',
  'pte_non_present',
  'pte_uffd_wp',
  'page_null',
  'page_count',
  'page_lru',
]);

/** madvise_collapse_errno(): EAGAIN where a retry may succeed, ENOMEM for no huge page, else EINVAL. */
export function madviseCollapseErrno(r: ScanResult): Errno {
  if (r === 'alloc_huge_page_fail') return 'ENOMEM';
  if (r === 'page_count' || r === 'page_lru') return 'EAGAIN';
  return 'EINVAL';
}

/** thp_vma_allowable_order(vma, vm_flags, TVA_FORCED_COLLAPSE, PMD_ORDER) for a VMA MADV_COLLAPSE meets. */
export function thpVmaAllowableCollapse(vma: Vma): boolean {
  if (vma.flags & (VM.NOHUGEPAGE | VM.HUGETLB | VM.IO | VM.DONTEXPAND | VM.PFNMAP | VM.MIXEDMAP))
    return false;
  if (vma.file || vma.ops !== undefined || vma.flags & VM.SHARED) return false;
  // The size check of a non-fault caller: some PMD-aligned 2 MiB must fit (thp_vma_suitable_order).
  const haddr = vma.end - PMD_SIZE - ((vma.end - PMD_SIZE) % PMD_SIZE);
  if (haddr < vma.start) return false;
  // khugepaged and MADV_COLLAPSE need the anon_vma a fault would have prepared.
  return vma.anonVma !== null;
}

/**
 * madvise(MADV_COLLAPSE) over [start, end) of `mm` (page aligned), as madvise_walk_vmas() hands
 * it to madvise_collapse() VMA by VMA: a VMA's error ends the call; a hole is ENOMEM at the end.
 * Returns how many PMD ranges are PMD-mapped THPs afterwards.
 */
export function madviseCollapse(k: Kernel, mm: Mm, start: number, end: number): number {
  const vmas = mm.vmas;
  // A model limit, not a kernel answer: refused before anything changes.
  for (const v of vmas)
    if (v.start < end && v.end > start && isShmem(v))
      throw new KernelError(
        'EOPNOTSUPP',
        'MADV_COLLAPSE of shmem (hpage_collapse_scan_file) is not modelled',
      );
  let unmapped = false;
  let thps = 0;
  let a = start;
  for (let i = vmas.findIndex((v) => v.end > start); i >= 0 && i < vmas.length && a < end; i++) {
    const vma = mergeNeighbours(mm, i);
    i = vmas.indexOf(vma);
    if (vma.start >= end) break;
    if (vma.start > a) unmapped = true;
    const from = Math.max(a, vma.start);
    const to = Math.min(end, vma.end);
    const r = collapseVma(k, vma, from, to);
    thps += r.thps;
    if (r.errno)
      throw new KernelError(r.errno, `MADV_COLLAPSE of 0x${from.toString(16)}-0x${to.toString(16)}`);
    a = vma.end;
  }
  if (unmapped || a < end) throw new KernelError('ENOMEM', 'MADV_COLLAPSE range has unmapped holes');
  return thps;
}

/**
 * The model keeps neighbours Linux would have merged (vma_merge: after an madvise and its undo)
 * as separate VMAs; Linux sees one VMA there, and a PMD leaf may not span two model VMAs
 * (splitVma splits one at every boundary). So the VMA at `i` and every such neighbour become the
 * one VMA Linux has before the collapse looks at it.
 */
function mergeNeighbours(mm: Mm, i: number): Vma {
  const vmas = mm.vmas;
  let first = i;
  while (first > 0 && wouldMerge(vmas[first - 1], vmas[first])) first--;
  let last = i;
  while (last + 1 < vmas.length && wouldMerge(vmas[last], vmas[last + 1])) last++;
  const vma = vmas[first];
  for (const gone of vmas.splice(first + 1, last - first)) {
    vma.end = gone.end;
    gone.anonVma?.vmas.delete(gone);
  }
  return vma;
}

/** Linux would collapse this one into a shmem THP (memfd, MAP_SHARED|MAP_ANONYMOUS). */
const isShmem = (v: Vma): boolean =>
  !!v.file?.shmem || (!!(v.flags & VM.SHARED) && !v.file && v.ops === undefined);

/** madvise_collapse() for one VMA and the part [from, to) of the range inside it. */
function collapseVma(k: Kernel, vma: Vma, from: number, to: number): { thps: number; errno: Errno | null } {
  if (!thpVmaAllowableCollapse(vma)) return { thps: 0, errno: 'EINVAL' };
  const hstart = Math.ceil(from / PMD_SIZE) * PMD_SIZE;
  const hend = Math.floor(to / PMD_SIZE) * PMD_SIZE;
  let thps = 0;
  let lastFail: ScanResult = 'fail';
  for (let haddr = hstart; haddr < hend; haddr += PMD_SIZE) {
    const r = hpageCollapseScanPmd(k, vma, haddr);
    if (r === 'succeed' || r === 'pmd_mapped') {
      thps++;
      continue;
    }
    lastFail = r;
    if (!GO_ON.has(r)) break;
  }
  return { thps, errno: thps === (hend - hstart) / PMD_SIZE ? null : madviseCollapseErrno(lastFail) };
}

/** find_pmd_or_thp_or_none(): the PMD table row, or why there is no PTE table to collapse. */
function findPmd(k: Kernel, mm: Mm, haddr: number): { pmdRow: number; result: ScanResult } {
  const pmdRow = k.ptdesc.tableFor(mm.pgd, haddr, PT_LEVEL.PMD, false);
  if (pmdRow < 0) return { pmdRow, result: 'pmd_null' };
  const pmd = k.ptdesc.get(pmdRow, levelIndex(haddr, PT_LEVEL.PMD));
  if (pmd === 0) return { pmdRow, result: 'pmd_none' };
  if (entryBits(pmd) & PTE.HUGE) return { pmdRow, result: 'pmd_mapped' };
  return { pmdRow, result: 'succeed' };
}

/** pte_none() or the zero page: what the collapse fills with zeros. */
function noneOrZero(k: Kernel, e: number): boolean {
  return e === 0 || ((entryBits(e) & PTE.PRESENT) !== 0 && k.pa.isZeroPfn(entryPfn(e)));
}

/** is_refcount_suitable(): no reference beyond the mappings and the swap cache's. */
function isRefcountSuitable(k: Kernel, row: number): boolean {
  const f = k.folios;
  const expected = f.mapcountOf(row) + (folioTestSwapcache(k, row) ? f.nrPages(row) : 0);
  return f.refcount[row] === expected;
}

/**
 * The checks one present PTE passes in both the scan and the isolation: uffd-wp, a normal anon
 * page, on the LRU, referenced by nobody but its mappings.
 */
function checkPresentPte(k: Kernel, vma: Vma, addr: number, e: number): { row: number; result: ScanResult } {
  if (entryBits(e) & PTE.UFFD_WP) return { row: -1, result: 'pte_uffd_wp' };
  const row = vmNormalPage(k, vma, addr, e);
  if (row < 0 || k.folios.kind[row] === MT.DEVICE) return { row, result: 'page_null' };
  if (k.folios.kind[row] !== MT.ANON) return { row, result: 'page_anon' };
  if (!k.folios.testFlag(row, PG.lru)) return { row, result: 'page_lru' };
  if (!isRefcountSuitable(k, row)) return { row, result: 'page_count' };
  return { row, result: 'succeed' };
}

/** hpage_collapse_scan_pmd() with cc->is_khugepaged false: no PTE limits, no young check. */
export function hpageCollapseScanPmd(k: Kernel, vma: Vma, haddr: number): ScanResult {
  const mm = vma.mm;
  const found = findPmd(k, mm, haddr);
  if (found.result !== 'succeed') return found.result;
  const pd = k.ptdesc;
  const pteRow = pd.tableFor(mm.pgd, haddr, PT_LEVEL.PTE, false);
  let unmapped = 0;
  for (let i = 0; i < HPAGE_PMD_NR; i++) {
    const addr = haddr + i * PAGE_SIZE;
    const e = pd.get(pteRow, i);
    if (e !== 0 && !(entryBits(e) & PTE.PRESENT)) {
      // is_swap_pte(): a swap entry, or another non-present entry do_swap_page will refuse.
      unmapped++;
      if (pteSwpUffdWpAny(e)) return 'pte_uffd_wp';
      continue;
    }
    if (noneOrZero(k, e)) continue;
    const r = checkPresentPte(k, vma, addr, e).result;
    if (r !== 'succeed') return r;
  }
  return collapseHugePage(k, vma, haddr, unmapped);
}

/** collapse_huge_page(): allocate, swap in, isolate, copy, and map the new folio with one PMD. */
function collapseHugePage(k: Kernel, vma: Vma, haddr: number, unmapped: number): ScanResult {
  const mm = vma.mm;
  const f = k.folios;
  const row = allocAnonFolio(k, HPAGE_PMD_ORDER);
  if (row < 0) {
    k.stat.events.thp_collapse_alloc_failed++;
    return 'alloc_huge_page_fail';
  }
  k.stat.events.thp_collapse_alloc++;
  const { pmdRow } = findPmd(k, mm, haddr);
  const pteRow = k.ptdesc.tableFor(mm.pgd, haddr, PT_LEVEL.PTE, false);
  let result: ScanResult = unmapped ? collapseHugePageSwapin(k, vma, haddr, pmdRow, pteRow) : 'succeed';
  if (result === 'succeed') result = collapseHugePageIsolate(k, vma, haddr, pteRow);
  if (result !== 'succeed') {
    f.put(f.handleOf(row));
    return result;
  }
  collapseHugePageCopy(k, vma, haddr, pteRow, row);
  // The emptied PTE table becomes the one a later split of this PMD gets back (pgtable_trans_huge_deposit).
  mm.deposited.set(haddr, pteRow);
  addNewAnonRmap(k, row, vma, haddr, true);
  const bits = userBits(vma, true) | PTE.DIRTY | PTE.HUGE;
  k.ptdesc.set(pmdRow, levelIndex(haddr, PT_LEVEL.PMD), mkEntry(f.pfn[row], bits));
  if (k.stat.tracing)
    k.stat.emit({ type: 'collapse', mm: mm.id, addr: haddr, pfn: f.pfn[row], order: HPAGE_PMD_ORDER });
  return 'succeed';
}

/** __collapse_huge_page_swapin(): fault every swap entry of the PMD range back in, as reads. */
function collapseHugePageSwapin(
  k: Kernel,
  vma: Vma,
  haddr: number,
  pmdRow: number,
  pteRow: number,
): ScanResult {
  const pd = k.ptdesc;
  for (let i = 0; i < HPAGE_PMD_NR; i++) {
    const e = pd.get(pteRow, i);
    if (e === 0 || entryBits(e) & PTE.PRESENT) continue;
    // A hwpoison (or any other non-swap) entry: do_swap_page answers VM_FAULT_ERROR, SCAN_FAIL.
    if (!isSwapEntry(e) || isHwpoisonEntry(e)) return 'fail';
    const addr = haddr + i * PAGE_SIZE;
    const vmf = vmfGet(vma, addr, 0);
    try {
      vmf.pmdRow = pmdRow;
      vmf.pmdIdx = levelIndex(addr, PT_LEVEL.PMD);
      vmf.pteRow = pteRow;
      vmf.ptIdx = i;
      if (doSwapPage(k, vmf) !== 'ok') return 'fail';
    } finally {
      vmfPut();
    }
  }
  return 'succeed';
}

/**
 * __collapse_huge_page_isolate(): every present page checked again, now that the PMD is cleared
 * and nobody can map them anew (a large folio once); a swap entry still there is SCAN_PTE_NON_PRESENT.
 */
function collapseHugePageIsolate(k: Kernel, vma: Vma, haddr: number, pteRow: number): ScanResult {
  const pd = k.ptdesc;
  const seen = new Set<number>();
  for (let i = 0; i < HPAGE_PMD_NR; i++) {
    const e = pd.get(pteRow, i);
    if (noneOrZero(k, e)) continue;
    if (!(entryBits(e) & PTE.PRESENT)) return 'pte_non_present';
    const addr = haddr + i * PAGE_SIZE;
    const row = vmNormalPage(k, vma, addr, e);
    if (row >= 0 && seen.has(row)) continue;
    const r = checkPresentPte(k, vma, addr, e);
    if (r.result !== 'succeed') return r.result;
    if (k.folios.isLarge(r.row)) seen.add(r.row);
  }
  return 'succeed';
}

/**
 * __collapse_huge_page_copy() and __collapse_huge_page_copy_succeeded(): each subpage of the new
 * folio gets the bytes of the page its PTE mapped (none and the zero page leave it zero-filled: a
 * freshly allocated folio reads as zeros); then each old PTE is cleared, its mapping and reference
 * dropped (free_page_and_swap_cache), and none or zero PTEs are charged to the rss the new folio
 * takes over.
 */
function collapseHugePageCopy(k: Kernel, vma: Vma, haddr: number, pteRow: number, row: number): void {
  const mm = vma.mm;
  const pd = k.ptdesc;
  const f = k.folios;
  const dst = f.pfn[row];
  for (let i = 0; i < HPAGE_PMD_NR; i++) {
    const e = pd.get(pteRow, i);
    if (!noneOrZero(k, e)) k.frames.copyFrom(dst + i, k.frames, entryPfn(e));
  }
  for (let i = 0; i < HPAGE_PMD_NR; i++) {
    const e = pd.get(pteRow, i);
    if (noneOrZero(k, e)) {
      mm.rss[MM_ANONPAGES]++;
      if (e !== 0) pd.set(pteRow, i, 0);
      continue;
    }
    const addr = haddr + i * PAGE_SIZE;
    const old = vmNormalPage(k, vma, addr, e);
    pd.set(pteRow, i, 0);
    removeRmapPtes(k, old, entryPfn(e), 1, mm);
    if (f.testFlag(old, PG.ksm)) ksmRemoveMapping(k, old, mm, addr);
    freeSwapCache(k, old);
    f.putRow(old);
  }
}
