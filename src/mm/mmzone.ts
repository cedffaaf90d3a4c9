/**
 * Nodes, zones, migratetypes and GFP flags: the vocabulary the allocator and its callers share.
 *
 * Models: include/linux/mmzone.h (enum migratetype, struct zone, pg_data_t, the free_area list
 * heads), include/linux/gfp.h and gfp_types.h (gfp_migratetype, gfp_zone, the GFP_* sets).
 * A zone's free lists are heads and tails of rows in the allocator's buddy-row pool
 * (free_area.ts); the zone keeps only those ends and the per-list counts.
 */
import { MAX_PAGE_ORDER, NR_PAGE_ORDERS, PAGE_ALLOC_COSTLY_ORDER } from './types.js';

export const MIGRATE = {
  UNMOVABLE: 0,
  MOVABLE: 1,
  RECLAIMABLE: 2,
  CMA: 3,
  ISOLATE: 4,
} as const;
export const MIGRATE_NAMES = ['Unmovable', 'Movable', 'Reclaimable', 'CMA', 'Isolate'] as const;
export const NR_MIGRATETYPES = MIGRATE_NAMES.length;

/**
 * Zone indices in address order (enum zone_type). ZONE_DMA (below 16 MiB on x86-64) exists only on
 * a machine given a memory map (mm_init.ts): the plain `memory: 4G` machine keeps the older layout.
 */
export const ZONE = { DMA: 0, DMA32: 1, NORMAL: 2, MOVABLE: 3 } as const;
export const ZONE_NAMES = ['DMA', 'DMA32', 'Normal', 'Movable'] as const;
export type ZoneId = (typeof ZONE)[keyof typeof ZONE];

/** GFP flags the model understands (include/linux/gfp_types.h). */
export const GFP = {
  DMA32: 1 << 0,
  MOVABLE: 1 << 1,
  RECLAIMABLE: 1 << 2,
  /** Make a compound page (a folio) of a high-order allocation. */
  COMP: 1 << 3,
  ZERO: 1 << 4,
  /** Only the preferred node, no fallback to others. */
  THISNODE: 1 << 5,
  NOWARN: 1 << 6,
  /** __GFP_DIRECT_RECLAIM: the caller may wait; a failing high-order request compacts and retries. */
  DIRECT_RECLAIM: 1 << 7,
} as const;
export const GFP_KERNEL = 0;
export const GFP_USER = 0;
export const GFP_HIGHUSER_MOVABLE = GFP.MOVABLE;
export const GFP_TRANSHUGE = GFP.MOVABLE | GFP.COMP;

/** migratetype_is_mergeable(): only the per-cpu types merge with a buddy of another type. */
export const isMergeable = (mt: number): boolean => mt < MIGRATE.CMA;

export function gfpMigratetype(gfp: number): number {
  if (gfp & GFP.MOVABLE) return MIGRATE.MOVABLE;
  if (gfp & GFP.RECLAIMABLE) return MIGRATE.RECLAIMABLE;
  return MIGRATE.UNMOVABLE;
}

/** The highest zone an allocation may use (gfp_zone()). */
export function gfpZone(gfp: number): ZoneId {
  if (gfp & GFP.DMA32) return ZONE.DMA32;
  if (gfp & GFP.MOVABLE) return ZONE.MOVABLE;
  return ZONE.NORMAL;
}

/** Frames in a max-order block (MAX_ORDER_NR_PAGES). */
export const MAX_BLOCK = 1 << MAX_PAGE_ORDER;
/** End of a free list (the rows are linked by index). */
export const NIL = -1;
const NR_LISTS = NR_PAGE_ORDERS * NR_MIGRATETYPES;
/** Index of the (order, migratetype) free list: free_area[order].free_list[mt]. */
export const listIndex = (order: number, mt: number): number => order * NR_MIGRATETYPES + mt;

/** MIGRATE_PCPTYPES: the types with per-CPU lists; CMA blocks ride on the movable list. */
export const MIGRATE_PCPTYPES = 3;
export const NR_LOWORDER_PCP_LISTS = MIGRATE_PCPTYPES * (PAGE_ALLOC_COSTLY_ORDER + 1);
/** NR_PCP_LISTS: the THP order has two lists, movable and unmovable + reclaimable. */
export const NR_PCP_LISTS = NR_LOWORDER_PCP_LISTS + 2;

/**
 * One pcp list: a deque of block head pfns in a ring buffer. The front is the list's head (frees
 * and allocations: the cache-hot end), the back its tail (refills add there, drains take from there).
 */
export class PcpList {
  private buf = new Float64Array(16);
  private first = 0;
  length = 0;

  pushFront(pfn: number): void {
    if (this.length === this.buf.length) this.grow();
    this.first = (this.first - 1) & (this.buf.length - 1);
    this.buf[this.first] = pfn;
    this.length++;
  }

  pushBack(pfn: number): void {
    if (this.length === this.buf.length) this.grow();
    this.buf[(this.first + this.length) & (this.buf.length - 1)] = pfn;
    this.length++;
  }

  popFront(): number {
    const pfn = this.buf[this.first];
    this.first = (this.first + 1) & (this.buf.length - 1);
    this.length--;
    return pfn;
  }

  popBack(): number {
    this.length--;
    return this.buf[(this.first + this.length) & (this.buf.length - 1)];
  }

  /** The i-th block from the head. */
  at(i: number): number {
    return this.buf[(this.first + i) & (this.buf.length - 1)];
  }

  hostBytes(): number {
    return this.buf.byteLength;
  }

  private grow(): void {
    const next = new Float64Array(this.buf.length * 2);
    for (let i = 0; i < this.length; i++) next[i] = this.at(i);
    this.buf = next;
    this.first = 0;
  }
}

/** A zone's per-CPU pages (zone->per_cpu_pageset of the model's one CPU). */
export class PerCpuPages {
  /** Pages on all lists (pcp->count). */
  count = 0;
  /** The current limit, tuned between highMin and highMax (pcp->high). */
  high = 0;
  highMin = 0;
  highMax = 0;
  batch = 1;
  /** Pages freed lately (pcp->free_count): grows on frees, halves on each allocation. */
  freeCount = 0;
  /** How far refills scale the batch (pcp->alloc_factor): grows on refills, halves on each free. */
  allocFactor = 0;
  flags = 0;
  readonly lists: PcpList[] = Array.from({ length: NR_PCP_LISTS }, () => new PcpList());
}

export class Zone {
  /** Frames in the zone's span that are RAM: spanned − absent (calculate_node_totalpages). */
  presentPages = 0;
  /**
   * RAM frames whose struct pages are not initialised yet (CONFIG_DEFERRED_STRUCT_PAGE_INIT):
   * present, not managed, not free. Only the node's highest zone has any (defer_init()).
   */
  deferredPages = 0;
  /** Present frames handed to the buddy allocator at boot (present − reserved). */
  managedPages = 0;
  freePages = 0;
  /** CMA frames in the zone (free or allocated). */
  cmaPages = 0;
  /** PGALLOC_<zone>: pages allocated from this zone (/proc/vmstat pgalloc_dma32, pgalloc_normal...). */
  pgalloc = 0;
  readonly head = new Int32Array(NR_LISTS).fill(NIL);
  readonly tail = new Int32Array(NR_LISTS).fill(NIL);
  /** Free blocks on each (order, migratetype) list. */
  readonly nrFree = new Float64Array(NR_LISTS);
  /** The per-CPU lists in front of the free lists (page_alloc.ts sizes them after boot). */
  readonly pcp = new PerCpuPages();

  constructor(
    readonly id: ZoneId,
    readonly nid: number,
    readonly startPfn: number,
    readonly endPfn: number,
  ) {}

  get name(): string {
    return ZONE_NAMES[this.id];
  }

  /** NR_FREE_CMA_PAGES: free frames on the CMA lists (counted from them, not kept on the side). */
  freeCmaPages(): number {
    let n = 0;
    for (let o = 0; o <= MAX_PAGE_ORDER; o++) n += this.nrFree[listIndex(o, MIGRATE.CMA)] * (1 << o);
    return n;
  }

  get spannedPages(): number {
    return this.endPfn - this.startPfn;
  }

  contains(pfn: number): boolean {
    return pfn >= this.startPfn && pfn < this.endPfn;
  }

  /** Free blocks of one order over all migratetypes (a /proc/buddyinfo column). */
  freeBlocks(order: number): number {
    let n = 0;
    for (let mt = 0; mt < NR_MIGRATETYPES; mt++) n += this.nrFree[listIndex(order, mt)];
    return n;
  }
}

export interface PgDat {
  nid: number;
  startPfn: number;
  endPfn: number;
  zones: Zone[];
  /**
   * pgdat->first_deferred_pfn: the first PFN whose struct page is still uninitialised, Infinity
   * (ULONG_MAX) when none is.
   */
  firstDeferredPfn: number;
}

/** A range of RAM in PFNs, end exclusive (a memblock.memory region, e820 "usable"). */
export interface PfnRange {
  start: number;
  end: number;
}

export interface MemoryLayout {
  /** Bytes of RAM (without `ram`: RAM is [0, memory)). */
  memory: number;
  /**
   * The memory map: RAM ranges in ascending PFN order, with holes between them. Given, the zones
   * are x86-64's (DMA < 16 MiB, DMA32 < 4 GiB, Normal) clamped to the RAM, on one node.
   */
  ram?: PfnRange[];
  /** CONFIG_DEFERRED_STRUCT_PAGE_INIT: boot initialises one section of the highest zone. */
  deferredInit?: boolean;
  /** Per-CPU page lists sized as Linux sizes them; off, they are disabled (high 0, batch 1). */
  pcp?: boolean;
  nodes: number;
  /** Bytes at the top of each node given to ZONE_MOVABLE in total (movablecore=). */
  movable: number;
  /** Bytes of CMA carved from the end of the first node's ZONE_NORMAL (or DMA32). */
  cma: number;
  /** Ranges the kernel owns from boot, in bytes. */
  reserved: { start: number; size: number }[];
  /** Physical address of the shared zero page; it must lie in a reserved range (it is in .bss). */
  zeroPage: number;
}

/**
 * build_zonelists() for one kind of request: the zones of `nid` (all nodes' with __GFP_THISNODE
 * off, the preferred node first, then the others in order), highest allowed zone first.
 */
export function buildZonelist(nodes: readonly PgDat[], gfp: number, nid: number, high: ZoneId): Zone[] {
  const order = [nid, ...nodes.map((n) => n.nid).filter((n) => n !== nid)];
  const list: Zone[] = [];
  for (const n of gfp & GFP.THISNODE ? [nid] : order) {
    const zs = nodes[n].zones;
    for (let i = zs.length - 1; i >= 0; i--) if (zs[i].id <= high) list.push(zs[i]);
  }
  return list;
}
