/**
 * PMD-mapped transparent huge pages.
 *
 * Models: mm/huge_memory.c — thp_vma_allowable_order for PMD_ORDER, do_huge_pmd_anonymous_page
 * (the huge zero folio on read faults, a new order-9 folio on writes), do_huge_pmd_wp_page and
 * do_huge_zero_wp_pmd, __split_huge_pmd with the deposited page table that makes a split unable to
 * fail (pgtable_trans_huge_deposit / withdraw), split_huge_pmd_address for VMA boundaries, and
 * zap_huge_pmd, and split_folio for an anon THP (split_huge_page_to_list_to_order down to order 0,
 * as MADV_PAGEOUT and reclaim ask for it; an mTHP too); MADV_FREE of a PMD (madvise_free_huge_pmd)
 * and reclaim's discard of a clean lazyfree PMD without splitting it (unmap_huge_pmd_locked).
 * Leaves out: khugepaged, file and shmem THPs,
 * PUD mappings, the deferred split queue (a partly unmapped THP stays whole until something splits
 * it), splitting a folio that is in the swap cache (refused, as a failed split).
 */

import { PG } from './folio.js';
import { countMthpStat, thpVmaAllowableOrders, thpVmaSuitableOrder } from './huge_mm.js';
import {
  allocAnonFolio,
  anonVmaPrepare,
  FAULT,
  type FaultOutcome,
  HPAGE_PMD_NR,
  pmdFolio,
  userBits,
  type Vmf,
} from './internal.js';
import type { Kernel } from './kernel.js';
import { MT, mdWord } from './memdesc.js';
import { MM_ANONPAGES, type Mm, VM, type Vma } from './mm_types.js';
import { GFP_KERNEL } from './mmzone.js';
import {
  entryBits,
  levelIndex,
  mkEntry,
  PMD_SIZE,
  PT_LEVEL,
  PTE,
  PTRS_PER_TABLE,
  TABLE_BITS,
  withBits,
} from './pgtable.js';
import { addNewAnonRmap, addRmapPtes, folioMaybeMappedShared, removeRmapPmd, rmapWalk } from './rmap.js';
import { folioMarkLazyfree } from './swap.js';
import { HPAGE_PMD_ORDER, KernelBug, KernelError, PAGEBLOCK_ORDER, PAGEBLOCK_PAGES } from './types.js';

/**
 * The huge zero folio's first frame, allocating it on first use (mm_get_huge_zero_folio); `at`:
 * frames the caller took off the free lists instead (a capture's replay, alloc_contig.ts).
 */
export function mmGetHugeZeroFolio(k: Kernel, at?: number): number {
  const pa = k.pa;
  if (at !== undefined && pa.hugeZero >= 0) throw new KernelError('EEXIST', 'the huge zero folio exists');
  if (pa.hugeZero < 0) {
    const pfn = at ?? pa.rmqueue(PAGEBLOCK_ORDER, GFP_KERNEL, 0);
    pa.memmap.setRange(pfn, PAGEBLOCK_PAGES, mdWord(MT.ZERO, PAGEBLOCK_ORDER), 0);
    k.stat.retype(MT.BUDDY, MT.ZERO, PAGEBLOCK_PAGES);
    pa.hugeZero = pfn;
  }
  return pa.hugeZero;
}

/**
 * May a fault at `addr` map a PMD-sized anon folio? thp_vma_allowable_order for PMD_ORDER (the
 * hugepages-2048kB knob, `inherit` by default: huge_mm.ts) and thp_vma_suitable_order.
 */
export function thpSuitable(k: Kernel, vma: Vma, addr: number): boolean {
  const pmdOrder = 1 << HPAGE_PMD_ORDER;
  return thpVmaAllowableOrders(k, vma, pmdOrder) !== 0 && thpVmaSuitableOrder(vma, addr, HPAGE_PMD_ORDER);
}

/** Deposit a PTE table for a later split of the PMD at `haddr` (pgtable_trans_huge_deposit). */
function deposit(k: Kernel, mm: Mm, haddr: number): boolean {
  try {
    mm.deposited.set(haddr, k.ptdesc.alloc(PT_LEVEL.PTE, mm.id) >>> 0);
    return true;
  } catch (e) {
    if (e instanceof KernelError) return false;
    throw e;
  }
}

function withdraw(mm: Mm, haddr: number): number {
  const row = mm.deposited.get(haddr);
  if (row === undefined)
    throw new KernelBug(`no page table deposited for the PMD at 0x${haddr.toString(16)}`, {
      rule: 'pgtable_trans_huge_withdraw',
    });
  mm.deposited.delete(haddr);
  return row;
}

/**
 * do_huge_pmd_anonymous_page(): anon_vma_prepare() first; then a read maps the huge zero folio
 * (when use_zero_page), a write a new order-9 anon folio, both with a deposited page table. Any allocation failure falls back to
 * PTEs, as the kernel does (thp_fault_fallback).
 */
export function doHugePmdAnonymousPage(k: Kernel, vmf: Vmf): FaultOutcome | 'fallback' {
  const { vma, addr, pmdRow, pmdIdx, write } = vmf;
  const haddr = addr - (addr % PMD_SIZE);
  const mm = vma.mm;
  // Before either branch, as the kernel does: a VMA mapping only the huge zero folio has an
  // anon_vma too, so fork copies its page tables (vma_needs_copy) and the child keeps the PMD.
  anonVmaPrepare(k, vma);
  if (!write && k.opts.thpZeroPage) {
    let zero: number;
    try {
      zero = mmGetHugeZeroFolio(k);
    } catch (e) {
      if (e instanceof KernelError) return 'fallback';
      throw e;
    }
    if (!deposit(k, mm, haddr)) return 'fallback';
    k.ptdesc.set(pmdRow, pmdIdx, mkEntry(zero, PTE.PRESENT | PTE.USER | PTE.HUGE | PTE.SPECIAL | PTE.YOUNG));
    if (k.stat.tracing) k.stat.emit({ type: 'zero_page', huge: true, mm: mm.id, addr: haddr, pfn: zero });
    return 'ok';
  }
  const row = allocAnonFolio(k, HPAGE_PMD_ORDER);
  if (row < 0) {
    k.stat.events.thp_fault_fallback++;
    countMthpStat(k, HPAGE_PMD_ORDER, 'anon_fault_fallback');
    return 'fallback';
  }
  if (!deposit(k, mm, haddr)) {
    k.folios.put(k.folios.handleOf(row));
    return 'fallback';
  }
  mapNewThp(k, vma, haddr, pmdRow, pmdIdx, row);
  return 'ok';
}

function mapNewThp(k: Kernel, vma: Vma, haddr: number, pmdRow: number, pmdIdx: number, row: number): void {
  addNewAnonRmap(k, row, vma, haddr, true);
  vma.mm.rss[MM_ANONPAGES] += HPAGE_PMD_NR;
  const pfn = k.folios.pfn[row];
  k.ptdesc.set(pmdRow, pmdIdx, mkEntry(pfn, userBits(vma, true) | PTE.HUGE));
  k.stat.events.thp_fault_alloc++;
  countMthpStat(k, HPAGE_PMD_ORDER, 'anon_fault_alloc');
  if (k.stat.tracing)
    k.stat.emit({ type: 'fault', kind: 'thp', mm: vma.mm.id, addr: haddr, pfn, order: HPAGE_PMD_ORDER });
}

/**
 * do_huge_pmd_wp_page(): a write (or unshare) of a write-protected PMD. The huge zero folio is
 * replaced by a new THP; an exclusive (or solely referenced) THP is reused; anything else splits the PMD and
 * the fault continues at PTE level, so only the written subpage is copied.
 */
export function doHugePmdWpPage(k: Kernel, vmf: Vmf): FaultOutcome | 'fallback' {
  const { vma, addr, pmdRow, pmdIdx, flags } = vmf;
  const pd = k.ptdesc;
  const pmd = pd.get(pmdRow, pmdIdx);
  const haddr = addr - (addr % PMD_SIZE);
  const unshare = (flags & FAULT.UNSHARE) !== 0;
  const row = pmdFolio(k, pmd);
  if (row < 0) {
    // do_huge_zero_wp_pmd(), for a write and an unshare alike: a new exclusive THP mapped as a
    // write fault maps it (map_anon_folio_pmd); only if none can be had does the PMD split.
    const fresh = allocAnonFolio(k, HPAGE_PMD_ORDER);
    if (fresh >= 0) {
      anonVmaPrepare(k, vma);
      pd.set(pmdRow, pmdIdx, 0);
      mapNewThp(k, vma, haddr, pmdRow, pmdIdx, fresh);
      return 'ok';
    }
    k.stat.events.thp_fault_fallback++;
    splitHugePmd(k, vma, haddr, pmdRow, pmdIdx);
    return 'fallback';
  }
  const f = k.folios;
  const head = f.pfn[row];
  if (vma.flags & VM.SHARED) return 'fallback';
  if (f.pageAnonExclusive(row, head) || f.refcount[row] === 1) {
    f.setPageAnonExclusive(row, head, true);
    if (!unshare) pd.set(pmdRow, pmdIdx, mkEntry(head, userBits(vma, true) | PTE.HUGE));
    return 'ok';
  }
  splitHugePmd(k, vma, haddr, pmdRow, pmdIdx);
  return 'fallback';
}

/**
 * __split_huge_pmd(): replace a PMD leaf by the deposited PTE table mapping the same 512 frames.
 * The folio stays whole: its PMD mapping becomes 512 PTE mappings (refcount +511) and the head's
 * anon-exclusive bit is handed to every subpage, and every PTE keeps the PMD's uffd-wp bit
 * (__split_huge_pmd_locked). The huge zero folio becomes 512 small zero PTEs, uffd-wp kept too.
 */
export function splitHugePmd(k: Kernel, vma: Vma, haddr: number, pmdRow: number, pmdIdx: number): void {
  const pd = k.ptdesc;
  const pmd = pd.get(pmdRow, pmdIdx);
  const mm = vma.mm;
  const table = withdraw(mm, haddr);
  const bits = entryBits(pmd) & ~PTE.HUGE;
  const row = pmdFolio(k, pmd);
  if (row < 0) {
    for (let i = 0; i < PTRS_PER_TABLE; i++)
      pd.set(
        table,
        i,
        mkEntry(k.pa.zeroPfn, PTE.PRESENT | PTE.USER | PTE.SPECIAL | (bits & (PTE.YOUNG | PTE.UFFD_WP))),
      );
  } else {
    const f = k.folios;
    const head = f.pfn[row];
    const exclusive = f.kind[row] === MT.ANON && f.pageAnonExclusive(row, head);
    f.refcount[row] += HPAGE_PMD_NR - 1;
    removeRmapPmd(k, row, mm);
    addRmapPtes(k, row, head, HPAGE_PMD_NR, mm);
    for (let i = 0; i < HPAGE_PMD_NR; i++) {
      if (f.kind[row] === MT.ANON) f.setPageAnonExclusive(row, head + i, exclusive);
      pd.set(table, i, mkEntry(head + i, bits));
    }
  }
  pd.set(pmdRow, pmdIdx, mkEntry(table, TABLE_BITS));
  k.stat.events.thp_split_pmd++;
  if (k.stat.tracing) k.stat.emit({ type: 'split_pmd', mm: mm.id, addr: haddr });
}

/**
 * split_huge_pmd_if_needed() / split_huge_pmd_address(), as vma_adjust_trans_huge() runs them from
 * __split_vma(): a VMA boundary at `addr` that is not PMD-aligned may not cut through a PMD leaf,
 * so a PMD-mapped THP (or the huge zero folio) straddling it is split into PTEs first.
 */
export function splitHugePmdAddress(k: Kernel, vma: Vma, addr: number): void {
  if (addr % PMD_SIZE === 0) return;
  const pmdRow = k.ptdesc.tableFor(vma.mm.pgd, addr, PT_LEVEL.PMD, false);
  if (pmdRow < 0) return;
  const pmdIdx = levelIndex(addr, PT_LEVEL.PMD);
  const pmd = k.ptdesc.get(pmdRow, pmdIdx);
  if (pmd !== 0 && entryBits(pmd) & PTE.HUGE) splitHugePmd(k, vma, addr - (addr % PMD_SIZE), pmdRow, pmdIdx);
}

/** zap_huge_pmd(): clear a PMD leaf, free its deposited table, drop the mapping and the reference. */
export function zapHugePmd(k: Kernel, vma: Vma, haddr: number, pmdRow: number, pmdIdx: number): void {
  const pd = k.ptdesc;
  const pmd = pd.get(pmdRow, pmdIdx);
  pd.set(pmdRow, pmdIdx, 0);
  k.ptdesc.free(k.ptdesc.handleOf(withdraw(vma.mm, haddr)));
  const row = pmdFolio(k, pmd);
  if (row < 0) return;
  const f = k.folios;
  vma.mm.rss[MM_ANONPAGES] -= HPAGE_PMD_NR;
  removeRmapPmd(k, row, vma.mm);
  f.putRow(row);
}

/**
 * split_folio() of an anon THP: every PMD mapping becomes PTEs first (the kernel's unmap_folio /
 * remap_page round trip leaves the same frames mapped), then each page becomes an order-0 folio
 * with its own mappings, exclusivity and one reference per mapping; pages nobody maps are freed.
 * Refused (false) when references beyond the mappings exist (can_split_folio: a pin, a GUP
 * reference), and for a folio in the swap cache. `holdPfn`: the page whose reference the caller
 * holds across the split (try_to_split_thp_page's page): its new folio keeps that reference.
 */
export function splitFolio(k: Kernel, row: number, holdPfn = -1): boolean {
  const f = k.folios;
  if (!f.isLarge(row) || f.kind[row] !== MT.ANON || f.testFlag(row, PG.owner_priv_1)) return false;
  if (f.mapcountOf(row) !== f.refcount[row]) return false;
  const order = Math.log2(f.nrPages(row));
  splitFolioPmds(k, row);
  for (const r of f.splitToSmall(row)) {
    f.refcount[r] = f.mapcountOf(r) + (f.pfn[r] === holdPfn ? 2 : 1);
    f.putRow(r);
  }
  // THP_SPLIT_PAGE counts PMD-sized folios only (folio_test_pmd_mappable); every size has its own.
  if (order >= HPAGE_PMD_ORDER) k.stat.events.thp_split_page++;
  countMthpStat(k, order, 'split');
  return true;
}

/** Split every PMD mapping of a THP into PTEs (try_to_unmap's TTU_SPLIT_HUGE_PMD, unmap_folio). */
export function splitFolioPmds(k: Kernel, row: number): void {
  if (k.folios.entireMapcountOf(row) === 0) return;
  for (const hit of rmapWalk(k, row)) {
    if (hit.level !== 'pmd') continue;
    const pmdRow = k.ptdesc.tableFor(hit.mm.pgd, hit.addr, PT_LEVEL.PMD, false);
    splitHugePmd(k, hit.vma, hit.addr, pmdRow, levelIndex(hit.addr, PT_LEVEL.PMD));
  }
}

/**
 * madvise_free_huge_pmd() for the PMD leaf at pmdRow/pmdIdx, [addr, next) of it: true when the
 * PMD was handled whole (the caller then has nothing left to do there). The huge zero folio and a
 * folio another MM may map are left alone; a range that covers part of the PMD splits the folio
 * (split_folio) so the PTE walk can free just those pages; a whole one loses PG_dirty and the
 * PMD's dirty and young bits, and the folio is marked lazyfree. Unlike the PTE path there is no
 * swap-cache or mapcount test here: folio_mark_lazyfree() itself refuses a swap-cache folio.
 */
export function madviseFreeHugePmd(
  k: Kernel,
  pmdRow: number,
  pmdIdx: number,
  addr: number,
  next: number,
): boolean {
  const pd = k.ptdesc;
  const pmd = pd.get(pmdRow, pmdIdx);
  const row = pmdFolio(k, pmd);
  if (row < 0 || folioMaybeMappedShared(k, row)) return false;
  if (next - addr !== PMD_SIZE) {
    // Only part of the THP is given up: split it, and the caller's PTE walk sees its pages.
    splitFolio(k, row);
    return false;
  }
  k.folios.clearFlag(row, PG.dirty);
  if (entryBits(pmd) & (PTE.YOUNG | PTE.DIRTY))
    pd.set(pmdRow, pmdIdx, withBits(pmd, 0, PTE.YOUNG | PTE.DIRTY));
  folioMarkLazyfree(k, row);
  return true;
}

/**
 * unmap_huge_pmd_locked() -> __discard_anon_folio_pmd_locked(): try_to_unmap() of a lazyfree THP
 * mapped by the PMD of `vma` at `haddr` drops the PMD without splitting it. A dirty PMD dirties
 * the folio; a dirty folio was written after MADV_FREE, so it is swap-backed again and stays. So
 * does one with references beyond its mappings and the caller's (reclaim's isolation reference): a
 * GUP user may write through it. False when the PMD stays.
 */
export function unmapHugePmdLocked(k: Kernel, vma: Vma, haddr: number, row: number): boolean {
  const f = k.folios;
  const pd = k.ptdesc;
  const pmdRow = pd.tableFor(vma.mm.pgd, haddr, PT_LEVEL.PMD, false);
  const pmdIdx = levelIndex(haddr, PT_LEVEL.PMD);
  const pmd = pd.get(pmdRow, pmdIdx);
  if (entryBits(pmd) & PTE.DIRTY) f.setFlag(row, PG.dirty);
  if (f.testFlag(row, PG.dirty)) {
    f.setFlag(row, PG.swapbacked);
    return false;
  }
  if (f.refcount[row] !== f.mapcountOf(row) + 1) return false;
  pd.set(pmdRow, pmdIdx, 0);
  pd.free(pd.handleOf(withdraw(vma.mm, haddr)));
  vma.mm.rss[MM_ANONPAGES] -= HPAGE_PMD_NR;
  removeRmapPmd(k, row, vma.mm);
  f.putRow(row);
  return true;
}
