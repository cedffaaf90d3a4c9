/**
 * mremap(): shrink a mapping, grow it in place, or move it — page tables moved, not copied —
 * to an address the kernel picks (MREMAP_MAYMOVE) or the caller names (MREMAP_FIXED), optionally
 * leaving the source VMA in place, emptied (MREMAP_DONTUNMAP).
 *
 * Models: mm/mremap.c of Linux 6.18 — check_mremap_params (the errnos before any VMA is looked
 * at), remap_move (a MREMAP_FIXED move that keeps the length may span several VMAs, the gaps
 * between them kept; a gap at the start is EFAULT), check_prep_vma (EFAULT for a range that is
 * not one VMA, EINVAL for duplicating a private mapping or DONTUNMAP of a VM_DONTEXPAND/VM_PFNMAP
 * one, EFAULT for resizing those), mremap_to, mremap_at with shrink_vma / expand_vma /
 * vma_expandable (ENOMEM when it cannot grow in place and may not move), vrm_set_new_addr
 * (get_unmapped_area: MAP_FIXED, a DONTUNMAP hint, or a search whose PMD alignment follows the
 * pgoff for private anonymous memory, __thp_get_unmapped_area), move_vma (prep_move_vma's KSM
 * unmerge, copy_vma keeping the pgoff so the anon rmap finds the pages at their new address,
 * move_page_tables, unmap_source_vma or dontunmap_complete, and the move back on a short move)
 * and move_page_tables (try_realign_addr, move_normal_pud and move_normal_pmd moving whole tables,
 * move_huge_pmd with its deposited table, split_huge_pmd where a PMD leaf is only partly moved,
 * move_ptes setting soft-dirty).
 * rss, mapcounts, refcounts and anon-exclusive bits do not change: the same mm maps the same
 * pages at other addresses.
 * Leaves out: VMA merging (copy_vma and vma_merge_extend never merge here), mlock and VM_ACCOUNT
 * charging, map-count and address-space limits, hugetlb, userfaultfd, mseal, vm_ops->mremap and
 * may_split, PUD leaves (nothing maps a PUD).
 */
import { PG } from './folio.js';
import { splitHugePmd } from './huge_memory.js';
import type { Kernel } from './kernel.js';
import { breakKsm } from './ksm.js';
import { findVma, type Mm, type Process, VM, type Vma, vmaIsAnonymous } from './mm_types.js';
import { doMunmap, insertVma, linkVma, MMAP_MIN_ADDR, TASK_SIZE, unmappedArea } from './mmap.js';
import {
  entryBits,
  entryPfn,
  isSwapEntry,
  LEVEL_SIZE,
  levelIndex,
  PMD_SIZE,
  PT_LEVEL,
  PTE,
  PTRS_PER_TABLE,
  withBits,
} from './pgtable.js';
import { KernelBug, KernelError, PAGE_SIZE } from './types.js';
import { mremapUserfaultfdClear } from './userfaultfd_k.js';

/** mremap() flags (include/uapi/linux/mman.h). */
export const MREMAP = { MAYMOVE: 1, FIXED: 2, DONTUNMAP: 4 } as const;

const ALL_FLAGS = MREMAP.MAYMOVE | MREMAP.FIXED | MREMAP.DONTUNMAP;
const PUD_SIZE = LEVEL_SIZE[PT_LEVEL.PUD];
const hex = (n: number) => `0x${n.toString(16)}`;
const pageAlign = (n: number) => Math.ceil(n / PAGE_SIZE) * PAGE_SIZE;

/** struct vma_remap_struct: one mremap() call, threaded through the helpers and rewritten by them. */
interface Remap {
  readonly proc: Process;
  addr: number;
  oldLen: number;
  newLen: number;
  readonly flags: number;
  newAddr: number;
  vma: Vma;
}

const impliesNewAddr = (r: { flags: number }) => (r.flags & (MREMAP.FIXED | MREMAP.DONTUNMAP)) !== 0;

/** The mremap() system call: returns the address the range is mapped at afterwards. */
export function doMremap(
  k: Kernel,
  proc: Process,
  addr: number,
  oldLen: number,
  newLen: number,
  flags: number,
  newAddr = 0,
): number {
  oldLen = pageAlign(oldLen);
  newLen = pageAlign(newLen);
  checkParams(addr, oldLen, newLen, flags, newAddr);
  // remap_move(): a fixed move that keeps the length may cross VMA boundaries.
  if (flags & MREMAP.FIXED && oldLen === newLen) return remapMove(k, proc, addr, oldLen, flags, newAddr);
  const vma = findVma(proc.mm, addr);
  if (!vma) throw new KernelError('EFAULT', `mremap: no VMA at ${hex(addr)}`);
  const r: Remap = { proc, addr, oldLen, newLen, flags, newAddr, vma };
  checkPrep(r);
  return impliesNewAddr(r) ? mremapTo(k, r) : mremapAt(k, r);
}

/** check_mremap_params(): the checks made before the mmap lock is taken. */
function checkParams(addr: number, oldLen: number, newLen: number, flags: number, newAddr: number): void {
  if (flags & ~ALL_FLAGS) throw new KernelError('EINVAL', `unknown mremap flags ${hex(flags & ~ALL_FLAGS)}`);
  if (addr % PAGE_SIZE !== 0)
    throw new KernelError('EINVAL', `mremap address ${hex(addr)} is not page aligned`);
  if (newLen === 0) throw new KernelError('EINVAL', 'mremap new length is zero');
  if (newLen > TASK_SIZE) throw new KernelError('EINVAL', 'mremap new length exceeds TASK_SIZE');
  if (!impliesNewAddr({ flags })) return;
  if (newAddr > TASK_SIZE - newLen)
    throw new KernelError('EINVAL', `mremap new address ${hex(newAddr)} ends past TASK_SIZE`);
  if (newAddr % PAGE_SIZE !== 0)
    throw new KernelError('EINVAL', `mremap new address ${hex(newAddr)} is not page aligned`);
  if (!(flags & MREMAP.MAYMOVE))
    throw new KernelError('EINVAL', 'MREMAP_FIXED and MREMAP_DONTUNMAP need MREMAP_MAYMOVE');
  if (flags & MREMAP.DONTUNMAP && oldLen !== newLen)
    throw new KernelError('EINVAL', 'MREMAP_DONTUNMAP may not resize');
  if (addr + oldLen > newAddr && newAddr + newLen > addr)
    throw new KernelError('EINVAL', 'mremap source and destination overlap');
}

type RemapType = 'same' | 'shrink' | 'expand';
const remapType = (r: Remap): RemapType =>
  r.oldLen === r.newLen ? 'same' : r.oldLen > r.newLen ? 'shrink' : 'expand';

/** check_prep_vma(): may this VMA be resized or moved as asked? (Nothing to check for a shrink in place.) */
function checkPrep(r: Remap): void {
  const { vma } = r;
  const type = remapType(r);
  if (!impliesNewAddr(r)) r.newAddr = r.addr;
  if (type !== 'expand' && !impliesNewAddr(r)) return;
  if (r.oldLen === 0 && !(vma.flags & (VM.SHARED | VM.MAYSHARE)))
    throw new KernelError('EINVAL', 'mremap may not duplicate a private mapping (old_len 0)');
  if (r.flags & MREMAP.DONTUNMAP && vma.flags & (VM.DONTEXPAND | VM.PFNMAP))
    throw new KernelError('EINVAL', 'MREMAP_DONTUNMAP of a VM_DONTEXPAND or VM_PFNMAP mapping');
  // A shrink may cross the end of the VMA (only the part kept is moved).
  const moved = type === 'shrink' ? r.newLen : r.oldLen;
  if (moved > vma.end - r.addr)
    throw new KernelError('EFAULT', `mremap range ${hex(r.addr)}+${hex(moved)} is not inside one VMA`);
  if (r.newLen === moved) return;
  if (vma.flags & (VM.DONTEXPAND | VM.PFNMAP))
    throw new KernelError('EFAULT', 'mremap may not grow a VM_DONTEXPAND or VM_PFNMAP mapping');
}

/**
 * remap_move(): each VMA in [addr, addr+len) is moved on its own, to where it lies relative to the
 * first one; a gap at the start (or no VMA at all) is EFAULT, and so is a userfaultfd-armed VMA
 * when there is more than one. Returns the first VMA's new address.
 */
function remapMove(
  k: Kernel,
  proc: Process,
  start: number,
  len: number,
  flags: number,
  newAddr: number,
): number {
  const end = start + len;
  // vma_multi_allowed(): a userfaultfd-armed VMA cannot take part in a move of more than one VMA
  // (nor be the first of a range that goes on past it); refused before anything moves.
  const inRange = proc.mm.vmas.filter((v) => v.end > start && v.start < end);
  const multi = inRange.length > 1 || (inRange.length === 1 && inRange[0].end < end);
  if (multi && inRange.some((v) => v.flags & VM.UFFD_WP))
    throw new KernelError('EFAULT', 'mremap: a userfaultfd-armed VMA in a move of several VMAs');
  let res = -1;
  let target = newAddr;
  let lastEnd = 0;
  for (let cursor = start; cursor < end; ) {
    const vma = proc.mm.vmas.find((v) => v.end > cursor && v.start < end);
    if (!vma) break;
    if (res < 0 && start < vma.start)
      throw new KernelError('EFAULT', `mremap: nothing mapped at ${hex(start)}`);
    const offset = res < 0 ? 0 : vma.start - lastEnd;
    lastEnd = vma.end;
    const addr = Math.max(vma.start, start);
    const sub = Math.min(end, vma.end) - addr;
    const r: Remap = { proc, addr, oldLen: sub, newLen: sub, flags, newAddr: target + offset, vma };
    checkPrep(r);
    const got = mremapTo(k, r);
    if (res < 0) res = got;
    target = got + sub;
    cursor = addr + sub;
  }
  if (res < 0) throw new KernelError('EFAULT', `mremap: nothing mapped in ${hex(start)}+${hex(len)}`);
  return res;
}

/** mremap_to(): to a new address, the named one for MREMAP_FIXED (what was mapped there goes first). */
function mremapTo(k: Kernel, r: Remap): number {
  const mm = r.proc.mm;
  if (r.flags & MREMAP.FIXED) {
    doMunmap(k, r.proc, r.newAddr, r.newLen);
    r.vma = lookup(mm, r.addr);
  }
  if (remapType(r) === 'shrink') {
    doMunmap(k, r.proc, r.addr + r.newLen, r.oldLen - r.newLen);
    r.vma = lookup(mm, r.addr);
    r.oldLen = r.newLen;
  }
  r.newAddr = newArea(r);
  return moveVma(k, r);
}

function lookup(mm: Mm, addr: number): Vma {
  const v = findVma(mm, addr);
  if (!v) throw new KernelError('EFAULT', `mremap: the VMA at ${hex(addr)} went`);
  return v;
}

/** mremap_at(): same length is a no-op, a shrink unmaps the tail, a growth expands in place or moves. */
function mremapAt(k: Kernel, r: Remap): number {
  const type = remapType(r);
  if (type === 'same') return r.addr;
  if (type === 'shrink') {
    doMunmap(k, r.proc, r.addr + r.newLen, r.oldLen - r.newLen);
    return r.addr;
  }
  // expand_vma(): in place when the range ends the VMA and what follows is free (vma_expandable).
  const { vma } = r;
  const grownEnd = vma.end + (r.newLen - r.oldLen);
  if (vma.end - r.addr === r.oldLen && grownEnd <= TASK_SIZE && !intersects(r.proc.mm, vma.end, grownEnd)) {
    vma.end = grownEnd;
    return r.addr;
  }
  if (!(r.flags & MREMAP.MAYMOVE))
    throw new KernelError('ENOMEM', `mremap cannot grow ${hex(r.addr)} in place and may not move it`);
  r.newAddr = newArea(r);
  return moveVma(k, r);
}

function intersects(mm: Mm, start: number, end: number): boolean {
  return mm.vmas.some((v) => v.start < end && v.end > start);
}

/**
 * vrm_set_new_addr(): get_unmapped_area() for the new range — the fixed address, a DONTUNMAP
 * hint if it is free, else the highest gap; for private anonymous memory of PMD-multiple length
 * and no hint, a PMD-aligned one (__get_unmapped_area treats an anonymous pgoff as 0, then
 * thp_get_unmapped_area_vmflags aligns).
 */
function newArea(r: Remap): number {
  const mm = r.proc.mm;
  const len = r.newLen;
  if (r.flags & MREMAP.FIXED) {
    if (r.newAddr < MMAP_MIN_ADDR)
      throw new KernelError('EPERM', `mremap to ${hex(r.newAddr)}, below mmap_min_addr`);
    return r.newAddr;
  }
  const hint = r.flags & MREMAP.DONTUNMAP ? r.newAddr : 0;
  if (hint && hint >= MMAP_MIN_ADDR && hint <= TASK_SIZE - len && !intersects(mm, hint, hint + len))
    return hint;
  const anon = vmaIsAnonymous(r.vma) && !(r.vma.flags & VM.MAYSHARE);
  if (anon && !hint && len % PMD_SIZE === 0) return unmappedArea(mm, len, PMD_SIZE);
  return unmappedArea(mm, len, PAGE_SIZE);
}

/**
 * move_vma(): break KSM pages in the range, create the new VMA with the same pgoff, move the page
 * tables, then unmap the source — or, for MREMAP_DONTUNMAP, leave it mapped and empty (with its
 * anon_vma unlinked when the whole VMA moved). A short move (no memory for a page table) moves
 * everything back and unmaps the new VMA instead: ENOMEM.
 */
function moveVma(k: Kernel, r: Remap): number {
  const { vma } = r;
  if (vma.flags & VM.MERGEABLE) {
    // prep_move_vma(): ksm_madvise(MADV_UNMERGEABLE) over the range, VM_MERGEABLE kept.
    for (let a = r.addr; a < r.addr + r.oldLen; a += PAGE_SIZE)
      if (breakKsm(k, vma, a) === 'oom')
        throw new KernelError('ENOMEM', 'mremap could not unmerge a KSM page');
  }
  // copy_vma(): an anonymous VMA nothing faulted into yet takes the pgoff of its new address.
  let pgoff = vma.pgoff + (r.addr - vma.start) / PAGE_SIZE;
  if (vmaIsAnonymous(vma) && !vma.anonVma) pgoff = r.newAddr / PAGE_SIZE;
  const fresh: Vma = { ...vma, start: r.newAddr, end: r.newAddr + r.newLen, pgoff };
  insertVma(r.proc.mm, fresh);
  linkVma(fresh);
  const moved = movePageTables(k, vma, fresh, r.addr, r.newAddr, r.oldLen);
  if (moved < r.oldLen) {
    movePageTables(k, fresh, vma, r.newAddr, r.addr, moved);
    doMunmap(k, r.proc, fresh.start, r.newLen);
    throw new KernelError('ENOMEM', 'mremap ran out of memory for page tables');
  }
  // Without UFFD_FEATURE_EVENT_REMAP the moved entries and the new VMA lose uffd-wp.
  mremapUserfaultfdClear(k.ptdesc, fresh, fresh.start, fresh.start + r.oldLen);
  if (r.flags & MREMAP.DONTUNMAP) {
    // dontunmap_complete()
    vma.flags &= ~VM.LOCKED;
    if (r.addr === vma.start && r.addr + r.oldLen === vma.end && vma.anonVma) {
      vma.anonVma.vmas.delete(vma);
      vma.anonVma = null;
      k.vmaTouched.add(vma.mm, vma.start, vma.end);
    }
  } else if (r.oldLen > 0) {
    doMunmap(k, r.proc, r.addr, r.oldLen);
  }
  return r.newAddr;
}

// ---------------------------------------------------------------- move_page_tables

/**
 * move_page_tables(): move the entries mapping [oldAddr, oldAddr+len) of `from` to newAddr in `to`
 * (one mm), a PMD-sized extent at a time. Returns the bytes moved (less than `len` when a page
 * table could not be allocated).
 */
export function movePageTables(
  k: Kernel,
  from: Vma,
  to: Vma,
  oldAddr: number,
  newAddr: number,
  len: number,
): number {
  if (len === 0) return 0;
  const pd = k.ptdesc;
  const mm = from.mm;
  const oldEnd = oldAddr + len;
  const origin = oldAddr;
  // try_realign_addr(): start at the PMD boundary below when nothing is mapped between it and
  // both VMAs' starts, so whole PTE tables move.
  const align = oldAddr % PMD_SIZE;
  if (
    align !== 0 &&
    len >= PMD_SIZE - align &&
    newAddr % PMD_SIZE === align &&
    canAlignDown(mm, from, oldAddr) &&
    canAlignDown(mm, to, newAddr)
  ) {
    oldAddr -= align;
    newAddr -= align;
  }
  let o = oldAddr;
  let n = newAddr;
  for (let extent = 0; o < oldEnd; o += extent, n += extent) {
    // get_old_pud() / alloc_new_pud(), and move_normal_pud() for a whole, mutually aligned PUD.
    extent = Math.min(PUD_SIZE - (o % PUD_SIZE), oldEnd - o, PUD_SIZE - (n % PUD_SIZE));
    const srcPud = pd.tableFor(mm.pgd, o, PT_LEVEL.PUD, false);
    const ui = levelIndex(o, PT_LEVEL.PUD);
    if (srcPud < 0 || pd.get(srcPud, ui) === 0) continue;
    let dstPud: number;
    try {
      dstPud = pd.tableFor(mm.pgd, n, PT_LEVEL.PUD, true);
    } catch (e) {
      if (e instanceof KernelError) break;
      throw e;
    }
    const uj = levelIndex(n, PT_LEVEL.PUD);
    if (extent === PUD_SIZE && pd.get(dstPud, uj) === 0) {
      pd.set(dstPud, uj, pd.get(srcPud, ui));
      pd.set(srcPud, ui, 0);
      movedPmdTable(k, mm, entryPfn(pd.get(dstPud, uj)), o, n);
      continue;
    }
    extent = Math.min(PMD_SIZE - (o % PMD_SIZE), oldEnd - o, PMD_SIZE - (n % PMD_SIZE));
    const srcPmd = pd.tableFor(mm.pgd, o, PT_LEVEL.PMD, false);
    if (srcPmd < 0) continue;
    const si = levelIndex(o, PT_LEVEL.PMD);
    const pmd = pd.get(srcPmd, si);
    if (pmd === 0) continue;
    let dstPmd: number;
    try {
      dstPmd = pd.tableFor(mm.pgd, n, PT_LEVEL.PMD, true);
    } catch (e) {
      if (e instanceof KernelError) break;
      throw e;
    }
    const di = levelIndex(n, PT_LEVEL.PMD);
    if (entryBits(pmd) & PTE.HUGE) {
      if (extent === PMD_SIZE && moveHugePmd(k, mm, o, n, srcPmd, si, dstPmd, di)) continue;
      splitHugePmd(k, from, o - (o % PMD_SIZE), srcPmd, si);
    } else if (extent === PMD_SIZE && pd.get(dstPmd, di) === 0) {
      // move_normal_pmd(): the PTE table itself changes place.
      pd.set(dstPmd, di, pmd);
      pd.set(srcPmd, si, 0);
      ksmTableMoved(k, mm, pd.get(dstPmd, di), o, n);
      continue;
    }
    let dstPte: number;
    try {
      dstPte = pd.pteTableAt(dstPmd, di);
    } catch (e) {
      if (e instanceof KernelError) break;
      throw e;
    }
    movePtes(k, mm, entryPfn(pd.get(srcPmd, si)), dstPte, o, n, extent);
  }
  return Math.max(0, o - origin);
}

/** can_align_down(): `addr` starts its VMA and no VMA lies between the PMD boundary below and it. */
function canAlignDown(mm: Mm, vma: Vma, addr: number): boolean {
  if (vma.start !== addr) return false;
  return !intersects(mm, addr - (addr % PMD_SIZE), addr);
}

/**
 * move_huge_pmd(): a PMD leaf moves whole with its deposited page table, marked soft-dirty, when
 * the destination PMD entry is empty; the caller splits it otherwise.
 */
function moveHugePmd(
  k: Kernel,
  mm: Mm,
  o: number,
  n: number,
  srcPmd: number,
  si: number,
  dstPmd: number,
  di: number,
): boolean {
  const pd = k.ptdesc;
  if (pd.get(dstPmd, di) !== 0) return false;
  const pmd = pd.get(srcPmd, si);
  pd.set(srcPmd, si, 0);
  pd.set(dstPmd, di, withBits(pmd, PTE.SOFT_DIRTY, 0));
  const table = mm.deposited.get(o);
  if (table === undefined)
    throw new KernelBug(`no page table deposited for the PMD at ${hex(o)}`, { rule: 'move_huge_pmd' });
  mm.deposited.delete(o);
  mm.deposited.set(n, table);
  return true;
}

/** move_ptes(): each entry leaves the old table for the new one (present ones marked soft-dirty). */
function movePtes(k: Kernel, mm: Mm, src: number, dst: number, o: number, n: number, extent: number): void {
  const pd = k.ptdesc;
  for (let off = 0; off < extent; off += PAGE_SIZE) {
    const i = levelIndex(o + off, PT_LEVEL.PTE);
    const e = pd.get(src, i);
    if (e === 0) continue;
    const j = levelIndex(n + off, PT_LEVEL.PTE);
    if (pd.get(dst, j) !== 0)
      throw new KernelBug(`mremap onto a populated PTE at ${hex(n + off)}`, {
        rule: 'move_ptes: !pte_none(new)',
      });
    pd.set(src, i, 0);
    // move_soft_dirty_pte(): a moved page is soft-dirty at its new address, present or swapped
    // out (pte_swp_mksoft_dirty; a swap entry keeps the bit where a present PTE has it).
    const present = (entryBits(e) & PTE.PRESENT) !== 0;
    pd.set(dst, j, present || isSwapEntry(e) ? withBits(e, PTE.SOFT_DIRTY, 0) : e);
    if (present && k.ksm.stable.size > 0) ksmMoved(k, mm, e, o + off, n + off);
  }
}

/**
 * A KSM page's stable node lists its mappings by address (rmap_walk_ksm): a PTE that moves
 * takes its entry along. (prep_move_vma breaks KSM pages of VM_MERGEABLE ranges first, so this is
 * for the pages no madvise made mergeable.)
 */
function ksmMoved(k: Kernel, mm: Mm, pte: number, from: number, to: number): void {
  const pfn = entryPfn(pte);
  const row = pfn < k.pa.maxPfn ? k.pa.memmap.folioRow(pfn) : -1;
  if (row < 0 || !k.folios.testFlag(row, PG.ksm)) return;
  for (const m of k.ksm.stable.get(row) ?? []) if (m.mm === mm && m.addr === from) m.addr = to;
}

/**
 * A whole PMD table moved (move_normal_pud): the deposited tables of its PMD leaves are keyed by
 * address and move along, and so do its PTE tables' KSM mappings.
 */
function movedPmdTable(k: Kernel, mm: Mm, table: number, o: number, n: number): void {
  for (let i = 0; i < PTRS_PER_TABLE; i++) {
    const e = k.ptdesc.get(table, i);
    if (e === 0) continue;
    const from = o + i * PMD_SIZE;
    const to = n + i * PMD_SIZE;
    if (entryBits(e) & PTE.HUGE) {
      const dep = mm.deposited.get(from);
      if (dep !== undefined) {
        mm.deposited.delete(from);
        mm.deposited.set(to, dep);
      }
    } else ksmTableMoved(k, mm, e, from, to);
  }
}

function ksmTableMoved(k: Kernel, mm: Mm, pmd: number, o: number, n: number): void {
  if (k.ksm.stable.size === 0) return;
  const table = entryPfn(pmd);
  for (let i = 0; i < PTRS_PER_TABLE; i++) {
    const e = k.ptdesc.get(table, i);
    if (e !== 0 && entryBits(e) & PTE.PRESENT) ksmMoved(k, mm, e, o + i * PAGE_SIZE, n + i * PAGE_SIZE);
  }
}
