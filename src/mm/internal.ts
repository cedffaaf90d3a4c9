/**
 * What the fault paths of memory.ts and huge_memory.ts share: fault flags and outcomes, the user
 * PTE bits of a VMA, anon_vma_prepare(), the anon folio allocation a fault makes, and the folio
 * behind a PMD leaf. Models the helpers of mm/internal.h and mm/memory.c that mm/huge_memory.c
 * calls; kept apart so memory.ts can call into huge_memory.ts without a cycle.
 */
import type { Kernel } from './kernel.js';
import { MT } from './memdesc.js';
import { VM, type Vma, type VmFault } from './mm_types.js';
import { GFP, GFP_HIGHUSER_MOVABLE, GFP_TRANSHUGE } from './mmzone.js';
import { entryPfn, PTE } from './pgtable.js';
import { HPAGE_PMD_ORDER, KernelError, PAGE_SIZE } from './types.js';

/** fault flags (FAULT_FLAG_*). */
export const FAULT = { WRITE: 1, UNSHARE: 2, USER: 4, REMOTE: 8 } as const;

/**
 * What a fault came to (vm_fault_t, reduced to what callers distinguish). 'userfault': the fault
 * was handed to userfaultfd and waits for its monitor (handle_userfault; userfaultfd_k.ts).
 */
export type FaultOutcome = 'ok' | 'sigsegv' | 'sigbus' | 'oom' | 'userfault';

export const HPAGE_PMD_NR = 1 << HPAGE_PMD_ORDER;

/** A user PTE for a frame with the VMA's protections (vm_page_prot), before COW write-protection. */
export function userBits(vma: Vma, writable: boolean): number {
  return PTE.PRESENT | PTE.USER | PTE.YOUNG | (writable && vma.flags & VM.WRITE ? PTE.WRITE | PTE.DIRTY : 0);
}

/** anon_vma_prepare(). */
export function anonVmaPrepare(k: Kernel, vma: Vma): void {
  if (vma.anonVma) return;
  vma.anonVma = k.newAnonVma();
  vma.anonVma.vmas.add(vma);
}

/** The folio row of a PMD leaf, or -1 for the huge zero folio. */
export function pmdFolio(k: Kernel, entry: number): number {
  const pfn = entryPfn(entry);
  return k.pa.isZeroPfn(pfn) ? -1 : k.folios.pageRow(pfn);
}

/** A new anon folio, or -1 on ENOMEM (the fault then returns VM_FAULT_OOM). */
export function allocAnonFolio(k: Kernel, order: number): number {
  try {
    const gfp = order === 0 ? GFP_HIGHUSER_MOVABLE | GFP.COMP : GFP_TRANSHUGE;
    return k.folios.alloc(gfp, order, MT.ANON) >>> 0;
  } catch (e) {
    if (e instanceof KernelError) return -1;
    throw e;
  }
}

/**
 * struct vm_fault: one fault's VMA, page-aligned address and flags, and the table slots the walk
 * found (PMD table row and index, PTE table row and index), handed down the fault handlers instead
 * of six positional arguments.
 */
export interface Vmf {
  vma: Vma;
  addr: number;
  flags: number;
  write: boolean;
  pmdRow: number;
  pmdIdx: number;
  pteRow: number;
  ptIdx: number;
}

// The records, reused: the kernel's vm_fault lives on the stack; here a small stack of them (a
// fault can nest only through a driver's handler) keeps the fault path free of allocation.
const records: Vmf[] = [];
let depth = 0;

/** Take a vm_fault record for a fault at `addr` (page aligned) of `vma`; give it back with vmfPut. */
export function vmfGet(vma: Vma, addr: number, flags: number): Vmf {
  let r = records[depth];
  if (!r) {
    r = { vma, addr, flags, write: false, pmdRow: -1, pmdIdx: -1, pteRow: -1, ptIdx: -1 };
    records[depth] = r;
  }
  depth++;
  r.vma = vma;
  r.addr = addr;
  r.flags = flags;
  r.write = (flags & FAULT.WRITE) !== 0;
  r.pmdRow = r.pmdIdx = r.pteRow = r.ptIdx = -1;
  return r;
}

export function vmfPut(): void {
  depth--;
}

/** The fault-time view a driver's handlers get (the struct vm_fault fields a driver reads). */
export const vmFault = (vma: Vma, addr: number, write: boolean): VmFault => ({
  vma,
  addr,
  pgoff: vma.pgoff + (addr - vma.start) / PAGE_SIZE,
  write,
});
