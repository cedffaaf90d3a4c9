/**
 * mmap, munmap, mprotect and madvise.
 *
 * Models: mm/mmap.c (do_mmap, get_unmapped_area top-down from mmap_base with THP alignment of
 * PMD-multiple anonymous mappings, calc_vm_prot_bits / calc_vm_flag_bits), mm/vma.c (vma splits,
 * do_vmi_munmap), mm/mprotect.c (mprotect_fixup; change_protection itself is mprotect.ts) and mm/madvise.c (DONTNEED, the VMA-flag advice: NORMAL/RANDOM/SEQUENTIAL, HUGEPAGE/NOHUGEPAGE, DONTFORK/DOFORK, WIPEONFORK/KEEPONFORK, DONTDUMP/DODUMP; MERGEABLE/UNMERGEABLE break KSM pages in ksm.ts,
 * COLD, PAGEOUT, FREE and POPULATE_READ/WRITE to madvise.ts, COLLAPSE to khugepaged.ts). mremap() is mremap.ts.
 * Leaves out: VMA merging (adjacent compatible VMAs stay separate), mlock, ASLR (the layout
 * is deterministic), rlimits and overcommit accounting.
 */
import type { File } from './filemap.js';
import { splitHugePmdAddress } from './huge_memory.js';
import { FAULT } from './internal.js';
import type { Kernel } from './kernel.js';
import { madviseCollapse } from './khugepaged.js';
import { ksmCompatible, unmergeKsmPages } from './ksm.js';
import { madviseCold, madviseFree, madvisePageout, madvisePopulate } from './madvise.js';
import { handleMmFault } from './memory.js';
import { freePgtables, zapRange } from './memory_zap.js';
import {
  findVma,
  MADV,
  MAP,
  type Mm,
  PROT,
  type Process,
  VM,
  VM_SPECIAL,
  type Vma,
  type VmOps,
} from './mm_types.js';
import { changeProtection, mprotectCpFlags } from './mprotect.js';
import { PMD_SIZE } from './pgtable.js';
import { KernelError, PAGE_SIZE } from './types.js';

/** TASK_SIZE on x86-64 with 4-level paging. */
export const TASK_SIZE = 0x7ffffffff000;
/** Where top-down mmap placement starts (mmap_base without randomisation). */
export const MMAP_BASE = 0x7f0000000000;
/** mmap_min_addr. */
export const MMAP_MIN_ADDR = 0x10000;

export interface MmapArgs {
  addr?: number;
  length: number;
  prot: number;
  flags: number;
  file?: File;
  offset?: number;
  /** A name for reports (the scenario's region name). */
  name?: string;
  /**
   * A device file instead of a page-cache file: its mmap handler runs on the new VMA (and may fail
   * the call), and its vm_ops handle the VMA's faults (src/mm/pfnmap.ts).
   */
  driver?: { readonly name: string; mmap?(vma: Vma): void; readonly ops?: VmOps };
}

const pageAligned = (x: number) => x % PAGE_SIZE === 0;

/** calc_vm_prot_bits() + calc_vm_flag_bits() + the VM_MAY* defaults of do_mmap(). */
function vmFlagsFor(prot: number, flags: number): number {
  let vm = VM.MAYREAD | VM.MAYWRITE | VM.MAYEXEC;
  if (prot & PROT.READ) vm |= VM.READ;
  if (prot & PROT.WRITE) vm |= VM.WRITE;
  if (prot & PROT.EXEC) vm |= VM.EXEC;
  if (flags & MAP.SHARED) vm |= VM.SHARED | VM.MAYSHARE;
  return vm;
}

/**
 * get_unmapped_area(): the highest gap below mmap_base that fits, its start `off` past a multiple
 * of `align` (PMD-aligned for large anon maps; mremap aligns relative to the pgoff, as
 * __thp_get_unmapped_area does).
 */
export function unmappedArea(mm: Mm, length: number, align: number, off = 0): number {
  let top = MMAP_BASE;
  for (let i = mm.vmas.length - 1; i >= -1; i--) {
    const v = i >= 0 ? mm.vmas[i] : undefined;
    const floor = v ? v.end : MMAP_MIN_ADDR;
    if (v && v.start >= top) continue;
    const start = Math.floor((top - length - off) / align) * align + off;
    if (start >= floor) return start;
    if (v) top = Math.min(top, v.start);
  }
  throw new KernelError('ENOMEM', `no room for ${length} bytes below mmap_base`);
}

/**
 * Into the sorted VMA array at its place, found by binary search (the maple tree's job). The
 * splice stays O(VMAs of the mm), a memmove; bench/steps.ts measures it flat to 1M steps with
 * VMAs per mm bounded, which is why this is an array and not an interval tree.
 */
export function insertVma(mm: Mm, vma: Vma): void {
  const v = mm.vmas;
  let lo = 0;
  let hi = v.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (v[mid].start < vma.start) lo = mid + 1;
    else hi = mid;
  }
  v.splice(lo, 0, vma);
}

export function linkVma(vma: Vma): void {
  vma.file?.mmap.add(vma);
  vma.anonVma?.vmas.add(vma);
}

function unlinkVma(vma: Vma): void {
  vma.file?.mmap.delete(vma);
  vma.anonVma?.vmas.delete(vma);
}

/**
 * __split_vma(): cut `vma` at `addr`; the new upper part is returned and inserted. A PMD leaf
 * across `addr` is split first (vma_adjust_trans_huge), so no leaf ever spans two VMAs.
 */
export function splitVma(k: Kernel, mm: Mm, vma: Vma, addr: number): Vma {
  splitHugePmdAddress(k, vma, addr);
  const upper: Vma = { ...vma, start: addr, pgoff: vma.pgoff + (addr - vma.start) / PAGE_SIZE };
  vma.end = addr;
  insertVma(mm, upper);
  linkVma(upper);
  return upper;
}

/**
 * The VMAs covering [start, end), split so that none sticks out of the range. An edge VMA that
 * `changes` says the operation leaves as it is is not split (madvise_update_vma and
 * mprotect_fixup return early when the flags stay the same).
 */
function vmasIn(k: Kernel, mm: Mm, start: number, end: number, changes = (_v: Vma) => true): Vma[] {
  const first = findVma(mm, start);
  if (first && first.start < start && changes(first)) splitVma(k, mm, first, start);
  const last = findVma(mm, end - 1);
  if (last && last.end > end && changes(last)) splitVma(k, mm, last, end);
  return mm.vmas.filter((v) => v.start >= start && v.end <= end);
}

/** Is every byte of [start, end) inside some VMA? */
function fullyMapped(mm: Mm, start: number, end: number): boolean {
  let a = start;
  while (a < end) {
    const v = findVma(mm, a);
    if (!v) return false;
    a = v.end;
  }
  return true;
}

/** do_mmap(): validate, place, create the VMA, and populate it for MAP_POPULATE. */
export function doMmap(k: Kernel, proc: Process, a: MmapArgs): number {
  const mm = proc.mm;
  if (!Number.isSafeInteger(a.length) || a.length <= 0)
    throw new KernelError('EINVAL', 'mmap length must be positive');
  const length = Math.ceil(a.length / PAGE_SIZE) * PAGE_SIZE;
  const type = a.flags & (MAP.SHARED | MAP.PRIVATE);
  if (type !== MAP.SHARED && type !== MAP.PRIVATE)
    throw new KernelError('EINVAL', 'mmap needs exactly one of MAP_SHARED and MAP_PRIVATE');
  const offset = a.offset ?? 0;
  if (!pageAligned(offset) || offset < 0)
    throw new KernelError('EINVAL', `offset ${offset} is not page aligned`);
  const anonymous = (a.flags & MAP.ANONYMOUS) !== 0 && !a.driver;
  if (!anonymous && !a.file && !a.driver)
    throw new KernelError('EINVAL', 'a file mapping needs a file (MAP_ANONYMOUS not given)');
  if (length > TASK_SIZE) throw new KernelError('ENOMEM', 'mapping larger than the address space');
  const fixed = (a.flags & (MAP.FIXED | MAP.FIXED_NOREPLACE)) !== 0;
  let start: number;
  if (fixed) {
    start = a.addr ?? 0;
    // __get_unmapped_area(): past TASK_SIZE is ENOMEM, then alignment (EINVAL), then
    // security_mmap_addr() refuses what lies below mmap_min_addr (EPERM).
    if (start > TASK_SIZE - length)
      throw new KernelError('ENOMEM', `MAP_FIXED range at 0x${start.toString(16)} ends past TASK_SIZE`);
    if (!pageAligned(start))
      throw new KernelError('EINVAL', `MAP_FIXED address 0x${start.toString(16)} is not page aligned`);
    if (start < MMAP_MIN_ADDR) throw new KernelError('EPERM', 'MAP_FIXED address below mmap_min_addr');
    if (a.flags & MAP.FIXED_NOREPLACE && overlaps(mm, start, start + length)) {
      throw new KernelError('EEXIST', `MAP_FIXED_NOREPLACE range 0x${start.toString(16)} overlaps a mapping`);
    }
    if (overlaps(mm, start, start + length)) doMunmap(k, proc, start, length);
  } else {
    const thpAlign = anonymous && length % PMD_SIZE === 0 ? PMD_SIZE : PAGE_SIZE;
    start = unmappedArea(mm, length, thpAlign);
  }
  const flags = vmFlagsFor(a.prot, a.flags);
  let file = anonymous || a.driver ? null : a.file!;
  let pgoff = offset / PAGE_SIZE;
  if (anonymous) {
    pgoff = start / PAGE_SIZE;
    if (type === MAP.SHARED) {
      // shmem_zero_setup(): shared anonymous memory is an unlinked shmem file.
      file = k.pagecache.create(`dev/zero (deleted)`, length, undefined, true);
      pgoff = 0;
    }
  }
  const vma: Vma = {
    mm,
    start,
    end: start + length,
    flags,
    pgoff,
    file,
    anonVma: null,
    name:
      a.name ?? (file && !file.shmem ? file.name : anonymous && type === MAP.SHARED ? '[shmem]' : '[anon]'),
  };
  insertVma(mm, vma);
  linkVma(vma);
  if (a.driver) {
    // call_mmap(): the driver sets the VMA up; if it fails, the VMA goes again (unmap_region).
    // What MAP_FIXED replaced stays unmapped: Linux cleared its PTEs before ->mmap ran, so
    // vms_abort_munmap_vmas() completes the munmap and leaves a gap (mm/vma.c).
    vma.ops = a.driver.ops ?? {};
    vma.name = a.name ?? a.driver.name;
    try {
      a.driver.mmap?.(vma);
    } catch (e) {
      zapRange(k, vma, vma.start, vma.end, { dropMarkers: true });
      k.vmaTouched.add(mm, vma.start, vma.end);
      mm.vmas.splice(mm.vmas.indexOf(vma), 1);
      unlinkVma(vma);
      freePgtables(k, mm, vma.start, vma.end);
      throw e;
    }
  }
  if (a.flags & MAP.POPULATE) populate(k, vma);
  return start;
}

function overlaps(mm: Mm, start: number, end: number): boolean {
  return mm.vmas.some((v) => v.start < end && v.end > start);
}

/**
 * populate_vma_page_range(): fault every page in, with write faults for private writable
 * mappings (so they get real pages, not the zero page) and read faults otherwise. FOLL_FORCE is
 * added only for accessible VMAs, so on a PROT_NONE one check_vma_flags fails with EFAULT, which
 * mm_populate ignores: nothing is mapped. Running out of memory half way is ignored the same way
 * (__mm_populate with ignore_errors): mmap succeeds with what was populated.
 */
function populate(k: Kernel, vma: Vma): void {
  if (!(vma.flags & (VM.READ | VM.WRITE | VM.EXEC))) return;
  const write = (vma.flags & (VM.WRITE | VM.SHARED)) === VM.WRITE;
  for (let a = vma.start; a < vma.end; a += PAGE_SIZE) {
    if (handleMmFault(k, vma, a, write ? FAULT.WRITE : 0) !== 'ok') break;
  }
}

/** do_vmi_munmap(): unmap [addr, addr+len), splitting VMAs at the edges, then free page tables. */
export function doMunmap(k: Kernel, proc: Process, addr: number, len: number): void {
  if (!pageAligned(addr))
    throw new KernelError('EINVAL', `munmap address 0x${addr.toString(16)} is not page aligned`);
  if (!Number.isSafeInteger(len) || len <= 0)
    throw new KernelError('EINVAL', 'munmap length must be positive');
  const end = addr + Math.ceil(len / PAGE_SIZE) * PAGE_SIZE;
  if (end > TASK_SIZE) throw new KernelError('EINVAL', 'munmap range beyond the user address space');
  const mm = proc.mm;
  const victims = vmasIn(k, mm, addr, end);
  k.vmaTouched.add(mm, addr, end);
  for (const v of victims) zapRange(k, v, v.start, v.end, { dropMarkers: true });
  for (const v of victims) {
    mm.vmas.splice(mm.vmas.indexOf(v), 1);
    unlinkVma(v);
  }
  if (victims.length > 0) freePgtables(k, mm, addr, end);
}

/** mprotect(): change protections of a fully mapped range (ENOMEM on holes, EACCES past VM_MAY*). */
export function doMprotect(k: Kernel, proc: Process, addr: number, len: number, prot: number): void {
  if (!pageAligned(addr))
    throw new KernelError('EINVAL', `mprotect address 0x${addr.toString(16)} is not page aligned`);
  if (prot & ~(PROT.READ | PROT.WRITE | PROT.EXEC))
    throw new KernelError('EINVAL', `unknown prot bits 0x${prot.toString(16)}`);
  const end = addr + Math.ceil(len / PAGE_SIZE) * PAGE_SIZE;
  if (len === 0) return;
  const mm = proc.mm;
  const want = vmFlagsFor(prot, 0) & (VM.READ | VM.WRITE | VM.EXEC);
  // As do_mprotect_pkey(): VMAs are changed in address order until a hole (ENOMEM) or a VMA that
  // may not have the new protection (EACCES) stops the walk; what was changed stays changed.
  let a = addr;
  while (a < end) {
    const v = findVma(mm, a);
    if (!v) throw new KernelError('ENOMEM', `mprotect range has an unmapped hole at 0x${a.toString(16)}`);
    if (want & ~(v.flags >> 4) & (VM.READ | VM.WRITE | VM.EXEC)) {
      throw new KernelError('EACCES', 'mprotect asks for more than the mapping may have (VM_MAY*)');
    }
    if ((v.flags & (VM.READ | VM.WRITE | VM.EXEC)) === want) {
      // mprotect_fixup(): nothing changes, so the VMA is neither split nor walked.
      a = v.end;
      continue;
    }
    const [part] = vmasIn(k, mm, a, Math.min(end, v.end));
    part.flags = (part.flags & ~(VM.READ | VM.WRITE | VM.EXEC)) | want;
    k.vmaTouched.add(mm, part.start, part.end);
    changeProtection(k, part, part.start, part.end, mprotectCpFlags(part));
    a = part.end;
  }
}

/**
 * madvise(). Unmapped parts of the range give ENOMEM after the mapped parts are handled, except
 * for MADV_POPULATE_READ/WRITE, which stop at the first hole (madvise.ts).
 */
export function doMadvise(k: Kernel, proc: Process, addr: number, len: number, advice: number): void {
  if (!pageAligned(addr))
    throw new KernelError('EINVAL', `madvise address 0x${addr.toString(16)} is not page aligned`);
  if (!Object.values(MADV).includes(advice as never))
    throw new KernelError('EINVAL', `unknown madvise advice ${advice}`);
  const end = addr + Math.ceil(len / PAGE_SIZE) * PAGE_SIZE;
  if (len === 0) return;
  const mm = proc.mm;
  if (advice === MADV.POPULATE_READ || advice === MADV.POPULATE_WRITE) {
    madvisePopulate(k, mm, addr, end, advice === MADV.POPULATE_WRITE);
    return;
  }
  if (advice === MADV.COLLAPSE) {
    madviseCollapse(k, mm, addr, end);
    return;
  }
  const holes = !fullyMapped(mm, addr, end);
  const vmas = mm.vmas.filter((v) => v.start < end && v.end > addr);
  if (advice === MADV.DONTNEED) {
    // madvise_walk_vmas(): VMA by VMA, in order; the first that madvise_dontneed_free_valid_vma
    // refuses ends the walk with EINVAL, the VMAs before it zapped already (as in Linux).
    for (const v of vmas) {
      if (v.flags & (VM.LOCKED | VM.PFNMAP | VM.HUGETLB))
        throw new KernelError('EINVAL', 'MADV_DONTNEED on a locked, pfnmap or hugetlb mapping');
      zapRange(k, v, Math.max(v.start, addr), Math.min(v.end, end), { reclaimPt: true });
    }
  } else if (advice === MADV.FREE) {
    madviseFree(k, vmas, addr, end);
  } else if (advice === MADV.PAGEOUT) {
    madvisePageout(k, vmas, addr, end);
  } else if (advice === MADV.COLD) {
    madviseCold(k, vmas, addr, end);
  } else {
    // madvise_walk_vmas() -> madvise_vma_behavior(), VMA by VMA: a VMA the advice refuses ends
    // the walk with its error, the VMAs before it changed already; a VMA whose flags stay the same
    // is not split (madvise_update_vma).
    for (const v of vmas) {
      const s = Math.max(v.start, addr);
      const e = Math.min(v.end, end);
      const flags = madviseVmaFlags(k, v, s, e, advice);
      if (flags === v.flags) continue;
      for (const part of vmasIn(k, mm, s, e)) part.flags = flags;
    }
  }
  if (holes) throw new KernelError('ENOMEM', 'madvise range has unmapped holes');
}

/**
 * The flags madvise_vma_behavior() gives VMA `v` for `advice` over [s, e) of it, after its checks
 * (an EINVAL for a VMA the advice refuses) and, for MADV_UNMERGEABLE, breaking its KSM pages
 * there (ksm_madvise). ENOMEM from that becomes EAGAIN, as madvise_vma_behavior() returns it.
 */
function madviseVmaFlags(k: Kernel, v: Vma, s: number, e: number, advice: number): number {
  if (advice === MADV.DOFORK && v.flags & VM.IO)
    throw new KernelError('EINVAL', 'MADV_DOFORK on a VM_IO mapping');
  if (advice === MADV.WIPEONFORK && (v.file || v.flags & VM.SHARED))
    throw new KernelError('EINVAL', 'MADV_WIPEONFORK needs private anonymous memory');
  if (advice === MADV.DODUMP && !(v.flags & VM.HUGETLB) && v.flags & VM_SPECIAL)
    throw new KernelError(
      'EINVAL',
      'MADV_DODUMP on a VM_IO, VM_PFNMAP, VM_MIXEDMAP or VM_DONTEXPAND mapping',
    );
  if (advice === MADV.MERGEABLE) return ksmCompatible(v) ? v.flags | VM.MERGEABLE : v.flags;
  if (advice === MADV.UNMERGEABLE) {
    if (!(v.flags & VM.MERGEABLE)) return v.flags;
    if (unmergeKsmPages(k, v, s, e) === 'oom')
      throw new KernelError('EAGAIN', 'MADV_UNMERGEABLE could not copy a KSM page (ENOMEM)');
    return v.flags & ~VM.MERGEABLE;
  }
  const [set, clear] = madviseFlags(advice);
  return (v.flags | set) & ~clear;
}

function madviseFlags(advice: number): [number, number] {
  switch (advice) {
    case MADV.HUGEPAGE:
      return [VM.HUGEPAGE, VM.NOHUGEPAGE];
    case MADV.NOHUGEPAGE:
      return [VM.NOHUGEPAGE, VM.HUGEPAGE];
    case MADV.DONTFORK:
      return [VM.DONTCOPY, 0];
    case MADV.KEEPONFORK:
      return [0, VM.WIPEONFORK];
    case MADV.DOFORK:
      return [0, VM.DONTCOPY];
    case MADV.NORMAL:
      return [0, VM.SEQ_READ | VM.RAND_READ];
    case MADV.RANDOM:
      return [VM.RAND_READ, VM.SEQ_READ];
    case MADV.SEQUENTIAL:
      return [VM.SEQ_READ, VM.RAND_READ];
    case MADV.DONTDUMP:
      return [VM.DONTDUMP, 0];
    case MADV.DODUMP:
      return [0, VM.DONTDUMP];
    case MADV.WIPEONFORK:
      return [VM.WIPEONFORK, 0];
    default:
      return [0, 0];
  }
}
