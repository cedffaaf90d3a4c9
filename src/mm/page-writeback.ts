/**
 * Dirtying a folio: folio_mark_dirty() / set_page_dirty() dispatched by what owns the folio.
 *
 * Models: folio_mark_dirty (mm/page-writeback.c), folio_mapping (mm/util.c), filemap_dirty_folio
 * and noop_dirty_folio (kernel-semantics R12). Anonymous, KSM, driver and vmalloc folios have no
 * address_space to tell: only PG_dirty is set. A file folio also marks its inode I_DIRTY_PAGES;
 * shmem folios behave like the noop path (the flag only).
 */
import { PG } from './folio.js';
import type { Kernel } from './kernel.js';
import { MT } from './memdesc.js';

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
