/**
 * Memory compaction: move movable pages from the start of a zone to free frames at its end, so
 * the free memory left behind merges into high-order blocks.
 *
 * Models: mm/compaction.c — compact_zone() with its two scanners (isolate_migratepages from the
 * zone start, isolate_freepages from the end, stopping when they meet), isolate_migratepages_block
 * and its skip rules, suitable_migration_source / suitable_migration_target,
 * the pageblock skip hints (PB_compact_skip, isolation_suitable / update_pageblock_skip),
 * compaction_alloc as the migration target allocator, __compact_finished's "is a block of the
 * requested order free now" test, __alloc_pages_direct_compact (compact, then retry), compact_node
 * for /proc/sys/vm/compact_memory, and the COMPACT* vmstat events; mm/vmstat.c's
 * unusable_free_index and __fragmentation_index.
 *
 * Model choices: a migration source that the pin-count design answers "maybe pinned" for is
 * refused before the reference test (the kernel relies on the refcount test of rule 9 for anon and
 * on folio_migrate_mapping's -EAGAIN for file; a design without a refcount bias has only its
 * answer), so a design's false positives show as pages that could have moved. Migration is one
 * step (migrate.ts). Leaves out: COMPACT_CLUSTER_MAX batching, deferred compaction, kcompactd and
 * proactive compaction, watermark checks (compaction_suitable), capture of the freed page, the
 * NOFS rule 10 (no GFP_FS in the model) and async dirty-folio locking (rule 14: every mapping here
 * has ->migrate_folio).
 */

import { PG } from './folio.js';
import type { Kernel } from './kernel.js';
import { MT, MT_NAMES, mdOrder, mdType } from './memdesc.js';
import { migrateFolio } from './migrate.js';
import { GFP, gfpMigratetype, MIGRATE, NR_MIGRATETYPES, type Zone } from './mmzone.js';
import { takeFreeRange } from './page_isolation.js';
import { drainAllPages, freeFrozenPages } from './pcp.js';
import { KernelError, MAX_PAGE_ORDER, PAGEBLOCK_ORDER, PAGEBLOCK_PAGES } from './types.js';

/** Why the migrate scanner passed over pages (each counts pages), or over whole pageblocks. */
export const COMPACT_SKIPS = [
  'buddy',
  'huge',
  'non_lru',
  'hwpoison',
  'pinned',
  'extra_refs',
  'unevictable',
  'writeback',
  'skip_hint',
  'isolated_block',
  'cma_block',
  'migratetype_block',
  'unreachable',
] as const;
export type CompactSkip = (typeof COMPACT_SKIPS)[number];

/** MIGRATE_ASYNC (direct compaction's first try) or MIGRATE_SYNC (compact_memory). */
export type CompactMode = 'async' | 'sync';

/** COMPACT_SUCCESS (a block of the order is free), COMPACT_COMPLETE (scanners met), COMPACT_SKIPPED. */
export type CompactOutcome = 'success' | 'complete' | 'skipped';

/** Per-pageblock compaction state of the kernel: the skip hints. */
export class CompactionState {
  /** PB_compact_skip of every pageblock. */
  readonly skip: Uint8Array;

  constructor(maxPfn: number) {
    this.skip = new Uint8Array(Math.ceil(maxPfn / PAGEBLOCK_PAGES));
  }
}

/** struct compact_control, reduced. */
export interface CompactControl {
  zone: Zone;
  /** The order wanted, or -1: compact everything (compact_memory). */
  order: number;
  mode: CompactMode;
  /** Direct compaction for an allocation: reads and writes skip hints, picks source blocks. */
  direct: boolean;
  /** Migratetype of the allocation (direct async scans only blocks of it). */
  migratetype: number;
  /** ALLOC_CMA: the allocation may use CMA, so CMA blocks are worth emptying. */
  allowCma: boolean;
  /** ISOLATE_UNEVICTABLE (alloc_contig, CMA): mlocked pages move too. */
  unevictable: boolean;
  /** Frames (from zone.startPfn) the pfn_lookup design can classify; absent: all (the memmap). */
  reach?: Uint8Array | null;
}

/** What one compact_zone() run did. */
export interface CompactResult {
  nid: number;
  zone: string;
  outcome: CompactOutcome;
  /** Pages the migrate scanner looked at (compact_migrate_scanned). */
  migrateScanned: number;
  /** Pages the free scanner looked at (compact_free_scanned). */
  freeScanned: number;
  /** Pages taken off the LRU for migration (compact_isolated counts these and the free pages). */
  isolated: number;
  migrated: number;
  /** Isolated pages whose migration failed (extra references found by folio_migrate_mapping). */
  failed: number;
  /** Pages (or blocks, for the *_block and skip_hint reasons) passed over, by reason. */
  skipped: Record<CompactSkip, number>;
  /** Pages the pin-count design called maybe pinned that no pin held: they could have moved. */
  pinFalsePositives: number;
  /** Entries the pfn_lookup design visited to classify frames (memmap: one word per frame scanned). */
  lookupVisited: number;
  /** Frames the design could not classify (skipped as `unreachable`), by what they really were. */
  unreachable: Record<string, number>;
}

const newResult = (z: Zone): CompactResult => ({
  nid: z.nid,
  zone: z.name,
  outcome: 'complete',
  migrateScanned: 0,
  freeScanned: 0,
  isolated: 0,
  migrated: 0,
  failed: 0,
  skipped: Object.fromEntries(COMPACT_SKIPS.map((s) => [s, 0])) as Record<CompactSkip, number>,
  pinFalsePositives: 0,
  lookupVisited: 0,
  unreachable: {},
});

const isMovableType = (mt: number): boolean => mt === MIGRATE.MOVABLE || mt === MIGRATE.CMA;

/**
 * __compact_finished()'s test: a free block of at least `order` on a list the allocation may use
 * (never the isolated lists; CMA only with ALLOC_CMA).
 */
export function orderAvailable(z: Zone, order: number, allowCma: boolean): boolean {
  for (let o = order; o <= MAX_PAGE_ORDER; o++)
    for (let mt = 0; mt < NR_MIGRATETYPES; mt++) {
      if (mt === MIGRATE.ISOLATE || (mt === MIGRATE.CMA && !allowCma)) continue;
      if (z.nrFree[o * NR_MIGRATETYPES + mt] > 0) return true;
    }
  return false;
}

/** folio_mapping() is non-NULL: a page-cache folio (anon and KSM folios have none). */
const hasMapping = (k: Kernel, row: number): boolean =>
  k.folios.kind[row] === MT.FILE && k.folios.mapping[row] !== 0;

/** suitable_migration_source() and the block-level tests: the reason to pass a block over, or null. */
function sourceSkip(k: Kernel, cc: CompactControl, block: number): CompactSkip | null {
  const mt = k.pa.pageblockMt[block];
  if (cc.direct && k.compaction.skip[block]) return 'skip_hint';
  if (mt === MIGRATE.ISOLATE) return 'isolated_block';
  if (cc.direct && mt === MIGRATE.CMA && !cc.allowCma) return 'cma_block';
  if (cc.direct && cc.mode === 'async') {
    const ok = cc.migratetype === MIGRATE.MOVABLE ? isMovableType(mt) : mt === cc.migratetype;
    if (!ok) return 'migratetype_block';
  }
  return null;
}

/**
 * isolate_migratepages_block(): the folios of one pageblock that may be migrated, taken off the
 * LRU (PG_lru cleared), each rule of §11 in the kernel's order; the others counted by reason.
 */
export function isolateMigratepagesBlock(
  k: Kernel,
  cc: CompactControl,
  start: number,
  res: CompactResult,
): number[] {
  const { folios: f, pa } = k;
  const rows: number[] = [];
  const end = Math.min(start + PAGEBLOCK_PAGES, cc.zone.endPfn);
  let scanned = 0;
  const reach = cc.reach;
  for (let pfn = start; pfn < end; ) {
    scanned++;
    const lo = pa.memmap.lo(pfn);
    // No type per frame: what no map reached cannot be classified, not even a free block.
    if (reach && !reach[pfn - cc.zone.startPfn]) {
      res.skipped.unreachable++;
      const what = MT_NAMES[mdType(lo)];
      res.unreachable[what] = (res.unreachable[what] ?? 0) + 1;
      k.stat.events.lookup_compact_unhandled++;
      pfn++;
      continue;
    }
    // Rule 4: a free block is skipped whole, by its order.
    if (mdType(lo) === MT.BUDDY) {
      const n = Math.min(1 << mdOrder(lo), end - pfn);
      res.skipped.buddy += n;
      pfn += n;
      continue;
    }
    const row = f.pageRow(pfn);
    // Rule 6: no folio at all (slab, page table, vmalloc, reserved, zero page, poisoned frame).
    if (row < 0) {
      res.skipped[mdType(lo) === MT.HWPOISON ? 'hwpoison' : 'non_lru']++;
      pfn++;
      continue;
    }
    const order = f.order[row];
    const n = f.nrPages(row);
    const next = f.pfn[row] + n;
    const skip = isolateSkip(k, cc, row, order);
    if (skip) {
      // Pages of this block only: a folio spanning blocks is counted once per block it covers.
      res.skipped[skip] += Math.min(next, end) - pfn;
      if (skip === 'pinned' && !anyPinned(k, f.pfn[row], n)) res.pinFalsePositives += n;
    } else {
      f.clearFlag(row, PG.lru);
      rows.push(row);
      res.isolated += n;
    }
    pfn = next;
  }
  res.migrateScanned += scanned;
  k.stat.events.compact_migrate_scanned += scanned;
  if (!reach) {
    // The memmap answers: one word read per frame scanned.
    res.lookupVisited += scanned;
    k.stat.events.lookup_compact_visited += scanned;
  }
  return rows;
}

/** The per-folio rules 5-13 of isolate_migratepages_block, in order; null when it may be isolated. */
function isolateSkip(k: Kernel, cc: CompactControl, row: number, order: number): CompactSkip | null {
  const f = k.folios;
  // Rule 5: a large folio at least as big as the request (or a pageblock) is not worth moving.
  if (order > 0 && (order >= PAGEBLOCK_ORDER || (cc.order >= 0 && order >= cc.order))) return 'huge';
  // Rules 6/11: only LRU folios (no movable_ops pages in the model).
  if (!f.testFlag(row, PG.lru)) return 'non_lru';
  // Rule 8: a folio holding a poisoned page.
  if (f.testFlag(row, PG.hwpoison | PG.has_hwpoisoned)) return 'hwpoison';
  // The pin-count design's folio_maybe_dma_pinned() of the folio, scored against the truth.
  if (k.folioMaybeDmaPinned(row)) return 'pinned';
  // Rule 9: no mapping (anon, KSM) and references beyond the mappings: GUP'd.
  if (!hasMapping(k, row) && f.refcount[row] > f.mapcountOf(row)) return 'extra_refs';
  // Rule 12: mlocked / unevictable, unless the caller isolates those too.
  if (f.testFlag(row, PG.unevictable | PG.mlocked) && !cc.unevictable) return 'unevictable';
  // Rule 13: async mode does not wait for writeback.
  if (cc.mode === 'async' && f.testFlag(row, PG.writeback)) return 'writeback';
  return null;
}

function anyPinned(k: Kernel, pfn: number, n: number): boolean {
  for (let i = 0; i < n; i++) if (k.pins.pinsOn(pfn + i) > 0) return true;
  return false;
}

/** Free blocks the free scanner took off the lists (cc->freepages). */
interface FreeBlock {
  pfn: number;
  order: number;
}

/**
 * isolate_freepages_block() over one pageblock, if suitable_migration_target() accepts it: a
 * movable (or CMA) pageblock that is not already one free block. Every free block in it leaves
 * the free lists for `out`. Returns the pages taken.
 */
function isolateFreepagesBlock(
  k: Kernel,
  cc: CompactControl,
  block: number,
  out: FreeBlock[],
  res: CompactResult,
): number {
  const pa = k.pa;
  const start = block * PAGEBLOCK_PAGES;
  if (cc.direct && k.compaction.skip[block]) return 0;
  if (!isMovableType(pa.pageblockMt[block])) return 0;
  const head = pa.memmap.lo(start);
  if (mdType(head) === MT.BUDDY && mdOrder(head) >= PAGEBLOCK_ORDER) return 0;
  let taken = 0;
  let scanned = 0;
  const end = Math.min(start + PAGEBLOCK_PAGES, cc.zone.endPfn);
  for (let pfn = start; pfn < end; ) {
    scanned++;
    const lo = pa.memmap.lo(pfn);
    if (mdType(lo) === MT.BUDDY) {
      const order = mdOrder(lo);
      takeFreeRange(pa, pfn, order);
      out.push({ pfn, order });
      taken += 1 << order;
      pfn += 1 << order;
      continue;
    }
    const row = k.folios.pageRow(pfn);
    pfn = row >= 0 ? k.folios.pfn[row] + k.folios.nrPages(row) : pfn + 1;
  }
  res.freeScanned += scanned;
  k.stat.events.compact_free_scanned += scanned;
  k.stat.events.compact_isolated += taken;
  if (taken === 0 && cc.direct) k.compaction.skip[block] = 1;
  return taken;
}

/** compaction_alloc(): 2^order frames from the isolated free blocks, the rest kept for later. */
function takeTarget(free: FreeBlock[], order: number): number {
  for (let i = free.length - 1; i >= 0; i--) {
    const b = free[i];
    if (b.order < order) continue;
    free.splice(i, 1);
    for (let o = b.order - 1; o >= order; o--) free.push({ pfn: b.pfn + (1 << o), order: o });
    return b.pfn;
  }
  return -1;
}

/**
 * compact_zone(): run the two scanners over `cc.zone` until they meet or, for a request of an
 * order, until a free block of that order exists. Pages keep their contents, counts and every
 * mapping (migrate.ts rewrites them through the rmap walk).
 */
export function compactZone(k: Kernel, cc: CompactControl): CompactResult {
  const z = cc.zone;
  const f = k.folios;
  const res = newResult(z);
  if (cc.order >= 0 && orderAvailable(z, cc.order, cc.allowCma)) {
    res.outcome = 'success';
    return res;
  }
  // A design with no type per frame first finds what it can through the maps (pfn_lookup.ts).
  const visited = k.stat.events.lookup_compact_visited;
  cc = { ...cc, reach: k.pfnLookup.compactReach(k, z) };
  res.lookupVisited += k.stat.events.lookup_compact_visited - visited;
  const free: FreeBlock[] = [];
  let migrateBlock = Math.ceil(z.startPfn / PAGEBLOCK_PAGES);
  let freeBlock = Math.floor((z.endPfn - 1) / PAGEBLOCK_PAGES);
  /** Run the free scanner until a block of `order` is isolated or the scanners meet. */
  const ensureFree = (order: number): boolean => {
    while (!free.some((b) => b.order >= order)) {
      if (freeBlock <= migrateBlock) return false;
      isolateFreepagesBlock(k, cc, freeBlock--, free, res);
    }
    return true;
  };
  outer: for (; migrateBlock <= freeBlock; migrateBlock++) {
    const why = sourceSkip(k, cc, migrateBlock);
    if (why) {
      res.skipped[why]++;
      continue;
    }
    const rows = isolateMigratepagesBlock(k, cc, migrateBlock * PAGEBLOCK_PAGES, res);
    k.stat.events.compact_isolated += rows.reduce((s, r) => s + f.nrPages(r), 0);
    if (rows.length === 0 && cc.direct) k.compaction.skip[migrateBlock] = 1;
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i];
      const n = f.nrPages(row);
      if (!ensureFree(f.order[row])) {
        // The scanners met: put back what is still isolated (putback_movable_pages).
        for (let j = i; j < rows.length; j++) f.setFlag(rows[j], PG.lru);
        break outer;
      }
      try {
        const nrow = migrateFolio(k, row, 0, (order, kind) =>
          f.install(takeTarget(free, order), order, kind),
        );
        f.setFlag(nrow, PG.lru);
        res.migrated += n;
      } catch (e) {
        if (!(e instanceof KernelError)) throw e;
        f.setFlag(row, PG.lru);
        res.failed += n;
        k.stat.events.pgmigrate_fail += n;
      }
    }
    // check_drain(): a request of an order drains this CPU's lists once the scanner leaves a block
    // it migrated from, so the freed sources merge (lru_add_drain_cpu_zone -> drain_local_pages).
    if (cc.order > 0 && rows.length > 0) drainAllPages(k.pa, z);
    if (cc.order >= 0 && orderAvailable(z, cc.order, cc.allowCma)) {
      res.outcome = 'success';
      break;
    }
  }
  // release_free_list(): free blocks isolated but not used go back through __free_pages (the
  // per-CPU lists take the orders they hold).
  for (const b of free) freeFrozenPages(k.pa, b.pfn, b.order);
  if (cc.order >= 0 && res.outcome !== 'success' && orderAvailable(z, cc.order, cc.allowCma))
    res.outcome = 'success';
  // A direct compaction that got nowhere flushes the zone's hints (compact_blockskip_flush).
  if (cc.direct && res.outcome === 'complete') resetSkipHints(k, z);
  return res;
}

/** __reset_isolation_suitable(): forget every skip hint of a zone. */
export function resetSkipHints(k: Kernel, z: Zone): void {
  k.compaction.skip.fill(0, Math.ceil(z.startPfn / PAGEBLOCK_PAGES), Math.ceil(z.endPfn / PAGEBLOCK_PAGES));
}

/**
 * __alloc_pages_direct_compact() for a failing high-order allocation: compact the zones the
 * request may use, async first and then sync (the compaction priorities); true when a block of
 * the order is free now, so the allocation is retried. Counts compact_stall and
 * compact_success / compact_fail.
 */
export function directCompact(k: Kernel, order: number, gfp: number, nid: number): boolean {
  k.stat.events.compact_stall++;
  const migratetype = gfpMigratetype(gfp);
  const allowCma = (gfp & GFP.MOVABLE) !== 0;
  for (const mode of ['async', 'sync'] as const) {
    for (const zone of k.pa.zonelist(gfp, nid)) {
      const cc = { zone, order, mode, direct: true, migratetype, allowCma, unevictable: false };
      if (compactZone(k, cc).outcome === 'success') {
        k.stat.events.compact_success++;
        return true;
      }
    }
  }
  k.stat.events.compact_fail++;
  return false;
}

/**
 * compact_node() / /proc/sys/vm/compact_memory: every zone of the node, synchronously, the whole
 * zone, ignoring skip hints. With `order` ≥ 0 each zone stops once a block of that order is free.
 */
export function compactNode(k: Kernel, nid: number, order = -1, zoneName?: string): CompactResult[] {
  const out: CompactResult[] = [];
  for (const zone of k.pa.nodes[nid].zones) {
    if (zoneName !== undefined && zone.name !== zoneName) continue;
    const cc = {
      zone,
      order,
      mode: 'sync' as const,
      direct: false,
      migratetype: MIGRATE.MOVABLE,
      allowCma: true,
      unevictable: false,
    };
    out.push(compactZone(k, cc));
  }
  return out;
}

/** mm/vmstat.c fill_contig_page_info + unusable_free_index + __fragmentation_index, in thousandths. */
export function fragmentation(z: Zone, order: number): { unusable: number; fragIndex: number } {
  let freePages = 0;
  let blocksTotal = 0;
  let suitable = 0;
  for (let o = 0; o <= MAX_PAGE_ORDER; o++) {
    const blocks = z.freeBlocks(o);
    blocksTotal += blocks;
    freePages += blocks * (1 << o);
    if (o >= order) suitable += blocks * (1 << (o - order));
  }
  const unusable =
    freePages === 0 ? 1000 : Math.floor(((freePages - suitable * (1 << order)) * 1000) / freePages);
  let fragIndex: number;
  if (blocksTotal === 0) fragIndex = 0;
  else if (suitable > 0) fragIndex = -1000;
  else fragIndex = 1000 - Math.floor((1000 + Math.floor((freePages * 1000) / (1 << order))) / blocksTotal);
  return { unusable, fragIndex };
}
