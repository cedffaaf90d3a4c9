/**
 * What the fault, fork, zap and mprotect paths ask of userfaultfd: the context, its features, the
 * VMA and entry predicates, and the delivery of a write-protect fault.
 *
 * Models: include/linux/userfaultfd_k.h (userfaultfd_wp, userfaultfd_pte_wp,
 * userfaultfd_huge_pmd_wp, userfaultfd_armed, userfaultfd_wp_use_markers,
 * pte_install_uffd_wp_if_needed), fs/userfaultfd.c (handle_userfault, userfaultfd_wp_async,
 * userfaultfd_wp_unpopulated, dup_userfaultfd, mremap_userfaultfd_prep) and mm/mremap.c's
 * clearing of the bits a move without UFFD_FEATURE_EVENT_REMAP does (move_ptes, move_huge_pmd).
 * The ioctls are userfaultfd.ts; this file imports no fault path, so all of them can import it.
 *
 * A sync-mode fault (no UFFD_FEATURE_WP_ASYNC) parks the faulting thread until the monitor
 * resolves it. The model has no threads: the fault queues a UFFD_EVENT_PAGEFAULT message, records
 * the address as a waiter, and the access that faulted stops there ('userfault'); a scenario
 * resolves it with UFFDIO_WRITEPROTECT (clear) and runs the access again, as the woken thread
 * would retry it.
 */
import type { Mm, Vma } from './mm_types.js';
import { VM, vmaIsAnonymous } from './mm_types.js';
import type { PtdescPool } from './pgtable.js';
import {
  entryBits,
  isSwapEntry,
  levelIndex,
  mkUffdWpMarker,
  PMD_SIZE,
  PT_LEVEL,
  PTE,
  pteClearUffdWp,
  pteMarkerUffdWp,
  pteSwpUffdWpAny,
  pteUffdWp,
  withBits,
} from './pgtable.js';
import { PAGE_SIZE } from './types.js';

/** UFFD_FEATURE_* bits the model knows (include/uapi/linux/userfaultfd.h). */
export const UFFD_FEATURE = {
  PAGEFAULT_FLAG_WP: 1 << 0,
  EVENT_FORK: 1 << 1,
  EVENT_REMAP: 1 << 2,
  SIGBUS: 1 << 7,
  WP_HUGETLBFS_SHMEM: 1 << 12,
  WP_UNPOPULATED: 1 << 13,
  WP_ASYNC: 1 << 15,
} as const;

/** uffd_msg.arg.pagefault.flags. */
export const UFFD_PAGEFAULT_FLAG = { WRITE: 1 << 0, WP: 1 << 1 } as const;

/** One message read() would return: a write-protect fault, or a fork (UFFD_EVENT_FORK). */
export interface UffdMsg {
  readonly event: 'pagefault' | 'fork';
  /** The faulting address (page aligned), or 0 for a fork. */
  readonly addr: number;
  /** UFFD_PAGEFAULT_FLAG_* of a page fault. */
  readonly flags: number;
  /** The child's mm id for a fork event (its new userfaultfd context's id). */
  readonly child?: number;
}

/** struct userfaultfd_ctx, reduced to what write-protect mode uses. */
export interface UffdCtx {
  /** The id of the mm it serves. */
  readonly id: number;
  /** The features UFFDIO_API enabled (after its implied ones). */
  features: number;
  /** Messages not read yet (fault_pending_wqh and event_wqh, in arrival order). */
  readonly msgs: UffdMsg[];
  /** Addresses of faults still waiting to be woken (threads parked in handle_userfault). */
  readonly waiting: number[];
  /** What the last read() returned: messages, of which fork events (for reports and the oracle). */
  lastRead?: { messages: number; forks: number };
}

/** userfaultfd_wp(): the VMA is registered in write-protect mode. */
export const userfaultfdWp = (vma: Vma): boolean => (vma.flags & VM.UFFD_WP) !== 0;

/** userfaultfd_armed(): registered in any mode (the model has write-protect only). */
export const userfaultfdArmed = (vma: Vma): boolean => (vma.flags & VM.UFFD_WP) !== 0;

/** userfaultfd_pte_wp() / userfaultfd_huge_pmd_wp(): a uffd-wp entry of a uffd-wp VMA. */
export const userfaultfdPteWp = (vma: Vma, e: number): boolean => userfaultfdWp(vma) && pteUffdWp(e);

const features = (vma: Vma): number => vma.mm.uffd?.features ?? 0;

/** userfaultfd_wp_async(): write faults on uffd-wp entries resolve themselves. */
export const userfaultfdWpAsync = (vma: Vma): boolean => (features(vma) & UFFD_FEATURE.WP_ASYNC) !== 0;

/** userfaultfd_wp_unpopulated(): write-protecting also covers none entries of anon memory. */
export const userfaultfdWpUnpopulated = (vma: Vma): boolean =>
  (features(vma) & UFFD_FEATURE.WP_UNPOPULATED) !== 0;

/**
 * userfaultfd_wp_use_markers(): does write-protecting a none entry leave a marker? Always for
 * file and shmem memory (the page cache may hold the page whatever the PTE says); for anonymous
 * memory only with UFFD_FEATURE_WP_UNPOPULATED (which WP_ASYNC implies).
 */
export function userfaultfdWpUseMarkers(vma: Vma): boolean {
  if (!userfaultfdWp(vma)) return false;
  if (!vmaIsAnonymous(vma)) return true;
  return userfaultfdWpUnpopulated(vma);
}

/**
 * handle_userfault(vmf, VM_UFFD_WP) for a write fault: with UFFD_FEATURE_SIGBUS the fault is
 * SIGBUS at once; otherwise a message is queued and the fault waits (see the file comment).
 */
export function handleUserfault(vma: Vma, addr: number): 'userfault' | 'sigbus' {
  const ctx = vma.mm.uffd;
  if (!ctx || ctx.features & UFFD_FEATURE.SIGBUS) return 'sigbus';
  ctx.msgs.push({ event: 'pagefault', addr, flags: UFFD_PAGEFAULT_FLAG.WRITE | UFFD_PAGEFAULT_FLAG.WP });
  ctx.waiting.push(addr);
  return 'userfault';
}

/** wake_userfault(): the waiters in [start, end) wake (and would retry their faults). */
export function wakeUserfault(ctx: UffdCtx, start: number, end: number): void {
  for (let i = ctx.waiting.length - 1; i >= 0; i--)
    if (ctx.waiting[i] >= start && ctx.waiting[i] < end) ctx.waiting.splice(i, 1);
}

/**
 * pte_install_uffd_wp_if_needed() after a zap cleared an entry of a file or shmem VMA: a
 * write-protected entry (present, swap or marker) leaves a uffd-wp marker behind, so the
 * protection outlives the mapping of the page. Anonymous memory never keeps one (zapping drops its
 * contents, so nothing is left to protect). Returns whether it installed one.
 */
export function pteInstallUffdWpIfNeeded(
  pd: PtdescPool,
  vma: Vma,
  pteRow: number,
  i: number,
  old: number,
): boolean {
  if (vmaIsAnonymous(vma) || !userfaultfdWp(vma)) return false;
  if (!pteUffdWp(old) && !pteSwpUffdWpAny(old)) return false;
  pd.set(pteRow, i, mkUffdWpMarker());
  return true;
}

/** userfaultfd(2) + UFFDIO_API: a context for the mm `mm`, named after it (one per mm here). */
export function newUffdCtx(mm: Mm, featureBits: number): UffdCtx {
  return { id: mm.id, features: featureBits, msgs: [], waiting: [] };
}

/**
 * dup_userfaultfd() for the child's copy of `vma`: without UFFD_FEATURE_EVENT_FORK the child's
 * VMAs forget the registration (userfaultfd_reset_ctx), so its page-table copy drops every uffd-wp
 * bit; with it the child gets a context of its own (the same features) that the parent's monitor
 * learns of through a UFFD_EVENT_FORK message, and keeps VM_UFFD_WP and the bits.
 */
export function dupUserfaultfd(parent: Mm, child: Mm, vma: Vma): void {
  const ctx = parent.uffd;
  if (!userfaultfdArmed(vma) || !ctx) return;
  if (!(ctx.features & UFFD_FEATURE.EVENT_FORK)) {
    vma.flags &= ~VM.UFFD_WP;
    return;
  }
  if (!child.uffd) {
    child.uffd = newUffdCtx(child, ctx.features);
    ctx.msgs.push({ event: 'fork', addr: 0, flags: 0, child: child.id });
  }
}

/**
 * mremap_userfaultfd_prep() and move_ptes / move_huge_pmd without UFFD_FEATURE_EVENT_REMAP: the
 * moved entries lose their uffd-wp bits (markers go altogether) and the new VMA its registration.
 * Done over the destination after the move, which leaves the same entries as clearing each one
 * on its way.
 */
export function mremapUserfaultfdClear(pd: PtdescPool, vma: Vma, start: number, end: number): void {
  if (!userfaultfdArmed(vma) || (vma.mm.uffd && vma.mm.uffd.features & UFFD_FEATURE.EVENT_REMAP)) return;
  vma.flags &= ~VM.UFFD_WP;
  for (let a = start; a < end; ) {
    const next = Math.min(end, a - (a % PMD_SIZE) + PMD_SIZE);
    const pmdRow = pd.tableFor(vma.mm.pgd, a, PT_LEVEL.PMD, false);
    if (pmdRow >= 0) {
      const pmdIdx = levelIndex(a, PT_LEVEL.PMD);
      const pmd = pd.get(pmdRow, pmdIdx);
      if (pmd !== 0 && entryBits(pmd) & PTE.HUGE) pd.set(pmdRow, pmdIdx, pteClearUffdWp(pmd));
      else if (pmd !== 0) {
        const pteRow = pd.tableFor(vma.mm.pgd, a, PT_LEVEL.PTE, false);
        for (let b = a; b < next; b += PAGE_SIZE) {
          const i = levelIndex(b, PT_LEVEL.PTE);
          const e = pd.get(pteRow, i);
          if (pteMarkerUffdWp(e)) pd.set(pteRow, i, 0);
          else if (entryBits(e) & PTE.PRESENT || isSwapEntry(e))
            pd.set(pteRow, i, withBits(e, 0, PTE.UFFD_WP));
        }
      }
    }
    a = next;
  }
}
