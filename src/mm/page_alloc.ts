/**
 * Nodes, zones, pageblocks and the buddy allocator.
 *
 * Models: mm/page_alloc.c (__rmqueue_smallest, expand, __rmqueue_claim/steal fallbacks,
 * __free_one_page, find_buddy_page_pfn), mm/mm_init.c (zone layout, free_area_init),
 * include/linux/mmzone.h (free_area, migratetypes, zonelists) and mm/page_isolation.c.
 *
 * Free blocks sit on doubly linked lists per (zone, order, migratetype). Their links live in a
 * typed-array pool of "buddy block" rows — the memdesc plan's inline `struct buddy` — and a free
 * block's head frame carries type BUDDY, its order and its row. Max-order blocks always use the
 * row equal to their block index, so a section that is entirely free needs no memmap at all: it
 * is linked at boot by index and its memmap is populated only when something is carved from it.
 *
 * Deterministic choice: boot lists are in ascending PFN order (as memblock_free_all leaves them),
 * allocation takes the head of the list, and frees and split remainders go to the head (LIFO),
 * as Linux does. Leaves out: per-CPU page lists, watermarks and reclaim (exhaustion is ENOMEM at
 * once), the "buddy likely to merge" tail heuristic, HIGHATOMIC reserves.
 */
import { MemMap, MT, mdMigratetype, mdOrder, mdType, mdWord } from './memdesc.js';
import { grown } from './pool.js';
import {
  GiB,
  KernelBug,
  KernelError,
  MAX_PAGE_ORDER,
  NR_PAGE_ORDERS,
  PAGE_SIZE,
  PAGEBLOCK_ORDER,
  PAGEBLOCK_PAGES,
  PAGES_PER_SECTION,
} from './types.js';
import type { VmStat } from './vmstat.js';

/** Migratetypes of pageblocks and free lists (enum migratetype). */
export const MIGRATE = {
  UNMOVABLE: 0,
  MOVABLE: 1,
  RECLAIMABLE: 2,
  CMA: 3,
  ISOLATE: 4,
} as const;
export const MIGRATE_NAMES = ['Unmovable', 'Movable', 'Reclaimable', 'CMA', 'Isolate'] as const;
export const NR_MIGRATETYPES = MIGRATE_NAMES.length;

/** Where each migratetype may steal from when its own lists are empty (fallbacks[] in page_alloc.c). */
const FALLBACKS: readonly (readonly number[])[] = [
  [MIGRATE.RECLAIMABLE, MIGRATE.MOVABLE],
  [MIGRATE.RECLAIMABLE, MIGRATE.UNMOVABLE],
  [MIGRATE.UNMOVABLE, MIGRATE.MOVABLE],
];

export const ZONE = { DMA32: 0, NORMAL: 1, MOVABLE: 2 } as const;
export const ZONE_NAMES = ['DMA32', 'Normal', 'Movable'] as const;
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
const isMergeable = (mt: number): boolean => mt < MIGRATE.CMA;

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

const MAX_BLOCK = 1 << MAX_PAGE_ORDER;
const NIL = -1;
const NR_LISTS = NR_PAGE_ORDERS * NR_MIGRATETYPES;
const listIndex = (order: number, mt: number): number => order * NR_MIGRATETYPES + mt;
/** `pfn` is a multiple of `n` (a power of two). `%` on a pfn loaded from a Float64Array is fmod. */
const isAligned = (pfn: number, n: number): boolean => Math.floor(pfn / n) * n === pfn;
/** sectionZone value of a section that is not wholly inside one zone. */
const MIXED_SECTION = 0xff;

export class Zone {
  /** Frames in the zone's span that are RAM. */
  presentPages = 0;
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
}

export interface MemoryLayout {
  /** Bytes of RAM. */
  memory: number;
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

export class PageAlloc {
  /**
   * Depth of memalloc_pin_save() scopes (PF_MEMALLOC_PIN): while non-zero every allocation loses
   * __GFP_MOVABLE, so a FOLL_LONGTERM fault never lands in ZONE_MOVABLE or CMA.
   */
  memallocPin = 0;
  readonly memmap: MemMap;
  readonly nodes: PgDat[] = [];
  readonly zones: Zone[] = [];
  readonly maxPfn: number;
  /** Migratetype of every pageblock. */
  readonly pageblockMt: Uint8Array;
  /** Free frames per section (to drop a section's memmap when it is entirely free again). */
  private readonly sectionFree: Float64Array;
  /** Sections whose every frame is RAM managed by the buddy allocator (may be depopulated). */
  private readonly sectionManaged: Uint8Array;
  /** Index in `zones` of the zone holding each section (MIXED_SECTION: look it up), for zoneOf(). */
  private readonly sectionZone: Uint8Array;
  /** Zonelists by (nid, highest zone, __GFP_THISNODE), built on first use. */
  private readonly zonelists: (Zone[] | undefined)[];
  // Buddy block rows: rows [0, nrMaxBlocks) belong to max-order blocks by index.
  private readonly nrMaxBlocks: number;
  private next: Int32Array;
  private prev: Int32Array;
  private rowList: Int16Array;
  private dynPfn: Float64Array;
  private dynFree: Int32Array;
  private dynFreeTop = 0;
  private dynUsed = 0;
  /** Migratetype of each isolated pageblock before it was isolated. */
  private readonly isolatedFrom = new Map<number, number>();
  /** The shared zero page (empty_zero_page). */
  readonly zeroPfn: number;
  /**
   * __alloc_pages_direct_compact(): called when a high-order request with __GFP_DIRECT_RECLAIM
   * finds no block; returns whether the allocation is worth retrying (compaction.ts sets it).
   */
  directCompact: ((order: number, gfp: number, nid: number) => boolean) | null = null;
  private hugeZero = -1;

  constructor(
    layout: MemoryLayout,
    readonly stat: VmStat,
  ) {
    const pages = Math.floor(layout.memory / PAGE_SIZE);
    if (pages < PAGES_PER_SECTION || pages % PAGES_PER_SECTION !== 0) {
      throw new RangeError(
        `memory must be a multiple of the 128 MiB section size, got ${layout.memory} bytes`,
      );
    }
    this.maxPfn = pages;
    this.pageblockMt = new Uint8Array(pages / PAGEBLOCK_PAGES).fill(MIGRATE.MOVABLE);
    this.memmap = new MemMap(pages, this.pageblockMt);
    const nrSections = pages / PAGES_PER_SECTION;
    this.sectionFree = new Float64Array(nrSections);
    this.sectionManaged = new Uint8Array(nrSections).fill(1);
    this.sectionZone = new Uint8Array(nrSections).fill(MIXED_SECTION);
    this.nrMaxBlocks = pages / MAX_BLOCK;
    const cap = this.nrMaxBlocks + 1024;
    this.next = new Int32Array(cap);
    this.prev = new Int32Array(cap);
    this.rowList = new Int16Array(cap).fill(-1);
    this.dynPfn = new Float64Array(1024);
    this.dynFree = new Int32Array(1024);
    this.layoutZones(layout);
    this.zonelists = new Array(this.nodes.length * ZONE_NAMES.length * 2).fill(undefined);
    this.zones.forEach((z, i) => {
      if (i >= MIXED_SECTION) return;
      const first = Math.ceil(z.startPfn / PAGES_PER_SECTION);
      this.sectionZone.fill(i, first, Math.max(first, Math.floor(z.endPfn / PAGES_PER_SECTION)));
    });
    for (let s = 0; s < nrSections; s++) this.memmap.setPresent(s);
    this.zeroPfn = this.boot(layout);
  }

  // ---------------------------------------------------------------- layout and boot

  private layoutZones(layout: MemoryLayout): void {
    const { nodes } = layout;
    if (!Number.isInteger(nodes) || nodes < 1)
      throw new RangeError(`nodes must be a positive integer, got ${nodes}`);
    const sections = this.maxPfn / PAGES_PER_SECTION;
    if (sections < nodes) throw new RangeError(`${nodes} nodes need at least ${nodes} sections of 128 MiB`);
    const movablePerNode =
      Math.floor(layout.movable / PAGE_SIZE / nodes / PAGES_PER_SECTION) * PAGES_PER_SECTION;
    const dma32End = (4 * GiB) / PAGE_SIZE;
    let start = 0;
    for (let nid = 0; nid < nodes; nid++) {
      const secs = Math.floor(sections / nodes) + (nid < sections % nodes ? 1 : 0);
      const end = start + secs * PAGES_PER_SECTION;
      if (movablePerNode >= end - start) {
        throw new RangeError('movable memory must leave every node some ZONE_NORMAL or ZONE_DMA32');
      }
      const movStart = end - movablePerNode;
      const node: PgDat = { nid, startPfn: start, endPfn: end, zones: [] };
      const cuts: [ZoneId, number, number][] = [
        [ZONE.DMA32, start, Math.min(dma32End, movStart)],
        [ZONE.NORMAL, Math.max(start, dma32End), movStart],
        [ZONE.MOVABLE, movStart, end],
      ];
      for (const [id, s, e] of cuts) {
        if (e > s) {
          const z = new Zone(id, nid, s, e);
          z.presentPages = e - s;
          node.zones.push(z);
          this.zones.push(z);
        }
      }
      this.nodes.push(node);
      start = end;
    }
  }

  /** Hand all memory but the reserved ranges to the buddy allocator; returns the zero page. */
  private boot(layout: MemoryLayout): number {
    const reserved = new Uint8Array(this.maxPfn / PAGES_PER_SECTION);
    const ranges = layout.reserved
      .map((r) => ({
        start: Math.floor(r.start / PAGE_SIZE),
        end: Math.ceil((r.start + r.size) / PAGE_SIZE),
      }))
      .filter((r) => r.end > r.start)
      .sort((a, b) => a.start - b.start);
    for (const r of ranges) {
      if (r.end > this.maxPfn) throw new RangeError('a reserved range lies beyond the end of memory');
      for (let s = Math.floor(r.start / PAGES_PER_SECTION); s * PAGES_PER_SECTION < r.end; s++)
        reserved[s] = 1;
    }
    for (const z of this.zones) {
      for (let pfn = z.startPfn; pfn < z.endPfn; ) {
        const s = pfn / PAGES_PER_SECTION;
        if (reserved[s]) {
          this.bootPartialSection(z, s, ranges);
          pfn += PAGES_PER_SECTION;
          continue;
        }
        // Whole free section: link its max-order blocks by index, no memmap.
        for (let b = pfn / MAX_BLOCK, n = PAGES_PER_SECTION / MAX_BLOCK; n > 0; n--, b++) {
          this.listAddTail(z, b, listIndex(MAX_PAGE_ORDER, MIGRATE.MOVABLE));
        }
        z.freePages += PAGES_PER_SECTION;
        z.managedPages += PAGES_PER_SECTION;
        this.sectionFree[s] = PAGES_PER_SECTION;
        this.stat.pagesByType[MT.BUDDY] += PAGES_PER_SECTION;
        pfn += PAGES_PER_SECTION;
      }
    }
    const zeroPfn = Math.floor(layout.zeroPage / PAGE_SIZE);
    if (!ranges.some((r) => zeroPfn >= r.start && zeroPfn < r.end)) {
      throw new RangeError('the zero page must lie in a reserved range (the kernel image)');
    }
    this.memmap.set(zeroPfn, mdWord(MT.ZERO), 0);
    this.stat.retype(MT.RESERVED, MT.ZERO, 1);
    if (layout.cma > 0) this.reserveCma(layout.cma);
    return zeroPfn;
  }

  /** A section holding reserved frames: populate its memmap and free the rest block by block. */
  private bootPartialSection(z: Zone, s: number, ranges: { start: number; end: number }[]): void {
    this.sectionManaged[s] = 0;
    const base = s * PAGES_PER_SECTION;
    const end = base + PAGES_PER_SECTION;
    this.memmap.populate(s);
    this.memmap.setRange(base, PAGES_PER_SECTION, MT.NONE, 0);
    this.stat.events.section_populate++;
    const isReserved = (pfn: number) => ranges.some((r) => pfn >= r.start && pfn < r.end);
    for (let pfn = base; pfn < end; ) {
      if (isReserved(pfn)) {
        this.memmap.set(pfn, mdWord(MT.RESERVED), 0);
        this.stat.pagesByType[MT.RESERVED]++;
        pfn++;
        continue;
      }
      let order = MAX_PAGE_ORDER;
      while (
        order > 0 &&
        (pfn % (1 << order) !== 0 || pfn + (1 << order) > end || this.anyReserved(pfn, 1 << order, ranges))
      )
        order--;
      const n = 1 << order;
      this.insertFree(z, pfn, order, this.pageblockMigratetype(pfn), true);
      z.managedPages += n;
      z.freePages += n;
      this.sectionFree[s] += n;
      this.stat.pagesByType[MT.BUDDY] += n;
      pfn += n;
    }
  }

  private anyReserved(pfn: number, n: number, ranges: { start: number; end: number }[]): boolean {
    return ranges.some((r) => r.start < pfn + n && r.end > pfn);
  }

  /** Mark `bytes` at the end of the first node's lowest non-movable zone as CMA pageblocks. */
  private reserveCma(bytes: number): void {
    const pages = Math.ceil(bytes / PAGE_SIZE / MAX_BLOCK) * MAX_BLOCK;
    const z = [...this.nodes[0].zones]
      .reverse()
      .find((zz) => zz.id !== ZONE.MOVABLE && zz.spannedPages >= pages * 2);
    if (!z) throw new RangeError('CMA area does not fit in the first node');
    for (let pfn = z.endPfn - pages; pfn < z.endPfn; pfn += MAX_BLOCK) {
      const row = this.rowOf(pfn, MAX_PAGE_ORDER);
      this.listDel(z, row);
      this.setBlockMigratetype(pfn, MAX_PAGE_ORDER, MIGRATE.CMA);
      this.listAddTail(z, row, listIndex(MAX_PAGE_ORDER, MIGRATE.CMA));
      if (this.memmap.isPopulated(Math.floor(pfn / PAGES_PER_SECTION)))
        this.memmap.set(pfn, mdWord(MT.BUDDY, MAX_PAGE_ORDER, MIGRATE.CMA), row);
    }
    z.cmaPages += pages;
  }

  // ---------------------------------------------------------------- lookups

  /** page_zone(): the zone a frame belongs to. */
  zoneOf(pfn: number): Zone {
    if (pfn >= 0 && pfn < this.maxPfn) {
      const i = this.sectionZone[Math.floor(pfn / PAGES_PER_SECTION)];
      if (i !== MIXED_SECTION) return this.zones[i];
      for (const z of this.zones) if (pfn >= z.startPfn && pfn < z.endPfn) return z;
    }
    throw new KernelBug(`pfn ${pfn} is outside every zone`, { pfn, rule: 'page_zone: pfn_valid' });
  }

  /** page_to_nid(). */
  nidOf(pfn: number): number {
    return this.zoneOf(pfn).nid;
  }

  pageblockMigratetype(pfn: number): number {
    return this.pageblockMt[Math.floor(pfn / PAGEBLOCK_PAGES)];
  }

  private setBlockMigratetype(pfn: number, order: number, mt: number): void {
    const first = Math.floor(pfn / PAGEBLOCK_PAGES);
    const n = Math.max(1, (1 << order) / PAGEBLOCK_PAGES);
    this.pageblockMt.fill(mt, first, first + n);
  }

  /** The huge zero folio's first frame, allocating it on first use (mm_get_huge_zero_folio). */
  hugeZeroPfn(): number {
    if (this.hugeZero < 0) {
      const pfn = this.rmqueue(PAGEBLOCK_ORDER, GFP_KERNEL, 0);
      this.memmap.setRange(pfn, PAGEBLOCK_PAGES, mdWord(MT.ZERO, PAGEBLOCK_ORDER), 0);
      this.stat.retype(MT.BUDDY, MT.ZERO, PAGEBLOCK_PAGES);
      this.hugeZero = pfn;
    }
    return this.hugeZero;
  }

  /** is_zero_pfn() or is_huge_zero_pfn(). */
  isZeroPfn(pfn: number): boolean {
    return (
      pfn === this.zeroPfn ||
      (this.hugeZero >= 0 && pfn >= this.hugeZero && pfn < this.hugeZero + PAGEBLOCK_PAGES)
    );
  }

  /** Is this frame the head of a free block (PageBuddy)? */
  isBuddyHead(pfn: number): boolean {
    return mdType(this.memmap.lo(pfn)) === MT.BUDDY;
  }

  /** The free block containing `pfn`, if any (as take_page_off_buddy looks for it). */
  findFreeBlock(pfn: number): { pfn: number; order: number } | undefined {
    for (let order = 0; order <= MAX_PAGE_ORDER; order++) {
      const head = pfn - (pfn % (1 << order));
      const lo = this.memmap.lo(head);
      if (mdType(lo) === MT.BUDDY && mdOrder(lo) >= order) return { pfn: head, order: mdOrder(lo) };
    }
    return undefined;
  }

  /**
   * Take [pfn, pfn + 2^order) off the free lists, giving the rest of the free block holding it back
   * split (take_page_off_buddy / break_down_buddy_pages; compaction's isolate_freepages_block for a
   * whole block). The frames read untyped; the caller types them. False when no free block covers it.
   */
  takeFreeRange(pfn: number, order: number): boolean {
    const found = this.findFreeBlock(pfn);
    if (!found || found.order < order) return false;
    const z = this.zoneOf(pfn);
    this.ensurePopulated(found.pfn);
    this.removeFree(z, found.pfn, found.order);
    let head = found.pfn;
    for (let o = found.order; o > order; ) {
      o--;
      const half = 1 << o;
      const rest = pfn >= head + half ? head : head + half;
      this.insertFree(z, rest, o, this.pageblockMt[Math.floor(rest / PAGEBLOCK_PAGES)], false);
      if (rest === head) head += half;
    }
    const n = 1 << order;
    z.freePages -= n;
    this.sectionFree[Math.floor(pfn / PAGES_PER_SECTION)] -= n;
    return true;
  }

  // ---------------------------------------------------------------- rows and lists

  private rowOf(pfn: number, order: number): number {
    return order === MAX_PAGE_ORDER ? pfn / MAX_BLOCK : this.memmap.hi(pfn);
  }

  private rowPfn(row: number): number {
    return row < this.nrMaxBlocks ? row * MAX_BLOCK : this.dynPfn[row - this.nrMaxBlocks];
  }

  private allocDynRow(pfn: number): number {
    let d: number;
    if (this.dynFreeTop > 0) d = this.dynFree[--this.dynFreeTop];
    else {
      d = this.dynUsed++;
      if (d >= this.dynPfn.length) {
        const n = this.dynPfn.length * 2;
        this.dynPfn = grown(this.dynPfn, n);
        this.dynFree = grown(this.dynFree, n);
      }
      if (this.nrMaxBlocks + d >= this.next.length) {
        const n = this.nrMaxBlocks + this.dynPfn.length;
        this.next = grown(this.next, n);
        this.prev = grown(this.prev, n);
        this.rowList = grown(this.rowList, n);
      }
    }
    this.dynPfn[d] = pfn;
    return this.nrMaxBlocks + d;
  }

  private freeDynRow(row: number): void {
    if (row >= this.nrMaxBlocks) this.dynFree[this.dynFreeTop++] = row - this.nrMaxBlocks;
  }

  private listAddHead(z: Zone, row: number, li: number): void {
    const h = z.head[li];
    this.next[row] = h;
    this.prev[row] = NIL;
    if (h === NIL) z.tail[li] = row;
    else this.prev[h] = row;
    z.head[li] = row;
    this.rowList[row] = li;
    z.nrFree[li]++;
  }

  private listAddTail(z: Zone, row: number, li: number): void {
    const t = z.tail[li];
    this.prev[row] = t;
    this.next[row] = NIL;
    if (t === NIL) z.head[li] = row;
    else this.next[t] = row;
    z.tail[li] = row;
    this.rowList[row] = li;
    z.nrFree[li]++;
  }

  private listDel(z: Zone, row: number): void {
    const li = this.rowList[row];
    const n = this.next[row];
    const p = this.prev[row];
    if (p === NIL) z.head[li] = n;
    else this.next[p] = n;
    if (n === NIL) z.tail[li] = p;
    else this.prev[n] = p;
    this.rowList[row] = -1;
    z.nrFree[li]--;
  }

  /** Put a free block on its list and mark its head frame (set_buddy_order + add_to_free_list). */
  private insertFree(z: Zone, pfn: number, order: number, mt: number, tail: boolean): void {
    const row = order === MAX_PAGE_ORDER ? pfn / MAX_BLOCK : this.allocDynRow(pfn);
    this.memmap.set(pfn, mdWord(MT.BUDDY, order, mt), row);
    if (tail) this.listAddTail(z, row, listIndex(order, mt));
    else this.listAddHead(z, row, listIndex(order, mt));
  }

  /** Take a free block off its list; its head frame stops being PageBuddy. */
  private removeFree(z: Zone, pfn: number, order: number): void {
    const row = this.rowOf(pfn, order);
    this.listDel(z, row);
    this.freeDynRow(row);
    this.memmap.setIfPopulated(pfn, MT.NONE, 0);
  }

  /** Populate the memmap of the section holding `pfn` before carving from it. */
  private ensurePopulated(pfn: number): void {
    const s = Math.floor(pfn / PAGES_PER_SECTION);
    if (!this.memmap.isPopulated(s)) {
      this.memmap.populate(s);
      this.stat.events.section_populate++;
    }
  }

  // ---------------------------------------------------------------- allocation

  /** __rmqueue_smallest(): the smallest free block of `mt` that fits, split down by expand(). */
  private rmqueueSmallest(z: Zone, order: number, mt: number): number {
    for (let o = order; o <= MAX_PAGE_ORDER; o++) {
      const row = z.head[listIndex(o, mt)];
      if (row === NIL) continue;
      const pfn = this.rowPfn(row);
      // removeFree() knowing the row; the head word is cleared in the same lookup that finds
      // whether the section needs its memmap first (ensurePopulated()).
      this.listDel(z, row);
      this.freeDynRow(row);
      if (!this.memmap.setIfPopulated(pfn, MT.NONE, 0)) {
        this.ensurePopulated(pfn);
        this.memmap.set(pfn, MT.NONE, 0);
      }
      this.expand(z, pfn, order, o, mt);
      return pfn;
    }
    return -1;
  }

  /** expand(): give back the upper halves of a split block, largest first. */
  private expand(z: Zone, pfn: number, low: number, high: number, mt: number): void {
    while (high > low) {
      high--;
      this.insertFree(z, pfn + (1 << high), high, mt, false);
      this.stat.events.buddy_split++;
    }
  }

  /**
   * __rmqueue_claim(): steal the largest free block of a fallback type; a block of at least half
   * a pageblock claims its whole pageblock(s) for the new type (as try_to_claim_block does when
   * enough of the block is free).
   */
  private rmqueueFallback(z: Zone, order: number, mt: number): number {
    if (mt >= FALLBACKS.length) return -1;
    for (let o = MAX_PAGE_ORDER; o >= order; o--) {
      for (const fmt of FALLBACKS[mt]) {
        const row = z.head[listIndex(o, fmt)];
        if (row === NIL) continue;
        const pfn = this.rowPfn(row);
        this.ensurePopulated(pfn);
        this.stat.events.pageblock_steal++;
        if (o >= PAGEBLOCK_ORDER / 2) this.claimPageblocks(z, pfn, o, mt);
        this.removeFree(z, pfn, o);
        this.expand(z, pfn, order, o, o >= PAGEBLOCK_ORDER / 2 ? mt : fmt);
        return pfn;
      }
    }
    return -1;
  }

  /** Convert the pageblock(s) around a block to `mt` and move their free blocks across. */
  private claimPageblocks(z: Zone, pfn: number, order: number, mt: number): void {
    const span = Math.max(PAGEBLOCK_PAGES, 1 << order);
    const start = Math.floor(pfn / span) * span;
    this.setBlockMigratetype(start, Math.max(order, PAGEBLOCK_ORDER), mt);
    this.moveFreeBlocks(z, start, start + span, mt);
  }

  /** move_freepages(): every free block whose head lies in [start, end) goes to the `mt` list. */
  private moveFreeBlocks(z: Zone, start: number, end: number, mt: number): void {
    for (let p = start; p < end; ) {
      const lo = this.memmap.lo(p);
      if (mdType(lo) !== MT.BUDDY) {
        p++;
        continue;
      }
      const order = mdOrder(lo);
      const row = this.rowOf(p, order);
      this.listDel(z, row);
      this.listAddTail(z, row, listIndex(order, mt));
      this.memmap.setIfPopulated(p, mdWord(MT.BUDDY, order, mt), row);
      p += 1 << order;
    }
  }

  /**
   * __rmqueue() on one zone: own type, then CMA for movable requests, then stealing. A movable
   * request (ALLOC_CMA) takes CMA first while free CMA is more than half the zone's free pages,
   * balancing the two so CMA is not left as the last memory standing.
   */
  private rmqueueZone(z: Zone, order: number, mt: number): number {
    if (mt === MIGRATE.MOVABLE && z.cmaPages > 0 && z.freeCmaPages() > Math.floor(z.freePages / 2)) {
      const cma = this.rmqueueSmallest(z, order, MIGRATE.CMA);
      if (cma >= 0) return cma;
    }
    let pfn = this.rmqueueSmallest(z, order, mt);
    if (pfn < 0 && mt === MIGRATE.MOVABLE && z.cmaPages > 0)
      pfn = this.rmqueueSmallest(z, order, MIGRATE.CMA);
    if (pfn < 0) pfn = this.rmqueueFallback(z, order, mt);
    return pfn;
  }

  /** The zonelist for a request: preferred node's zones from the highest allowed down, then other nodes. */
  *zonelist(gfp: number, nid: number): Generator<Zone> {
    yield* this.zonelistOf(gfp, nid);
  }

  /** zonelist() as a cached array (the allocation fast path must not build one per call). */
  private zonelistOf(gfp: number, nid: number): Zone[] {
    const high = gfpZone(gfp);
    const key = (nid * ZONE_NAMES.length + high) * 2 + (gfp & GFP.THISNODE ? 1 : 0);
    let list = this.zonelists[key];
    if (list === undefined) {
      const order = [nid, ...this.nodes.map((n) => n.nid).filter((n) => n !== nid)];
      const nodes = gfp & GFP.THISNODE ? [nid] : order;
      list = [];
      for (const n of nodes) {
        const zs = this.nodes[n].zones;
        for (let i = zs.length - 1; i >= 0; i--) if (zs[i].id <= high) list.push(zs[i]);
      }
      this.zonelists[key] = list;
    }
    return list;
  }

  /**
   * Take a block of 2^order frames off the free lists; the caller writes its memdesc words.
   * Models get_page_from_freelist() -> rmqueue(). Throws ENOMEM when no zone can satisfy it.
   */
  rmqueue(order: number, gfp: number, nid: number): number {
    if (!Number.isInteger(order) || order < 0 || order > MAX_PAGE_ORDER) {
      throw new KernelError('EINVAL', `order ${order} is outside 0..${MAX_PAGE_ORDER}`);
    }
    if (!Number.isInteger(nid) || nid < 0 || nid >= this.nodes.length) {
      throw new KernelError('EINVAL', `node ${nid} does not exist`);
    }
    // current_gfp_context(): inside memalloc_pin_save() nothing may be movable.
    if (this.memallocPin !== 0) gfp &= ~GFP.MOVABLE;
    const mt = gfpMigratetype(gfp);
    const zonelist = this.zonelistOf(gfp, nid);
    for (let i = 0; i < zonelist.length; i++) {
      const z = zonelist[i];
      if (z.freePages < 1 << order) continue;
      const pfn = this.rmqueueZone(z, order, mt);
      if (pfn >= 0) {
        const n = 1 << order;
        z.freePages -= n;
        this.sectionFree[Math.floor(pfn / PAGES_PER_SECTION)] -= n;
        this.stat.events.pgalloc += n;
        z.pgalloc += n;
        return pfn;
      }
    }
    if (gfp & GFP.DIRECT_RECLAIM && order > 0 && this.directCompact?.(order, gfp, nid))
      return this.rmqueue(order, gfp & ~GFP.DIRECT_RECLAIM, nid);
    this.stat.events.pgalloc_fail++;
    throw new KernelError(
      'ENOMEM',
      `no free block of order ${order} (${1 << order} pages) in any allowed zone`,
    );
  }

  // ---------------------------------------------------------------- freeing

  /**
   * Return 2^order frames starting at `pfn` to the buddy allocator, merging with free buddies.
   * Models __free_pages_ok() -> split_large_buddy() -> __free_one_page(). The caller has already
   * dropped the last reference; the frames' memdesc words are cleared here.
   */
  freeBlock(pfn: number, order: number): void {
    const z = this.zoneOf(pfn);
    const n = 1 << order;
    this.memmap.setRange(pfn, n, MT.NONE, 0);
    z.freePages += n;
    const section = Math.floor(pfn / PAGES_PER_SECTION);
    this.sectionFree[section] += n;
    this.stat.events.pgfree += n;
    // split_large_buddy(): a block larger than a pageblock goes back pageblock by pageblock, each
    // with its own migratetype, so an isolated pageblock never rides along on a live list.
    const chunk = Math.min(order, PAGEBLOCK_ORDER);
    for (let p = pfn; p < pfn + n; p += 1 << chunk) this.mergeFree(z, p, chunk);
    this.maybeDepopulate(section);
  }

  /** __free_one_page(): merge a free block with its free buddies and list the result. */
  private mergeFree(z: Zone, pfn: number, order: number): void {
    const mt = this.pageblockMt[Math.floor(pfn / PAGEBLOCK_PAGES)];
    while (order < MAX_PAGE_ORDER) {
      const size = 1 << order;
      const buddy = isAligned(pfn, size * 2) ? pfn + size : pfn - size;
      if (!z.contains(buddy)) break;
      const lo = this.memmap.lo(buddy);
      if (mdType(lo) !== MT.BUDDY || mdOrder(lo) !== order) break;
      if (order >= PAGEBLOCK_ORDER) {
        const buddyMt = this.pageblockMt[Math.floor(buddy / PAGEBLOCK_PAGES)];
        if (buddyMt !== mt) {
          // Isolated and CMA pageblocks never merge with another type (migratetype_is_mergeable);
          // the others do, and the buddy's pageblock takes the freed block's type so that a
          // later expand() puts each half on the list of its own pageblock.
          if (!isMergeable(mt) || !isMergeable(buddyMt)) break;
          this.setBlockMigratetype(buddy, order, mt);
        }
      }
      this.removeFree(z, buddy, order);
      this.stat.events.buddy_merge++;
      pfn = Math.min(pfn, buddy);
      order++;
    }
    this.insertFree(z, pfn, order, this.pageblockMt[Math.floor(pfn / PAGEBLOCK_PAGES)], false);
  }

  private maybeDepopulate(section: number): void {
    if (this.sectionFree[section] === PAGES_PER_SECTION && this.sectionManaged[section])
      this.depopulate(section);
  }

  /**
   * An entirely free section gives its memmap back; its max-order blocks stay linked by index.
   * Not while a pageblock in it is isolated, nor while two of its pageblocks could not merge
   * (CMA next to another type): an unpopulated section must read as whole max-order blocks.
   */
  private depopulate(section: number): void {
    const first = (section * PAGES_PER_SECTION) / PAGEBLOCK_PAGES;
    for (let pb = first; pb < first + PAGES_PER_SECTION / PAGEBLOCK_PAGES; pb++)
      if (this.pageblockMt[pb] === MIGRATE.ISOLATE) return;
    const base = section * PAGES_PER_SECTION;
    for (let pfn = base; pfn < base + PAGES_PER_SECTION; pfn += MAX_BLOCK) {
      const lo = this.memmap.lo(pfn);
      if (mdType(lo) !== MT.BUDDY || mdOrder(lo) !== MAX_PAGE_ORDER) return;
    }
    this.memmap.depopulate(section);
    this.stat.events.section_depopulate++;
  }

  // ---------------------------------------------------------------- isolation (page_isolation.c)

  /** start_isolate_page_range() for one pageblock: its free blocks become unallocatable. */
  isolatePageblock(pfn: number): void {
    const pb = Math.floor(pfn / PAGEBLOCK_PAGES);
    if (this.pageblockMt[pb] === MIGRATE.ISOLATE)
      throw new KernelError('EBUSY', `pageblock ${pb} is already isolated`);
    const start = pb * PAGEBLOCK_PAGES;
    const z = this.zoneOf(start);
    this.ensurePopulated(start);
    this.splitMaxOrderCovering(z, start);
    this.isolatedFrom.set(pb, this.pageblockMt[pb]);
    this.pageblockMt[pb] = MIGRATE.ISOLATE;
    this.moveFreeBlocks(z, start, start + PAGEBLOCK_PAGES, MIGRATE.ISOLATE);
  }

  /**
   * undo_isolate_page_range() for one pageblock. It gets back the migratetype it had before it
   * was isolated (isolation is a bit beside the migratetype in current Linux), unless `mt` says
   * otherwise.
   */
  unisolatePageblock(pfn: number, mt?: number): void {
    const pb = Math.floor(pfn / PAGEBLOCK_PAGES);
    if (this.pageblockMt[pb] !== MIGRATE.ISOLATE)
      throw new KernelError('EINVAL', `pageblock ${pb} is not isolated`);
    const start = pb * PAGEBLOCK_PAGES;
    mt ??= this.isolatedFrom.get(pb) ?? MIGRATE.MOVABLE;
    this.isolatedFrom.delete(pb);
    const z = this.zoneOf(start);
    // Two isolated buddies merge like any same-type pair; split such a block first so only this
    // pageblock changes type (__move_freepages_block_isolate splits a free page spanning it).
    this.splitMaxOrderCovering(z, start);
    this.pageblockMt[pb] = mt;
    this.moveFreeBlocks(z, start, start + PAGEBLOCK_PAGES, mt);
    // unset_migratetype_isolate(): a wholly free pageblock could not merge with its buddy while
    // isolated; take it off its list and free it again so it does (__putback_isolated_page).
    const lo = this.memmap.lo(start);
    if (mdType(lo) === MT.BUDDY && mdOrder(lo) === PAGEBLOCK_ORDER) {
      this.removeFree(z, start, PAGEBLOCK_ORDER);
      this.mergeFree(z, start, PAGEBLOCK_ORDER);
      this.maybeDepopulate(Math.floor(start / PAGES_PER_SECTION));
    }
  }

  /** A free max-order block spans two pageblocks; split it so one pageblock can change type. */
  private splitMaxOrderCovering(z: Zone, pfn: number): void {
    const head = pfn - (pfn % MAX_BLOCK);
    const lo = this.memmap.lo(head);
    if (mdType(lo) !== MT.BUDDY || mdOrder(lo) !== MAX_PAGE_ORDER) return;
    const mt = mdMigratetype(lo);
    this.removeFree(z, head, MAX_PAGE_ORDER);
    this.insertFree(z, head + PAGEBLOCK_PAGES, PAGEBLOCK_ORDER, mt, false);
    this.insertFree(z, head, PAGEBLOCK_ORDER, mt, false);
  }

  // ---------------------------------------------------------------- introspection

  /** Walk one free list (for invariants and /proc/pagetypeinfo): yields head pfns. */
  *freeList(z: Zone, order: number, mt: number): Generator<number> {
    for (let row = z.head[listIndex(order, mt)]; row !== NIL; row = this.next[row]) yield this.rowPfn(row);
  }

  get totalFreePages(): number {
    let n = 0;
    for (const z of this.zones) n += z.freePages;
    return n;
  }

  get managedPages(): number {
    let n = 0;
    for (const z of this.zones) n += z.managedPages;
    return n;
  }

  /** Host bytes of the allocator's own arrays (buddy rows, pageblock types). */
  hostBytes(): number {
    return (
      this.next.byteLength +
      this.prev.byteLength +
      this.rowList.byteLength +
      this.dynPfn.byteLength +
      this.dynFree.byteLength +
      this.pageblockMt.byteLength +
      this.sectionFree.byteLength +
      this.sectionManaged.byteLength
    );
  }
}
