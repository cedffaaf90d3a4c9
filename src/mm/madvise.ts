/**
 * madvise() advice that acts on the pages of a range now: MADV_COLD, MADV_PAGEOUT, MADV_FREE and
 * MADV_POPULATE_READ / MADV_POPULATE_WRITE (the others, which change VMA flags or zap, are in
 * mmap.ts).
 *
 * MADV_PAGEOUT: reclaim the folios a range maps, now. Models mm/madvise.c — madvise_pageout
 * (can_madv_lru_vma: EINVAL on VM_LOCKED, VM_PFNMAP and VM_HUGETLB mappings; can_do_pageout:
 * anonymous memory, or a file the caller owns — the scenario owns its files) and
 * madvise_cold_or_pageout_pte_range: the huge zero page and special entries are skipped; a folio
 * that may be mapped by another process is left alone (folio_maybe_mapped_shared); a PMD-mapped
 * THP the range covers whole is reclaimed whole, one it covers in part is split first
 * (split_folio) and its pages in the range go; a PTE-mapped large folio not wholly mapped by the
 * PTEs met (madvise_folio_pte_batch) is split likewise, or skipped when it cannot be; the PTEs of
 * the folios taken are made old. Then reclaim_pages (vmscan.ts) does the work.
 *
 * MADV_FREE: the data of private anonymous pages may be dropped, lazily. Models mm/madvise.c —
 * madvise_dontneed_free_valid_vma (EINVAL on VM_LOCKED, VM_PFNMAP, VM_HUGETLB),
 * madvise_free_single_vma (anonymous VMAs only, else EINVAL) and madvise_free_pte_range: a swap
 * entry is freed and cleared (the data is not wanted, a fresh zeroed page is cheaper than a
 * swap-in), a hwpoison entry cleared; a present folio has its PTEs made clean and old and is
 * marked lazyfree (swap.ts), its PG_dirty cleared first — for that, a dirty or swap-cache folio must
 * be mapped only here, and a swap-cache one gives up its slots (folio_free_swap). A large folio the
 * range maps in part is split unless another MM may map it, skipped if the split fails; a PMD goes
 * to madvise_free_huge_pmd (huge_memory.ts). Reclaim (vmscan.ts) then drops the clean ones; a write
 * in between dirties the PTE, and the page is kept.
 *
 * MADV_POPULATE_READ / _WRITE: fault a range in as loads or stores would, without touching its
 * bytes. Models mm/madvise.c madvise_populate() and mm/gup.c faultin_page_range(), that is
 * __get_user_pages() with FOLL_TOUCH | FOLL_HWPOISON | FOLL_MADV_POPULATE (| FOLL_WRITE) and no
 * pages array. Each VMA comes from vma_lookup() — none there is ENOMEM — and must pass
 * check_vma_flags() without FOLL_FORCE, else EINVAL: no VM_IO or VM_PFNMAP, VM_READ for a read,
 * VM_WRITE for a write (so PROT_NONE is EINVAL both ways). Each page is followed; a missing entry,
 * or for a write one that is not writable, is faulted with FAULT_FLAG_WRITE as a store would be:
 * COW is broken, the zero page (and the huge zero page) unshared, a shared file page dirtied. A
 * read maps the zero page or the page-cache page and shares what is shared. A fault that ends in
 * SIGBUS or SIGSEGV is EFAULT, on a hwpoison entry EHWPOISON, out of memory ENOMEM. Pages are
 * populated in address order up to the one that failed; what was populated stays.
 */
import { PG } from './folio.js';
import { checkVmaFlags, FOLL } from './gup.js';
import { madviseFreeHugePmd, splitFolio } from './huge_memory.js';
import { FAULT, pmdFolio } from './internal.js';
import type { Kernel } from './kernel.js';
import { MT } from './memdesc.js';
import { handleMmFault, vmNormalPage } from './memory.js';
import { hwpoisonEntry } from './memory-failure.js';
import { findVma, type Mm, VM, type Vma, vmaIsAnonymous } from './mm_types.js';
import { folioMarkDirty } from './page-writeback.js';
import { entryBits, entryPfn, levelIndex, PMD_SIZE, PT_LEVEL, PTE, withBits } from './pgtable.js';
import { folioMaybeMappedShared } from './rmap.js';
import { folioMarkLazyfree } from './swap.js';
import { folioTestSwapcache } from './swap_state.js';
import { folioFreeSwap, zapSwapEntry } from './swapfile.js';
import { type Errno, KernelBug, KernelError, PAGE_SIZE } from './types.js';
import { type ReclaimResult, reclaimPages } from './vmscan.js';

/** can_madv_lru_vma(): MADV_COLD and MADV_PAGEOUT refuse these mappings with EINVAL. */
export function checkPageoutVma(vma: Vma): void {
  if (vma.flags & (VM.LOCKED | VM.PFNMAP | VM.HUGETLB))
    throw new KernelError('EINVAL', 'MADV_COLD/MADV_PAGEOUT on a locked, pfnmap or hugetlb mapping');
}

/**
 * madvise_cold(): the same walk as MADV_PAGEOUT (madvise_cold_or_pageout_pte_range with pageout
 * false), but each folio this process alone maps only loses its accessed bits (the PTEs' young
 * bit, PG_referenced) and is deactivated, not reclaimed. The model has no active/inactive lists,
 * so deactivation itself leaves nothing to see. Any mapping may be walked, a driver's too.
 */
export function madviseCold(k: Kernel, vmas: readonly Vma[], start: number, end: number): void {
  const cold = (row: number) => k.folios.clearFlag(row, PG.referenced);
  for (const vma of vmas) {
    // VMA by VMA: one it refuses ends the walk, the ones before it are cold already.
    checkPageoutVma(vma);
    pageoutRange(k, vma, Math.max(vma.start, start), Math.min(vma.end, end), cold, true);
  }
}

/** madvise_cold_or_pageout_pte_range() over [start, end) of `vma`, PMD by PMD. */
function pageoutRange(
  k: Kernel,
  vma: Vma,
  start: number,
  end: number,
  take: (row: number) => void,
  cold: boolean,
): void {
  for (let addr = start; addr < end; ) {
    const next = Math.min(end, addr - (addr % PMD_SIZE) + PMD_SIZE);
    pageoutPmdRange(k, vma, addr, next, take, cold);
    addr = next;
  }
}

/**
 * madvise_pageout() over the VMAs `vmas` meets in [start, end), in address order. The first
 * VMA that refuses stops the walk with EINVAL (what came before it was paged out). Neighbours the
 * kernel would have merged into one VMA (vma_merge: same flags, anon_vma, file and contiguous
 * offsets; the model keeps them apart, as after an mprotect and its undo) are walked as one,
 * so a large folio spanning them is met whole, as it would be in Linux.
 */
export function madvisePageout(k: Kernel, vmas: readonly Vma[], start: number, end: number): ReclaimResult {
  const out: ReclaimResult = { reclaimed: 0, kept: 0 };
  for (let i = 0; i < vmas.length; i++) {
    let j = i;
    for (checkPageoutVma(vmas[i]); j + 1 < vmas.length && wouldMerge(vmas[j], vmas[j + 1]); j++)
      checkPageoutVma(vmas[j + 1]);
    const vma = vmas[i];
    // can_do_pageout(): a mapping with neither anonymous memory nor a file (a driver's) is left as it is.
    if (vma.file || vma.ops === undefined) {
      const rows: number[] = [];
      const taken = new Set<number>();
      const take = (row: number) => {
        if (!taken.has(row)) rows.push(row);
        taken.add(row);
      };
      pageoutRange(k, vma, Math.max(vma.start, start), Math.min(vmas[j].end, end), take, false);
      const r = reclaimPages(k, rows);
      out.reclaimed += r.reclaimed;
      out.kept += r.kept;
    }
    i = j;
  }
  return out;
}

/** Would vma_merge() have made `a` and its successor `b` one VMA? (khugepaged.ts asks too.) */
export function wouldMerge(a: Vma, b: Vma): boolean {
  if (a.end !== b.start || a.flags !== b.flags || a.file !== b.file || a.anonVma !== b.anonVma) return false;
  if (a.ops !== undefined || b.ops !== undefined) return false;
  return b.pgoff === a.pgoff + (a.end - a.start) / PAGE_SIZE;
}

/**
 * madvise_cold_or_pageout_pte_range() for [addr, next), inside one PMD: `take` gets each folio
 * this process alone maps; for MADV_COLD (`cold`) its PTEs or PMD lose the young bit first.
 */
function pageoutPmdRange(
  k: Kernel,
  vma: Vma,
  addr: number,
  next: number,
  take: (row: number) => void,
  cold: boolean,
): void {
  const pd = k.ptdesc;
  const pmdRow = pd.tableFor(vma.mm.pgd, addr, PT_LEVEL.PMD, false);
  if (pmdRow < 0) return;
  const pmdIdx = levelIndex(addr, PT_LEVEL.PMD);
  const pmd = pd.get(pmdRow, pmdIdx);
  if (pmd === 0) return;
  if (entryBits(pmd) & PTE.HUGE) {
    const row = pmdFolio(k, pmd);
    if (row < 0 || folioMaybeMappedShared(k, row)) return;
    // Only MADV_COLD clears the accessed bit (`!pageout && pmd_young`); PAGEOUT leaves it.
    if (next - addr === PMD_SIZE) {
      if (cold) pd.set(pmdRow, pmdIdx, withBits(pmd, 0, PTE.YOUNG));
      take(row);
      return;
    }
    if (!splitFolio(k, row)) return;
  }
  const pteRow = pd.tableFor(vma.mm.pgd, addr, PT_LEVEL.PTE, false);
  if (pteRow < 0) return;
  const f = k.folios;
  for (let a = addr; a < next; ) {
    const i = levelIndex(a, PT_LEVEL.PTE);
    const pte = pd.get(pteRow, i);
    const row = pte !== 0 && entryBits(pte) & PTE.PRESENT ? vmNormalPage(k, vma, a, pte) : -1;
    if (row < 0 || (f.kind[row] !== MT.ANON && f.kind[row] !== MT.FILE)) {
      a += PAGE_SIZE;
      continue;
    }
    const nr = f.isLarge(row) ? folioPteBatch(k, pteRow, i, a, next, row) : 1;
    if (nr < f.nrPages(row)) {
      // Part of a large folio: split it only if this process alone maps it; then look again.
      if (!folioMaybeMappedShared(k, row) && splitFolio(k, row)) continue;
      a += nr * PAGE_SIZE;
      continue;
    }
    if (f.testFlag(row, PG.lru) && !folioMaybeMappedShared(k, row)) {
      if (cold)
        for (let j = 0; j < nr; j++) pd.set(pteRow, i + j, withBits(pd.get(pteRow, i + j), 0, PTE.YOUNG));
      take(row);
    }
    a += nr * PAGE_SIZE;
  }
}

/** madvise_folio_pte_batch(): how many PTEs from `i` map consecutive pages of folio `row`. */
function folioPteBatch(k: Kernel, pteRow: number, i: number, a: number, next: number, row: number): number {
  const pd = k.ptdesc;
  const first = entryPfn(pd.get(pteRow, i));
  const end = k.folios.pfn[row] + k.folios.nrPages(row);
  let n = 1;
  while (a + n * PAGE_SIZE < next && first + n < end) {
    const e = pd.get(pteRow, i + n);
    if (e === 0 || !(entryBits(e) & PTE.PRESENT) || entryPfn(e) !== first + n) break;
    n++;
  }
  return n;
}

/**
 * madvise_dontneed_free() with MADV_FREE over the VMAs `vmas` meets in [start, end), in order; the
 * first VMA refused ends the walk with EINVAL, those before it were freed already.
 */
export function madviseFree(k: Kernel, vmas: readonly Vma[], start: number, end: number): void {
  for (const vma of vmas) {
    // madvise_dontneed_free_valid_vma(), then madvise_free_single_vma()'s vma_is_anonymous().
    if (vma.flags & (VM.LOCKED | VM.PFNMAP | VM.HUGETLB))
      throw new KernelError('EINVAL', 'MADV_FREE on a locked, pfnmap or hugetlb mapping');
    if (!vmaIsAnonymous(vma)) throw new KernelError('EINVAL', 'MADV_FREE needs anonymous memory');
    const e = Math.min(vma.end, end);
    for (let addr = Math.max(vma.start, start); addr < e; ) {
      const next = Math.min(e, addr - (addr % PMD_SIZE) + PMD_SIZE);
      freePmdRange(k, vma, addr, next);
      addr = next;
    }
  }
}

/** madvise_free_pte_range() for [addr, next), inside one PMD. */
function freePmdRange(k: Kernel, vma: Vma, addr: number, next: number): void {
  const pd = k.ptdesc;
  const pmdRow = pd.tableFor(vma.mm.pgd, addr, PT_LEVEL.PMD, false);
  if (pmdRow < 0) return;
  const pmdIdx = levelIndex(addr, PT_LEVEL.PMD);
  const pmd = pd.get(pmdRow, pmdIdx);
  if (pmd !== 0 && entryBits(pmd) & PTE.HUGE && madviseFreeHugePmd(k, pmdRow, pmdIdx, addr, next)) return;
  // A PMD leaf still there (the huge zero folio, a shared THP, a failed split) has no PTEs to walk.
  const pteRow = pd.tableFor(vma.mm.pgd, addr, PT_LEVEL.PTE, false);
  if (pteRow < 0) return;
  const f = k.folios;
  for (let a = addr; a < next; ) {
    const i = levelIndex(a, PT_LEVEL.PTE);
    const pte = pd.get(pteRow, i);
    let nr = 1;
    if (pte !== 0 && !(entryBits(pte) & PTE.PRESENT)) {
      // Not wanted, so not worth a swap-in: the slot goes now (free_swap_and_cache_nr).
      if (zapSwapEntry(k, vma, pte) || pte === hwpoisonEntry(k)) pd.set(pteRow, i, 0);
    } else if (pte !== 0) {
      const row = vmNormalPage(k, vma, a, pte);
      if (row >= 0 && f.kind[row] === MT.ANON) nr = freeFolioPtes(k, pteRow, i, a, next, row);
    }
    if (nr > 0) a += nr * PAGE_SIZE;
  }
}

/**
 * One folio met by madvise_free_pte_range() at PTE `i`: how many PTEs to step over, 0 when the
 * folio was split and the same PTE is to be looked at again.
 */
function freeFolioPtes(k: Kernel, pteRow: number, i: number, a: number, next: number, row: number): number {
  const f = k.folios;
  const pd = k.ptdesc;
  const nr = f.isLarge(row) ? folioPteBatch(k, pteRow, i, a, next, row) : 1;
  if (nr < f.nrPages(row)) {
    // Only part of a large folio is freed: split it if this MM alone maps it, else leave it.
    return !folioMaybeMappedShared(k, row) && splitFolio(k, row) ? 0 : nr;
  }
  if (folioTestSwapcache(k, row) || f.testFlag(row, PG.dirty)) {
    // Clearing PG_dirty drops data other mappers may still want: only when they are all ours
    // (a whole large folio with as many mappings as pages is exclusive).
    if (f.mapcountOf(row) !== f.nrPages(row)) return nr;
    if (folioTestSwapcache(k, row) && !folioFreeSwap(k, row)) return nr;
    f.clearFlag(row, PG.dirty);
  }
  for (let j = 0; j < nr; j++)
    pd.set(pteRow, i + j, withBits(pd.get(pteRow, i + j), 0, PTE.YOUNG | PTE.DIRTY));
  folioMarkLazyfree(k, row);
  return nr;
}

/** madvise_populate(): populate [start, end) of `mm` (both page aligned) for reading or writing. */
export function madvisePopulate(k: Kernel, mm: Mm, start: number, end: number, write: boolean): void {
  const flags = FOLL.TOUCH | FOLL.HWPOISON | FOLL.MADV_POPULATE | (write ? FOLL.WRITE : 0);
  let vma: Vma | undefined;
  for (let addr = start; addr < end; addr += PAGE_SIZE) {
    if (!vma || addr >= vma.end) {
      vma = findVma(mm, addr);
      if (!vma) throw new KernelError('ENOMEM', `MADV_POPULATE: no VMA at 0x${addr.toString(16)}`);
      if (checkVmaFlags(vma, flags))
        throw new KernelError(
          'EINVAL',
          `MADV_POPULATE: the VMA at 0x${addr.toString(16)} may not be populated so`,
        );
    }
    const err = populatePage(k, vma, addr, write);
    if (err) throw new KernelError(err, `MADV_POPULATE stopped at 0x${addr.toString(16)}`);
  }
}

/**
 * One page of __get_user_pages(): follow_page_mask() — a present entry satisfies a read, a
 * writable one a write (no FOLL_FORCE) — else faultin_page() and follow again.
 */
function populatePage(k: Kernel, vma: Vma, addr: number, write: boolean): Errno | null {
  const pd = k.ptdesc;
  for (let tries = 0; tries < 3; tries++) {
    const slot = pd.leafSlot(vma.mm.pgd, addr);
    const e = slot >= 0 ? pd.entries[slot] : 0;
    const bits = entryBits(e);
    if (e !== 0 && bits & PTE.PRESENT && (!write || bits & PTE.WRITE)) {
      touch(k, vma, addr, slot, write);
      return null;
    }
    const poisoned = e !== 0 && e === hwpoisonEntry(k);
    const r = handleMmFault(k, vma, addr, write ? FAULT.WRITE : 0);
    if (r === 'oom') return 'ENOMEM';
    if (r !== 'ok') return poisoned ? 'EHWPOISON' : 'EFAULT';
  }
  throw new KernelBug(`MADV_POPULATE at 0x${addr.toString(16)} made no progress after faulting`, {
    rule: '__get_user_pages: retry loop',
  });
}

/**
 * FOLL_TOUCH on what was found: a PMD leaf is made young (and dirty for a write, touch_pmd); a
 * write through a clean PTE marks its folio dirty (follow_page_pte), as a store would have.
 */
function touch(k: Kernel, vma: Vma, addr: number, slot: number, write: boolean): void {
  const pd = k.ptdesc;
  const e = pd.entries[slot];
  if (pd.leafLevel === PT_LEVEL.PMD) {
    pd.entries[slot] = withBits(e, write ? PTE.YOUNG | PTE.DIRTY : PTE.YOUNG, 0);
    return;
  }
  if (!write || entryBits(e) & PTE.DIRTY) return;
  const row = vmNormalPage(k, vma, addr, e);
  if (row >= 0 && !k.pa.isZeroPfn(k.folios.pfn[row])) folioMarkDirty(k, row);
}
