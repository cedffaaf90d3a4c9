/**
 * Faults on file pages: the page-cache folio mapped read-only or shared, or copied at once for a
 * private write.
 *
 * Models: mm/memory.c — do_read_fault, do_cow_fault, do_shared_fault and finish_fault's
 * set_pte_range for a page-cache folio; vma_wants_writenotify (mm/mmap.c) for whether a shared
 * mapping write-protects its pages to track dirtying. Split out of memory.ts, which keeps the
 * fault dispatch, COW and zap.
 * Leaves out: fault-around (do_fault_around maps neighbouring cached pages), ->page_mkwrite.
 */
import { allocAnonFolio, anonVmaPrepare, type FaultOutcome, userBits, type Vmf } from './internal.js';
import type { Kernel } from './kernel.js';
import { MM_ANONPAGES, VM, type Vma } from './mm_types.js';
import { folioMarkDirty } from './page-writeback.js';
import { mkEntry, PTE } from './pgtable.js';
import { addNewAnonRmap, addRmapPtes, mmCounter } from './rmap.js';
import { KernelError } from './types.js';
import { userfaultfdWp } from './userfaultfd_k.js';

/** Read the page-cache folio for a file fault, or -1 on ENOMEM. */
function fileFolio(k: Kernel, vma: Vma, index: number): number {
  try {
    return k.pagecache.getFolio(vma.file!, index);
  } catch (e) {
    if (e instanceof KernelError) return -1;
    throw e;
  }
}

/**
 * Does a shared mapping write-protect its pages to track dirtying or uffd-wp
 * (vma_wants_writenotify)? Then even a read fault maps a page read-only.
 */
const wantsWritenotify = (vma: Vma): boolean =>
  (vma.flags & VM.SHARED) !== 0 && !!vma.file && (!vma.file.shmem || userfaultfdWp(vma));

/**
 * finish_fault() / set_pte_range() for a page-cache folio: the mapping takes a reference, joins
 * the file rmap and the rss, and gets its PTE.
 */
function mapPagecacheFolio(k: Kernel, vmf: Vmf, row: number, bits: number): void {
  const { vma, addr, pteRow, ptIdx: i } = vmf;
  const f = k.folios;
  f.refcount[row]++;
  addRmapPtes(k, row, f.pfn[row], 1, vma.mm);
  vma.mm.rss[mmCounter(f, row)]++;
  k.ptdesc.set(pteRow, i, mkEntry(f.pfn[row], bits));
  if (k.stat.tracing) k.stat.emit({ type: 'fault', kind: 'file', mm: vma.mm.id, addr, pfn: f.pfn[row] });
}

/** do_read_fault(): map the page-cache folio; writable only in shared mappings without writenotify. */
export function doReadFault(k: Kernel, vmf: Vmf, index: number): FaultOutcome {
  const { vma } = vmf;
  const row = fileFolio(k, vma, index);
  if (row < 0) return 'oom';
  const writable = (vma.flags & VM.SHARED) !== 0 && !wantsWritenotify(vma) && vma.flags & VM.WRITE;
  mapPagecacheFolio(k, vmf, row, PTE.PRESENT | PTE.USER | PTE.YOUNG | (writable ? PTE.WRITE : 0));
  return 'ok';
}

/** do_cow_fault(): a private write to an unmapped file page gets an anon copy at once. */
export function doCowFault(k: Kernel, vmf: Vmf, index: number): FaultOutcome {
  const { vma, addr, pteRow, ptIdx: i } = vmf;
  const src = fileFolio(k, vma, index);
  if (src < 0) return 'oom';
  anonVmaPrepare(k, vma);
  const row = allocAnonFolio(k, 0);
  if (row < 0) return 'oom';
  const f = k.folios;
  k.frames.copyFrom(f.pfn[row], k.frames, f.pfn[src]);
  addNewAnonRmap(k, row, vma, addr, false);
  vma.mm.rss[MM_ANONPAGES]++;
  k.ptdesc.set(pteRow, i, mkEntry(f.pfn[row], userBits(vma, true)));
  if (k.stat.tracing)
    k.stat.emit({ type: 'cow', kind: 'file', mm: vma.mm.id, addr, from: f.pfn[src], pfn: f.pfn[row] });
  return 'ok';
}

/** do_shared_fault(): a shared write maps the page-cache folio writable and dirties it. */
export function doSharedFault(k: Kernel, vmf: Vmf, index: number): FaultOutcome {
  const { vma } = vmf;
  const row = fileFolio(k, vma, index);
  if (row < 0) return 'oom';
  mapPagecacheFolio(k, vmf, row, userBits(vma, true));
  folioMarkDirty(k, row);
  return 'ok';
}
