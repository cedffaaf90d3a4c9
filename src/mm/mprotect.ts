/**
 * change_protection(): rewrite the entries of a VMA range after its protections changed.
 *
 * Models: mm/mprotect.c — change_protection / change_pte_range / change_huge_pmd with the
 * cp_flags mprotect and userfaultfd pass (MM_CP_TRY_CHANGE_WRITABLE, MM_CP_UFFD_WP,
 * MM_CP_UFFD_WP_RESOLVE), can_change_pte_writable / can_change_pmd_writable, and the PTE-marker
 * installation of uffd-wp on none entries (userfaultfd_wp_use_markers). mprotect_fixup is in
 * mmap.ts, UFFDIO_WRITEPROTECT in userfaultfd.ts; both come here.
 * Leaves out: NUMA hinting (MM_CP_PROT_NUMA), migration and device-private entries (not modelled).
 */
import { splitHugePmd } from './huge_memory.js';
import type { Kernel } from './kernel.js';
import { MT } from './memdesc.js';
import { VM, type Vma } from './mm_types.js';
import {
  entryBits,
  entryPfn,
  isPteMarker,
  isSwapEntry,
  levelIndex,
  mkUffdWpMarker,
  PMD_SIZE,
  PT_LEVEL,
  PTE,
  pteClearUffdWp,
  pteMarkerUffdWp,
  pteMkUffdWp,
  pteUffdWp,
  withBits,
} from './pgtable.js';
import { PAGE_SIZE } from './types.js';
import { userfaultfdWp, userfaultfdWpUseMarkers } from './userfaultfd_k.js';

/** cp_flags of change_protection() (include/linux/mm.h). */
export const MM_CP = {
  TRY_CHANGE_WRITABLE: 1 << 0,
  UFFD_WP: 1 << 2,
  UFFD_WP_RESOLVE: 1 << 3,
} as const;

/**
 * vma_wants_manual_pte_write_upgrade(): may change_protection make entries writable itself, or
 * does vm_page_prot already say so? Private writable VMAs need it (their vm_page_prot is never
 * writable: COW); shared ones only when write-notify keeps write out of vm_page_prot — the
 * model's shared VMAs want write-notify when they are page-cache files of a filesystem that tracks
 * dirty pages, or registered for uffd-wp (vma_wants_writenotify's userfaultfd_wp check).
 */
function wantsManualWriteUpgrade(vma: Vma): boolean {
  if (!(vma.flags & VM.SHARED)) return (vma.flags & VM.WRITE) !== 0;
  return vmaWantsWritenotify(vma);
}

/** vma_wants_writenotify() for the model's VMAs (shared and writable only). */
export function vmaWantsWritenotify(vma: Vma): boolean {
  if ((vma.flags & (VM.SHARED | VM.WRITE)) !== (VM.SHARED | VM.WRITE)) return false;
  if (userfaultfdWp(vma)) return true;
  return !!vma.file && !vma.file.shmem;
}

/**
 * change_protection() over [start, end) of `vma` (inside it), whose flags already say the new
 * protections. Every present entry loses write (pte_modify with the new vm_page_prot); with
 * TRY_CHANGE_WRITABLE it gets write back where the write fault would give it anyway
 * (can_change_pte_writable). UFFD_WP sets the uffd-wp bit (write-protecting), on swap entries
 * too, and turns none entries into markers where the VMA uses them; UFFD_WP_RESOLVE clears the
 * bit and drops the markers. A PMD leaf only partly in the range is split first.
 */
export function changeProtection(k: Kernel, vma: Vma, start: number, end: number, cp: number): void {
  const pd = k.ptdesc;
  const writable = (vma.flags & VM.WRITE) !== 0;
  // A shared shmem VMA without write-notify has a writable vm_page_prot: pte_modify grants write.
  const protWrite =
    writable && (vma.flags & VM.SHARED) !== 0 && !!vma.file?.shmem && !vmaWantsWritenotify(vma);
  const tryWrite = writable && (cp & MM_CP.TRY_CHANGE_WRITABLE) !== 0;
  const markers = (cp & MM_CP.UFFD_WP) !== 0 && userfaultfdWpUseMarkers(vma);
  for (let a = start; a < end; ) {
    const next = Math.min(end, a - (a % PMD_SIZE) + PMD_SIZE);
    // change_pmd_prepare(): markers need a PTE table even where nothing was ever mapped.
    const pmdRow = pd.tableFor(vma.mm.pgd, a, PT_LEVEL.PMD, markers);
    if (pmdRow >= 0) {
      const pmdIdx = levelIndex(a, PT_LEVEL.PMD);
      let pmd = pd.get(pmdRow, pmdIdx);
      if (pmd !== 0 && entryBits(pmd) & PTE.HUGE && next - a !== PMD_SIZE) {
        splitHugePmd(k, vma, a - (a % PMD_SIZE), pmdRow, pmdIdx);
        pmd = pd.get(pmdRow, pmdIdx);
      }
      if (pmd !== 0 && entryBits(pmd) & PTE.HUGE) {
        pd.set(pmdRow, pmdIdx, changeHugePmd(k, vma, pmd, cp, protWrite, tryWrite));
      } else if (pmd !== 0 || markers) {
        const pteRow = pd.pteTableAt(pmdRow, pmdIdx);
        for (let b = a; b < next; b += PAGE_SIZE) {
          const i = levelIndex(b, PT_LEVEL.PTE);
          const pte = pd.get(pteRow, i);
          const now = changePte(k, vma, pte, cp, protWrite, tryWrite, markers);
          if (now !== pte) pd.set(pteRow, i, now);
        }
      }
    }
    a = next;
  }
}

/** change_pte_range() for one entry: what it becomes. */
function changePte(
  k: Kernel,
  vma: Vma,
  pte: number,
  cp: number,
  protWrite: boolean,
  tryWrite: boolean,
  markers: boolean,
): number {
  if (pte === 0) return markers ? mkUffdWpMarker() : 0;
  const bits = entryBits(pte);
  if (bits & PTE.PRESENT) {
    let e = withBits(pte, protWrite ? PTE.WRITE : 0, protWrite ? 0 : PTE.WRITE);
    if (cp & MM_CP.UFFD_WP) e = pteMkUffdWp(e);
    else if (cp & MM_CP.UFFD_WP_RESOLVE) e = pteClearUffdWp(e);
    if (tryWrite && !(entryBits(e) & PTE.WRITE) && canChangePteWritable(k, vma, e))
      e = withBits(e, PTE.WRITE, 0);
    return e;
  }
  // A marker: a resolve drops it (the next fault is an ordinary one); nothing else changes it.
  if (isPteMarker(pte)) return cp & MM_CP.UFFD_WP_RESOLVE && pteMarkerUffdWp(pte) ? 0 : pte;
  // A swap entry keeps its bits but the uffd-wp one (pte_swp_mkuffd_wp / pte_swp_clear_uffd_wp);
  // a hwpoison entry is left alone.
  if (!isSwapEntry(pte)) return pte;
  if (cp & MM_CP.UFFD_WP) return withBits(pte, PTE.UFFD_WP, 0);
  if (cp & MM_CP.UFFD_WP_RESOLVE) return pteClearUffdWp(pte);
  return pte;
}

/** change_huge_pmd(): the same rules for a PMD leaf (can_change_pmd_writable). */
function changeHugePmd(
  k: Kernel,
  vma: Vma,
  pmd: number,
  cp: number,
  protWrite: boolean,
  tryWrite: boolean,
): number {
  let e = withBits(pmd, protWrite ? PTE.WRITE : 0, protWrite ? 0 : PTE.WRITE);
  if (cp & MM_CP.UFFD_WP) e = pteMkUffdWp(e);
  else if (cp & MM_CP.UFFD_WP_RESOLVE) e = pteClearUffdWp(e);
  if (tryWrite && !(entryBits(e) & PTE.WRITE) && canChangePmdWritable(k, vma, e))
    e = withBits(e, PTE.WRITE, 0);
  return e;
}

/** can_change_pmd_writable(): a private PMD-mapped THP whose head is anon-exclusive and not uffd-wp. */
function canChangePmdWritable(k: Kernel, vma: Vma, pmd: number): boolean {
  if (vma.flags & VM.SHARED) return false;
  if (userfaultfdWp(vma) && pteUffdWp(pmd)) return false;
  const pfn = entryPfn(pmd);
  if (k.pa.isZeroPfn(pfn)) return false;
  const row = k.folios.pageRow(pfn);
  return row >= 0 && k.folios.kind[row] === MT.ANON && k.folios.pageAnonExclusive(row, pfn);
}

/**
 * can_change_pte_writable(): never an entry uffd-wp still tracks (maybe_change_pte_writable); in
 * a private mapping only an exclusive anon page (the write fault would reuse it); in a shared one
 * only a dirty entry (the filesystem was already told).
 */
export function canChangePteWritable(k: Kernel, vma: Vma, pte: number): boolean {
  if (userfaultfdWp(vma) && pteUffdWp(pte)) return false;
  if (entryBits(pte) & PTE.SPECIAL) return false;
  const pfn = entryPfn(pte);
  const row = k.folios.pageRow(pfn);
  if (row < 0) return false;
  if (!(vma.flags & VM.SHARED)) return k.folios.kind[row] === MT.ANON && k.folios.pageAnonExclusive(row, pfn);
  return (entryBits(pte) & PTE.DIRTY) !== 0;
}

/** The cp_flags of mprotect_fixup(): write upgrades where vm_page_prot cannot grant them. */
export const mprotectCpFlags = (vma: Vma): number =>
  wantsManualWriteUpgrade(vma) ? MM_CP.TRY_CHANGE_WRITABLE : 0;

/** uffd_wp_range(): UFFDIO_WRITEPROTECT's change_protection over one VMA's part of the range. */
export function uffdWpRange(k: Kernel, vma: Vma, start: number, end: number, enableWp: boolean): void {
  let cp: number = enableWp ? MM_CP.UFFD_WP : MM_CP.UFFD_WP_RESOLVE;
  // vm_page_prot already write-protects every entry of a uffd-wp VMA: resolving must upgrade itself.
  if (!enableWp && wantsManualWriteUpgrade(vma)) cp |= MM_CP.TRY_CHANGE_WRITABLE;
  changeProtection(k, vma, start, end, cp);
}
