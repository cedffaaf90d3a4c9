/**
 * Page faults and copy-on-write.
 *
 * Models: mm/memory.c — handle_mm_fault, do_anonymous_page (the zero page on read faults),
 * do_read_fault / do_cow_fault / do_shared_fault, do_wp_page with its reuse-versus-copy rules
 * (wp_can_reuse_anon_folio, wp_page_copy, wp_page_shared), handle_pte_marker,
 * (zapping and free_pgtables are memory_zap.ts). Every handler takes one
 * vm_fault record (internal.ts). PMD-level faults, splits and zaps are in huge_memory.ts.
 * A swap entry's fault is do_swap_page.ts; its zap, swapfile.ts (free_swap_and_cache).
 * The anonymous fault on an empty PTE, with its mTHP sizes, is memory_anon.ts; vm_normal_page,
 * vm_normal_page.ts (re-exported here).
 * userfaultfd's write-protect faults are delivered here (do_wp_page, wp_huge_pmd, the uffd-wp PTE
 * marker) through userfaultfd_k.ts.
 * Leaves out: userfaultfd's missing and minor modes, NUMA hinting faults, large file folios.
 */
import { doSwapPage } from './do_swap_page.js';
import { PG } from './folio.js';
import { doHugePmdAnonymousPage, doHugePmdWpPage, splitHugePmd, thpSuitable } from './huge_memory.js';
import {
  allocAnonFolio,
  anonVmaPrepare,
  FAULT,
  type FaultOutcome,
  userBits,
  type Vmf,
  vmFault,
  vmfGet,
  vmfPut,
} from './internal.js';
import type { Kernel } from './kernel.js';
import { MT, VMALLOC_PAGE } from './memdesc.js';
import { doAnonymousPage } from './memory_anon.js';
import { doCowFault, doReadFault, doSharedFault } from './memory_file.js';
import { zapRange } from './memory_zap.js';
import { MM_ANONPAGES, MM_FILEPAGES, VM, type Vma, vmaIsAnonymous } from './mm_types.js';
import { folioMarkDirty } from './page-writeback.js';
import {
  entryBits,
  entryPfn,
  isPteMarker,
  isSwapEntry,
  LEVEL_SIZE,
  levelIndex,
  mkEntry,
  PMD_SIZE,
  PT_LEVEL,
  PTE,
  PTRS_PER_TABLE,
  pteClearUffdWp,
  pteMkUffdWp,
  withBits,
} from './pgtable.js';
import { addNewAnonRmap, ksmRemoveMapping, mmCounter, removeRmapPtes } from './rmap.js';
import { folioFreeSwap, freeSwapCache } from './swapfile.js';
import { KernelBug, KernelError, mod, PAGE_SIZE } from './types.js';
import { handleUserfault, userfaultfdPteWp, userfaultfdWp, userfaultfdWpAsync } from './userfaultfd_k.js';
import { vmNormalPage } from './vm_normal_page.js';

export { vmNormalPage } from './vm_normal_page.js';

// ---------------------------------------------------------------- the fault entry

/** handle_mm_fault() for an address inside `vma` whose access was already permitted. */
export function handleMmFault(k: Kernel, vma: Vma, addr: number, flags: number): FaultOutcome {
  // mod(), not %: an address above 2^31 makes % a call to fmod, on every fault.
  const vmf = vmfGet(vma, addr - mod(addr, PAGE_SIZE), flags);
  // Where the walk ends before the fault (no allocation: faults are hot): what the fault
  // allocates or fills below that entry is its own. Only a driver's hooks BUG on their caller's
  // misuse (vmf_insert_pfn and friends in vm_ops); anywhere else a KernelBug is the model's own,
  // reported as it is, so only a driver's fault walks first.
  const pd = k.ptdesc;
  let table = vma.mm.pgd;
  let level: number = PT_LEVEL.PGD;
  let i = levelIndex(vmf.addr, level);
  let was = vma.ops === undefined ? -1 : pd.get(table, i); // -1: not walked, nothing to undo
  while (was > 0 && level > PT_LEVEL.PTE && !(entryBits(was) & PTE.HUGE)) {
    table = entryPfn(was);
    level--;
    i = levelIndex(vmf.addr, level);
    was = pd.get(table, i);
  }
  try {
    return handleFault(k, vmf);
  } catch (e) {
    if (e instanceof KernelBug && was === 0) undoFault(k, vma, vmf.addr, level, table, i);
    throw e;
  } finally {
    vmfPut();
  }
}

/**
 * A KernelBug inside a fault (a driver's vm_ops->fault calling an insert it may not) is an oops in
 * Linux; the model reports it and keeps the machine usable, as it was before the fault: what the
 * fault installed at its address is zapped and the page tables it allocated go back to the buddy
 * allocator (zap_page_range_single + free_pgtables over the tables it added; nothing in Linux
 * does this, since an oops never returns). Entries the driver inserted elsewhere, in tables that
 * already existed, stay — they are ordinary driver mappings.
 */
function undoFault(k: Kernel, vma: Vma, addr: number, level: number, table: number, i: number): void {
  const pd = k.ptdesc;
  if (pd.get(table, i) === 0) return;
  // Everything under the entry that was empty is new: zap what it maps, then free its tables.
  const size = LEVEL_SIZE[level];
  const base = addr - (addr % size);
  zapRange(k, vma, Math.max(vma.start, base), Math.min(vma.end, base + size));
  if (level === PT_LEVEL.PTE) return;
  const after = pd.get(table, i);
  if (after === 0 || entryBits(after) & PTE.HUGE) return;
  freeSubtree(k, entryPfn(after), level - 1);
  pd.set(table, i, 0);
}

/** free_pgd_range() below one table whose entries were all zapped: the tables, bottom-up. */
function freeSubtree(k: Kernel, row: number, level: number): void {
  const pd = k.ptdesc;
  if (level > PT_LEVEL.PTE) {
    for (let i = 0; i < PTRS_PER_TABLE && pd.used[row] > 0; i++) {
      const e = pd.get(row, i);
      if (e === 0 || entryBits(e) & PTE.HUGE) continue;
      freeSubtree(k, entryPfn(e), level - 1);
      pd.set(row, i, 0);
    }
  }
  pd.free(pd.handleOf(row));
}

/** __handle_mm_fault(): walk to the PMD, then the THP paths, then the PTE paths, on one vm_fault. */
function handleFault(k: Kernel, vmf: Vmf): FaultOutcome {
  const { vma, addr, flags, write } = vmf;
  k.stat.events.pgfault++;
  const wantsWrite = (flags & (FAULT.WRITE | FAULT.UNSHARE)) !== 0;
  const pd = k.ptdesc;
  let pmdRow: number;
  try {
    pmdRow = pd.tableFor(vma.mm.pgd, addr, PT_LEVEL.PMD, true);
  } catch (e) {
    if (e instanceof KernelError) return 'oom';
    throw e;
  }
  const pmdIdx = levelIndex(addr, PT_LEVEL.PMD);
  vmf.pmdRow = pmdRow;
  vmf.pmdIdx = pmdIdx;
  const pmd = pd.get(pmdRow, pmdIdx);
  if (pmd === 0 && thpSuitable(k, vma, addr)) {
    const r = doHugePmdAnonymousPage(k, vmf);
    if (r !== 'fallback') return r;
  } else if (pmd !== 0 && entryBits(pmd) & PTE.HUGE) {
    if (!wantsWrite || entryBits(pmd) & PTE.WRITE) {
      pd.set(pmdRow, pmdIdx, withBits(pmd, write ? PTE.YOUNG | PTE.DIRTY : PTE.YOUNG, 0));
      return 'ok';
    }
    // wp_huge_pmd(): a uffd-wp PMD waits for the monitor, or (WP_ASYNC) goes to the PTE level split.
    if (!(flags & FAULT.UNSHARE) && userfaultfdPteWp(vma, pmd)) {
      if (!userfaultfdWpAsync(vma)) return handleUserfault(vma, addr);
      splitHugePmd(k, vma, addr - (addr % PMD_SIZE), pmdRow, pmdIdx);
    } else {
      const r = doHugePmdWpPage(k, vmf);
      if (r !== 'fallback') return r;
    }
  }
  let pteRow: number;
  try {
    pteRow = pd.pteTableAt(pmdRow, pmdIdx);
  } catch (e) {
    if (e instanceof KernelError) return 'oom';
    throw e;
  }
  const i = levelIndex(addr, PT_LEVEL.PTE);
  vmf.pteRow = pteRow;
  vmf.ptIdx = i;
  let pte = pd.get(pteRow, i);
  if (pte === 0) return doPteMissing(k, vmf);
  if (isPteMarker(pte)) return handlePteMarker(k, vmf);
  if (!(entryBits(pte) & PTE.PRESENT)) {
    // do_swap_page(): a swap entry comes back; a hwpoison entry (memory-failure.ts) is VM_FAULT_HWPOISON.
    const r = isSwapEntry(pte) ? doSwapPage(k, vmf) : 'sigbus';
    if (r !== 'ok') return r;
    pte = pd.get(pteRow, i);
  }
  if (wantsWrite) {
    if (!(entryBits(pte) & PTE.WRITE)) return doWpPage(k, vmf, (flags & FAULT.UNSHARE) !== 0);
    if (write) pd.set(pteRow, i, withBits(pte, PTE.DIRTY | PTE.YOUNG, 0));
    return 'ok';
  }
  pd.set(pteRow, i, withBits(pte, PTE.YOUNG, 0));
  return 'ok';
}

/**
 * handle_pte_marker() for a uffd-wp marker: a leftover in a VMA no longer registered is dropped
 * (the retried access faults on a none entry); otherwise do_pte_missing's fault runs and the entry
 * it installs is write-protected (vmf_orig_pte_uffd_wp in do_anonymous_page and set_pte_range),
 * so a write faults once more, on the protection. A fault that fails leaves the marker.
 */
function handlePteMarker(k: Kernel, vmf: Vmf): FaultOutcome {
  const { vma, pteRow, ptIdx } = vmf;
  const marker = k.ptdesc.get(pteRow, ptIdx);
  k.ptdesc.set(pteRow, ptIdx, 0);
  if (!userfaultfdWp(vma)) return 'ok';
  const r = doPteMissing(k, vmf);
  const e = k.ptdesc.get(pteRow, ptIdx);
  if (e === 0) k.ptdesc.set(pteRow, ptIdx, marker);
  else if (entryBits(e) & PTE.PRESENT) k.ptdesc.set(pteRow, ptIdx, pteMkUffdWp(e));
  return r;
}

function doPteMissing(k: Kernel, vmf: Vmf): FaultOutcome {
  const { vma, addr, write } = vmf;
  if (vma.ops) return driverFault(k, vmf);
  if (vmaIsAnonymous(vma)) return doAnonymousPage(k, vmf);
  if (!vma.file) return 'sigbus';
  const index = vma.pgoff + (addr - vma.start) / PAGE_SIZE;
  if (index >= Math.ceil(vma.file.size / PAGE_SIZE)) return 'sigbus';
  if (!write) return doReadFault(k, vmf, index);
  if (!(vma.flags & VM.SHARED)) return doCowFault(k, vmf, index);
  return doSharedFault(k, vmf, index);
}

/**
 * __do_fault() for a driver VMA: its vm_ops->fault installs the entry itself (VM_FAULT_NOPAGE via
 * vmf_insert_* or vm_insert_page); no handler means SIGBUS, as for a device without one.
 */
function driverFault(k: Kernel, vmf: Vmf): FaultOutcome {
  const { vma, addr, write } = vmf;
  const fault = vma.ops?.fault;
  if (!fault) return 'sigbus';
  const r = fault(vmFault(vma, addr, write));
  if (r !== 'nopage') return r;
  // A private write over what the driver mapped read-only is a COW fault at once (do_cow_fault).
  const slot = k.ptdesc.leafSlot(vma.mm.pgd, addr);
  const pte = slot >= 0 ? k.ptdesc.entries[slot] : 0;
  if (pte === 0) return 'sigbus';
  if (write && !(entryBits(pte) & PTE.WRITE)) {
    vmf.pteRow = Math.floor(slot / PTRS_PER_TABLE);
    vmf.ptIdx = slot - vmf.pteRow * PTRS_PER_TABLE;
    return doWpPage(k, vmf, false);
  }
  return 'ok';
}

// ---------------------------------------------------------------- write-protect faults

/**
 * wp_can_reuse_anon_folio(). Small folios: only the sole reference holder may reuse; the
 * mapcount is not consulted. Large folios: never when mapped once (copy so the rest can be freed),
 * never when maybe mapped by another MM, and only when every reference is a mapping.
 */
export function canReuseAnonFolio(k: Kernel, row: number): boolean {
  const f = k.folios;
  if (f.testFlag(row, PG.ksm)) return false;
  // A small folio also held by the swap cache is reused once the cache lets go (folio_free_swap).
  if (!f.isLarge(row)) return f.refcount[row] === 1 || (f.refcount[row] === 2 && folioFreeSwap(k, row));
  const mapcount = f.mapcountOf(row);
  if (mapcount <= 1) return false;
  if (f.mmShared[f.large[row]]) return false;
  return mapcount === f.refcount[row];
}

/** do_wp_page(): a write (or unshare) fault on a present, write-protected PTE. */
function doWpPage(k: Kernel, vmf: Vmf, unshare: boolean): FaultOutcome {
  const { vma, addr, pteRow, ptIdx: i } = vmf;
  const pd = k.ptdesc;
  let pte = pd.get(pteRow, i);
  if (!unshare && userfaultfdPteWp(vma, pte)) {
    if (!userfaultfdWpAsync(vma)) return handleUserfault(vma, addr);
    // WP_ASYNC: only the (user-invisible) bit goes; the write goes on as any write fault would.
    pte = pteClearUffdWp(pte);
    pd.set(pteRow, i, pte);
  }
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
  return wpPageCopy(k, vmf, row, unshare);
}

/**
 * wp_page_copy(): a new exclusive anon page with the old contents (zeros for the zero
 * page); the old page loses this mapping and its reference. An unshare leaves the PTE read-only.
 */
function wpPageCopy(k: Kernel, vmf: Vmf, oldRow: number, unshare: boolean): FaultOutcome {
  const { vma, addr, pteRow, ptIdx: i } = vmf;
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
  // A vmalloc page mapped by vm_insert_page was file rss; a special page (zero page) no rss at all.
  const counter = oldRow === VMALLOC_PAGE ? MM_FILEPAGES : oldRow >= 0 ? mmCounter(f, oldRow) : -1;
  if (counter !== MM_ANONPAGES) {
    if (counter >= 0) mm.rss[counter]--;
    mm.rss[MM_ANONPAGES]++;
  }
  const carried = entryBits(pte) & (PTE.SOFT_DIRTY | PTE.UFFD_WP);
  const bits = unshare ? PTE.PRESENT | PTE.USER | PTE.YOUNG | carried : userBits(vma, true);
  pd.set(pteRow, i, mkEntry(pfn, bits));
  if (oldRow >= 0) {
    removeRmapPtes(k, oldRow, oldPfn, 1, mm);
    if (f.testFlag(oldRow, PG.ksm)) ksmRemoveMapping(k, oldRow, mm, addr);
    freeSwapCache(k, oldRow);
    f.putRow(oldRow);
  } else if (oldRow === VMALLOC_PAGE) {
    k.vmalloc.addMap(oldPfn, -1);
    k.vmalloc.put(oldPfn);
  }
  k.stat.events.cow_copy++;
  if (k.stat.tracing) k.stat.emit({ type: 'cow', mm: mm.id, addr, from: oldPfn, pfn, unshare });
  return 'ok';
}
