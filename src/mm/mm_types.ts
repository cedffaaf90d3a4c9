/**
 * Address spaces, VMAs, VM_* flags, anon_vma and processes.
 *
 * Models: struct mm_struct and struct vm_area_struct (include/linux/mm_types.h), the VM_* flags
 * (include/linux/mm.h), is_cow_mapping(), struct anon_vma (include/linux/rmap.h) and the rss
 * counters (MM_FILEPAGES, MM_ANONPAGES, MM_SHMEMPAGES). VMAs and processes are few, so they are
 * plain objects; everything per page lives in page tables and descriptor pools.
 *
 * Simplification: every VMA of one fork tree that shares anonymous memory shares one anon_vma
 * (Linux links a per-process anon_vma into the parent's through anon_vma_chain); an rmap walk
 * therefore visits a superset of the VMAs that can map a page and filters by the PTE.
 */
import type { File } from './filemap.js';
import type { UffdCtx } from './userfaultfd_k.js';

/** vm_flags bits (include/linux/mm.h). */
export const VM = {
  READ: 1 << 0,
  WRITE: 1 << 1,
  EXEC: 1 << 2,
  SHARED: 1 << 3,
  MAYREAD: 1 << 4,
  MAYWRITE: 1 << 5,
  MAYEXEC: 1 << 6,
  MAYSHARE: 1 << 7,
  /** The bit numbers follow the kernel's (VM_UFFD_MISSING and VM_UFFD_MINOR are not modelled). */
  PFNMAP: 1 << 10,
  /** Registered with userfaultfd in write-protect mode (userfaultfd.ts). */
  UFFD_WP: 1 << 12,
  LOCKED: 1 << 13,
  IO: 1 << 14,
  /** MADV_SEQUENTIAL and MADV_RANDOM's readahead hints (the model reads no ahead). */
  SEQ_READ: 1 << 15,
  RAND_READ: 1 << 16,
  DONTCOPY: 1 << 17,
  DONTEXPAND: 1 << 18,
  ACCOUNT: 1 << 20,
  NORESERVE: 1 << 21,
  HUGETLB: 1 << 22,
  WIPEONFORK: 1 << 25,
  DONTDUMP: 1 << 26,
  MIXEDMAP: 1 << 28,
  HUGEPAGE: 1 << 29,
  NOHUGEPAGE: 1 << 30,
  /** Bit 31 in Linux; renumbered so every flag stays a positive 31-bit integer. */
  MERGEABLE: 1 << 11,
} as const;

/** VM_SPECIAL (include/linux/mm.h): mappings of memory the core mm does not manage. */
export const VM_SPECIAL = VM.IO | VM.DONTEXPAND | VM.PFNMAP | VM.MIXEDMAP;

/** mmap prot bits (PROT_*). */
export const PROT = { NONE: 0, READ: 1, WRITE: 2, EXEC: 4 } as const;

/** mmap flags (MAP_*), values as in include/uapi/asm-generic/mman-common.h. */
export const MAP = {
  SHARED: 0x01,
  PRIVATE: 0x02,
  FIXED: 0x10,
  ANONYMOUS: 0x20,
  POPULATE: 0x8000,
  FIXED_NOREPLACE: 0x100000,
} as const;

/** madvise advice values (include/uapi/asm-generic/mman-common.h). */
export const MADV = {
  NORMAL: 0,
  RANDOM: 1,
  SEQUENTIAL: 2,
  DONTNEED: 4,
  FREE: 8,
  DONTFORK: 10,
  DOFORK: 11,
  MERGEABLE: 12,
  UNMERGEABLE: 13,
  HUGEPAGE: 14,
  NOHUGEPAGE: 15,
  WIPEONFORK: 18,
  DONTDUMP: 16,
  DODUMP: 17,
  KEEPONFORK: 19,
  COLD: 20,
  PAGEOUT: 21,
  POPULATE_READ: 22,
  POPULATE_WRITE: 23,
  COLLAPSE: 25,
} as const;

/** Per-mm rss counter indices (enum { MM_FILEPAGES, MM_ANONPAGES, MM_SWAPENTS, MM_SHMEMPAGES }). */
export const MM_FILEPAGES = 0;
export const MM_ANONPAGES = 1;
export const MM_SWAPENTS = 2;
export const MM_SHMEMPAGES = 3;
export const RSS_NAMES = ['file', 'anon', 'swap', 'shmem'] as const;

/** mm->flags bits the model uses. */
export const MMF = {
  /** Set on the first FOLL_PIN and never cleared (MMF_HAS_PINNED). */
  HAS_PINNED: 1 << 0,
} as const;

export interface AnonVma {
  readonly id: number;
  /** VMAs that may map pages of this anon_vma (its interval tree in Linux). */
  readonly vmas: Set<Vma>;
}

/** What a driver's fault handler came to (vm_fault_t): NOPAGE = it installed the entry itself. */
export type VmFaultResult = 'nopage' | 'sigbus' | 'sigsegv' | 'oom';

/** struct vm_fault, reduced to what the model's handlers read. */
export interface VmFault {
  readonly vma: Vma;
  /** Page-aligned faulting address. */
  readonly addr: number;
  /** File page offset of the address (vmf->pgoff). */
  readonly pgoff: number;
  readonly write: boolean;
}

/**
 * vm_operations_struct: a driver's hooks on a VMA its mmap handler set up. `fault` replaces the
 * anon/file paths for a missing entry; `pfnMkwrite` / `pageMkwrite` are asked before a shared
 * write-protected entry becomes writable (refusing gives SIGBUS).
 */
export interface VmOps {
  readonly name?: string;
  fault?(vmf: VmFault): VmFaultResult;
  pfnMkwrite?(vmf: VmFault): VmFaultResult | 'ok';
  pageMkwrite?(vmf: VmFault): VmFaultResult | 'ok';
}

export interface Vma {
  readonly mm: Mm;
  start: number;
  end: number;
  flags: number;
  /** Page offset: file pages for file mappings; start >> PAGE_SHIFT for anonymous ones. */
  pgoff: number;
  file: File | null;
  anonVma: AnonVma | null;
  /** A name for reports: the scenario's region name, the file name, or [anon]. */
  name: string;
  /** vm_ops of a driver mapping (absent for anonymous and page-cache mappings). */
  ops?: VmOps;
  /** vm_private_data: whatever the driver keeps for the mapping. */
  privateData?: unknown;
}

export interface Mm {
  readonly id: number;
  /** Row of the PGD ptdesc. */
  pgd: number;
  /** Sorted by start, non-overlapping. */
  vmas: Vma[];
  /** Indexed by MM_FILEPAGES .. MM_SHMEMPAGES. */
  readonly rss: [number, number, number, number];
  flags: number;
  /** Page tables deposited for PMD leaves, by PMD address (pgtable_trans_huge_deposit). */
  readonly deposited: Map<number, number>;
  /**
   * The userfaultfd context whose VMAs here are VM_UFFD_WP (vma->vm_userfaultfd_ctx): one per mm
   * in the model, where Linux allows one per VMA (a second uffd on the same mm is EBUSY there only
   * for VMAs the first registered).
   */
  uffd?: UffdCtx;
}

export interface Process {
  readonly pid: number;
  readonly name: string;
  readonly mm: Mm;
  /** Signals delivered to the process (SIGSEGV, SIGBUS), in order. */
  readonly signals: { signal: string; addr: number }[];
  parent: number;
  alive: boolean;
}

/** is_cow_mapping(): private and possibly writable. */
export const isCowMapping = (flags: number): boolean => (flags & (VM.SHARED | VM.MAYWRITE)) === VM.MAYWRITE;

/** vma_is_anonymous(): no file and no vm_ops (a driver's VMA has vm_ops, even without a fault hook). */
export const vmaIsAnonymous = (vma: Vma): boolean =>
  vma.file === null && vma.ops === undefined && (vma.flags & (VM.PFNMAP | VM.MIXEDMAP)) === 0;

/** find_vma_intersection for one address: the VMA containing `addr`, or undefined. */
export function findVma(mm: Mm, addr: number): Vma | undefined {
  const v = mm.vmas;
  let lo = 0;
  let hi = v.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (addr < v[mid].start) hi = mid - 1;
    else if (addr >= v[mid].end) lo = mid + 1;
    else return v[mid];
  }
  return undefined;
}

/** VM_* flags as names, for reports. */
export const VM_NAMES: Readonly<Record<string, number>> = Object.fromEntries(
  Object.entries(VM).map(([k, v]) => [k.toLowerCase(), v]),
);
