/**
 * vm_normal_page(): which present entries map a page the kernel refcounts and maps "normally".
 *
 * Models: mm/memory.c vm_normal_page (pte_special, VM_PFNMAP's linear rule, VM_MIXEDMAP, the zero
 * pages, print_bad_page_map). Kept apart from memory.ts so that files the fault paths import
 * (and memory.ts itself) can ask it without an import cycle; memory.ts re-exports it.
 */
import type { Kernel } from './kernel.js';
import { SPECIAL_PAGE, VMALLOC_PAGE } from './memdesc.js';
import { isCowMapping, VM, type Vma } from './mm_types.js';
import { entryBits, entryPfn, PTE } from './pgtable.js';
import { KernelBug, PAGE_SIZE } from './types.js';

/**
 * vm_normal_page(): the folio row a present entry maps "normally", SPECIAL_PAGE for a special
 * mapping (pfnmap, mixedmap special, the zero pages, frames without a descriptor), or VMALLOC_PAGE. With
 * pte_special the entry's bit decides; without it, the VMA flags and the linear rule of
 * VM_PFNMAP do. A special entry in an ordinary VMA, or a frame beyond every memmap, is the
 * kernel's "bad page map": a KernelBug.
 */
export function vmNormalPage(k: Kernel, vma: Vma, addr: number, entry: number): number {
  const pfn = entryPfn(entry);
  // Fast path (fork and zap ask for every entry): a non-special entry of a RAM frame with a folio.
  if (k.pteSpecial && !(entryBits(entry) & PTE.SPECIAL) && pfn < k.pa.maxPfn) {
    const row = k.pa.memmap.folioRow(pfn);
    if (row >= 0) return row;
  }
  if (!k.pteSpecial) {
    if (vma.flags & VM.MIXEDMAP) {
      if (!k.pa.memmap.pfnValid(pfn) && !k.devmem.pfnValid(pfn)) return SPECIAL_PAGE;
    } else if (vma.flags & VM.PFNMAP) {
      // The untouched original of a linear pfnmap, or any entry of a mapping that cannot COW.
      if (pfn === vma.pgoff + (addr - vma.start) / PAGE_SIZE) return SPECIAL_PAGE;
      if (!isCowMapping(vma.flags)) return SPECIAL_PAGE;
    }
    if (k.pa.isZeroPfn(pfn)) return SPECIAL_PAGE;
  } else if (entryBits(entry) & PTE.SPECIAL) {
    if (vma.flags & (VM.PFNMAP | VM.MIXEDMAP)) return SPECIAL_PAGE;
    if (k.pa.isZeroPfn(pfn)) return SPECIAL_PAGE;
    throw new KernelBug(`bad page map: special entry at 0x${addr.toString(16)} in an ordinary VMA`, {
      pfn,
      rule: 'vm_normal_page: print_bad_page_map',
    });
  }
  if (pfn >= k.pa.maxPfn && k.devmem.pfnValid(pfn)) return k.folios.pageRow(pfn);
  if (!k.pa.memmap.pfnValid(pfn)) {
    throw new KernelBug(`bad page map: entry at 0x${addr.toString(16)} beyond highest_memmap_pfn`, {
      pfn,
      rule: 'vm_normal_page: pfn > highest_memmap_pfn',
    });
  }
  const row = k.folios.pageRow(pfn);
  return row < 0 && k.vmalloc.isPage(pfn) ? VMALLOC_PAGE : row;
}
