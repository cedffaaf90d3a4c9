/**
 * Dirtying a folio: folio_mark_dirty() / set_page_dirty() dispatched by what owns the folio.
 *
 * Models: folio_mark_dirty (mm/page-writeback.c), folio_mapping (mm/util.c), filemap_dirty_folio
 * and noop_dirty_folio. Anonymous, KSM, driver and vmalloc folios have no
 * address_space to tell: only PG_dirty is set. A file folio also marks its inode I_DIRTY_PAGES;
 * shmem folios behave like the noop path (the flag only).
 * Writeback (fsync) cleans the folio the way folio_clear_dirty_for_io() does: folio_mkclean()
 * write-protects and cleans every shared PTE first, so the next store faults and redirties it.
 */
import type { File } from './filemap.js';
import { PG } from './folio.js';
import type { Kernel } from './kernel.js';
import { MT } from './memdesc.js';
import { VM } from './mm_types.js';
import { entryBits, entryPfn, PT_LEVEL, PTE, PTRS_PER_TABLE, withBits } from './pgtable.js';
import { type Errno, PAGE_SIZE } from './types.js';

/** What folio_mark_dirty() reached: for tests and traces. */
export type DirtyPath = 'filemap' | 'noop';

/** folio_mark_dirty(): returns whether the folio was newly dirtied and which path ran. */
export function folioMarkDirty(k: Kernel, row: number): { newly: boolean; path: DirtyPath } {
  const f = k.folios;
  const file =
    f.kind[row] === MT.FILE && f.mapping[row] !== 0 ? k.pagecache.byMappingId(f.mapping[row]) : undefined;
  // folio_mapping(): anon/KSM folios and those without a mapping take the noop path.
  const path: DirtyPath = file && !file.shmem ? 'filemap' : 'noop';
  const newly = !f.testFlag(row, PG.dirty);
  if (newly) f.setFlag(row, PG.dirty);
  if (path === 'filemap' && file) {
    f.clearFlag(row, PG.reclaim);
    file.dirty = true;
  }
  return { newly, path };
}

/**
 * set_page_dirty_lock(page) by frame: folio_mark_dirty() on the folio the frame belongs to (anon,
 * KSM, file, shmem, driver and device folios alike, by their owner); a vmalloc page (a scamem in
 * the model, with no page flags to hold PG_dirty) and a frame without a descriptor report 'none'.
 */
export function setPageDirtyLock(k: Kernel, pfn: number): { newly: boolean; path: DirtyPath | 'none' } {
  const row = k.pa.isZeroPfn(pfn) ? -1 : k.pa.memmap.folioRow(pfn);
  if (row < 0) return { newly: false, path: 'none' };
  return folioMarkDirty(k, row);
}

/**
 * folio_mkclean() (mm/rmap.c, page_vma_mkclean_one): every PTE of a VM_SHARED mapping of this
 * page-cache folio loses write and dirty; returns how many were writable or dirty. Private
 * mappings are skipped (invalid_mkclean_vma): their PTEs of the folio are read-only already.
 */
export function folioMkclean(k: Kernel, row: number): number {
  const f = k.folios;
  const file = f.mapping[row] !== 0 ? k.pagecache.byMappingId(f.mapping[row]) : undefined;
  if (!file) return 0;
  const pd = k.ptdesc;
  const pfn = f.pfn[row];
  let cleaned = 0;
  for (const vma of file.mmap) {
    if (!(vma.flags & VM.SHARED)) continue;
    const addr = vma.start + (f.index[row] - vma.pgoff) * PAGE_SIZE;
    if (addr < vma.start || addr >= vma.end) continue;
    const slot = pd.leafSlot(vma.mm.pgd, addr);
    if (slot < 0 || pd.leafLevel !== PT_LEVEL.PTE) continue;
    const pte = pd.entries[slot];
    if (pte === 0 || entryPfn(pte) !== pfn || !(entryBits(pte) & (PTE.WRITE | PTE.DIRTY))) continue;
    const table = Math.floor(slot / PTRS_PER_TABLE);
    pd.set(table, slot - table * PTRS_PER_TABLE, withBits(pte, 0, PTE.WRITE | PTE.DIRTY));
    cleaned++;
  }
  return cleaned;
}

/**
 * fsync() / filemap_write_and_wait(): write back each dirty folio of `file` after
 * folio_clear_dirty_for_io() (folio_mkclean; a dirty PTE found there would redirty the folio,
 * which is dirty anyway). Returns and clears the error recorded on the mapping.
 */
export function fileFsync(k: Kernel, file: File): Errno | null {
  return k.pagecache.sync(file, (row) => {
    if (folioMkclean(k, row) > 0) folioMarkDirty(k, row);
  });
}
