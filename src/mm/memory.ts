/**
 * Page faults, copy-on-write, zapping and vm_normal_page().
 *
 * Models: mm/memory.c — handle_mm_fault, do_anonymous_page (the zero page on read faults),
 * do_read_fault / do_cow_fault / do_shared_fault, do_wp_page with its reuse-versus-copy rules
 * (wp_can_reuse_anon_folio, wp_page_copy, wp_page_shared; kernel-semantics R5), vm_normal_page
 * (R7.1), zap_pte_range (R12's dirtying on zap) and free_pgtables; mm/huge_memory.c —
 * do_huge_pmd_anonymous_page, the huge zero folio, do_huge_pmd_wp_page, __split_huge_pmd and the
 * deposited page table that makes a PMD split unable to fail.
 * Leaves out: swap, userfaultfd, NUMA hinting faults, mTHP sizes other than PMD, large file folios.
 */
import type { File } from './filemap.js';
import { PG } from './folio.js';
import type { Kernel } from './kernel.js';
import { MT, SPECIAL_PAGE, VMALLOC_PAGE } from './memdesc.js';
import {
  isCowMapping,
  MM_ANONPAGES,
  MM_FILEPAGES,
  type Mm,
  VM,
  type Vma,
  type VmFault,
  vmaIsAnonymous,
} from './mm_types.js';
import { GFP, GFP_HIGHUSER_MOVABLE, GFP_TRANSHUGE } from './page_alloc.js';
import { folioMarkDirty } from './page-writeback.js';
import {
  entryBits,
  entryPfn,
  LEVEL_SIZE,
  levelIndex,
  mkEntry,
  PMD_SIZE,
  PT_LEVEL,
  PTE,
  PTRS_PER_TABLE,
  TABLE_BITS,
  withBits,
} from './pgtable.js';
import {
  addNewAnonRmap,
  addRmapPtes,
  ksmRemoveMapping,
  mmCounter,
  removeRmapPmd,
  removeRmapPtes,
} from './rmap.js';
import { HPAGE_PMD_ORDER, KernelBug, KernelError, PAGE_SIZE } from './types.js';

/** fault flags (FAULT_FLAG_*). */
export const FAULT = { WRITE: 1, UNSHARE: 2, USER: 4, REMOTE: 8 } as const;

/** What a fault came to (vm_fault_t, reduced to what callers distinguish). */
export type FaultOutcome = 'ok' | 'sigsegv' | 'sigbus' | 'oom';

const HPAGE_PMD_NR = 1 << HPAGE_PMD_ORDER;

/** A user PTE for a frame with the VMA's protections (vm_page_prot), before COW write-protection. */
function userBits(vma: Vma, writable: boolean): number {
  return PTE.PRESENT | PTE.USER | PTE.YOUNG | (writable && vma.flags & VM.WRITE ? PTE.WRITE | PTE.DIRTY : 0);
}

/** anon_vma_prepare(). */
export function anonVmaPrepare(k: Kernel, vma: Vma): void {
  if (vma.anonVma) return;
  vma.anonVma = k.newAnonVma();
  vma.anonVma.vmas.add(vma);
}

/**
 * vm_normal_page(): the folio row a present entry maps "normally", SPECIAL_PAGE for a special
 * mapping (pfnmap, mixedmap special, the zero pages, frames without a descriptor), or VMALLOC_PAGE. With
 * pte_special the entry's bit decides (R7.1); without it, the VMA flags and the linear rule of
 * VM_PFNMAP do (R7.2). A special entry in an ordinary VMA, or a frame beyond every memmap, is the
 * kernel's "bad page map": a KernelBug.
 */
export function vmNormalPage(k: Kernel, vma: Vma, addr: number, entry: number): number {
  const pfn = entryPfn(entry);
  if (!k.pteSpecial) {
    if (vma.flags & VM.MIXEDMAP) {
      if (!k.pa.memmap.pfnValid(pfn) && !k.devmem.pfnValid(pfn)) return SPECIAL_PAGE;
    } else if (vma.flags & VM.PFNMAP) {
      // The untouched original of a linear pfnmap, or any entry of a mapping that cannot COW.
      if (pfn === vma.pgoff + (addr - vma.start) / PAGE_SIZE) return SPECIAL_PAGE;
      if (!isCowMapping(vma.flags)) return SPECIAL_PAGE;
    }
    if (k.pa.isZeroPfn(pfn)) return SPECIAL_PAGE;
  } else if (entryBits(entry) & PTE.SPECIAL) {
    if (vma.flags & (VM.PFNMAP | VM.MIXEDMAP)) return SPECIAL_PAGE;
    if (k.pa.isZeroPfn(pfn)) return SPECIAL_PAGE;
    throw new KernelBug(`bad page map: special entry at 0x${addr.toString(16)} in an ordinary VMA`, {
      pfn,
      rule: 'vm_normal_page: print_bad_page_map',
    });
  }
  if (pfn >= k.pa.maxPfn && k.devmem.pfnValid(pfn)) return k.folios.pageRow(pfn);
  if (!k.pa.memmap.pfnValid(pfn)) {
    throw new KernelBug(`bad page map: entry at 0x${addr.toString(16)} beyond highest_memmap_pfn`, {
      pfn,
      rule: 'vm_normal_page: pfn > highest_memmap_pfn',
    });
  }
  const row = k.folios.pageRow(pfn);
  return row < 0 && k.vmalloc.isPage(pfn) ? VMALLOC_PAGE : row;
}

/** The folio row of a PMD leaf, or -1 for the huge zero folio. */
function pmdFolio(k: Kernel, entry: number): number {
  const pfn = entryPfn(entry);
  return k.pa.isZeroPfn(pfn) ? -1 : k.folios.pageRow(pfn);
}

// ---------------------------------------------------------------- the fault entry

/** handle_mm_fault() for an address inside `vma` whose access was already permitted. */
export function handleMmFault(k: Kernel, vma: Vma, addr: number, flags: number): FaultOutcome {
  addr -= addr % PAGE_SIZE;
  k.stat.events.pgfault++;
  const write = (flags & FAULT.WRITE) !== 0;
  const wantsWrite = (flags & (FAULT.WRITE | FAULT.UNSHARE)) !== 0;
  const pd = k.ptdesc;
  const mm = vma.mm;
  let pmdRow: number;
  try {
    pmdRow = pd.tableFor(mm.pgd, addr, PT_LEVEL.PMD, true);
  } catch (e) {
    if (e instanceof KernelError) return 'oom';
    throw e;
  }
  const pmdIdx = levelIndex(addr, PT_LEVEL.PMD);
  const pmd = pd.get(pmdRow, pmdIdx);
  if (pmd === 0 && thpSuitable(k, vma, addr)) {
    const r = doHugePmdAnonymousPage(k, vma, addr, pmdRow, pmdIdx, write);
    if (r !== 'fallback') return r;
  } else if (pmd !== 0 && entryBits(pmd) & PTE.HUGE) {
    if (!wantsWrite || entryBits(pmd) & PTE.WRITE) {
      pd.set(pmdRow, pmdIdx, withBits(pmd, write ? PTE.YOUNG | PTE.DIRTY : PTE.YOUNG, 0));
      return 'ok';
    }
    const r = doHugePmdWpPage(k, vma, addr, pmdRow, pmdIdx, flags);
    if (r !== 'fallback') return r;
  }
  let pteRow: number;
  try {
    pteRow = pd.pteTableAt(pmdRow, pmdIdx);
  } catch (e) {
    if (e instanceof KernelError) return 'oom';
    throw e;
  }
  const i = levelIndex(addr, PT_LEVEL.PTE);
  const pte = pd.get(pteRow, i);
  if (pte === 0) return doPteMissing(k, vma, addr, pteRow, i, write);
  // A non-present entry is a hwpoison entry (memory-failure.ts): do_swap_page's VM_FAULT_HWPOISON.
  if (!(entryBits(pte) & PTE.PRESENT)) return 'sigbus';
  if (wantsWrite) {
    if (!(entryBits(pte) & PTE.WRITE))
      return doWpPage(k, vma, addr, pteRow, i, (flags & FAULT.UNSHARE) !== 0);
    if (write) pd.set(pteRow, i, withBits(pte, PTE.DIRTY | PTE.YOUNG, 0));
    return 'ok';
  }
  pd.set(pteRow, i, withBits(pte, PTE.YOUNG, 0));
  return 'ok';
}

function doPteMissing(
  k: Kernel,
  vma: Vma,
  addr: number,
  pteRow: number,
  i: number,
  write: boolean,
): FaultOutcome {
  if (vma.ops) return driverFault(k, vma, addr, write);
  if (vmaIsAnonymous(vma)) return doAnonymousPage(k, vma, addr, pteRow, i, write);
  if (!vma.file) return 'sigbus';
  const index = vma.pgoff + (addr - vma.start) / PAGE_SIZE;
  if (index >= Math.ceil(vma.file.size / PAGE_SIZE)) return 'sigbus';
  if (!write) return doReadFault(k, vma, addr, pteRow, i, index);
  if (!(vma.flags & VM.SHARED)) return doCowFault(k, vma, addr, pteRow, i, index);
  return doSharedFault(k, vma, addr, pteRow, i, index);
}

/** The fault-time view a driver's handlers get (struct vm_fault). */
const vmFault = (vma: Vma, addr: number, write: boolean): VmFault => ({
  vma,
  addr,
  pgoff: vma.pgoff + (addr - vma.start) / PAGE_SIZE,
  write,
});

/**
 * __do_fault() for a driver VMA: its vm_ops->fault installs the entry itself (VM_FAULT_NOPAGE via
 * vmf_insert_* or vm_insert_page); no handler means SIGBUS, as for a device without one.
 */
function driverFault(k: Kernel, vma: Vma, addr: number, write: boolean): FaultOutcome {
  const fault = vma.ops?.fault;
  if (!fault) return 'sigbus';
  const r = fault(vmFault(vma, addr, write));
  if (r !== 'nopage') return r;
  // A private write over what the driver mapped read-only is a COW fault at once (do_cow_fault).
  const slot = k.ptdesc.leafSlot(vma.mm.pgd, addr);
  const pte = slot >= 0 ? k.ptdesc.entries[slot] : 0;
  if (pte === 0) return 'sigbus';
  if (write && !(entryBits(pte) & PTE.WRITE)) {
    const pteRow = Math.floor(slot / PTRS_PER_TABLE);
    return doWpPage(k, vma, addr, pteRow, slot - pteRow * PTRS_PER_TABLE, false);
  }
  return 'ok';
}

/**
 * do_anonymous_page(): a read maps the shared zero page (special, read-only, no counts touched);
 * a write gets a new zeroed, exclusive anon folio.
 */
function doAnonymousPage(
  k: Kernel,
  vma: Vma,
  addr: number,
  pteRow: number,
  i: number,
  write: boolean,
): FaultOutcome {
  const pd = k.ptdesc;
  if (!write) {
    pd.set(pteRow, i, mkEntry(k.pa.zeroPfn, PTE.PRESENT | PTE.USER | PTE.SPECIAL | PTE.YOUNG));
    if (k.stat.tracing) k.stat.emit({ type: 'zero_page', mm: vma.mm.id, addr, pfn: k.pa.zeroPfn });
    return 'ok';
  }
  anonVmaPrepare(k, vma);
  const row = allocAnonFolio(k, 0);
  if (row < 0) return 'oom';
  addNewAnonRmap(k, row, vma, addr, false);
  vma.mm.rss[MM_ANONPAGES]++;
  const pfn = k.folios.pfn[row];
  pd.set(pteRow, i, mkEntry(pfn, userBits(vma, true)));
  if (k.stat.tracing) k.stat.emit({ type: 'fault', kind: 'anon', mm: vma.mm.id, addr, pfn });
  return 'ok';
}

/** A new anon folio, or -1 on ENOMEM (the fault then returns VM_FAULT_OOM). */
function allocAnonFolio(k: Kernel, order: number): number {
  try {
    const gfp = order === 0 ? GFP_HIGHUSER_MOVABLE | GFP.COMP : GFP_TRANSHUGE;
    return k.folios.alloc(gfp, order, MT.ANON) >>> 0;
  } catch (e) {
    if (e instanceof KernelError) return -1;
    throw e;
  }
}

/** Read the page-cache folio for a file fault, or -1 on ENOMEM. */
function fileFolio(k: Kernel, vma: Vma, index: number): number {
  try {
    return k.pagecache.getFolio(vma.file!, index);
  } catch (e) {
    if (e instanceof KernelError) return -1;
    throw e;
  }
}

/** Does a shared mapping write-protect its pages to track dirtying (vma_wants_writenotify)? */
const wantsWritenotify = (vma: Vma): boolean =>
  (vma.flags & VM.SHARED) !== 0 && !!vma.file && !vma.file.shmem;

/**
 * finish_fault() / set_pte_range() for a page-cache folio: the mapping takes a reference, joins
 * the file rmap and the rss, and gets its PTE.
 */
function mapPagecacheFolio(
  k: Kernel,
  vma: Vma,
  addr: number,
  pteRow: number,
  i: number,
  row: number,
  bits: number,
): void {
  const f = k.folios;
  f.refcount[row]++;
  addRmapPtes(k, row, f.pfn[row], 1, vma.mm);
  vma.mm.rss[mmCounter(f, row)]++;
  k.ptdesc.set(pteRow, i, mkEntry(f.pfn[row], bits));
  if (k.stat.tracing) k.stat.emit({ type: 'fault', kind: 'file', mm: vma.mm.id, addr, pfn: f.pfn[row] });
}

/** do_read_fault(): map the page-cache folio; writable only in shared mappings without writenotify. */
function doReadFault(
  k: Kernel,
  vma: Vma,
  addr: number,
  pteRow: number,
  i: number,
  index: number,
): FaultOutcome {
  const row = fileFolio(k, vma, index);
  if (row < 0) return 'oom';
  const writable = (vma.flags & VM.SHARED) !== 0 && !wantsWritenotify(vma);
  mapPagecacheFolio(
    k,
    vma,
    addr,
    pteRow,
    i,
    row,
    PTE.PRESENT | PTE.USER | PTE.YOUNG | (writable && vma.flags & VM.WRITE ? PTE.WRITE : 0),
  );
  return 'ok';
}

/** do_cow_fault(): a private write to an unmapped file page gets an anon copy at once. */
function doCowFault(
  k: Kernel,
  vma: Vma,
  addr: number,
  pteRow: number,
  i: number,
  index: number,
): FaultOutcome {
  const src = fileFolio(k, vma, index);
  if (src < 0) return 'oom';
  anonVmaPrepare(k, vma);
  const row = allocAnonFolio(k, 0);
  if (row < 0) return 'oom';
  const f = k.folios;
  k.frames.copyFrom(f.pfn[row], k.frames, f.pfn[src]);
  addNewAnonRmap(k, row, vma, addr, false);
  vma.mm.rss[MM_ANONPAGES]++;
  k.ptdesc.set(pteRow, i, mkEntry(f.pfn[row], userBits(vma, true)));
  if (k.stat.tracing)
    k.stat.emit({ type: 'cow', kind: 'file', mm: vma.mm.id, addr, from: f.pfn[src], pfn: f.pfn[row] });
  return 'ok';
}

/** do_shared_fault(): a shared write maps the page-cache folio writable and dirties it. */
function doSharedFault(
  k: Kernel,
  vma: Vma,
  addr: number,
  pteRow: number,
  i: number,
  index: number,
): FaultOutcome {
  const row = fileFolio(k, vma, index);
  if (row < 0) return 'oom';
  mapPagecacheFolio(k, vma, addr, pteRow, i, row, userBits(vma, true));
  folioMarkDirty(k, row);
  return 'ok';
}

// ---------------------------------------------------------------- write-protect faults

/**
 * wp_can_reuse_anon_folio() (R5.4). Small folios: only the sole reference holder may reuse; the
 * mapcount is not consulted. Large folios: never when mapped once (copy so the rest can be freed),
 * never when maybe mapped by another MM, and only when every reference is a mapping.
 */
export function canReuseAnonFolio(k: Kernel, row: number): boolean {
  const f = k.folios;
  if (f.testFlag(row, PG.ksm)) return false;
  if (!f.isLarge(row)) return f.refcount[row] === 1;
  const mapcount = f.mapcountOf(row);
  if (mapcount <= 1) return false;
  if (f.mmShared[f.large[row]]) return false;
  return mapcount === f.refcount[row];
}

/** do_wp_page(): a write (or unshare) fault on a present, write-protected PTE. */
function doWpPage(
  k: Kernel,
  vma: Vma,
  addr: number,
  pteRow: number,
  i: number,
  unshare: boolean,
): FaultOutcome {
  const pd = k.ptdesc;
  const pte = pd.get(pteRow, i);
  const row = vmNormalPage(k, vma, addr, pte);
  const f = k.folios;
  if (vma.flags & (VM.SHARED | VM.MAYSHARE)) {
    // wp_pfn_shared / wp_page_shared: the driver may refuse (SIGBUS) before the entry is reused.
    const hook = row === -1 ? vma.ops?.pfnMkwrite : vma.ops?.pageMkwrite;
    if (hook) {
      const r = hook(vmFault(vma, addr, true));
      if (r !== 'ok' && r !== 'nopage') return r;
    }
    // Reuse, never copy; the shared page becomes dirty.
    pd.set(pteRow, i, withBits(pte, PTE.WRITE | PTE.DIRTY | PTE.YOUNG, 0));
    if (row >= 0) folioMarkDirty(k, row);
    return 'ok';
  }
  const pfn = entryPfn(pte);
  if (row >= 0 && f.kind[row] === MT.ANON && (f.pageAnonExclusive(row, pfn) || canReuseAnonFolio(k, row))) {
    f.setPageAnonExclusive(row, pfn, true);
    if (unshare) return 'ok';
    pd.set(pteRow, i, withBits(pte, PTE.YOUNG | PTE.DIRTY | (vma.flags & VM.WRITE ? PTE.WRITE : 0), 0));
    k.stat.events.cow_reuse++;
    if (k.stat.tracing) k.stat.emit({ type: 'reuse', mm: vma.mm.id, addr, pfn });
    return 'ok';
  }
  return wpPageCopy(k, vma, addr, pteRow, i, row, unshare);
}

/**
 * wp_page_copy() (R5.5): a new exclusive anon page with the old contents (zeros for the zero
 * page); the old page loses this mapping and its reference. An unshare leaves the PTE read-only.
 */
function wpPageCopy(
  k: Kernel,
  vma: Vma,
  addr: number,
  pteRow: number,
  i: number,
  oldRow: number,
  unshare: boolean,
): FaultOutcome {
  const pd = k.ptdesc;
  const pte = pd.get(pteRow, i);
  const oldPfn = entryPfn(pte);
  anonVmaPrepare(k, vma);
  const row = allocAnonFolio(k, 0);
  if (row < 0) return 'oom';
  const f = k.folios;
  const pfn = f.pfn[row];
  if (!k.pa.isZeroPfn(oldPfn)) k.frames.copyFrom(pfn, k.frames, oldPfn);
  addNewAnonRmap(k, row, vma, addr, false);
  const mm = vma.mm;
  if (oldRow === VMALLOC_PAGE) {
    // A vmalloc page mapped by vm_insert_page: its file rss and mapping move to the new anon page.
    mm.rss[MM_FILEPAGES]--;
    mm.rss[MM_ANONPAGES]++;
  } else if (oldRow >= 0) {
    const counter = mmCounter(f, oldRow);
    if (counter !== MM_ANONPAGES) {
      mm.rss[counter]--;
      mm.rss[MM_ANONPAGES]++;
    }
  } else {
    mm.rss[MM_ANONPAGES]++;
  }
  const carried = entryBits(pte) & (PTE.SOFT_DIRTY | PTE.UFFD_WP);
  const bits = unshare ? PTE.PRESENT | PTE.USER | PTE.YOUNG | carried : userBits(vma, true);
  pd.set(pteRow, i, mkEntry(pfn, bits));
  if (oldRow >= 0) {
    removeRmapPtes(k, oldRow, oldPfn, 1, mm);
    if (f.testFlag(oldRow, PG.ksm)) ksmRemoveMapping(k, oldRow, mm, addr);
    f.putRow(oldRow);
  } else if (oldRow === VMALLOC_PAGE) {
    k.vmalloc.addMap(oldPfn, -1);
    k.vmalloc.put(oldPfn);
  }
  k.stat.events.cow_copy++;
  if (k.stat.tracing) k.stat.emit({ type: 'cow', mm: mm.id, addr, from: oldPfn, pfn, unshare });
  return 'ok';
}

// ---------------------------------------------------------------- THP

/** May a fault at `addr` map a PMD-sized anon folio (thp_vma_allowable_order for PMD_ORDER)? */
export function thpSuitable(k: Kernel, vma: Vma, addr: number): boolean {
  const mode = k.opts.thp;
  if (mode === 'never' || vma.flags & VM.NOHUGEPAGE) return false;
  if (mode === 'madvise' && !(vma.flags & VM.HUGEPAGE)) return false;
  if (!vmaIsAnonymous(vma) || vma.flags & VM.SHARED) return false;
  const haddr = addr - (addr % PMD_SIZE);
  return haddr >= vma.start && haddr + PMD_SIZE <= vma.end;
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
function doHugePmdAnonymousPage(
  k: Kernel,
  vma: Vma,
  addr: number,
  pmdRow: number,
  pmdIdx: number,
  write: boolean,
): FaultOutcome | 'fallback' {
  const haddr = addr - (addr % PMD_SIZE);
  const mm = vma.mm;
  // Before either branch, as the kernel does: a VMA mapping only the huge zero folio has an
  // anon_vma too, so fork copies its page tables (vma_needs_copy) and the child keeps the PMD.
  anonVmaPrepare(k, vma);
  if (!write && k.opts.thpZeroPage) {
    let zero: number;
    try {
      zero = k.pa.hugeZeroPfn();
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
  if (k.stat.tracing)
    k.stat.emit({ type: 'fault', kind: 'thp', mm: vma.mm.id, addr: haddr, pfn, order: HPAGE_PMD_ORDER });
}

/**
 * do_huge_pmd_wp_page(): a write (or unshare) of a write-protected PMD. The huge zero folio is
 * replaced by a new THP; an exclusive (or solely referenced) THP is reused; anything else splits the PMD and
 * the fault continues at PTE level, so only the written subpage is copied.
 */
function doHugePmdWpPage(
  k: Kernel,
  vma: Vma,
  addr: number,
  pmdRow: number,
  pmdIdx: number,
  flags: number,
): FaultOutcome | 'fallback' {
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
 * anon-exclusive bit is handed to every subpage. The huge zero folio becomes 512 small zero PTEs.
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
      pd.set(table, i, mkEntry(k.pa.zeroPfn, PTE.PRESENT | PTE.USER | PTE.SPECIAL | (bits & PTE.YOUNG)));
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

// ---------------------------------------------------------------- zap and page-table freeing

/**
 * zap_page_range_single / unmap_page_range over [start, end) of one VMA: clear every entry, drop
 * each normal page's mapping and reference, dirty file folios whose PTE was dirty (R12), adjust
 * rss. A PMD leaf only partly inside the range is split first.
 */
export function zapRange(k: Kernel, vma: Vma, start: number, end: number): void {
  const pd = k.ptdesc;
  const mm = vma.mm;
  for (let addr = start; addr < end; ) {
    const pmdRow = pd.tableFor(mm.pgd, addr, PT_LEVEL.PMD, false);
    const next = Math.min(end, addr - (addr % PMD_SIZE) + PMD_SIZE);
    if (pmdRow < 0) {
      addr = nextPopulated(k, mm, addr, end);
      continue;
    }
    const pmdIdx = levelIndex(addr, PT_LEVEL.PMD);
    const pmd = pd.get(pmdRow, pmdIdx);
    if (pmd !== 0 && entryBits(pmd) & PTE.HUGE) {
      const haddr = addr - (addr % PMD_SIZE);
      if (haddr === addr && next - addr === PMD_SIZE) {
        zapHugePmd(k, vma, haddr, pmdRow, pmdIdx);
        addr = next;
        continue;
      }
      splitHugePmd(k, vma, haddr, pmdRow, pmdIdx);
    }
    const pteRow = pd.tableFor(mm.pgd, addr, PT_LEVEL.PTE, false);
    if (pteRow >= 0) {
      for (let a = addr; a < next; a += PAGE_SIZE) {
        const i = levelIndex(a, PT_LEVEL.PTE);
        const pte = pd.get(pteRow, i);
        if (pte !== 0) zapPte(k, vma, a, pteRow, i, pte);
      }
    }
    addr = next;
  }
}

/** Skip to the next PMD-sized stretch that has a PMD table at all. */
function nextPopulated(k: Kernel, mm: Mm, addr: number, end: number): number {
  for (let level = PT_LEVEL.PUD; level <= PT_LEVEL.PGD; level++) {
    const above = k.ptdesc.tableFor(mm.pgd, addr, level, false);
    if (above >= 0) {
      const size = LEVEL_SIZE[level];
      return Math.min(end, addr - (addr % size) + size);
    }
  }
  return end;
}

function zapPte(k: Kernel, vma: Vma, addr: number, pteRow: number, i: number, pte: number): void {
  k.ptdesc.set(pteRow, i, 0);
  const row = vmNormalPage(k, vma, addr, pte);
  if (row === VMALLOC_PAGE) {
    vma.mm.rss[MM_FILEPAGES]--;
    k.vmalloc.addMap(entryPfn(pte), -1);
    k.vmalloc.put(entryPfn(pte));
    return;
  }
  if (row < 0) return;
  const f = k.folios;
  if (f.kind[row] !== MT.ANON && entryBits(pte) & PTE.DIRTY) folioMarkDirty(k, row);
  vma.mm.rss[mmCounter(f, row)]--;
  removeRmapPtes(k, row, entryPfn(pte), 1, vma.mm);
  if (f.testFlag(row, PG.ksm)) ksmRemoveMapping(k, row, vma.mm, addr);
  f.putRow(row);
}

function zapHugePmd(k: Kernel, vma: Vma, haddr: number, pmdRow: number, pmdIdx: number): void {
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
 * free_pgtables() after [start, end) was unmapped: free every page table below the PGD whose span
 * no VMA overlaps any more (the floor/ceiling rule), bottom-up. With `all`, the PGD goes too.
 */
export function freePgtables(k: Kernel, mm: Mm, start: number, end: number): void {
  freeLevel(k, mm, mm.pgd, PT_LEVEL.PGD, 0, start, end);
}

function overlapsVma(mm: Mm, s: number, e: number): boolean {
  let lo = 0;
  let hi = mm.vmas.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const v = mm.vmas[mid];
    if (v.end <= s) lo = mid + 1;
    else if (v.start >= e) hi = mid - 1;
    else return true;
  }
  return false;
}

function freeLevel(
  k: Kernel,
  mm: Mm,
  row: number,
  level: number,
  base: number,
  start: number,
  end: number,
): void {
  const pd = k.ptdesc;
  const size = LEVEL_SIZE[level];
  const first = Math.max(0, Math.floor((start - base) / size));
  const last = Math.min(PTRS_PER_TABLE - 1, Math.floor((end - 1 - base) / size));
  for (let i = first; i <= last; i++) {
    const e = pd.get(row, i);
    if (e === 0 || level === PT_LEVEL.PTE || entryBits(e) & PTE.HUGE) continue;
    const child = entryPfn(e);
    const s = base + i * size;
    if (level - 1 > PT_LEVEL.PTE) freeLevel(k, mm, child, level - 1, s, start, end);
    if (!overlapsVma(mm, s, s + size) && pd.used[child] === 0) {
      pd.set(row, i, 0);
      pd.free(pd.handleOf(child));
    }
  }
}

// ---------------------------------------------------------------- truncate

/**
 * truncate_setsize() + truncate_pagecache(): the new size takes effect, every mapping of pages
 * past it is zapped (private COW copies too: even_cows), those folios leave the page cache with
 * their data, and the tail of a partial last page reads as zeros.
 */
export function truncateFile(k: Kernel, f: File, size: number): void {
  const newPages = Math.ceil(size / PAGE_SIZE);
  const shrinking = size < f.size;
  f.size = size;
  if (shrinking) {
    for (const vma of [...f.mmap]) {
      const start = Math.max(vma.start, vma.start + (newPages - vma.pgoff) * PAGE_SIZE);
      if (start < vma.end) zapRange(k, vma, start, vma.end);
    }
    for (const index of [...k.pagecache.cachedFrom(f, newPages)]) k.pagecache.removeFolio(f, index, true);
    for (let i = newPages; i < f.pages.length; i++) f.backing.clear(i);
  }
  const tail = size % PAGE_SIZE;
  if (tail !== 0) {
    const index = newPages - 1;
    f.backing.fillRange(index, tail, PAGE_SIZE - tail, 0);
    const row = k.pagecache.lookup(f, index);
    if (row >= 0) k.frames.fillRange(k.folios.pfn[row], tail, PAGE_SIZE - tail, 0);
  }
}
