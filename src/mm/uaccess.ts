/**
 * A process touching its own memory: the CPU's page-table walk, the fault on a miss, the copy.
 *
 * Models: what the MMU does on a user load or store (walk, permission check against the entry,
 * setting the accessed and dirty bits) and the retry after do_user_addr_fault(). A fault that
 * ends in SIGSEGV or SIGBUS stops the access there; bytes before the faulting page were already
 * transferred, as with a real partial memcpy. Out of memory inside a fault is ENOMEM (where the
 * kernel would invoke the OOM killer).
 */

import { FAULT } from './internal.js';
import type { Kernel } from './kernel.js';
import { handleMmFault } from './memory.js';
import { findVma, type Mm, type Process, VM } from './mm_types.js';
import { entryBits, entryPfn, PT_LEVEL, PTE, withBits } from './pgtable.js';
import { KernelError, mod, PAGE_SIZE } from './types.js';

export interface Translation {
  pfn: number;
  /** The entry's bits (PTE or PMD). */
  bits: number;
  level: 'pte' | 'pmd';
}

/**
 * Walk the tables for `addr` without faulting: the frame and entry bits, or undefined when
 * nothing is mapped there.
 */
export function translate(k: Kernel, mm: Mm, addr: number): Translation | undefined {
  const levels = k.ptdesc.walk(mm.pgd, addr);
  const last = levels[levels.length - 1];
  if (last.entry === 0 || !(entryBits(last.entry) & PTE.PRESENT)) return undefined;
  if (last.level === PT_LEVEL.PMD) {
    const sub = Math.floor((addr % 2 ** 21) / PAGE_SIZE);
    return { pfn: entryPfn(last.entry) + sub, bits: entryBits(last.entry), level: 'pmd' };
  }
  if (last.level !== PT_LEVEL.PTE) return undefined;
  return { pfn: entryPfn(last.entry), bits: entryBits(last.entry), level: 'pte' };
}

/** The hardware side of an access: the frame if the entry allows it, setting accessed/dirty bits. */
function hwAccess(k: Kernel, mm: Mm, addr: number, write: boolean): number {
  const pd = k.ptdesc;
  const slot = pd.leafSlot(mm.pgd, addr);
  if (slot < 0) return -1;
  const e = pd.entries[slot];
  const bits = entryBits(e);
  if (!(bits & PTE.PRESENT) || (write && !(bits & PTE.WRITE))) return -1;
  const want = write ? PTE.YOUNG | PTE.DIRTY : PTE.YOUNG;
  // The entry is already counted as used; only its bits change.
  if ((bits & want) !== want) pd.entries[slot] = withBits(e, want, 0);
  const pfn = entryPfn(e);
  return pd.leafLevel === PT_LEVEL.PMD ? pfn + mod(Math.floor(addr / PAGE_SIZE), 512) : pfn;
}

export interface AccessResult {
  /** Bytes transferred before any signal. */
  done: number;
  signal?: 'SIGSEGV' | 'SIGBUS';
  /**
   * The access waits on a userfaultfd write-protect fault (sync mode): its message is queued and
   * the rest is not done until the monitor resolves it and the access runs again.
   */
  userfault?: true;
  /** The faulting address when a signal was raised or a userfault is pending. */
  addr?: number;
}

/**
 * A user access of `len` bytes at `addr`: for each page, the MMU walk, a fault on a miss, then the
 * transfer through `copy(pfn, offsetInPage, n, doneSoFar)`.
 */
export function userAccess(
  k: Kernel,
  p: Process,
  addr: number,
  len: number,
  write: boolean,
  copy: (pfn: number, off: number, n: number, done: number) => void,
): AccessResult {
  const mm = p.mm;
  let done = 0;
  while (done < len) {
    const a = addr + done;
    const off = mod(a, PAGE_SIZE);
    const n = Math.min(len - done, PAGE_SIZE - off);
    const vma = findVma(mm, a);
    // PROT_NONE and missing VMAs fault before any table is consulted (the entry is not accessible).
    const allowed = vma && (write ? vma.flags & VM.WRITE : vma.flags & (VM.READ | VM.WRITE | VM.EXEC));
    let pfn = allowed ? hwAccess(k, mm, a, write) : -1;
    // The instruction is retried after each fault; a uffd-wp marker takes two (the page comes in
    // write-protected, then the write faults on the protection), anything else one.
    for (let tries = 0; pfn < 0; tries++) {
      if (tries === 3)
        throw new Error(
          `faults at 0x${a.toString(16)} returned ok but the entry still does not allow the access`,
        );
      const r = allowed ? handleMmFault(k, vma, a, write ? FAULT.WRITE | FAULT.USER : FAULT.USER) : 'sigsegv';
      if (r === 'oom') throw new KernelError('ENOMEM', `out of memory in a fault at 0x${a.toString(16)}`);
      if (r === 'userfault') return { done, userfault: true, addr: a };
      if (r !== 'ok') {
        const signal = r === 'sigbus' ? 'SIGBUS' : 'SIGSEGV';
        p.signals.push({ signal, addr: a });
        return { done, signal, addr: a };
      }
      pfn = hwAccess(k, mm, a, write);
    }
    copy(pfn, off, n, done);
    done += n;
  }
  return { done };
}

/** Bytes to store: exact bytes, or `len` copies of one byte. */
export type UserData = Uint8Array | { byte: number; len: number };

/** A load of `len` bytes (copy_to_user's view from the process): the bytes, or the signal that stopped it. */
export function userRead(
  k: Kernel,
  p: Process,
  addr: number,
  len: number,
): AccessResult & { bytes: Uint8Array } {
  const bytes = new Uint8Array(len);
  const r = userAccess(k, p, addr, len, false, (pfn, off, n, done) =>
    k.frames.read(pfn, off, n, bytes, done),
  );
  return { ...r, bytes: bytes.subarray(0, r.done) };
}

/** A store of `data` at `addr`. */
export function userWrite(k: Kernel, p: Process, addr: number, data: UserData): AccessResult {
  const len = data instanceof Uint8Array ? data.length : data.len;
  return userAccess(k, p, addr, len, true, (pfn, off, n, done) => {
    if (data instanceof Uint8Array) k.frames.write(pfn, off, data.subarray(done, done + n));
    else k.frames.fillRange(pfn, off, n, data.byte);
  });
}

/**
 * One load (or store of `byte`) in every page of [addr, addr+len), the way a program faults a
 * buffer in. `done` counts pages; the first signal stops the loop.
 */
export function userTouch(
  k: Kernel,
  p: Process,
  addr: number,
  len: number,
  write: boolean,
  byte: number,
): AccessResult {
  const store = (pfn: number, off: number) => k.frames.fillRange(pfn, off, 1, byte);
  const load = () => {};
  let done = 0;
  for (let a = addr; a < addr + len; a += PAGE_SIZE - mod(a, PAGE_SIZE)) {
    const r = userAccess(k, p, a, 1, write, write ? store : load);
    if (r.signal) return { done, signal: r.signal, addr: r.addr };
    done++;
  }
  return { done };
}
