/**
 * userfaultfd in write-protect mode: the context and its ioctls.
 *
 * Models: fs/userfaultfd.c — userfaultfd(2) + UFFDIO_API (userfaultfd_api: WP_ASYNC implies
 * WP_UNPOPULATED), UFFDIO_REGISTER with UFFDIO_REGISTER_MODE_WP (userfaultfd_register,
 * vma_can_userfault, the VMA split at the range's edges), UFFDIO_UNREGISTER (userfaultfd_unregister:
 * the protection is reset over the VMA, the waiters woken), UFFDIO_WRITEPROTECT
 * (userfaultfd_writeprotect with MODE_WP and MODE_DONTWAKE) and read() of the messages; mm/userfaultfd.c
 * — mwriteprotect_range and uffd_wp_range (change_protection with MM_CP_UFFD_WP[_RESOLVE],
 * mprotect.ts). The predicates the fault, fork and zap paths use are in userfaultfd_k.ts.
 * Leaves out: MISSING and MINOR modes and the UFFDIO_COPY/ZEROPAGE/CONTINUE/MOVE/POISON ioctls,
 * hugetlb, UFFD_FEATURE_EVENT_REMAP/REMOVE/UNMAP, several contexts on one mm (the model keeps one
 * per mm: a second UFFDIO_API there is EBUSY), and closing the descriptor (userfaultfd_release).
 */
import type { Kernel } from './kernel.js';
import { type Process, VM, type Vma, vmaIsAnonymous } from './mm_types.js';
import { splitVma, TASK_SIZE } from './mmap.js';
import { uffdWpRange } from './mprotect.js';
import { KernelError, PAGE_SIZE } from './types.js';
import {
  newUffdCtx,
  UFFD_FEATURE,
  type UffdCtx,
  type UffdMsg,
  userfaultfdArmed,
  userfaultfdWp,
  wakeUserfault,
} from './userfaultfd_k.js';

/** The features UFFDIO_API accepts here, by name (UFFD_API_FEATURES, reduced to what the model has). */
export const UFFD_API_FEATURES = {
  PAGEFAULT_FLAG_WP: UFFD_FEATURE.PAGEFAULT_FLAG_WP,
  EVENT_FORK: UFFD_FEATURE.EVENT_FORK,
  SIGBUS: UFFD_FEATURE.SIGBUS,
  WP_HUGETLBFS_SHMEM: UFFD_FEATURE.WP_HUGETLBFS_SHMEM,
  WP_UNPOPULATED: UFFD_FEATURE.WP_UNPOPULATED,
  WP_ASYNC: UFFD_FEATURE.WP_ASYNC,
} as const;
const API_FEATURES = Object.values(UFFD_API_FEATURES).reduce((a, b) => a | b, 0);

/** userfaultfd(2) followed by UFFDIO_API: the process's context, with `features` enabled. */
export function userfaultfdApi(proc: Process, features: number): UffdCtx {
  if (features & ~API_FEATURES)
    throw new KernelError(
      'EINVAL',
      `UFFDIO_API: unknown features 0x${(features & ~API_FEATURES).toString(16)}`,
    );
  if (proc.mm.uffd)
    throw new KernelError('EBUSY', 'the model keeps one userfaultfd per address space, and this one has it');
  // WP_ASYNC relies on markers on none entries (userfaultfd_api picks WP_UNPOPULATED with it).
  const f = features & UFFD_FEATURE.WP_ASYNC ? features | UFFD_FEATURE.WP_UNPOPULATED : features;
  proc.mm.uffd = newUffdCtx(proc.mm, f);
  return proc.mm.uffd;
}

/** validate_range(): page aligned, not empty, inside the user address space. */
function validateRange(start: number, len: number): number {
  if (start % PAGE_SIZE !== 0 || len % PAGE_SIZE !== 0 || len <= 0)
    throw new KernelError('EINVAL', 'userfaultfd range must be page aligned and not empty');
  if (start + len > TASK_SIZE)
    throw new KernelError('EINVAL', 'userfaultfd range beyond the user address space');
  return start + len;
}

function ctxOf(proc: Process): UffdCtx {
  const ctx = proc.mm.uffd;
  if (!ctx) throw new KernelError('EBADF', 'the process has no userfaultfd (uffd first)');
  return ctx;
}

/**
 * vma_can_userfault() for write-protect mode: anonymous and shmem memory; with WP_ASYNC (and WP
 * as the only mode) any memory.
 */
function vmaCanUserfault(vma: Vma, ctx: UffdCtx): boolean {
  if (ctx.features & UFFD_FEATURE.WP_ASYNC) return true;
  return vmaIsAnonymous(vma) || !!vma.file?.shmem;
}

/** The VMAs meeting [start, end), in order. */
const vmasMeeting = (proc: Process, start: number, end: number): Vma[] =>
  proc.mm.vmas.filter((v) => v.start < end && v.end > start);

/** vma_modify_flags_uffd()'s split: the part of `vma` inside [start, end), cut out of it. */
function carve(k: Kernel, proc: Process, vma: Vma, start: number, end: number): Vma {
  let v = vma;
  if (v.start < start) v = splitVma(k, proc.mm, v, start);
  if (v.end > end) splitVma(k, proc.mm, v, end);
  return v;
}

/**
 * UFFDIO_REGISTER with UFFDIO_REGISTER_MODE_WP: every VMA in the range becomes VM_UFFD_WP, the
 * ones at the edges split so the flag covers the range exactly. Every VMA is checked before any
 * changes (EINVAL for memory the mode does not support, EPERM without VM_MAYWRITE); holes between
 * VMAs are allowed, a range with no VMA is EINVAL.
 */
export function userfaultfdRegister(k: Kernel, proc: Process, start: number, len: number): void {
  const ctx = ctxOf(proc);
  const end = validateRange(start, len);
  const vmas = vmasMeeting(proc, start, end);
  if (vmas.length === 0) throw new KernelError('EINVAL', 'UFFDIO_REGISTER: no mapping in the range');
  for (const v of vmas) {
    if (!vmaCanUserfault(v, ctx))
      throw new KernelError(
        'EINVAL',
        `UFFDIO_REGISTER: ${v.name} is not anonymous or shmem memory (WP_ASYNC allows any)`,
      );
    if (!(v.flags & VM.MAYWRITE))
      throw new KernelError('EPERM', `UFFDIO_REGISTER: ${v.name} may never be written`);
  }
  for (const v of vmas) {
    if (userfaultfdWp(v)) continue; // already registered in this mode: nothing to change or split
    carve(k, proc, v, start, end).flags |= VM.UFFD_WP;
  }
}

/**
 * UFFDIO_UNREGISTER: the VMAs of the range forget the registration; their protection is reset
 * first (uffd_wp_range with enable_wp false, over the whole part in the range) and any fault
 * waiting there is woken. A VMA the context could not have registered is EINVAL.
 */
export function userfaultfdUnregister(k: Kernel, proc: Process, start: number, len: number): void {
  const ctx = ctxOf(proc);
  const end = validateRange(start, len);
  const vmas = vmasMeeting(proc, start, end);
  if (vmas.length === 0) throw new KernelError('EINVAL', 'UFFDIO_UNREGISTER: no mapping in the range');
  for (const v of vmas)
    if (!vmaCanUserfault(v, ctx))
      throw new KernelError('EINVAL', `UFFDIO_UNREGISTER: ${v.name} could not have been registered`);
  for (const v of vmas) {
    if (!userfaultfdArmed(v)) continue;
    const part = carve(k, proc, v, start, end);
    wakeUserfault(ctx, part.start, part.end);
    uffdWpRange(k, part, part.start, part.end, false);
    part.flags &= ~VM.UFFD_WP;
  }
}

/** UFFDIO_WRITEPROTECT modes. */
export interface WriteprotectMode {
  /** MODE_WP: protect (true) or resolve (false). */
  wp: boolean;
  /** MODE_DONTWAKE: resolving leaves the waiting faults asleep. */
  dontwake?: boolean;
}

/**
 * UFFDIO_WRITEPROTECT (userfaultfd_writeprotect + mwriteprotect_range): protect or resolve
 * [start, start+len) VMA by VMA. A VMA there that is not VM_UFFD_WP stops the walk with ENOENT
 * (the ones before it stay changed), as does a range with no VMA; WP with DONTWAKE is EINVAL.
 * Resolving without DONTWAKE wakes the faults waiting in the range.
 */
export function userfaultfdWriteprotect(
  k: Kernel,
  proc: Process,
  start: number,
  len: number,
  mode: WriteprotectMode,
): void {
  const ctx = ctxOf(proc);
  const end = validateRange(start, len);
  if (mode.wp && mode.dontwake)
    throw new KernelError('EINVAL', 'UFFDIO_WRITEPROTECT: MODE_WP with MODE_DONTWAKE');
  const vmas = vmasMeeting(proc, start, end);
  if (vmas.length === 0) throw new KernelError('ENOENT', 'UFFDIO_WRITEPROTECT: no mapping in the range');
  for (const v of vmas) {
    if (!userfaultfdWp(v))
      throw new KernelError('ENOENT', `UFFDIO_WRITEPROTECT: ${v.name} is not registered for wp`);
    uffdWpRange(k, v, Math.max(start, v.start), Math.min(end, v.end), mode.wp);
  }
  if (!mode.wp && !mode.dontwake) wakeUserfault(ctx, start, end);
}

/** read() on the userfaultfd: every message queued so far, oldest first (the queue empties). */
export function userfaultfdRead(proc: Process): UffdMsg[] {
  const ctx = ctxOf(proc);
  const msgs = ctx.msgs.splice(0, ctx.msgs.length);
  ctx.lastRead = { messages: msgs.length, forks: msgs.filter((m) => m.event === 'fork').length };
  return msgs;
}

/** UFFDIO_WAKE: wake the faults waiting in the range without changing any protection. */
export function userfaultfdWake(proc: Process, start: number, len: number): void {
  wakeUserfault(ctxOf(proc), start, validateRange(start, len));
}
