/**
 * Page migration: move a folio's contents and mappings to a new frame.
 *
 * Models: mm/migrate.c (migrate_pages → migrate_folio_unmap / move_to_new_folio / remove_migration_ptes,
 * folio_migrate_mapping's expected-reference test) as used by check_and_migrate_movable_folios
 * (FOLL_LONGTERM) and, later, compaction. The model moves in one step what
 * the kernel does with migration entries: every PTE/PMD mapping the old folio (found by the rmap
 * walk) is rewritten to the new frames with the same bits; counts, flags, page-cache slot and
 * per-page anon exclusivity move across; the old folio is freed.
 *
 * A folio with references beyond its mappings and page-cache slot (a GUP reference or pin) cannot
 * be migrated: the kernel's folio_migrate_mapping returns -EAGAIN and the caller gives up.
 * Leaves out: migration entries as a visible state, deferred/async modes, hugetlb, device memory.
 */
import type { Kernel } from './kernel.js';
import { MT } from './memdesc.js';
import { GFP } from './mmzone.js';
import { entryBits, entryPfn, mkEntry } from './pgtable.js';
import { ksmMigrate, rmapWalk } from './rmap.js';
import { KernelError } from './types.js';

/** folio_expected_ref_count(): references an idle folio holds for its mappings and cache slot. */
export function expectedRefs(k: Kernel, row: number): number {
  const f = k.folios;
  const cache = f.kind[row] === MT.FILE && f.mapping[row] !== 0 ? f.nrPages(row) : 0;
  return f.mapcountOf(row) + cache;
}

/**
 * Migrate one folio to a frame allocated with `gfp` (a zone and migratetype the caller chooses).
 * Returns the new folio's row. Throws KernelError EAGAIN when extra references pin it in place,
 * ENOMEM when no frame is free. `target`, when given, supplies the new folio instead (compaction).
 */
export function migrateFolio(
  k: Kernel,
  row: number,
  gfp: number,
  target?: (order: number, kind: 2 | 3) => number,
): number {
  const f = k.folios;
  if (f.refcount[row] !== expectedRefs(k, row)) {
    throw new KernelError(
      'EAGAIN',
      `folio 0x${f.pfn[row].toString(16)} has ${f.refcount[row] - expectedRefs(k, row)} unexpected references`,
    );
  }
  const order = f.order[row];
  const oldPfn = f.pfn[row];
  const hits = rmapWalk(k, row);
  const kind = f.kind[row] as 2 | 3;
  // A compaction target comes from the free scanner (compaction_alloc), else from the allocator.
  const nrow = (target ? target(order, kind) : f.alloc(gfp | GFP.COMP, order, kind)) >>> 0;
  const newPfn = f.pfn[nrow];
  const n = f.nrPages(row);
  for (let i = 0; i < n; i++) k.frames.copyFrom(newPfn + i, k.frames, oldPfn + i);
  f.moveState(row, nrow);
  ksmMigrate(k, row, nrow);
  for (const h of hits) {
    const levels = k.ptdesc.walk(h.mm.pgd, h.addr);
    const last = levels[levels.length - 1];
    const delta = entryPfn(last.entry) - oldPfn;
    k.ptdesc.set(last.table, last.index, mkEntry(newPfn + delta, entryBits(last.entry)));
  }
  if (f.kind[nrow] === MT.FILE && f.mapping[nrow] !== 0) {
    const file = k.pagecache.byMappingId(f.mapping[nrow]);
    if (file) file.pages[f.index[nrow]] = f.handleOf(nrow);
  }
  // The old folio now holds only the reference the allocation gave the new one: free it.
  f.putRow(row, f.refcount[row]);
  k.stat.events.pgmigrate_success += n;
  if (k.stat.tracing) k.stat.emit({ type: 'migrate', from: oldPfn, pfn: newPfn, order });
  return nrow;
}

/**
 * migrate_longterm_unpinnable_folios(): move folios out of ZONE_MOVABLE and CMA so they may be
 * pinned for a long time. Failure is ENOMEM for the GUP caller, as in the kernel.
 */
export function migrateToPinnable(k: Kernel, rows: number[]): void {
  for (const row of rows) {
    try {
      // GFP_HIGHUSER without __GFP_MOVABLE: ZONE_NORMAL (or DMA32), never CMA or ZONE_MOVABLE.
      migrateFolio(k, row, 0);
    } catch (e) {
      if (e instanceof KernelError) {
        k.stat.events.pgmigrate_fail++;
        throw new KernelError('ENOMEM', `FOLL_LONGTERM could not migrate an unpinnable folio: ${e.message}`);
      }
      throw e;
    }
  }
}
