/**
 * MADV_POPULATE_READ and MADV_POPULATE_WRITE: fault a range in as loads or stores would, without
 * touching its bytes.
 *
 * Models: mm/madvise.c madvise_populate() and mm/gup.c faultin_page_range(), that is
 * __get_user_pages() with FOLL_TOUCH | FOLL_HWPOISON | FOLL_MADV_POPULATE (| FOLL_WRITE) and no
 * pages array. Each VMA comes from vma_lookup() — none there is ENOMEM — and must pass
 * check_vma_flags() without FOLL_FORCE, else EINVAL: no VM_IO or VM_PFNMAP, VM_READ for a read,
 * VM_WRITE for a write (so PROT_NONE is EINVAL both ways). Each page is followed; a missing entry,
 * or for a write one that is not writable, is faulted with FAULT_FLAG_WRITE as a store would be:
 * COW is broken, the zero page (and the huge zero page) unshared, a shared file page dirtied. A
 * read maps the zero page or the page-cache page and shares what is shared. A fault that ends in
 * SIGBUS or SIGSEGV is EFAULT, on a hwpoison entry EHWPOISON, out of memory ENOMEM. Pages are
 * populated in address order up to the one that failed; what was populated stays.
 */
import { checkVmaFlags, FOLL } from './gup.js';
import { FAULT } from './internal.js';
import type { Kernel } from './kernel.js';
import { handleMmFault, vmNormalPage } from './memory.js';
import { hwpoisonEntry } from './memory-failure.js';
import { findVma, type Mm, type Vma } from './mm_types.js';
import { folioMarkDirty } from './page-writeback.js';
import { entryBits, PT_LEVEL, PTE, withBits } from './pgtable.js';
import { type Errno, KernelBug, KernelError, PAGE_SIZE } from './types.js';

/** madvise_populate(): populate [start, end) of `mm` (both page aligned) for reading or writing. */
export function madvisePopulate(k: Kernel, mm: Mm, start: number, end: number, write: boolean): void {
  const flags = FOLL.TOUCH | FOLL.HWPOISON | FOLL.MADV_POPULATE | (write ? FOLL.WRITE : 0);
  let vma: Vma | undefined;
  for (let addr = start; addr < end; addr += PAGE_SIZE) {
    if (!vma || addr >= vma.end) {
      vma = findVma(mm, addr);
      if (!vma) throw new KernelError('ENOMEM', `MADV_POPULATE: no VMA at 0x${addr.toString(16)}`);
      if (checkVmaFlags(vma, flags))
        throw new KernelError(
          'EINVAL',
          `MADV_POPULATE: the VMA at 0x${addr.toString(16)} may not be populated so`,
        );
    }
    const err = populatePage(k, vma, addr, write);
    if (err) throw new KernelError(err, `MADV_POPULATE stopped at 0x${addr.toString(16)}`);
  }
}

/**
 * One page of __get_user_pages(): follow_page_mask() — a present entry satisfies a read, a
 * writable one a write (no FOLL_FORCE) — else faultin_page() and follow again.
 */
function populatePage(k: Kernel, vma: Vma, addr: number, write: boolean): Errno | null {
  const pd = k.ptdesc;
  for (let tries = 0; tries < 3; tries++) {
    const slot = pd.leafSlot(vma.mm.pgd, addr);
    const e = slot >= 0 ? pd.entries[slot] : 0;
    const bits = entryBits(e);
    if (e !== 0 && bits & PTE.PRESENT && (!write || bits & PTE.WRITE)) {
      touch(k, vma, addr, slot, write);
      return null;
    }
    const poisoned = e !== 0 && e === hwpoisonEntry(k);
    const r = handleMmFault(k, vma, addr, write ? FAULT.WRITE : 0);
    if (r === 'oom') return 'ENOMEM';
    if (r !== 'ok') return poisoned ? 'EHWPOISON' : 'EFAULT';
  }
  throw new KernelBug(`MADV_POPULATE at 0x${addr.toString(16)} made no progress after faulting`, {
    rule: '__get_user_pages: retry loop',
  });
}

/**
 * FOLL_TOUCH on what was found: a PMD leaf is made young (and dirty for a write, touch_pmd); a
 * write through a clean PTE marks its folio dirty (follow_page_pte), as a store would have.
 */
function touch(k: Kernel, vma: Vma, addr: number, slot: number, write: boolean): void {
  const pd = k.ptdesc;
  const e = pd.entries[slot];
  if (pd.leafLevel === PT_LEVEL.PMD) {
    pd.entries[slot] = withBits(e, write ? PTE.YOUNG | PTE.DIRTY : PTE.YOUNG, 0);
    return;
  }
  if (!write || entryBits(e) & PTE.DIRTY) return;
  const row = vmNormalPage(k, vma, addr, e);
  if (row >= 0 && !k.pa.isZeroPfn(k.folios.pfn[row])) folioMarkDirty(k, row);
}
