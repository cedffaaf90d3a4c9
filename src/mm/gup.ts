/**
 * get_user_pages / pin_user_pages and their release.
 *
 * Models: mm/gup.c — is_valid_gup_args, check_vma_flags, follow_page_pte,
 * gup_must_unshare (mm/internal.h), faultin_page, try_grab_folio / gup_put_folio and
 * their arithmetic, mm_set_has_pinned_flag, check_and_migrate_movable_folios for
 * FOLL_LONGTERM, unpin_user_pages_dirty_lock, and GUP-fast's lockless walk that
 * falls back to the slow path for anything it cannot decide alone.
 *
 * A successful call returns a GupHandle naming the frames it grabbed; the handle remembers
 * whether it holds pins or plain references, so releasing it the wrong way (unpinning a FOLL_GET
 * reference, or put_page on a pin) is caught as the KernelBug Linux would eventually hit.
 * Leaves out: FOLL_SPLIT_PMD, hugetlb, P2PDMA, secretmem, pkeys, the mmap_lock retry protocol.
 */

import { forgetPageblock, longtermPinnable, noteUnpinnable } from './gup_longterm.js';
import { releaseAll } from './gup_release.js';
import { grabRun } from './gup_run.js';
import { FAULT } from './internal.js';
import type { Kernel } from './kernel.js';
import { MT, VMALLOC_PAGE } from './memdesc.js';
import { handleMmFault, vmNormalPage } from './memory.js';
import { migrateToPinnable } from './migrate.js';
import { findVma, isCowMapping, MMF, type Mm, VM, type Vma, vmaIsAnonymous } from './mm_types.js';
import { entryBits, entryPfn, PMD_SIZE, PT_LEVEL, PTE } from './pgtable.js';
import { type Errno, KernelBug, KernelError, mod, PAGE_SIZE } from './types.js';
import { userfaultfdPteWp } from './userfaultfd_k.js';

/** FOLL_* flags (include/linux/mm_types.h, mm/internal.h). */
export const FOLL = {
  WRITE: 1 << 0,
  GET: 1 << 1,
  DUMP: 1 << 2,
  FORCE: 1 << 3,
  NOWAIT: 1 << 4,
  NOFAULT: 1 << 5,
  HWPOISON: 1 << 6,
  ANON: 1 << 7,
  LONGTERM: 1 << 8,
  SPLIT_PMD: 1 << 9,
  PCI_P2PDMA: 1 << 10,
  INTERRUPTIBLE: 1 << 11,
  HONOR_NUMA_FAULT: 1 << 12,
  // Internal flags a caller may not pass.
  TOUCH: 1 << 16,
  TRIED: 1 << 17,
  REMOTE: 1 << 18,
  PIN: 1 << 19,
  FAST_ONLY: 1 << 20,
  UNLOCKABLE: 1 << 21,
  MADV_POPULATE: 1 << 22,
} as const;

const INTERNAL_FLAGS =
  FOLL.PIN | FOLL.TRIED | FOLL.UNLOCKABLE | FOLL.REMOTE | FOLL.FAST_ONLY | FOLL.TOUCH | FOLL.MADV_POPULATE;

/** Pages grabbed by one GUP call: frames in order, and how they are held. */
export interface GupHandle {
  readonly id: number;
  readonly mm: Mm;
  readonly start: number;
  /** Frame of each page grabbed, in address order. */
  readonly pfns: Float64Array;
  /**
   * The folio row of each page (-1: not a folio), as the kernel keeps page pointers: a folio
   * with a reference held is neither split nor migrated (can_split_folio, folio_migrate_mapping),
   * so the row stays right until the release, which needs no memmap lookup (checked by
   * checkGupHandles).
   */
  readonly rows: Int32Array;
  /** FOLL_PIN (pins) or FOLL_GET (references). */
  readonly pin: boolean;
  readonly flags: number;
  released: boolean;
  /** The VMAs the walk went through (few): what a design without a type per frame dirties by. */
  readonly vmas: readonly Vma[];
}

/**
 * is_valid_gup_args(). `wrapper` is the flag the API adds (FOLL_PIN for pin_user_pages*,
 * FOLL_GET for get_user_pages* with a pages array). Returns the effective flags.
 */
export function validGupArgs(
  flags: number,
  wrapper: number,
  opts: { pages: boolean; locked?: number },
): number {
  if (flags & INTERNAL_FLAGS) throw new KernelError('EINVAL', 'caller passed internal FOLL_* flags');
  if (opts.locked !== undefined && opts.locked !== 1) throw new KernelError('EINVAL', '*locked must be 1');
  if (wrapper === FOLL.GET && !opts.pages) wrapper = 0;
  const f = flags | wrapper;
  if (f & FOLL.GET && f & FOLL.PIN) throw new KernelError('EINVAL', 'FOLL_GET and FOLL_PIN together');
  if (f & FOLL.LONGTERM && !(f & FOLL.PIN))
    throw new KernelError('EINVAL', 'FOLL_LONGTERM needs FOLL_PIN (use pin_user_pages)');
  if (f & (FOLL.GET | FOLL.PIN) && !opts.pages)
    throw new KernelError('EINVAL', 'FOLL_GET/FOLL_PIN without a pages array');
  if (f & FOLL.LONGTERM && f & FOLL.PCI_P2PDMA)
    throw new KernelError('EINVAL', 'FOLL_LONGTERM with FOLL_PCI_P2PDMA');
  return f;
}

/** The flags gup_fast_fallback() accepts; anything else is -EINVAL for every _fast variant. */
const FAST_FLAGS =
  FOLL.WRITE |
  FOLL.LONGTERM |
  FOLL.FORCE |
  FOLL.PIN |
  FOLL.GET |
  FOLL.FAST_ONLY |
  FOLL.NOFAULT |
  FOLL.PCI_P2PDMA |
  FOLL.HONOR_NUMA_FAULT;

/**
 * The exported entry points: get_user_pages(), pin_user_pages() and their _fast variants, with
 * `wrapper` FOLL_GET or FOLL_PIN. is_valid_gup_args() failing is -EINVAL for the get and _fast
 * variants, but pin_user_pages() (and _remote, _unlocked) return 0 pages: an empty handle here.
 * The _fast variants then reject flags outside gup_fast_fallback()'s mask.
 */
export function gupCall(k: Kernel, mm: Mm, req: GupRequest, wrapper: number): GupHandle {
  let flags: number;
  try {
    flags = validGupArgs(req.flags, wrapper, { pages: true });
  } catch (e) {
    if (!(e instanceof KernelError) || req.fast || wrapper !== FOLL.PIN) throw e;
    return handle(
      k,
      mm,
      { ...req, nrPages: 0, flags: FOLL.PIN },
      { pfns: new Float64Array(0), rows: new Int32Array(0), zeros: 0 },
    );
  }
  if (req.fast && flags & ~FAST_FLAGS)
    throw new KernelError(
      'EINVAL',
      `flags 0x${(flags & ~FAST_FLAGS).toString(16)} are not allowed in GUP-fast`,
    );
  return getUserPages(k, mm, { ...req, flags });
}

/** vma_needs_dirty_tracking(): a shared writable file mapping whose filesystem tracks dirtying. */
const needsDirtyTracking = (vma: Vma): boolean =>
  (vma.flags & (VM.SHARED | VM.WRITE)) === (VM.SHARED | VM.WRITE) && !!vma.file && !vma.file.shmem;

/** check_vma_flags(): EFAULT / EOPNOTSUPP for VMAs GUP may not touch this way. */
export function checkVmaFlags(vma: Vma, flags: number): Errno | null {
  if (vma.flags & (VM.IO | VM.PFNMAP)) return 'EFAULT';
  if (flags & FOLL.ANON && !vmaIsAnonymous(vma)) return 'EFAULT';
  if (flags & FOLL.WRITE) {
    if (!vmaIsAnonymous(vma) && flags & FOLL.PIN && flags & FOLL.LONGTERM && needsDirtyTracking(vma))
      return 'EFAULT';
    if (!(vma.flags & VM.WRITE)) {
      if (!(flags & FOLL.FORCE)) return 'EFAULT';
      if (!isCowMapping(vma.flags)) return 'EFAULT';
    }
  } else if (!(vma.flags & VM.READ)) {
    if (!(flags & FOLL.FORCE) || !(vma.flags & VM.MAYREAD)) return 'EFAULT';
  }
  return null;
}

/** gup_must_unshare(), for a read-only entry. */
function mustUnshare(k: Kernel, vma: Vma, flags: number, row: number, pfn: number): boolean {
  if ((flags & (FOLL.PIN | FOLL.WRITE)) !== FOLL.PIN) return false;
  if (row >= 0 && k.folios.kind[row] === MT.ANON) return !k.folios.pageAnonExclusive(row, pfn);
  return (flags & FOLL.LONGTERM) !== 0 && isCowMapping(vma.flags);
}

/** What followPage() found: the frame and its folio row (-1 for the zero page). Reused, not reallocated. */
const hit = { pfn: 0, row: -1 };

/**
 * follow_page_pte() / follow_pmd_mask() for one address whose leaf entry sits at `slot`
 * (-1: walk to find it). null means found (in `hit`); 'nopage' means a fault is needed.
 */
function followPage(k: Kernel, vma: Vma, addr: number, flags: number, slot = -1): Errno | 'nopage' | null {
  const pd = k.ptdesc;
  let pmd = false;
  if (slot < 0) {
    slot = pd.leafSlot(vma.mm.pgd, addr);
    if (slot < 0) return 'nopage';
    pmd = pd.leafLevel === PT_LEVEL.PMD;
  }
  const e = pd.entries[slot];
  const bits = entryBits(e);
  if (e === 0 || !(bits & PTE.PRESENT)) return 'nopage';
  const pfn = entryPfn(e) + (pmd ? mod(Math.floor(addr / PAGE_SIZE), 512) : 0);
  let row = vmNormalPage(k, vma, addr, pmd ? e - bits + (bits & ~PTE.HUGE) : e);
  if (row === VMALLOC_PAGE) {
    // A vmalloc page (scamem): not anon, so no unshare, and writable only through its PTE.
    if (flags & FOLL.WRITE && !(bits & PTE.WRITE)) return 'nopage';
    if (!(bits & PTE.WRITE) && mustUnshare(k, vma, flags, -1, pfn)) return 'EMLINK';
    hit.pfn = pfn;
    hit.row = VMALLOC_PAGE;
    return null;
  }
  // A PMD leaf's anon-exclusive bit lives on its head page (follow_huge_pmd and gup_fast_pmd_leaf
  // pass pmd_page(), can_follow_write_pmd likewise), not on the subpage being grabbed.
  const bitPfn = pmd ? entryPfn(e) : pfn;
  if (flags & FOLL.WRITE && !(bits & PTE.WRITE) && !canFollowWritePte(k, vma, flags, row, bitPfn, e))
    return 'nopage';
  if (row < 0) {
    if (flags & FOLL.DUMP) return 'EFAULT';
    if (!k.pa.isZeroPfn(pfn)) return 'EEXIST';
    row = -1;
  }
  if (!(bits & PTE.WRITE) && mustUnshare(k, vma, flags, row, bitPfn)) return 'EMLINK';
  hit.pfn = pfn;
  hit.row = row;
  return null;
}

/**
 * can_follow_write_pte() / can_follow_write_pmd(): FOLL_FORCE may write a read-only entry only of
 * an exclusive anon page in a COW mapping, and only when no write fault is needed for another
 * reason: an entry uffd-wp tracks must take its fault (userfaultfd_pte_wp).
 */
function canFollowWritePte(k: Kernel, vma: Vma, flags: number, row: number, pfn: number, e: number): boolean {
  if (!(flags & FOLL.FORCE)) return false;
  if (vma.flags & (VM.SHARED | VM.MAYSHARE) || !(vma.flags & VM.MAYWRITE) || vma.flags & VM.WRITE)
    return false;
  if (!(row >= 0 && k.folios.kind[row] === MT.ANON && k.folios.pageAnonExclusive(row, pfn))) return false;
  return !userfaultfdPteWp(vma, e);
}

/** try_grab_folio(): take a FOLL_GET reference or a FOLL_PIN pin on one page. */
function grab(k: Kernel, pfn: number, row: number, flags: number, mm: Mm, addr: number): void {
  if (row === VMALLOC_PAGE) {
    if (flags & FOLL.GET) k.vmalloc.get(pfn);
    else if (flags & FOLL.PIN) k.vmalloc.pin(pfn);
    return;
  }
  if (row < 0) {
    // The shared zero page: a pin is a no-op; a reference is real.
    if (flags & FOLL.GET) k.zeroPageRefs++;
    return;
  }
  if (k.folios.refcount[row] <= 0) throw new KernelError('ENOMEM', 'try_grab_folio on a folio being freed');
  if (flags & FOLL.GET) k.folios.refcount[row]++;
  else if (flags & FOLL.PIN) k.pins.pin(row, pfn, mm, addr);
}

export interface GupRequest {
  start: number;
  nrPages: number;
  flags: number;
  /** The _fast variants: a lockless walk first, the slow path for what it cannot take. */
  fast?: boolean;
}

/**
 * __get_user_pages_locked() and, for FOLL_LONGTERM, __gup_longterm_locked(): walk, fault in and
 * grab `nrPages` pages from `start`. Returns the handle for the pages grabbed; an error on the
 * first page is thrown as KernelError, an error later returns the pages taken so far (as the
 * kernel returns a short count).
 */
export function getUserPages(k: Kernel, mm: Mm, req: GupRequest): GupHandle {
  const { flags } = req;
  if (!Number.isInteger(req.nrPages) || req.nrPages < 0)
    throw new KernelError('EINVAL', 'nr_pages must be a count');
  // An unaligned start means the page containing it (gup_fast_fallback: start & PAGE_MASK; the
  // slow walk follows the page at start, then start + PAGE_SIZE, ...).
  if (req.start % PAGE_SIZE !== 0) req = { ...req, start: req.start - mod(req.start, PAGE_SIZE) };
  if (flags & FOLL.PIN) mm.flags |= MMF.HAS_PINNED;
  if (!(flags & FOLL.LONGTERM)) return handle(k, mm, req, collect(k, mm, req));
  // __gup_longterm_locked(): memalloc_pin_save() makes the faults allocate unmovable memory.
  k.pa.memallocPin++;
  try {
    return longtermLocked(k, mm, req);
  } finally {
    k.pa.memallocPin--;
  }
}

function longtermLocked(k: Kernel, mm: Mm, req: GupRequest): GupHandle {
  for (let attempt = 0; ; attempt++) {
    // The pinnability check rides along the walk (no second pass over the pages).
    const bad: number[] = [];
    const got = collect(k, mm, req, attempt === 0 ? bad : undefined);
    if (bad.length === 0) return handle(k, mm, req, got);
    // check_and_migrate_movable_folios(): drop everything, migrate the offenders, retry once.
    releaseAll(k, mm, req.start, got, true);
    migrateToPinnable(k, [...new Set(bad.map((pfn) => k.folios.pageRow(pfn)))]);
  }
}

/** The VMAs covering the `n` pages from `start`, in order (one findVma per VMA, not per page). */
function walkedVmas(mm: Mm, start: number, n: number): Vma[] {
  const out: Vma[] = [];
  for (let a = start; a < start + n * PAGE_SIZE; ) {
    const vma = findVma(mm, a);
    if (!vma) break;
    out.push(vma);
    a = vma.end;
  }
  return out;
}

function handle(k: Kernel, mm: Mm, req: GupRequest, { pfns, rows, zeros }: Grabbed): GupHandle {
  const h: GupHandle = {
    id: k.nextGupId++,
    mm,
    start: req.start,
    pfns,
    rows,
    pin: (req.flags & FOLL.PIN) !== 0,
    flags: req.flags,
    released: false,
    vmas: walkedVmas(mm, req.start, pfns.length),
  };
  k.gup.set(h.id, h);
  // NR_FOLL_PIN_ACQUIRED: try_grab_folio returns before the counter for the shared zero page.
  if (h.pin) k.stat.events.foll_pin_acquired += pfns.length - zeros;
  if (k.stat.tracing)
    k.stat.emit({ type: h.pin ? 'pin' : 'get', mm: mm.id, addr: req.start, pages: pfns.length });
  return h;
}

/**
 * The page walk with faults: every page grabbed, or the error and what was grabbed before it.
 * Consecutive pages of one PTE table are followed slot by slot, without walking from the PGD.
 * With `unpinnable`, the frames a long-term pin may not hold are collected on the way.
 */
function collect(k: Kernel, mm: Mm, req: GupRequest, unpinnable?: number[]): Grabbed {
  const pd = k.ptdesc;
  forgetPageblock();
  const out = new Float64Array(req.nrPages);
  const rows = new Int32Array(req.nrPages);
  let zeros = 0;
  // The inline run needs pte_special to tell special entries apart, and GUP-fast's long-term
  // pins ask folio_is_longterm_pinnable() of every page (fastAllowed).
  const inline = k.pteSpecial && !(req.fast && req.flags & FOLL.LONGTERM);
  const pinning = (req.flags & FOLL.PIN) !== 0;
  const getting = !pinning && (req.flags & FOLL.GET) !== 0;
  let n = 0;
  let err: Errno | null = null;
  let vma: Vma | undefined;
  let slot = -1;
  let tableEnd = 0;
  for (; n < req.nrPages; n++) {
    const addr = req.start + n * PAGE_SIZE;
    if (!vma || addr >= vma.end) {
      vma = findVma(mm, addr);
      if (!vma) {
        err = 'EFAULT';
        break;
      }
      err = checkVmaFlags(vma, req.flags);
      if (err) break;
    }
    if (addr < tableEnd) slot++;
    else {
      slot = pd.leafSlot(mm.pgd, addr);
      tableEnd = slot >= 0 && pd.leafLevel === PT_LEVEL.PTE ? addr - (addr % PMD_SIZE) + PMD_SIZE : 0;
    }
    if (inline && tableEnd) {
      const end = Math.min(tableEnd, vma.end);
      const taken = grabRun(k, mm, pinning, getting, out, rows, n, req.nrPages, slot, addr, end, unpinnable);
      if (taken > n) {
        slot += taken - n - 1;
        n = taken - 1;
        continue;
      }
    }
    let r = tableEnd
      ? followPage(k, vma, addr, req.fast ? req.flags & ~FOLL.FORCE : req.flags, slot)
      : 'nopage';
    if (r !== null && req.fast) r = fastOne(k, vma, addr, req.flags);
    if (r !== null) {
      // The slow path may fault and change the tables: walk afresh from the next page on.
      tableEnd = 0;
      r = slowOne(k, vma, addr, req.flags);
      if (r !== null) {
        err = r;
        break;
      }
    } else if (req.fast && !fastAllowed(k, hit.pfn, hit.row, req.flags)) {
      tableEnd = 0;
      const s2 = slowOne(k, vma, addr, req.flags);
      if (s2 !== null) {
        err = s2;
        break;
      }
    }
    grab(k, hit.pfn, hit.row, req.flags, mm, addr);
    out[n] = hit.pfn;
    rows[n] = hit.row >= 0 ? hit.row : -1;
    if (hit.pfn === k.pa.zeroPfn) zeros++;
    if (unpinnable) noteUnpinnable(k, hit.pfn, unpinnable);
  }
  if (err && n === 0)
    throw new KernelError(err, `get_user_pages at 0x${(req.start + n * PAGE_SIZE).toString(16)}`);
  return n === req.nrPages
    ? { pfns: out, rows, zeros }
    : { pfns: out.slice(0, n), rows: rows.slice(0, n), zeros };
}

/** What a walk grabbed: the frames, their folio rows (-1: not a folio), and how many were the shared zero page. */
export interface Grabbed {
  pfns: Float64Array;
  rows: Int32Array;
  zeros: number;
}

/**
 * What GUP-fast may take without the slow path (gup_fast_pte_range): no migration for a
 * long-term pin, and — since it cannot see the VMA — no non-anon page under a R/O long-term pin.
 */
function fastAllowed(k: Kernel, pfn: number, row: number, flags: number): boolean {
  if (row < 0 && !k.pa.isZeroPfn(pfn)) return false;
  if (flags & FOLL.LONGTERM && !longtermPinnable(k, pfn)) return false;
  return !(
    (flags & (FOLL.PIN | FOLL.WRITE | FOLL.LONGTERM)) === (FOLL.PIN | FOLL.LONGTERM) &&
    (row < 0 || k.folios.kind[row] !== MT.ANON)
  );
}

/** GUP-fast for one page off the incremental walk (a PMD leaf, say): found in `hit`, or not. */
function fastOne(k: Kernel, vma: Vma, addr: number, flags: number): Errno | 'nopage' | null {
  const r = followPage(k, vma, addr, flags & ~FOLL.FORCE);
  return r === null && fastAllowed(k, hit.pfn, hit.row, flags) ? null : 'nopage';
}

/** One page of __get_user_pages(): follow, fault in as needed, follow again. Found in `hit`. */
function slowOne(k: Kernel, vma: Vma, addr: number, flags: number): Errno | null {
  for (let tries = 0; tries < 3; tries++) {
    const r = followPage(k, vma, addr, flags);
    if (r === null) return null;
    if (r !== 'nopage' && r !== 'EMLINK') return r;
    if (flags & FOLL.NOFAULT) return 'EFAULT';
    const fault = r === 'EMLINK' ? FAULT.UNSHARE : flags & FOLL.WRITE ? FAULT.WRITE : 0;
    const out = handleMmFault(k, vma, addr, fault | FAULT.REMOTE);
    if (out === 'oom') return 'ENOMEM';
    if (out !== 'ok') return 'EFAULT';
  }
  throw new KernelBug(`GUP at 0x${addr.toString(16)} made no progress after faulting`, {
    rule: '__get_user_pages: retry loop',
  });
}
