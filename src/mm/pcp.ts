/**
 * Per-CPU page lists (struct per_cpu_pages) of the one CPU the model runs on: small free blocks
 * parked in front of the buddy allocator, so an allocation after a free takes the hot block back
 * without touching the free lists, and the zone's free lists are refilled and drained in batches.
 *
 * Models: mm/page_alloc.c order_to_pindex, free_frozen_pages -> free_unref_page_commit,
 * nr_pcp_high / nr_pcp_free, free_pcppages_bulk, rmqueue_pcplist -> __rmqueue_pcplist,
 * nr_pcp_alloc, rmqueue_bulk, drain_pages_zone / drain_all_pages, zone_batchsize, zone_highsize.
 *
 * A block on a pcp list is free memory the buddy allocator does not see: its frames read untyped
 * (not PageBuddy, so no buddy merges with it), it is out of the zone's nr_free_pages (MemFree), and
 * the model still counts it as `buddy` in the pages by type. pcp->high tunes itself as Linux's does
 * on frees and refills (free_count, alloc_factor, free_high with the threshold of batch +
 * high_min / 2 that Linux 6.16 introduced). Leaves out: more than one CPU, the vmstat worker's
 * decay of high, the zone flags that need watermark checks (ZONE_RECLAIM_ACTIVE, ZONE_BELOW_HIGH),
 * the pcp lock's trylock failure, and PCPF_FREE_HIGH_BATCH (set from the CPU's cache size; clear
 * here). The order-0 fast paths (rmqueuePcpOrder0, freeFrozenPage0) repeat the general paths'
 * steps for that one case in a function each, small and flat enough for V8 to compile whole: the
 * general chain took twice as long per pair. test/mm/pcp_fast.test.ts holds the two to the same
 * frames and state.
 */
import {
  INT32_FRAMES as INT32_FRAMES_IMPORT,
  MT as MT_IMPORT,
  PAGEBLOCK_SHIFT as PAGEBLOCK_SHIFT_IMPORT,
  pfnToPageblock as pfnToPageblock_IMPORT,
  pfnToSection,
} from './memdesc.js';
import {
  gfpMigratetype as gfpMigratetype_IMPORT,
  MIGRATE as MIGRATE_IMPORT,
  MIGRATE_PCPTYPES as MIGRATE_PCPTYPES_IMPORT,
  NR_LOWORDER_PCP_LISTS as NR_LOWORDER_PCP_LISTS_IMPORT,
  NR_PCP_LISTS,
  type PcpList,
  type PerCpuPages,
  ZONE,
  type Zone,
} from './mmzone.js';
import type { PageAlloc } from './page_alloc.js';
import {
  PAGE_ALLOC_COSTLY_ORDER as PAGE_ALLOC_COSTLY_ORDER_IMPORT,
  PAGE_SIZE,
  PAGEBLOCK_ORDER as PAGEBLOCK_ORDER_IMPORT,
} from './types.js';

// Imports the hot paths read, as this module's own consts (why: docs/architecture.md).
const pfnToPageblock = pfnToPageblock_IMPORT;
const INT32_FRAMES = INT32_FRAMES_IMPORT;
const PAGEBLOCK_SHIFT = PAGEBLOCK_SHIFT_IMPORT;
const gfpMigratetype = gfpMigratetype_IMPORT;
const MT = MT_IMPORT;
const MIGRATE = MIGRATE_IMPORT;
const MIGRATE_PCPTYPES = MIGRATE_PCPTYPES_IMPORT;
const NR_LOWORDER_PCP_LISTS = NR_LOWORDER_PCP_LISTS_IMPORT;
const PAGE_ALLOC_COSTLY_ORDER = PAGE_ALLOC_COSTLY_ORDER_IMPORT;
const PAGEBLOCK_ORDER = PAGEBLOCK_ORDER_IMPORT;

/** CONFIG_PCP_BATCH_SCALE_MAX (default 5): how far runs of frees and allocations scale the batch. */
const PCP_BATCH_SCALE_MAX = 5;
/** MIN_PERCPU_PAGELIST_HIGH_FRACTION: high_max is this fraction of the zone. */
const MIN_PERCPU_PAGELIST_HIGH_FRACTION = 8;
/** PCPF_PREV_FREE_HIGH_ORDER: the last free was of an order 1..PAGE_ALLOC_COSTLY_ORDER. */
const PCPF_PREV_FREE_HIGH_ORDER = 1;
/** watermark_scale_factor's default (vm.watermark_scale_factor, in 1/10000 of the zone). */
const WATERMARK_SCALE_FACTOR = 10;

/** pcp_allowed_order(): orders up to PAGE_ALLOC_COSTLY_ORDER, and the PMD (THP) order. */
export const pcpAllowedOrder = (order: number): boolean =>
  order <= PAGE_ALLOC_COSTLY_ORDER || order === PAGEBLOCK_ORDER;

/** order_to_pindex(): the list of (migratetype, order); a THP goes to one of the last two. */
export function orderToPindex(mt: number, order: number): number {
  if (order > PAGE_ALLOC_COSTLY_ORDER) return NR_LOWORDER_PCP_LISTS + (mt === MIGRATE.MOVABLE ? 1 : 0);
  return MIGRATE_PCPTYPES * order + mt;
}

/** pindex_to_order(). */
export function pindexToOrder(pindex: number): number {
  return pindex >= NR_LOWORDER_PCP_LISTS ? PAGEBLOCK_ORDER : Math.floor(pindex / MIGRATE_PCPTYPES);
}

/** zone_batchsize(): a quarter of a thousandth of the zone, at most 64 pages, as 2^n − 1 (63). */
export function zoneBatchsize(managedPages: number): number {
  let batch = Math.floor(Math.min(Math.floor(managedPages / 1024), (1 << 20) / PAGE_SIZE) / 4);
  if (batch < 1) batch = 1;
  return 2 ** Math.floor(Math.log2(batch + Math.floor(batch / 2))) - 1;
}

/** A zone's watermarks in pages (zone->_watermark: WMARK_MIN, WMARK_LOW, WMARK_HIGH). */
export interface Watermarks {
  min: number;
  low: number;
  high: number;
}

/** What the watermark rules read of a zone. */
type ZoneSize = Pick<Zone, 'id' | 'managedPages' | 'presentPages'>;

const KB_PER_PAGE = PAGE_SIZE / 1024;

/** nr_free_buffer_pages(): managed pages above the high watermark in the zones GFP_USER may use. */
function nrFreeBufferPages(zones: readonly ZoneSize[], wmarks: readonly Watermarks[] | null): number {
  let n = 0;
  zones.forEach((z, i) => {
    if (z.id <= ZONE.NORMAL) n += Math.max(z.managedPages - (wmarks ? wmarks[i].high : 0), 0);
  });
  return n;
}

/**
 * __setup_per_zone_wmarks(): min_free_kbytes shared out by size over the zones below
 * ZONE_MOVABLE (which keeps 32..128 pages), then low and high a step apart: the larger of a
 * quarter of min and watermark_scale_factor (10/10000) of the zone.
 */
export function setupPerZoneWmarks(zones: readonly ZoneSize[], minFreeKbytes: number): Watermarks[] {
  const pagesMin = Math.floor(minFreeKbytes / KB_PER_PAGE);
  let lowmem = 0;
  for (const z of zones) if (z.id !== ZONE.MOVABLE) lowmem += z.managedPages;
  return zones.map((z) => {
    const managed = z.managedPages;
    const share = lowmem > 0 ? Math.floor((pagesMin * managed) / lowmem) : 0;
    const min = z.id === ZONE.MOVABLE ? Math.min(128, Math.max(32, Math.floor(managed / 1024))) : share;
    const step = Math.max(share >> 2, Math.floor((managed * WATERMARK_SCALE_FACTOR) / 10000));
    return { min, low: min + step, high: min + 2 * step };
  });
}

/** calculate_min_free_kbytes(): sqrt(16 × the KiB GFP_USER may use), clamped to 128 KiB..256 MiB. */
function calculateMinFreeKbytes(zones: readonly ZoneSize[], wmarks: readonly Watermarks[] | null): number {
  const kb = nrFreeBufferPages(zones, wmarks) * KB_PER_PAGE;
  return Math.min(262144, Math.max(128, Math.floor(Math.sqrt(kb * 16))));
}

/**
 * min_free_kbytes after boot. calculate_min_free_kbytes() first; then hugepage_init(), on a machine
 * of at least 512 MiB, starts khugepaged, whose set_recommended_min_free_kbytes() raises it to keep
 * 2 + 3 × 3 pageblocks free per populated zone GFP_USER may use (at most 5 % of that memory) when
 * THP is on, or, THP off, computes it again now that the high watermarks are set.
 */
export function minFreeKbytes(zones: readonly ZoneSize[], thpEnabled: boolean): number {
  const kb = calculateMinFreeKbytes(zones, null);
  const totalram = zones.reduce((n, z) => n + z.managedPages, 0);
  if (totalram < (512 << 20) / PAGE_SIZE) return kb;
  const wmarks = setupPerZoneWmarks(zones, kb);
  if (!thpEnabled) return calculateMinFreeKbytes(zones, wmarks);
  const nrZones = zones.filter((z) => z.id <= ZONE.NORMAL && z.presentPages > 0).length;
  const pageblock = 1 << PAGEBLOCK_ORDER;
  let rec = pageblock * nrZones * 2 + pageblock * nrZones * MIGRATE_PCPTYPES * MIGRATE_PCPTYPES;
  rec = Math.min(rec, Math.floor(nrFreeBufferPages(zones, wmarks) / 20));
  return Math.max(kb, rec * KB_PER_PAGE);
}

/**
 * zone_highsize(): the low watermark (fraction 0) or 1/fraction of the zone, split over the node's
 * CPUs (the model has one), at least 4 batches.
 */
export function zoneHighsize(
  z: ZoneSize,
  lowWmark: number,
  batch: number,
  fraction: number,
  cpus = 1,
): number {
  const total = fraction ? Math.floor(z.managedPages / fraction) : lowWmark;
  return Math.max(Math.floor(total / cpus), batch << 2);
}

/**
 * zone_set_pageset_high_and_batch() with percpu_pagelist_high_fraction 0: high_min from the low
 * watermark, high_max an eighth of the zone, so pcp->high tunes itself between the two. Nothing
 * orders the two: in a small zone whose low watermark is above an eighth of it, high_min exceeds
 * high_max, and clamp() then holds pcp->high at high_max, as the kernel's does.
 */
export function zonePcpUpdate(z: Zone, lowWmark: number): void {
  const pcp = z.pcp;
  pcp.batch = Math.max(1, zoneBatchsize(z.managedPages));
  pcp.highMin = zoneHighsize(z, lowWmark, pcp.batch, 0);
  pcp.highMax = zoneHighsize(z, lowWmark, pcp.batch, MIN_PERCPU_PAGELIST_HIGH_FRACTION);
}

const clamp = (v: number, lo: number, hi: number): number => Math.min(Math.max(v, lo), hi);

/** nr_pcp_high(): the count at which a free drains; 0 drains at once (free_high). */
function nrPcpHigh(pcp: PerCpuPages, freeHigh: boolean): number {
  const { highMin, highMax, batch } = pcp;
  const high = clamp(pcp.high, highMin, highMax);
  pcp.high = high;
  if (high === 0) return 0;
  if (freeHigh) {
    pcp.high = Math.max(high - (batch << PCP_BATCH_SCALE_MAX), highMin);
    return 0;
  }
  if (highMin === highMax) return high;
  // A run of frees that fills the lists raises the limit, so the next frees stay on them.
  if (pcp.count >= high && high < pcp.freeCount + batch)
    pcp.high = clamp(pcp.freeCount + batch, highMin, highMax);
  return high;
}

/** nr_pcp_free(): how many pages a drain on free gives back. */
function nrPcpFree(pcp: PerCpuPages, high: number, freeHigh: boolean): number {
  const { batch } = pcp;
  if (freeHigh) return Math.min(pcp.count, batch << PCP_BATCH_SCALE_MAX);
  if (high < batch) return 1;
  return clamp(pcp.freeCount, batch, high - batch);
}

/** nr_pcp_alloc(): how many blocks of `order` a refill takes from the buddy lists. */
function nrPcpAlloc(pcp: PerCpuPages, order: number): number {
  const { highMin, highMax, batch } = pcp;
  let high = clamp(pcp.high, highMin, highMax);
  pcp.high = high;
  if (high < batch) return 1;
  let b = order ? batch : batch << pcp.allocFactor;
  // A larger high could have avoided this refill: raise it (the local limit too).
  if (highMin !== highMax) {
    high = Math.min(high + b, highMax);
    pcp.high = high;
  }
  if (!order) {
    const max = Math.max(high - pcp.count - batch, batch);
    if (b <= max && pcp.allocFactor < PCP_BATCH_SCALE_MAX) pcp.allocFactor++;
    b = Math.min(b, max);
  }
  if (b > 1) b = Math.max(b >> order, 2);
  return b;
}

/**
 * free_unref_page_commit(): park a freed block at the head of its list; past pcp->high, give a
 * batch back to the buddy lists (free_pcppages_bulk). The frames are already untyped.
 */
export function freeUnrefPageCommit(pa: PageAlloc, z: Zone, pfn: number, order: number, mt: number): void {
  const pcp = z.pcp;
  pcp.allocFactor >>= 1;
  const pindex = orderToPindex(mt, order);
  pcp.lists[pindex].pushFront(pfn);
  const n = 1 << order;
  pcp.count += n;
  const { batch } = pcp;
  let freeHigh = false;
  if (order > 0 && order <= PAGE_ALLOC_COSTLY_ORDER) {
    // Frees of several high-order blocks in a row are likely a burst better given back at once.
    freeHigh = pcp.freeCount >= batch + (pcp.highMin >> 1) && (pcp.flags & PCPF_PREV_FREE_HIGH_ORDER) !== 0;
    pcp.flags |= PCPF_PREV_FREE_HIGH_ORDER;
  } else pcp.flags &= ~PCPF_PREV_FREE_HIGH_ORDER;
  if (pcp.freeCount < batch << PCP_BATCH_SCALE_MAX) pcp.freeCount += n;
  const high = nrPcpHigh(pcp, freeHigh);
  if (pcp.count >= high) freePcppagesBulk(pa, z, nrPcpFree(pcp, high, freeHigh), pindex);
}

/**
 * free_pcppages_bulk(): give `count` pages back to the buddy lists, coldest (tail) first, taking the
 * lists round-robin from `pindex` (the list just freed to first). Each block merges with the type
 * its pageblock has now (an isolated pageblock's blocks land on the isolate list).
 */
export function freePcppagesBulk(pa: PageAlloc, z: Zone, count: number, pindex: number): void {
  const pcp = z.pcp;
  count = Math.min(pcp.count, count);
  pindex--;
  while (count > 0) {
    let list: PcpList;
    do {
      if (++pindex === NR_PCP_LISTS) pindex = 0;
      list = pcp.lists[pindex];
    } while (list.length === 0);
    const order = pindexToOrder(pindex);
    const n = 1 << order;
    do {
      const pfn = list.popBack();
      count -= n;
      pcp.count -= n;
      // __free_one_page() of a block leaving the list for the free lists.
      const section = pfnToSection(pfn);
      z.freePages += n;
      pa.sectionFree[section] += n;
      pa.mergeFree(z, pfn, order);
      pa.maybeDepopulate(section);
    } while (count > 0 && list.length > 0);
  }
}

/** rmqueue_bulk(): refill a list with up to `count` blocks from the buddy lists, each at its tail. */
function rmqueueBulk(
  pa: PageAlloc,
  z: Zone,
  order: number,
  count: number,
  mt: number,
  list: PcpList,
): number {
  let i = 0;
  for (; i < count; i++) {
    const pfn = pa.rmqueueBuddy(z, order, mt);
    if (pfn < 0) break;
    list.pushBack(pfn);
  }
  return i;
}

/**
 * rmqueue_pcplist() -> __rmqueue_pcplist(): the head of the (order, migratetype) list, refilled
 * from the buddy lists when empty; -1 when the zone has nothing left for it.
 */
export function rmqueuePcplist(pa: PageAlloc, z: Zone, order: number, mt: number): number {
  const pcp = z.pcp;
  pcp.freeCount >>= 1;
  const list = pcp.lists[orderToPindex(mt, order)];
  if (list.length === 0) {
    const got = rmqueueBulk(pa, z, order, nrPcpAlloc(pcp, order), mt, list);
    pcp.count += got << order;
    if (got === 0) return -1;
  }
  pcp.count -= 1 << order;
  return list.popFront();
}

/**
 * rmqueue()'s fast path for one order-0 frame: the head of the first allowed zone's per-CPU list
 * of the request's migratetype (get_page_from_freelist's first zone, rmqueue_pcplist with a list
 * that needs no refill), with the same state changes as the general path. -1, with nothing
 * changed, when the request needs PageAlloc.rmqueue: pcp off, inside memalloc_pin_save(), a node
 * other than node 0, or that list empty. Small, so its caller's compiled code can hold it whole.
 */
export function rmqueuePcpOrder0(pa: PageAlloc, gfp: number, nid: number): number {
  if (!pa.pcpEnabled || pa.memallocPin !== 0 || nid !== 0) return -1;
  const z = pa.firstZone(gfp);
  if (z === undefined) return -1;
  const pcp = z.pcp;
  // order_to_pindex(mt, 0) is the migratetype itself.
  const list = pcp.lists[gfpMigratetype(gfp)];
  if (list.length === 0) return -1;
  pcp.freeCount >>= 1;
  pcp.count--;
  pa.stat.events.pgalloc++;
  z.pgalloc++;
  return list.popFront();
}

/** drain_pages_zone(): every block on the zone's lists back to the buddy allocator. */
export function drainPagesZone(pa: PageAlloc, z: Zone): void {
  if (z.pcp.count > 0) freePcppagesBulk(pa, z, z.pcp.count, 0);
}

/** drain_all_pages(zone): the one CPU's lists of `zone`, or of every zone. */
export function drainAllPages(pa: PageAlloc, zone?: Zone): void {
  for (const z of zone ? [zone] : pa.zones) drainPagesZone(pa, z);
}

/** Every block on the zone's lists, with its order (for the checks and page dumps). */
export function* pcpBlocks(z: Zone): Generator<{ pfn: number; order: number; pindex: number }> {
  const pcp = z.pcp;
  for (let pindex = 0; pindex < NR_PCP_LISTS; pindex++) {
    const list = pcp.lists[pindex];
    const order = pindexToOrder(pindex);
    for (let i = 0; i < list.length; i++) yield { pfn: list.at(i), order, pindex };
  }
}

/**
 * zone_pcp_update() of every zone: batch and high limits from the zones' sizes now. With the
 * lists off they stay disabled (high 0, batch 1), and the hot paths skip them.
 */
export function pcpUpdate(pa: PageAlloc): void {
  if (!pa.pcpEnabled) return;
  const wmarks = setupPerZoneWmarks(pa.zones, minFreeKbytes(pa.zones, pa.thpEnabled));
  pa.zones.forEach((z, i) => {
    zonePcpUpdate(z, wmarks[i].low);
  });
}

/**
 * freeFrozenPages(pa, pfn, 0) written out flat, with free_unref_page_commit() for order 0 inline:
 * the free side of the order-0 fast path (FolioPool.freeSmall), kept in one piece for the compiler.
 */
export function freeFrozenPage0(pa: PageAlloc, pfn: number): void {
  if (!pa.pcpEnabled || pfn >= INT32_FRAMES) {
    freeFrozenPages(pa, pfn, 0);
    return;
  }
  // One conversion to an integer: every index below is then integer arithmetic.
  const p = pfn | 0;
  let mt = pa.pageblockMt[p >> PAGEBLOCK_SHIFT];
  if (mt === MIGRATE.ISOLATE) {
    pa.freeBlock(p, 0);
    return;
  }
  if (mt >= MIGRATE_PCPTYPES) mt = MIGRATE.MOVABLE;
  pa.memmap.setInt(p, MT.NONE, 0);
  pa.stat.events.pgfree++;
  const z = pa.zoneOfInt(p);
  const pcp = z.pcp;
  pcp.allocFactor >>= 1;
  pcp.lists[mt].pushFront(p);
  pcp.count++;
  pcp.flags &= ~PCPF_PREV_FREE_HIGH_ORDER;
  if (pcp.freeCount < pcp.batch << PCP_BATCH_SCALE_MAX) pcp.freeCount++;
  const high = nrPcpHigh(pcp, false);
  if (pcp.count >= high) freePcppagesBulk(pa, z, nrPcpFree(pcp, high, false), mt);
}

/**
 * free_frozen_pages(): a block whose last reference is gone goes to the per-CPU list of its
 * order and its pageblock's type (CMA rides on the movable list) when pcp holds that order,
 * else, or when its pageblock is isolated, straight to the buddy allocator (free_one_page).
 */
export function freeFrozenPages(pa: PageAlloc, pfn: number, order: number): void {
  if (!pa.pcpEnabled || !pcpAllowedOrder(order)) {
    pa.freeBlock(pfn, order);
    return;
  }
  let mt = pa.pageblockMt[pfnToPageblock(pfn)];
  if (mt === MIGRATE.ISOLATE) {
    pa.freeBlock(pfn, order);
    return;
  }
  if (mt >= MIGRATE_PCPTYPES) mt = MIGRATE.MOVABLE;
  const n = 1 << order;
  pa.memmap.setRange(pfn, n, MT.NONE, 0);
  pa.stat.events.pgfree += n;
  freeUnrefPageCommit(pa, pa.zoneOf(pfn), pfn, order, mt);
}
