/**
 * Putting driver memory into user VMAs: vm_insert_page(s), vmf_insert_pfn, vmf_insert_mixed and
 * remap_pfn_range, plus the driver's side of mmap.
 *
 * Models: the insert half of mm/memory.c — validate_page_before_insert, insert_page,
 * vm_insert_page / vm_insert_pages, insert_pfn / vmf_insert_pfn_prot,
 * vm_mixed_ok / vm_mixed_zeropage_allowed / __vm_insert_mixed, remap_pfn_range with its
 * whole-VMA rule for COW mappings and the PAT tracking context — kept apart from memory.ts
 * so that file stays the fault path. A driver is an mmap handler plus vm_ops (mm_types.ts VmOps).
 *
 * Frames may be RAM with a descriptor (alloc_pages, vmalloc pages, ZONE_DEVICE pages with a real
 * descriptor) or frames with none (pfn-only I/O or flash memory above RAM, unpopulated lazy device
 * memory): only the pfn APIs may map those, with special entries that count nothing.
 * Leaves out: PAT cache modes (io_remap_pfn_range == remap_pfn_range here), pfn_modify_allowed
 * (L1TF: always allowed), PMD/PUD-level inserts (vmf_insert_pfn_pmd), the mmap_prepare variant.
 */
import type { Kernel } from './kernel.js';
import { INVALID_PAGE, MT, TYPE_MASK } from './memdesc.js';
import { zapRange } from './memory_zap.js';
import { isCowMapping, MM_FILEPAGES, VM, type Vma, type VmFaultResult, type VmOps } from './mm_types.js';
import { entryBits, levelIndex, mkEntry, PT_LEVEL, PTE } from './pgtable.js';
import { addRmapPtes, mmCounter } from './rmap.js';
import { type Errno, KernelBug, KernelError, PAGE_SIZE } from './types.js';

/** A device driver: its mmap file operation and the vm_ops it gives the VMAs it sets up. */
export interface Driver {
  readonly name: string;
  /** file->f_op->mmap: runs after the VMA exists, mmap_lock held for write. Throws to fail mmap. */
  mmap?(vma: Vma): void;
  readonly ops?: VmOps;
}

/** How the caller holds mmap_lock: drivers' mmap handlers hold it for write, fault handlers for read. */
export type MmapLock = 'write' | 'read';

const hex = (n: number) => `0x${n.toString(16)}`;

/** pfn_valid() over RAM and device ranges with a memmap. */
export function pfnValid(k: Kernel, pfn: number): boolean {
  return k.pa.memmap.pfnValid(pfn) || k.devmem.pfnValid(pfn);
}

/**
 * walk_to_pmd + pte_alloc for one address: the PTE table row and index. ENOMEM propagates; a
 * PMD leaf (a THP) in the way is the debug kernel's VM_BUG_ON.
 */
function pteSlot(k: Kernel, vma: Vma, addr: number): [number, number] {
  const pd = k.ptdesc;
  const pmdRow = pd.tableFor(vma.mm.pgd, addr, PT_LEVEL.PMD, true);
  const pmdIdx = levelIndex(addr, PT_LEVEL.PMD);
  const pmd = pd.get(pmdRow, pmdIdx);
  if (pmd !== 0 && entryBits(pmd) & PTE.HUGE)
    throw new KernelBug(`insert at ${hex(addr)} under a huge PMD`, { rule: 'walk_to_pmd: pmd_trans_huge' });
  return [pd.pteTableAt(pmdRow, pmdIdx), levelIndex(addr, PT_LEVEL.PTE)];
}

/** The protection bits vm_page_prot gives a new entry: writable only in shared writable mappings. */
function protBits(vma: Vma): number {
  const writable = (vma.flags & (VM.WRITE | VM.SHARED)) === (VM.WRITE | VM.SHARED);
  return PTE.PRESENT | PTE.USER | PTE.YOUNG | (writable ? PTE.WRITE : 0);
}

/**
 * vm_mixed_zeropage_allowed(): may the shared zero page go into this VMA through the insert APIs?
 * Yes for COW mappings and mappings that can never be written; otherwise only where a
 * pfn_mkwrite hook will replace it before a write (VM_IO here; fsdax is not modelled).
 */
export function vmMixedZeropageAllowed(vma: Vma): boolean {
  if (isCowMapping(vma.flags)) return true;
  if (!(vma.flags & (VM.WRITE | VM.MAYWRITE))) return true;
  return !!vma.ops?.pfnMkwrite && (vma.flags & VM.IO) !== 0;
}

/** What validate_page_before_insert() found: a folio row, the zero page, or a vmalloc page. */
type PageRef = { kind: 'folio'; row: number } | { kind: 'zero' } | { kind: 'vmalloc' };

/** validate_page_before_insert(): EINVAL for pages that may not be inserted. */
function validatePage(k: Kernel, vma: Vma, pfn: number): PageRef {
  if (k.pa.isZeroPfn(pfn)) {
    if (!vmMixedZeropageAllowed(vma))
      throw new KernelError('EINVAL', 'the zero page may not go into a writable shared mapping');
    return { kind: 'zero' };
  }
  if (k.devmem.pfnToPage(pfn) === INVALID_PAGE)
    throw new KernelError('EINVAL', `pfn ${hex(pfn)} has the shared invalid descriptor (refcount 0)`);
  if (!pfnValid(k, pfn)) throw new KernelError('EINVAL', `pfn ${hex(pfn)} has no struct page`);
  const row = k.folios.pageRow(pfn);
  if (row >= 0) {
    const kind = k.folios.kind[row];
    if (k.folios.refcount[row] <= 0) throw new KernelError('EINVAL', `page ${hex(pfn)} has refcount 0`);
    if (kind === MT.ANON) throw new KernelError('EINVAL', `page ${hex(pfn)} is anonymous`);
    if (kind === MT.LARGE_KMALLOC) throw new KernelError('EINVAL', `page ${hex(pfn)} is typed large_kmalloc`);
    return { kind: 'folio', row };
  }
  const type = k.pa.memmap.lo(pfn) & TYPE_MASK;
  if (type === MT.VMALLOC) {
    if (k.vmalloc.pageRefcount(pfn) <= 0) throw new KernelError('EINVAL', `page ${hex(pfn)} has refcount 0`);
    return { kind: 'vmalloc' };
  }
  // Buddy, slab, page tables, offline, hwpoison, reserved and free tails: typed or refcount 0.
  throw new KernelError('EINVAL', `page ${hex(pfn)} is not insertable (typed or free)`);
}

/** The VM_MIXEDMAP rule of vm_insert_page(s): BUGs, then the flag. */
function needMixedmap(vma: Vma, lock: MmapLock): void {
  if (vma.flags & VM.MIXEDMAP) return;
  if (lock !== 'write')
    throw new KernelBug('vm_insert_page into a VMA without VM_MIXEDMAP, mmap_lock not held for write', {
      rule: 'vm_insert_page: BUG_ON(mmap_read_trylock(vma->vm_mm))',
    });
  if (vma.flags & VM.PFNMAP)
    throw new KernelBug('vm_insert_page into a VM_PFNMAP VMA', { rule: 'vm_insert_page: BUG_ON(VM_PFNMAP)' });
  vma.flags |= VM.MIXEDMAP;
}

/** insert_page() once validated: +1 reference, +1 file-rmap mapcount, +1 file/shmem rss. */
function insertPage(k: Kernel, vma: Vma, addr: number, pfn: number, page: PageRef): void {
  const [pteRow, i] = pteSlot(k, vma, addr);
  if (k.ptdesc.get(pteRow, i) !== 0)
    throw new KernelError('EBUSY', `the PTE at ${hex(addr)} is already populated`);
  const mm = vma.mm;
  if (page.kind === 'zero') {
    k.ptdesc.set(pteRow, i, mkEntry(pfn, (protBits(vma) & ~PTE.WRITE) | PTE.SPECIAL));
    return;
  }
  if (page.kind === 'folio') {
    k.folios.refcount[page.row]++;
    addRmapPtes(k, page.row, pfn, 1, mm);
    mm.rss[mmCounter(k.folios, page.row)]++;
  } else {
    k.vmalloc.get(pfn);
    k.vmalloc.addMap(pfn, 1);
    mm.rss[MM_FILEPAGES]++;
  }
  k.ptdesc.set(pteRow, i, mkEntry(pfn, protBits(vma)));
  if (k.stat.tracing) k.stat.emit({ type: 'insert_page', mm: mm.id, addr, pfn });
}

function inVma(vma: Vma, addr: number, len = PAGE_SIZE): boolean {
  return addr >= vma.start && addr + len <= vma.end;
}

/** vm_insert_page(): map a page with a descriptor, refcounted, into `vma`. */
export function vmInsertPage(k: Kernel, vma: Vma, addr: number, pfn: number, lock: MmapLock = 'write'): void {
  if (addr % PAGE_SIZE !== 0 || !inVma(vma, addr))
    throw new KernelError('EFAULT', `${hex(addr)} is outside the VMA`);
  needMixedmap(vma, lock);
  const page = validatePage(k, vma, pfn);
  insertPage(k, vma, addr, pfn, page);
}

/** What vm_insert_pages() returns: 0 or the error, and *num = pages NOT mapped. */
export interface InsertPagesResult {
  err: Errno | null;
  notMapped: number;
}

/** vm_insert_pages(): page after page; the first error stops, earlier pages stay mapped. */
export function vmInsertPages(
  k: Kernel,
  vma: Vma,
  addr: number,
  pfns: ArrayLike<number>,
  lock: MmapLock = 'write',
): InsertPagesResult {
  if (addr % PAGE_SIZE !== 0 || !inVma(vma, addr, pfns.length * PAGE_SIZE))
    throw new KernelError('EFAULT', `${pfns.length} pages at ${hex(addr)} do not fit the VMA`);
  needMixedmap(vma, lock);
  for (let n = 0; n < pfns.length; n++) {
    try {
      insertPage(k, vma, addr + n * PAGE_SIZE, pfns[n], validatePage(k, vma, pfns[n]));
    } catch (e) {
      if (e instanceof KernelError) return { err: e.errno, notMapped: pfns.length - n };
      throw e;
    }
  }
  return { err: null, notMapped: 0 };
}

/** insert_pfn(): a special entry, no descriptor touched; an entry already there is left alone. */
function insertPfn(k: Kernel, vma: Vma, addr: number, pfn: number): VmFaultResult {
  let slot: [number, number];
  try {
    slot = pteSlot(k, vma, addr);
  } catch (e) {
    if (e instanceof KernelError) return 'oom';
    throw e;
  }
  const [pteRow, i] = slot;
  if (k.ptdesc.get(pteRow, i) !== 0) return 'nopage';
  // pte_mkspecial() is a no-op where the architecture has no special bit.
  const special = k.pteSpecial || k.pa.isZeroPfn(pfn) ? PTE.SPECIAL : 0;
  const bits = protBits(vma) | special;
  k.ptdesc.set(pteRow, i, mkEntry(pfn, k.pa.isZeroPfn(pfn) ? bits & ~PTE.WRITE : bits));
  if (k.stat.tracing) k.stat.emit({ type: 'insert_pfn', mm: vma.mm.id, addr, pfn });
  return 'nopage';
}

/**
 * vmf_insert_pfn(). Misuse the kernel BUGs on is a KernelBug: no pfnmap/mixedmap flag, both
 * flags, a COW pfnmap (its linear rule cannot hold for a single inserted pfn), or a mixedmap VMA
 * given a pfn that has a struct page. Success and "already populated" are both VM_FAULT_NOPAGE.
 */
export function vmfInsertPfn(k: Kernel, vma: Vma, addr: number, pfn: number): VmFaultResult {
  const pm = vma.flags & (VM.PFNMAP | VM.MIXEDMAP);
  const rule = 'vmf_insert_pfn_prot: BUG_ON';
  if (pm === 0)
    throw new KernelBug('vmf_insert_pfn into a VMA with neither VM_PFNMAP nor VM_MIXEDMAP', { rule });
  if (pm === (VM.PFNMAP | VM.MIXEDMAP))
    throw new KernelBug('vmf_insert_pfn into a VMA with both VM_PFNMAP and VM_MIXEDMAP', { rule });
  if (vma.flags & VM.PFNMAP && isCowMapping(vma.flags))
    throw new KernelBug('vmf_insert_pfn into a COW VM_PFNMAP VMA', { pfn, rule });
  if (vma.flags & VM.MIXEDMAP && pfnValid(k, pfn))
    throw new KernelBug('vmf_insert_pfn of a pfn with a struct page into a VM_MIXEDMAP VMA', { pfn, rule });
  if (addr % PAGE_SIZE !== 0 || !inVma(vma, addr)) return 'sigbus';
  return insertPfn(k, vma, addr, pfn);
}

/**
 * vmf_insert_mixed() / vmf_insert_mixed_mkwrite(). With pte_special every pfn — RAM with a
 * descriptor too — becomes a special, uncounted entry; without it, a pfn with a struct page is
 * inserted as a counted page.
 */
export function vmfInsertMixed(
  k: Kernel,
  vma: Vma,
  addr: number,
  pfn: number,
  mkwrite = false,
): VmFaultResult {
  const zero = k.pa.isZeroPfn(pfn);
  if (zero && (mkwrite || !vmMixedZeropageAllowed(vma))) return 'sigbus';
  if (!(vma.flags & VM.MIXEDMAP) && !zero) return 'sigbus';
  if (addr % PAGE_SIZE !== 0 || !inVma(vma, addr)) return 'sigbus';
  if (k.pteSpecial || !pfnValid(k, pfn) || zero) return insertPfn(k, vma, addr, pfn);
  try {
    insertPage(k, vma, addr, pfn, validatePage(k, vma, pfn));
    return 'nopage';
  } catch (e) {
    if (!(e instanceof KernelError)) throw e;
    if (e.errno === 'ENOMEM') return 'oom';
    return e.errno === 'EBUSY' ? 'nopage' : 'sigbus';
  }
}

/** VMAs with a whole-VMA PAT tracking context (pfnmap_track_ctx in vm_area_struct). */
const patTracked = new WeakSet<Vma>();

/**
 * remap_pfn_range(): map [addr, addr+size) to consecutive pfns with special entries. A COW
 * mapping must be remapped whole, and its vm_pgoff becomes the first pfn (vm_normal_page's linear rule
 * for VM_PFNMAP depends on it). The VMA gains VM_IO | VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP.
 */
export function remapPfnRange(k: Kernel, vma: Vma, addr: number, pfn: number, size: number): void {
  const end = addr + Math.ceil(size / PAGE_SIZE) * PAGE_SIZE;
  const whole = addr === vma.start && end === vma.end;
  if (whole && patTracked.has(vma))
    throw new KernelError('EINVAL', 'the VMA already has a PAT tracking context (second whole-VMA remap)');
  if (addr % PAGE_SIZE !== 0) throw new KernelError('EINVAL', `${hex(addr)} is not page aligned`);
  if (addr >= end)
    throw new KernelBug('remap_pfn_range of an empty range', {
      rule: 'remap_pfn_range: BUG_ON(addr >= end)',
    });
  if (isCowMapping(vma.flags) && !whole)
    throw new KernelError('EINVAL', 'a COW mapping must be remapped as a whole VMA');
  if (addr < vma.start || end > vma.end) throw new KernelError('EINVAL', 'range outside the VMA');
  // Every target entry must be empty: checked before anything changes (the kernel BUGs midway).
  for (let a = addr; a < end; a += PAGE_SIZE) {
    const slot = k.ptdesc.leafSlot(vma.mm.pgd, a);
    if (slot >= 0 && k.ptdesc.entries[slot] !== 0)
      throw new KernelBug(`remap_pfn_range over a populated entry at ${hex(a)}`, {
        rule: 'remap_pte_range: BUG_ON(!pte_none)',
      });
  }
  if (isCowMapping(vma.flags)) vma.pgoff = pfn;
  k.vmaTouched.add(vma.mm, vma.start, vma.end);
  vma.flags |= VM.IO | VM.PFNMAP | VM.DONTEXPAND | VM.DONTDUMP;
  const special = k.pteSpecial ? PTE.SPECIAL : 0;
  try {
    for (let a = addr, p = pfn; a < end; a += PAGE_SIZE, p++) {
      const [pteRow, i] = pteSlot(k, vma, a);
      k.ptdesc.set(pteRow, i, mkEntry(p, protBits(vma) | special));
    }
  } catch (e) {
    // An error after partial population zaps the whole requested range.
    zapRange(k, vma, addr, end);
    throw e;
  }
  if (whole) patTracked.add(vma);
  if (k.stat.tracing)
    k.stat.emit({ type: 'remap_pfn_range', mm: vma.mm.id, addr, pfn, pages: (end - addr) / PAGE_SIZE });
}
