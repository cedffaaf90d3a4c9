/**
 * Process creation, fork() and exit().
 *
 * Models: kernel/fork.c (dup_mmap: VM_DONTCOPY VMAs are skipped, VM_WIPEONFORK ones start empty),
 * mm/memory.c copy_page_range (vma_needs_copy; copy_present_ptes — share and
 * write-protect, or give the child its own copy of a maybe-pinned exclusive anon page),
 * copy_nonpresent_pte for swap entries and uffd-wp markers, mm/huge_memory.c copy_huge_pmd, dup_userfaultfd
 * (userfaultfd_k.ts), and exit_mmap (zap everything, free every page table).
 * A fork that runs out of memory tears the half-built child down and fails with ENOMEM.
 */
import { PG } from './folio.js';
import { splitHugePmd } from './huge_memory.js';
import type { Kernel } from './kernel.js';
import { INT32_FRAMES, MT, PFN_SECTION_SHIFT, SMALL_ANON_WORD, VMALLOC_PAGE } from './memdesc.js';
import { vmNormalPage } from './memory.js';
import { freePgtables, zapRange } from './memory_zap.js';
import {
  isCowMapping,
  MM_ANONPAGES,
  MM_FILEPAGES,
  MM_SWAPENTS,
  MMF,
  type Mm,
  type Process,
  VM,
  type Vma,
} from './mm_types.js';
import { GFP, GFP_HIGHUSER_MOVABLE } from './mmzone.js';
import {
  ENTRY_UNIT,
  entryBits,
  entryPfn,
  isPteMarker,
  isSwapEntry,
  levelIndex,
  mkEntry,
  PMD_SIZE,
  PT_LEVEL,
  PTE,
  PTRS_PER_TABLE,
  swapOffset,
  swpClearExclusive,
  withBits,
} from './pgtable.js';
import { addNewAnonRmap, addRmapPmd, addRmapPtes, ksmAddMapping, mmCounter } from './rmap.js';
import { HPAGE_PMD_ORDER, PAGE_SIZE, PAGES_PER_SECTION } from './types.js';
import { dupUserfaultfd, userfaultfdWp } from './userfaultfd_k.js';

const HPAGE_PMD_NR = 1 << HPAGE_PMD_ORDER;

/** mm_alloc() with its PGD. */
export function mmAlloc(k: Kernel): Mm {
  const id = k.allocMmId();
  const pgd = k.ptdesc.alloc(PT_LEVEL.PGD, id) >>> 0;
  const mm: Mm = { id, pgd, vmas: [], rss: [0, 0, 0, 0], flags: 0, deposited: new Map() };
  k.mms.add(mm);
  return mm;
}

/** A new process with an empty address space (what execve leaves before mapping anything). */
export function spawn(k: Kernel, name: string, parent = 0): Process {
  const mm = mmAlloc(k);
  const p: Process = { pid: k.allocPid(), name, mm, signals: [], parent, alive: true };
  k.processes.set(p.pid, p);
  return p;
}

/**
 * vma_needs_copy(): page tables are copied eagerly only where a later fault could not rebuild
 * them — including a child VMA that keeps uffd-wp, whose bits and markers no fault could restore.
 */
function vmaNeedsCopy(dst: Vma, src: Vma): boolean {
  if (userfaultfdWp(dst)) return true;
  return (dst.flags & (VM.PFNMAP | VM.MIXEDMAP)) !== 0 || src.anonVma !== null;
}

/** fork(): duplicate the address space of `parent` into a new process. */
export function doFork(k: Kernel, parent: Process, name: string): Process {
  const child = spawn(k, name, parent.pid);
  try {
    for (const src of parent.mm.vmas) {
      if (src.flags & VM.DONTCOPY) continue;
      const wipe = (src.flags & VM.WIPEONFORK) !== 0;
      const dst: Vma = { ...src, mm: child.mm, anonVma: wipe ? null : src.anonVma };
      dupUserfaultfd(parent.mm, child.mm, dst);
      child.mm.vmas.push(dst);
      dst.file?.mmap.add(dst);
      dst.anonVma?.vmas.add(dst);
      k.vmaTouched.add(parent.mm, src.start, src.end); // copy_page_range rewrites these entries in place
      if (!wipe && vmaNeedsCopy(dst, src)) copyPageRange(k, dst, src);
    }
  } catch (e) {
    exitMmap(k, child.mm);
    k.processes.delete(child.pid);
    throw e;
  }
  return child;
}

/** copy_page_range() for one VMA, one PMD-sized stretch at a time. */
function copyPageRange(k: Kernel, dst: Vma, src: Vma): void {
  const pd = k.ptdesc;
  for (let addr = src.start; addr < src.end; ) {
    const next = Math.min(src.end, addr - (addr % PMD_SIZE) + PMD_SIZE);
    const pmdRow = pd.tableFor(src.mm.pgd, addr, PT_LEVEL.PMD, false);
    if (pmdRow >= 0) {
      const pmdIdx = levelIndex(addr, PT_LEVEL.PMD);
      const pmd = pd.get(pmdRow, pmdIdx);
      if (pmd !== 0 && entryBits(pmd) & PTE.HUGE && copyHugePmd(k, dst, src, addr, pmdRow, pmdIdx)) {
        addr = next;
        continue;
      }
      // No PMD leaf (or it was just split): copy the PTEs, allocating the child's table on demand.
      const e = pd.get(pmdRow, pmdIdx);
      if (e !== 0) copyPteRange(k, dst, src, entryPfn(e), addr, next, pmdIdx);
    }
    addr = next;
  }
}

/**
 * copy_pte_range() over [addr, end) of one source PTE table. It marks nothing for the incremental
 * check: the child's tables are new (marked when allocated) and doFork marks the parent's range,
 * whose tables lead the check to every folio shared.
 */
function copyPteRange(
  k: Kernel,
  dst: Vma,
  src: Vma,
  srcPte: number,
  addr: number,
  end: number,
  pmdIdx: number,
): void {
  const pd = k.ptdesc;
  const inline = k.pteSpecial && (src.mm.flags & MMF.HAS_PINNED) === 0;
  const cow = isCowMapping(src.flags);
  const drop = childDropBits(src, dst);
  const base = srcPte * PTRS_PER_TABLE;
  const first = levelIndex(addr, PT_LEVEL.PTE);
  const last = first + (end - addr) / PAGE_SIZE;
  let dstPte = -1;
  for (let i = first; i < last; i++) {
    if (pd.entries[base + i] === 0) continue;
    if (dstPte < 0) {
      const dstPmd = pd.tableFor(dst.mm.pgd, addr, PT_LEVEL.PMD, true);
      dstPte = pd.pteTableAt(dstPmd, pmdIdx);
    }
    if (inline) {
      i = shareSmallAnonPtes(k, dst.mm, base, dstPte, i, last, cow, drop);
      if (i === last) break;
    }
    // Read after the child's table exists: allocating it may have grown (replaced) the array.
    const pte = pd.entries[base + i];
    const a = addr + (i - first) * PAGE_SIZE;
    if (isSwapEntry(pte)) copyNonpresentPte(k, dst, srcPte, dstPte, i, pte);
    else if (isPteMarker(pte)) {
      // copy_pte_marker(): a uffd-wp marker survives only into a child VMA that keeps uffd-wp.
      if (userfaultfdWp(dst)) pd.set(dstPte, i, pte);
    } else copyPresentPte(k, dst, src, a, srcPte, dstPte, i, pte);
  }
}

// shareSmallAnonPtes's constants as this module's own bindings: V8 reloads an imported binding
// (checking it is initialised) at every use inside a loop, while it folds a module's own const.
const RUN_UNIT = ENTRY_UNIT;
const RUN_MASK = PTE.PRESENT | PTE.SPECIAL;
const RUN_PRESENT = PTE.PRESENT;
const RUN_WRITE = PTE.WRITE;
const RUN_SECTION_SHIFT = PFN_SECTION_SHIFT;
const RUN_SECTION_MASK = PAGES_PER_SECTION - 1;
const RUN_WORD = SMALL_ANON_WORD;
const RUN_KSM = PG.ksm;
const RUN_EXCLUSIVE = PG.anon_exclusive;

/**
 * copy_pte_range()'s common case, from entry `i` on: a present small anon folio that is not KSM,
 * in an mm that never pinned anything — nearly every entry of a big fork — is shared inline, what
 * copyPresentPte() does for it without the general lookups, in a loop that calls nothing (so the
 * arrays it reads stay loaded). The memmap lookup is int32 arithmetic: frames from 2^31 on go to
 * the general path. Returns the first nonzero entry it left to that path, or `last`.
 */
function shareSmallAnonPtes(
  k: Kernel,
  mm: Mm,
  base: number,
  dstPte: number,
  i: number,
  last: number,
  cow: boolean,
  drop: number,
): number {
  const ents = k.ptdesc.entries;
  const { flags, mapcount, refcount } = k.folios;
  const memmap = k.pa.memmap;
  const maxPfn = Math.min(k.pa.maxPfn, INT32_FRAMES);
  const dstBase = dstPte * PTRS_PER_TABLE;
  let section = -1;
  let words: Uint32Array | undefined;
  let n = 0;
  for (; i < last; i++) {
    const pte = ents[base + i];
    if (pte === 0) continue;
    const pfn = Math.floor(pte / RUN_UNIT);
    const bits = pte - pfn * RUN_UNIT;
    if ((bits & RUN_MASK) !== RUN_PRESENT || pfn >= maxPfn) break;
    const p = pfn | 0;
    if (p >> RUN_SECTION_SHIFT !== section) {
      section = p >> RUN_SECTION_SHIFT;
      words = memmap.sectionWords(section);
    }
    if (words === undefined) break;
    const w = (p & RUN_SECTION_MASK) << 1;
    if (words[w] !== RUN_WORD) break;
    const row = words[w + 1];
    if (flags[row] & RUN_KSM) break;
    // folio_try_dup_anon_rmap_pte() on a small folio, then step 5 of copyPresentPte().
    flags[row] &= ~RUN_EXCLUSIVE;
    mapcount[row]++;
    refcount[row]++;
    let child = pte - (bits & drop);
    if (bits & RUN_WRITE && cow) {
      ents[base + i] = pte - RUN_WRITE;
      child -= RUN_WRITE;
    }
    ents[dstBase + i] = child;
    n++;
  }
  k.ptdesc.used[dstPte] += n;
  mm.rss[MM_ANONPAGES] += n;
  return i;
}

/**
 * The bits a child's copy of a present entry loses besides WRITE: it is old, it did not pin
 * anything (a design's software "pinned" bit stays with the parent), its uffd-wp bit goes unless
 * its VMA is still registered (EVENT_FORK: dup_userfaultfd), and in a shared mapping it is clean.
 */
function childDropBits(src: Vma, dst: Vma): number {
  return (
    PTE.YOUNG | PTE.SW1 | (userfaultfdWp(dst) ? 0 : PTE.UFFD_WP) | (src.flags & VM.SHARED ? PTE.DIRTY : 0)
  );
}

/**
 * copy_present_ptes() for one entry. Special entries are copied as they are; file pages gain
 * a reference and a mapping; anon pages are shared (anon-exclusive cleared) unless they may be
 * DMA-pinned while exclusive, in which case the child gets a private copy and the parent's PTE is
 * left alone — the pin keeps seeing the parent's page.
 */
function copyPresentPte(
  k: Kernel,
  dst: Vma,
  src: Vma,
  addr: number,
  srcPte: number,
  dstPte: number,
  i: number,
  pte: number,
): void {
  const pd = k.ptdesc;
  const f = k.folios;
  const row = vmNormalPage(k, src, addr, pte);
  const pfn = entryPfn(pte);
  if (row >= 0 && f.kind[row] === MT.ANON) {
    const maybePinned =
      (src.mm.flags & MMF.HAS_PINNED) !== 0 && k.maybeDmaPinned(row, pfn, { mm: src.mm, addr });
    if (maybePinned && f.pageAnonExclusive(row, pfn)) {
      copyPresentPage(k, dst, addr, dstPte, i, pfn);
      return;
    }
    if (f.large[row] < 0) {
      // A small folio: folio_try_dup_anon_rmap_pte() inline — the common case of a big fork.
      f.flags[row] &= ~PG.anon_exclusive;
      f.mapcount[row]++;
    } else {
      f.setPageAnonExclusive(row, pfn, false);
      addRmapPtes(k, row, pfn, 1, dst.mm);
    }
    f.refcount[row]++;
    dst.mm.rss[MM_ANONPAGES]++;
    // A KSM page is shared like any anon page; its stable node learns of the child's mapping.
    if (f.flags[row] & PG.ksm) ksmAddMapping(k, row, dst.mm, addr);
  } else if (row >= 0) {
    f.refcount[row]++;
    addRmapPtes(k, row, pfn, 1, dst.mm);
    dst.mm.rss[mmCounter(f, row)]++;
  } else if (row === VMALLOC_PAGE) {
    // A vmalloc page inserted by vm_insert_page: a file-rmap dup on its scamem.
    k.vmalloc.get(pfn);
    k.vmalloc.addMap(pfn, 1);
    dst.mm.rss[MM_FILEPAGES]++;
  }
  // Step 5: write-protect both sides of a COW mapping; the child's entry is old (and clean when shared).
  const bits = entryBits(pte);
  let drop = childDropBits(src, dst);
  if (bits & PTE.WRITE && isCowMapping(src.flags)) {
    pd.entries[srcPte * PTRS_PER_TABLE + i] = pte - PTE.WRITE;
    drop |= PTE.WRITE;
  }
  pd.set(dstPte, i, pte - (bits & drop));
}

/**
 * copy_nonpresent_pte() for a swap entry: the slot gains the child's reference (swap_duplicate),
 * and the page is no longer exclusive to anyone — the marker is cleared in the parent's entry
 * and the child's copy, so neither side may later map it writable without checking. The child's
 * entry loses uffd-wp unless its VMA kept the registration (pte_swp_clear_uffd_wp).
 */
function copyNonpresentPte(
  k: Kernel,
  dst: Vma,
  srcPte: number,
  dstPte: number,
  i: number,
  pte: number,
): void {
  k.swap!.dup(swapOffset(pte));
  const shared = swpClearExclusive(pte);
  if (shared !== pte) k.ptdesc.entries[srcPte * PTRS_PER_TABLE + i] = shared;
  k.ptdesc.set(dstPte, i, userfaultfdWp(dst) ? shared : withBits(shared, 0, PTE.UFFD_WP));
  dst.mm.rss[MM_SWAPENTS]++;
}

/** copy_present_page(): the child's own copy of a page the parent may have pinned. */
function copyPresentPage(k: Kernel, dst: Vma, addr: number, dstPte: number, i: number, srcPfn: number): void {
  const row = k.folios.alloc(GFP_HIGHUSER_MOVABLE | GFP.COMP, 0, MT.ANON) >>> 0;
  const pfn = k.folios.pfn[row];
  k.frames.copyFrom(pfn, k.frames, srcPfn);
  addNewAnonRmap(k, row, dst, addr, false);
  dst.mm.rss[MM_ANONPAGES]++;
  const bits = PTE.PRESENT | PTE.USER | (dst.flags & VM.WRITE ? PTE.WRITE | PTE.DIRTY : 0);
  k.ptdesc.set(dstPte, i, mkEntry(pfn, bits));
  k.stat.events.fork_copy++;
  if (k.stat.tracing) k.stat.emit({ type: 'fork_copy', mm: dst.mm.id, addr, from: srcPfn, pfn });
}

/**
 * copy_huge_pmd(): share a PMD-mapped THP (or the huge zero folio) with the child, both
 * write-protected. A maybe-pinned exclusive THP is instead split in the parent, and the caller
 * copies its PTEs one by one. Returns false when it split.
 */
function copyHugePmd(k: Kernel, dst: Vma, src: Vma, haddr: number, pmdRow: number, pmdIdx: number): boolean {
  const pd = k.ptdesc;
  const f = k.folios;
  const pmd = pd.get(pmdRow, pmdIdx);
  const pfn = entryPfn(pmd);
  const row = k.pa.isZeroPfn(pfn) ? -1 : f.pageRow(pfn);
  if (
    row >= 0 &&
    (src.mm.flags & MMF.HAS_PINNED) !== 0 &&
    // folio_try_dup_anon_rmap_pmd() asks of the folio (a pin on any page of it).
    k.folioMaybeDmaPinned(row, { mm: src.mm, addr: haddr }) &&
    f.pageAnonExclusive(row, pfn)
  ) {
    splitHugePmd(k, src, haddr, pmdRow, pmdIdx);
    return false;
  }
  const dstPmd = pd.tableFor(dst.mm.pgd, haddr, PT_LEVEL.PMD, true);
  dst.mm.deposited.set(haddr, pd.alloc(PT_LEVEL.PTE, dst.mm.id) >>> 0);
  if (row >= 0) {
    f.setPageAnonExclusive(row, pfn, false);
    f.refcount[row]++;
    addRmapPmd(k, row, dst.mm);
    dst.mm.rss[MM_ANONPAGES] += HPAGE_PMD_NR;
    pd.set(pmdRow, pmdIdx, withBits(pmd, 0, PTE.WRITE));
  }
  pd.set(dstPmd, pmdIdx, withBits(pmd, 0, PTE.WRITE | PTE.YOUNG | (userfaultfdWp(dst) ? 0 : PTE.UFFD_WP)));
  return true;
}

/** exit_mmap(): unmap every VMA, then free every page table including the PGD. */
export function exitMmap(k: Kernel, mm: Mm): void {
  for (const v of mm.vmas) zapRange(k, v, v.start, v.end, { dropMarkers: true });
  for (const v of mm.vmas) {
    v.file?.mmap.delete(v);
    v.anonVma?.vmas.delete(v);
  }
  mm.vmas = [];
  freePgtables(k, mm, 0, 2 ** 48);
  k.ptdesc.free(k.ptdesc.handleOf(mm.pgd));
  k.mms.delete(mm);
}

/** exit(): the process's memory goes; its record stays for reports. */
export function doExit(k: Kernel, p: Process): void {
  exitMmap(k, p.mm);
  p.alive = false;
}
