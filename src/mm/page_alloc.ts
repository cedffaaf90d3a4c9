/**
 * The buddy allocator: take a block of 2^order frames off the free lists and give it back.
 *
 * Models: mm/page_alloc.c (get_page_from_freelist -> rmqueue, __rmqueue_smallest, expand,
 * __free_one_page, find_buddy_page_pfn, split_large_buddy). Boot is mm_init.ts, the free lists'
 * rows free_area.ts, the migratetype fallbacks page_alloc_fallback.ts, the per-CPU lists pcp.ts,
 * pageblock isolation and take_page_off_buddy page_isolation.ts, zones and GFP flags mmzone.ts.
 *
 * Deterministic choice: boot lists are in ascending PFN order (as memblock_free_all leaves them),
 * allocation takes the head of the list, and frees and split remainders go to the head (LIFO),
 * as Linux does. Orders up to 3 and the THP order go through the per-CPU lists first (pcp.ts).
 * Leaves out: watermarks and reclaim (exhaustion is ENOMEM once the per-CPU lists are drained),
 * the "buddy likely to merge" tail heuristic, HIGHATOMIC reserves.
 */
import { FreeArea } from './free_area.js';
import {
  MemMap,
  MT as MT_IMPORT,
  mdOrder as mdOrder_IMPORT,
  mdType as mdType_IMPORT,
  PFN_SECTION_SHIFT,
  pfnToPageblock as pfnToPageblock_IMPORT,
  pfnToSection as pfnToSection_IMPORT,
} from './memdesc.js';
import {
  deferredGrowZone,
  layoutZones,
  memblockFreeAll,
  memoryMap,
  memoryMapEnd,
  pageAllocInitLate,
} from './mm_init.js';
import {
  buildZonelist,
  GFP as GFP_IMPORT,
  gfpMigratetype as gfpMigratetype_IMPORT,
  gfpZone as gfpZone_IMPORT,
  isMergeable as isMergeable_IMPORT,
  listIndex as listIndex_IMPORT,
  MAX_BLOCK,
  type MemoryLayout,
  MIGRATE as MIGRATE_IMPORT,
  NIL as NIL_IMPORT,
  type PfnRange,
  type PgDat,
  ZONE_NAMES as ZONE_NAMES_IMPORT,
  type Zone,
} from './mmzone.js';
import { rmqueueFallback } from './page_alloc_fallback.js';
import {
  drainAllPages,
  pcpAllowedOrder as pcpAllowedOrder_IMPORT,
  pcpUpdate,
  rmqueuePcplist as rmqueuePcplist_IMPORT,
} from './pcp.js';
import {
  KernelBug,
  KernelError,
  MAX_PAGE_ORDER as MAX_PAGE_ORDER_IMPORT,
  PAGE_SIZE,
  PAGEBLOCK_ORDER as PAGEBLOCK_ORDER_IMPORT,
  PAGEBLOCK_PAGES as PAGEBLOCK_PAGES_IMPORT,
  PAGES_PER_SECTION as PAGES_PER_SECTION_IMPORT,
} from './types.js';

import type { VmStat } from './vmstat.js';

// Imports the hot paths read, as this module's own consts (why: docs/architecture.md).
const pfnToSection = pfnToSection_IMPORT;
const pfnToPageblock = pfnToPageblock_IMPORT;
const GFP = GFP_IMPORT;
const MIGRATE = MIGRATE_IMPORT;
const MAX_PAGE_ORDER = MAX_PAGE_ORDER_IMPORT;
const PAGES_PER_SECTION = PAGES_PER_SECTION_IMPORT;
const PAGEBLOCK_PAGES = PAGEBLOCK_PAGES_IMPORT;
const PAGEBLOCK_ORDER = PAGEBLOCK_ORDER_IMPORT;
const MT = MT_IMPORT;
const gfpMigratetype = gfpMigratetype_IMPORT;
const gfpZone = gfpZone_IMPORT;
const pcpAllowedOrder = pcpAllowedOrder_IMPORT;
const rmqueuePcplist = rmqueuePcplist_IMPORT;
const mdOrder = mdOrder_IMPORT;
const mdType = mdType_IMPORT;
const isMergeable = isMergeable_IMPORT;
const listIndex = listIndex_IMPORT;
const NIL = NIL_IMPORT;
const ZONE_NAMES = ZONE_NAMES_IMPORT;

/** `pfn` is a multiple of `n` (a power of two). `%` on a pfn loaded from a Float64Array is fmod. */
const isAligned = (pfn: number, n: number): boolean => Math.floor(pfn / n) * n === pfn;
/** sectionZone value of a section that is not wholly inside one zone. */
const MIXED_SECTION = 0xff;

// Out of line, so rmqueue() stays small enough to inline.
function badOrder(order: number): never {
  throw new KernelError('EINVAL', `order ${order} is outside 0..${MAX_PAGE_ORDER}`);
}

function badNode(nid: number): never {
  throw new KernelError('EINVAL', `node ${nid} does not exist`);
}

/** The GFP bits that decide a node's zonelist: the highest zone (gfp_zone) and __GFP_THISNODE. */
const FIRST_ZONE_GFP = GFP.DMA32 | GFP.MOVABLE | GFP.THISNODE;

export class PageAlloc {
  /**
   * Depth of memalloc_pin_save() scopes (PF_MEMALLOC_PIN): while non-zero every allocation loses
   * __GFP_MOVABLE, so a FOLL_LONGTERM fault never lands in ZONE_MOVABLE or CMA.
   */
  memallocPin = 0;
  readonly memmap: MemMap;
  readonly nodes: PgDat[];
  readonly zones: Zone[];
  /** End of the memmap: the last RAM frame's section end. Frames below it may still be holes. */
  readonly maxPfn: number;
  /** The memory map: RAM ranges in PFNs (memblock.memory after boot). */
  readonly ram: readonly PfnRange[];
  /** The free lists' rows (struct free_area and the memdesc plan's struct buddy). */
  readonly area: FreeArea;
  /** Migratetype of every pageblock. */
  readonly pageblockMt: Uint8Array;
  /** Free frames per section (to drop a section's memmap when it is entirely free again). */
  readonly sectionFree: Float64Array;
  /** Sections whose every frame is RAM managed by the buddy allocator (may be depopulated). */
  readonly sectionManaged: Uint8Array;
  /** Index in `zones` of the zone holding each section (MIXED_SECTION: look it up), for zoneOf(). */
  private readonly sectionZone: Uint8Array;
  /** Zonelists by (nid, highest zone, __GFP_THISNODE), built on first use. */
  private readonly zonelists: (Zone[] | undefined)[];
  /** firstZone()'s cache, by `gfp & FIRST_ZONE_GFP`. */
  private readonly firstZones: (Zone | undefined)[] = new Array(FIRST_ZONE_GFP + 1).fill(undefined);
  /** Migratetype of each isolated pageblock before it was isolated (page_isolation.ts). */
  readonly isolatedFrom = new Map<number, number>();
  /** The shared zero page (empty_zero_page). */
  readonly zeroPfn: number;
  /**
   * __alloc_pages_direct_compact(): called when a high-order request with __GFP_DIRECT_RECLAIM
   * finds no block; returns whether the allocation is worth retrying (compaction.ts sets it).
   */
  directCompact: ((order: number, gfp: number, nid: number) => boolean) | null = null;
  /** First frame of the huge zero folio, -1 until first use (mmGetHugeZeroFolio, huge_memory.ts). */
  hugeZero = -1;
  /** Per-CPU page lists in use (the `pcp` machine option). */
  readonly pcpEnabled: boolean;
  /** THP enabled at boot: khugepaged raises min_free_kbytes, which sizes pcp->high (Kernel sets it). */
  thpEnabled = false;

  constructor(
    layout: MemoryLayout,
    readonly stat: VmStat,
  ) {
    const pages = layout.ram ? memoryMapEnd(layout.ram) : Math.floor(layout.memory / PAGE_SIZE);
    if (!layout.ram && (pages < PAGES_PER_SECTION || pages % PAGES_PER_SECTION !== 0)) {
      throw new RangeError(
        `memory must be a multiple of the 128 MiB section size, got ${layout.memory} bytes`,
      );
    }
    this.maxPfn = pages;
    this.pcpEnabled = layout.pcp ?? false;
    this.ram = memoryMap(layout, pages);
    this.pageblockMt = new Uint8Array(pages / PAGEBLOCK_PAGES).fill(MIGRATE.MOVABLE);
    this.memmap = new MemMap(pages, this.pageblockMt);
    const nrSections = pages / PAGES_PER_SECTION;
    this.sectionFree = new Float64Array(nrSections);
    this.sectionManaged = new Uint8Array(nrSections).fill(1);
    this.sectionZone = new Uint8Array(nrSections).fill(MIXED_SECTION);
    this.area = new FreeArea(this.memmap, pages);
    ({ nodes: this.nodes, zones: this.zones } = layoutZones(layout, pages));
    this.zonelists = new Array(this.nodes.length * ZONE_NAMES.length * 2).fill(undefined);
    this.zones.forEach((z, i) => {
      if (i >= MIXED_SECTION) return;
      const first = Math.ceil(z.startPfn / PAGES_PER_SECTION);
      this.sectionZone.fill(i, first, Math.max(first, Math.floor(z.endPfn / PAGES_PER_SECTION)));
    });
    this.zeroPfn = memblockFreeAll(this, layout);
    pcpUpdate(this);
  }

  /** page_alloc_init_late(): the deferred init "thread" finishes the memmap (mm_init.ts). */
  pageAllocInitLate(): number {
    const n = pageAllocInitLate(this, this.ram);
    pcpUpdate(this);
    return n;
  }

  // ---------------------------------------------------------------- lookups

  /** Every frame of `section` belongs to one zone. */
  sectionInOneZone(section: number): boolean {
    return this.sectionZone[section] !== MIXED_SECTION;
  }

  /** page_zone(): the zone a frame belongs to. */
  zoneOf(pfn: number): Zone {
    if (pfn >= 0 && pfn < this.maxPfn) {
      const i = this.sectionZone[pfnToSection(pfn)];
      if (i !== MIXED_SECTION) return this.zones[i];
    }
    return this.zoneOfMixed(pfn);
  }

  /** zoneOf() of a frame below INT32_FRAMES, in integer arithmetic (the order-0 fast path). */
  zoneOfInt(pfn: number): Zone {
    const i = this.sectionZone[pfn >> PFN_SECTION_SHIFT];
    return i !== MIXED_SECTION ? this.zones[i] : this.zoneOfMixed(pfn);
  }

  /** zoneOf() in a section two zones share, or of a frame outside memory (a KernelBug). */
  private zoneOfMixed(pfn: number): Zone {
    if (pfn >= 0 && pfn < this.maxPfn) {
      for (const z of this.zones) if (pfn >= z.startPfn && pfn < z.endPfn) return z;
      // init_unavailable_range(): a non-RAM frame of a section with RAM, outside every span, is
      // linked to the zone above it (at the end of memory, to the highest zone).
      if (this.memmap.pfnValid(pfn))
        return this.zones.find((z) => z.startPfn > pfn) ?? this.zones[this.zones.length - 1];
    }
    throw new KernelBug(`pfn ${pfn} is outside every zone`, { pfn, rule: 'page_zone: pfn_valid' });
  }

  /** page_to_nid(). */
  nidOf(pfn: number): number {
    return this.zoneOf(pfn).nid;
  }

  pageblockMigratetype(pfn: number): number {
    return this.pageblockMt[pfnToPageblock(pfn)];
  }

  /** set_pageblock_migratetype() over the pageblock(s) a block of `order` covers. */
  setPageblockMigratetype(pfn: number, order: number, mt: number): void {
    const first = pfnToPageblock(pfn);
    const n = Math.max(1, (1 << order) / PAGEBLOCK_PAGES);
    this.pageblockMt.fill(mt, first, first + n);
  }

  /** is_zero_pfn() or is_huge_zero_pfn(). */
  isZeroPfn(pfn: number): boolean {
    return (
      pfn === this.zeroPfn ||
      (this.hugeZero >= 0 && pfn >= this.hugeZero && pfn < this.hugeZero + PAGEBLOCK_PAGES)
    );
  }

  /** Populate the memmap of the section holding `pfn` before carving from it. */
  ensurePopulated(pfn: number): void {
    const s = pfnToSection(pfn);
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
      const pfn = this.area.rowPfn(row);
      // removeFree() knowing the row; the head word is cleared in the same lookup that finds
      // whether the section needs its memmap first (ensurePopulated()).
      this.area.listDel(z, row);
      this.area.freeDynRow(row);
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
  expand(z: Zone, pfn: number, low: number, high: number, mt: number): void {
    while (high > low) {
      high--;
      this.area.insertFree(z, pfn + (1 << high), high, mt, false);
      this.stat.events.buddy_split++;
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
    if (pfn < 0) pfn = rmqueueFallback(this, z, order, mt);
    return pfn;
  }

  /** The zonelist for a request: the preferred node's zones, highest allowed first, then others. Cached. */
  zonelist(gfp: number, nid: number): readonly Zone[] {
    const high = gfpZone(gfp);
    const key = (nid * ZONE_NAMES.length + high) * 2 + (gfp & GFP.THISNODE ? 1 : 0);
    this.zonelists[key] ??= buildZonelist(this.nodes, gfp, nid, high);
    return this.zonelists[key];
  }

  /** zonelist(gfp, 0)[0], cached by the GFP bits that choose it (the order-0 fast path's zone). */
  firstZone(gfp: number): Zone | undefined {
    const key = gfp & FIRST_ZONE_GFP;
    return this.firstZones[key] ?? this.cacheFirstZone(key);
  }

  private cacheFirstZone(key: number): Zone | undefined {
    this.firstZones[key] = this.zonelist(key, 0)[0];
    return this.firstZones[key];
  }

  /**
   * rmqueue_buddy() / rmqueue_bulk()'s __rmqueue(): a block straight off the zone's free lists,
   * out of nr_free_pages; -1 when the zone has none that fits.
   */
  rmqueueBuddy(z: Zone, order: number, mt: number): number {
    const n = 1 << order;
    if (z.freePages < n) return -1;
    const pfn = this.rmqueueZone(z, order, mt);
    if (pfn >= 0) {
      z.freePages -= n;
      this.sectionFree[pfnToSection(pfn)] -= n;
    }
    return pfn;
  }

  /** rmqueue() on one zone: the per-CPU list for the orders it holds, else the free lists. */
  private rmqueueOne(z: Zone, order: number, mt: number): number {
    return this.pcpEnabled && pcpAllowedOrder(order)
      ? rmqueuePcplist(this, z, order, mt)
      : this.rmqueueBuddy(z, order, mt);
  }

  /**
   * Take a block of 2^order frames off the free lists; the caller writes its memdesc words.
   * Models get_page_from_freelist() -> rmqueue(). A request no zone can satisfy drains the per-CPU
   * lists and tries once more (__alloc_pages_direct_reclaim's drain_all_pages: the model has no
   * reclaim, so it always drains), then compacts if it may; ENOMEM after that.
   */
  rmqueue(order: number, gfp: number, nid: number, drained = false): number {
    if (!(Number.isInteger(order) && order >= 0 && order <= MAX_PAGE_ORDER)) badOrder(order);
    if (!(Number.isInteger(nid) && nid >= 0 && nid < this.nodes.length)) badNode(nid);
    // current_gfp_context(): inside memalloc_pin_save() nothing may be movable.
    if (this.memallocPin !== 0) gfp &= ~GFP.MOVABLE;
    const mt = gfpMigratetype(gfp);
    const zonelist = this.zonelist(gfp, nid);
    for (let i = 0; i < zonelist.length; i++) {
      const z = zonelist[i];
      let pfn = this.rmqueueOne(z, order, mt);
      // get_page_from_freelist(): a zone with deferred pages grows (deferred_grow_zone) and is
      // tried again. The model has no watermarks, so "too little" means the request failed.
      while (pfn < 0 && z.deferredPages > 0 && deferredGrowZone(this, z, order, this.ram))
        pfn = this.rmqueueOne(z, order, mt);
      if (pfn >= 0) {
        const n = 1 << order;
        this.stat.events.pgalloc += n;
        z.pgalloc += n;
        return pfn;
      }
    }
    return this.rmqueueSlowpath(order, gfp, nid, drained);
  }

  /**
   * No allowed zone had a block: drain the per-CPU lists and try again, then compact if the
   * request may, else ENOMEM (__alloc_pages_slowpath, without reclaim). Out of line: cold.
   */
  private rmqueueSlowpath(order: number, gfp: number, nid: number, drained: boolean): number {
    if (!drained && this.pcpPages > 0) {
      drainAllPages(this);
      return this.rmqueue(order, gfp, nid, true);
    }
    if (gfp & GFP.DIRECT_RECLAIM && order > 0 && this.directCompact?.(order, gfp, nid))
      return this.rmqueue(order, gfp & ~GFP.DIRECT_RECLAIM, nid, drained);
    this.stat.events.pgalloc_fail++;
    throw new KernelError(
      'ENOMEM',
      `no free block of order ${order} (${1 << order} pages) in any allowed zone`,
    );
  }

  // ---------------------------------------------------------------- freeing

  /** Pages on every zone's per-CPU lists: free, but not in nr_free_pages. */
  get pcpPages(): number {
    return this.zones.reduce((n, z) => n + z.pcp.count, 0);
  }

  /**
   * Return 2^order frames starting at `pfn` to the buddy allocator, merging with free buddies.
   * Models __free_pages_ok() -> split_large_buddy() -> __free_one_page(). The caller has already
   * dropped the last reference; the frames' memdesc words are cleared here. A batch of frees
   * (mmu_gather.ts) gives the emptied section its memmap back once, after the batch.
   */
  freeBlock(pfn: number, order: number, depopulate = true): void {
    const z = this.zoneOf(pfn);
    const n = 1 << order;
    this.memmap.setRange(pfn, n, MT.NONE, 0);
    z.freePages += n;
    const section = pfnToSection(pfn);
    this.sectionFree[section] += n;
    this.stat.events.pgfree += n;
    // split_large_buddy(): a block larger than a pageblock goes back pageblock by pageblock, each
    // with its own migratetype, so an isolated pageblock never rides along on a live list.
    const chunk = Math.min(order, PAGEBLOCK_ORDER);
    for (let p = pfn; p < pfn + n; p += 1 << chunk) this.mergeFree(z, p, chunk);
    if (depopulate) this.maybeDepopulate(section);
  }

  /** __free_one_page(): merge a free block with its free buddies and list the result. */
  mergeFree(z: Zone, pfn: number, order: number): void {
    const mt = this.pageblockMt[pfnToPageblock(pfn)];
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
          this.setPageblockMigratetype(buddy, order, mt);
        }
      }
      this.area.removeFree(z, buddy, order);
      this.stat.events.buddy_merge++;
      pfn = Math.min(pfn, buddy);
      order++;
    }
    this.area.insertFree(z, pfn, order, this.pageblockMt[pfnToPageblock(pfn)], false);
  }

  maybeDepopulate(section: number): void {
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

  // ---------------------------------------------------------------- introspection

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
      this.area.hostBytes() +
      this.zones.reduce((n, z) => n + z.pcp.lists.reduce((m, l) => m + l.hostBytes(), 0), 0) +
      this.pageblockMt.byteLength +
      this.sectionFree.byteLength +
      this.sectionManaged.byteLength
    );
  }
}
