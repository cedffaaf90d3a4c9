/**
 * Boot: cut memory into nodes and zones, initialise the memmap, hand everything but the reserved
 * ranges to the buddy allocator, place the zero page and the CMA area; and the deferred struct
 * page init that finishes the memmap after boot.
 *
 * Models: mm/mm_init.c (free_area_init, calculate_node_totalpages — a zone spans
 * [clamp(node start), clamp(node end)) of its architectural range and its present pages are the
 * RAM inside: zone_spanned_pages_in_node − zone_absent_pages_in_node —, memmap_init with
 * init_unavailable_range: a non-RAM frame of a section that has a memmap is PageReserved;
 * defer_init, deferred_grow_zone, deferred_init_memmap, page_alloc_init_late), mm/memblock.c
 * memblock_free_all (free memory reaches the free lists in ascending PFN order), mm/sparse.c (a
 * section with no RAM has no memmap: pfn_valid() is false there), and mm/cma.c's activation
 * (init_cma_reserved_pageblock: CMA pageblocks are MIGRATE_CMA from boot).
 *
 * A machine with a memory map (MemoryLayout.ram) has x86-64's zones: DMA below 16 MiB, DMA32
 * below 4 GiB, Normal above, on one node. Without one, RAM is [0, memory) with no DMA zone and
 * nodes of equal size (the model's original layout, kept so existing scenarios keep their PFNs).
 *
 * Leaves out: mirrored memory (kernelcore=mirror), the parallel deferred-init threads (one pass
 * here: the result is the same), memory acceptance.
 */
import { MT, mdWord, pfnToSection } from './memdesc.js';
import {
  listIndex,
  MAX_BLOCK,
  type MemoryLayout,
  MIGRATE,
  type PfnRange,
  type PgDat,
  ZONE,
  Zone,
  type ZoneId,
} from './mmzone.js';
import type { PageAlloc } from './page_alloc.js';
import { findFreeBlock } from './page_isolation.js';
import { GiB, MAX_PAGE_ORDER, MiB, PAGE_SIZE, PAGES_PER_SECTION } from './types.js';

/** arch_zone_{lowest,highest}_possible_pfn on x86-64: MAX_DMA_PFN (16 MiB), MAX_DMA32_PFN (4 GiB). */
const X86_ZONES: readonly [ZoneId, number, number][] = [
  [ZONE.DMA, 0, (16 * MiB) / PAGE_SIZE],
  [ZONE.DMA32, (16 * MiB) / PAGE_SIZE, (4 * GiB) / PAGE_SIZE],
  [ZONE.NORMAL, (4 * GiB) / PAGE_SIZE, Number.POSITIVE_INFINITY],
];

const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);

/** RAM frames in [start, end): the complement of __absent_pages_in_range(). */
export function ramPagesIn(ram: readonly PfnRange[], start: number, end: number): number {
  let n = 0;
  for (const r of ram) n += Math.max(0, Math.min(r.end, end) - Math.max(r.start, start));
  return n;
}

/**
 * The end of a memory map's memmap, checked: ranges of whole pages, ascending and disjoint, the
 * last rounded up to its section (SPARSEMEM gives the tail of a section struct pages too).
 */
export function memoryMapEnd(ram: readonly PfnRange[]): number {
  if (ram.length === 0) throw new RangeError('the memory map has no RAM');
  let prev = 0;
  for (const r of ram) {
    if (!Number.isInteger(r.start) || !Number.isInteger(r.end) || r.start < prev || r.end <= r.start)
      throw new RangeError(
        `memory map: range ${r.start}..${r.end} (PFNs) is empty, overlaps or is out of order`,
      );
    prev = r.end;
  }
  return Math.ceil(prev / PAGES_PER_SECTION) * PAGES_PER_SECTION;
}

/** The memory map of a plain `memory` machine: one range, no holes. */
export function memoryMap(layout: MemoryLayout, maxPfn: number): readonly PfnRange[] {
  return layout.ram ?? [{ start: 0, end: maxPfn }];
}

/**
 * free_area_init(): the nodes and zones. With a memory map, calculate_node_totalpages() on one
 * node; without, nodes of equal size (whole sections), each cut into DMA32 below 4 GiB, Normal,
 * and the top `movable / nodes` bytes as ZONE_MOVABLE (movablecore=).
 */
export function layoutZones(layout: MemoryLayout, maxPfn: number): { nodes: PgDat[]; zones: Zone[] } {
  if (layout.ram) return layoutMemoryMap(layout, layout.ram);
  const { nodes: nrNodes } = layout;
  if (!Number.isInteger(nrNodes) || nrNodes < 1)
    throw new RangeError(`nodes must be a positive integer, got ${nrNodes}`);
  const sections = maxPfn / PAGES_PER_SECTION;
  if (sections < nrNodes)
    throw new RangeError(`${nrNodes} nodes need at least ${nrNodes} sections of 128 MiB`);
  const movablePerNode =
    Math.floor(layout.movable / PAGE_SIZE / nrNodes / PAGES_PER_SECTION) * PAGES_PER_SECTION;
  const dma32End = (4 * GiB) / PAGE_SIZE;
  const nodes: PgDat[] = [];
  const zones: Zone[] = [];
  let start = 0;
  for (let nid = 0; nid < nrNodes; nid++) {
    const secs = Math.floor(sections / nrNodes) + (nid < sections % nrNodes ? 1 : 0);
    const end = start + secs * PAGES_PER_SECTION;
    if (movablePerNode >= end - start) {
      throw new RangeError('movable memory must leave every node some ZONE_NORMAL or ZONE_DMA32');
    }
    const movStart = end - movablePerNode;
    const node: PgDat = { nid, startPfn: start, endPfn: end, zones: [], firstDeferredPfn: Infinity };
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
        zones.push(z);
      }
    }
    nodes.push(node);
    start = end;
  }
  return { nodes, zones };
}

/**
 * calculate_node_totalpages() for one node over a memory map: each zone spans its x86-64 range
 * clamped to the node (zone_spanned_pages_in_node), ZONE_MOVABLE takes the top `movable` bytes
 * of RAM from a MAX_ORDER-aligned start (find_zone_movable_pfns_for_nodes), and present pages are
 * spanned minus the holes (zone_absent_pages_in_node).
 */
function layoutMemoryMap(layout: MemoryLayout, ram: readonly PfnRange[]): { nodes: PgDat[]; zones: Zone[] } {
  if (layout.nodes !== 1) throw new RangeError('a memory map describes one node: nodes must be 1');
  const nodeStart = ram[0].start;
  const nodeEnd = ram[ram.length - 1].end;
  let movStart = 0;
  const movPages = Math.ceil(layout.movable / PAGE_SIZE / MAX_BLOCK) * MAX_BLOCK;
  if (movPages > 0) {
    // The PFN below which the RAM not given to ZONE_MOVABLE lies, rounded up to MAX_ORDER_NR_PAGES.
    const keep = ramPagesIn(ram, 0, nodeEnd) - movPages;
    let seen = 0;
    for (const r of ram) {
      if (seen + (r.end - r.start) >= keep) {
        movStart = Math.ceil((r.start + (keep - seen)) / MAX_BLOCK) * MAX_BLOCK;
        break;
      }
      seen += r.end - r.start;
    }
    if (keep <= 0 || movStart >= nodeEnd)
      throw new RangeError('movable memory must leave the node some ZONE_NORMAL or ZONE_DMA32');
  }
  const node: PgDat = { nid: 0, startPfn: nodeStart, endPfn: nodeEnd, zones: [], firstDeferredPfn: Infinity };
  const spans: [ZoneId, number, number][] = X86_ZONES.map(([id, lo, hi]) => {
    let s = clamp(nodeStart, lo, hi);
    let e = clamp(nodeEnd, lo, hi);
    // adjust_zone_range_for_zone_movable()
    if (movStart > 0 && s < movStart && e > movStart) e = movStart;
    else if (movStart > 0 && s >= movStart) s = e;
    return [id, s, e];
  });
  if (movStart > 0) spans.push([ZONE.MOVABLE, movStart, nodeEnd]);
  for (const [id, s, e] of spans) {
    if (e <= s) continue;
    const z = new Zone(id, 0, s, e);
    z.presentPages = ramPagesIn(ram, s, e);
    node.zones.push(z);
  }
  return { nodes: [node], zones: [...node.zones] };
}

/**
 * defer_init(): with deferred struct page init, only the node's highest zone is deferred, and its
 * first PAGES_PER_SECTION RAM frames are initialised at boot: first_deferred_pfn is the first
 * section-aligned RAM frame after more than a section's worth of them.
 */
function deferInit(node: PgDat, ram: readonly PfnRange[]): number {
  const z = node.zones[node.zones.length - 1];
  for (
    let b = Math.ceil(z.startPfn / PAGES_PER_SECTION) * PAGES_PER_SECTION;
    b < z.endPfn;
    b += PAGES_PER_SECTION
  )
    if (ramPagesIn(ram, b, b + 1) === 1 && ramPagesIn(ram, z.startPfn, b + 1) > PAGES_PER_SECTION) return b;
  return Infinity;
}

/**
 * memblock_free_all() after memmap_init(): every section with RAM is initialised (or left for the
 * deferred init), its non-RAM frames and reserved ranges reserved, the rest freed; returns the
 * zero page's pfn. A wholly free section is linked as max-order blocks by index, no memmap.
 */
export function memblockFreeAll(pa: PageAlloc, layout: MemoryLayout): number {
  const ram = memoryMap(layout, pa.maxPfn);
  const nrSections = pa.maxPfn / PAGES_PER_SECTION;
  const ranges = layout.reserved
    .map((r) => ({
      start: Math.floor(r.start / PAGE_SIZE),
      end: Math.ceil((r.start + r.size) / PAGE_SIZE),
    }))
    .filter((r) => r.end > r.start)
    .sort((a, b) => a.start - b.start);
  for (const r of ranges)
    if (r.end > pa.maxPfn) throw new RangeError('a reserved range lies beyond the end of memory');
  if (layout.deferredInit) for (const node of pa.nodes) node.firstDeferredPfn = deferInit(node, ram);
  for (let s = 0; s < nrSections; s++) {
    const base = s * PAGES_PER_SECTION;
    const end = base + PAGES_PER_SECTION;
    const rampages = ramPagesIn(ram, base, end);
    if (rampages === 0) {
      pa.sectionManaged[s] = 0;
      continue;
    }
    pa.memmap.setPresent(s);
    const z = pa.zoneOf(base + (ramPagesIn(ram, base, base + 1) ? 0 : firstRamIn(ram, base)));
    const deferred = base >= pa.nodes[z.nid].firstDeferredPfn;
    const whole =
      rampages === PAGES_PER_SECTION &&
      z.startPfn <= base &&
      z.endPfn >= end &&
      !ranges.some((r) => r.start < end && r.end > base);
    if (deferred) pa.memmap.setDeferred(s);
    if (whole && deferred) {
      z.deferredPages += PAGES_PER_SECTION;
      pa.stat.pagesByType[MT.NONE] += PAGES_PER_SECTION;
    } else if (whole) freeWholeSection(pa, z, s);
    else initPartialSection(pa, s, ram, ranges, deferred);
  }
  const zeroPfn = Math.floor(layout.zeroPage / PAGE_SIZE);
  if (!ranges.some((r) => zeroPfn >= r.start && zeroPfn < r.end) || !pa.memmap.pfnValid(zeroPfn)) {
    throw new RangeError('the zero page must lie in a reserved range of RAM (the kernel image)');
  }
  pa.memmap.set(zeroPfn, mdWord(MT.ZERO), 0);
  pa.stat.retype(MT.RESERVED, MT.ZERO, 1);
  if (layout.cma > 0) initCmaReservedPageblocks(pa, layout.cma, ram);
  return zeroPfn;
}

function firstRamIn(ram: readonly PfnRange[], from: number): number {
  for (const r of ram) if (r.end > from) return Math.max(r.start, from) - from;
  return 0;
}

/** A section of RAM with nothing reserved, in one zone: its max-order blocks join the free lists by index. */
function freeWholeSection(pa: PageAlloc, z: Zone, s: number): void {
  for (let b = (s * PAGES_PER_SECTION) / MAX_BLOCK, n = PAGES_PER_SECTION / MAX_BLOCK; n > 0; n--, b++) {
    pa.area.listAddTail(z, b, listIndex(MAX_PAGE_ORDER, MIGRATE.MOVABLE));
  }
  z.freePages += PAGES_PER_SECTION;
  z.managedPages += PAGES_PER_SECTION;
  pa.sectionFree[s] = PAGES_PER_SECTION;
  pa.stat.pagesByType[MT.BUDDY] += PAGES_PER_SECTION;
}

/**
 * A section holding holes, reserved frames or a zone boundary: populate its memmap, reserve what
 * is not RAM (init_unavailable_range) and what memblock reserved (reserve_bootmem_region), and
 * free the rest in aligned blocks — or, in a deferred section, leave it uninitialised.
 */
function initPartialSection(
  pa: PageAlloc,
  s: number,
  ram: readonly PfnRange[],
  reserved: readonly PfnRange[],
  deferred: boolean,
): void {
  pa.sectionManaged[s] = 0;
  const base = s * PAGES_PER_SECTION;
  const end = base + PAGES_PER_SECTION;
  pa.memmap.populate(s);
  pa.memmap.setRange(base, PAGES_PER_SECTION, MT.NONE, 0);
  pa.stat.events.section_populate++;
  const isReserved = (pfn: number, n: number) => reserved.some((r) => r.start < pfn + n && r.end > pfn);
  for (let pfn = base; pfn < end; ) {
    if (ramPagesIn(ram, pfn, pfn + 1) === 0 || isReserved(pfn, 1)) {
      pa.memmap.set(pfn, mdWord(MT.RESERVED), 0);
      pa.stat.pagesByType[MT.RESERVED]++;
      pfn++;
      continue;
    }
    const z = pa.zoneOf(pfn);
    if (deferred) {
      z.deferredPages++;
      pa.stat.pagesByType[MT.NONE]++;
      pfn++;
      continue;
    }
    pfn += freeAlignedBlock(pa, z, pfn, end, ram, isReserved);
  }
}

/**
 * Free the largest aligned block at `pfn` that stays in its section and zone, is all RAM and
 * meets no reserved frame; returns its size. Models __free_pages_core(), FPI_TO_TAIL.
 */
function freeAlignedBlock(
  pa: PageAlloc,
  z: Zone,
  pfn: number,
  end: number,
  ram: readonly PfnRange[],
  isReserved: (pfn: number, n: number) => boolean,
): number {
  const limit = Math.min(end, z.endPfn);
  let order = MAX_PAGE_ORDER;
  for (;;) {
    const n = 1 << order;
    if (order === 0) break;
    if (pfn % n === 0 && pfn + n <= limit && !isReserved(pfn, n) && ramPagesIn(ram, pfn, pfn + n) === n)
      break;
    order--;
  }
  const n = 1 << order;
  pa.area.insertFree(z, pfn, order, pa.pageblockMigratetype(pfn), true);
  z.managedPages += n;
  z.freePages += n;
  pa.sectionFree[pfnToSection(pfn)] += n;
  pa.stat.pagesByType[MT.BUDDY] += n;
  return n;
}

/** init_cma_reserved_pageblock(): `bytes` at the top of the RAM of the first node's highest non-movable zone that holds them. */
function initCmaReservedPageblocks(pa: PageAlloc, bytes: number, ram: readonly PfnRange[]): void {
  const pages = Math.ceil(bytes / PAGE_SIZE / MAX_BLOCK) * MAX_BLOCK;
  const top = (zz: Zone) =>
    Math.floor(Math.min(zz.endPfn, lastRamBelow(ram, zz.endPfn)) / MAX_BLOCK) * MAX_BLOCK;
  const z = [...pa.nodes[0].zones]
    .reverse()
    .find((zz) => zz.id !== ZONE.MOVABLE && zz.presentPages >= pages * 2 && top(zz) - pages >= zz.startPfn);
  if (!z) throw new RangeError('CMA area does not fit in the first node');
  const end = top(z);
  for (let pfn = end - pages; pfn < end; pfn += MAX_BLOCK) {
    const b = findFreeBlock(pa, pfn);
    if (!b || b.pfn !== pfn || b.order !== MAX_PAGE_ORDER)
      throw new RangeError('the CMA area must be free RAM at boot (no hole, nothing reserved)');
    const row = pa.area.rowOf(pfn, MAX_PAGE_ORDER);
    pa.area.listDel(z, row);
    pa.setPageblockMigratetype(pfn, MAX_PAGE_ORDER, MIGRATE.CMA);
    pa.area.listAddTail(z, row, listIndex(MAX_PAGE_ORDER, MIGRATE.CMA));
    if (pa.memmap.isPopulated(pfnToSection(pfn)))
      pa.memmap.set(pfn, mdWord(MT.BUDDY, MAX_PAGE_ORDER, MIGRATE.CMA), row);
  }
  z.cmaPages += pages;
}

function lastRamBelow(ram: readonly PfnRange[], pfn: number): number {
  let last = 0;
  for (const r of ram) if (r.start < pfn) last = Math.min(r.end, pfn);
  return last;
}

// ------------------------------------------------------------------ deferred struct page init

/**
 * Initialise one deferred section of zone `z` and free its RAM to the buddy allocator
 * (deferred_init_maxorder: deferred_init_pages, then deferred_free_pages). Returns the pages freed.
 */
function deferredInitSection(pa: PageAlloc, z: Zone, s: number, ram: readonly PfnRange[]): number {
  const base = s * PAGES_PER_SECTION;
  const end = base + PAGES_PER_SECTION;
  pa.memmap.setPresent(s);
  let freed = 0;
  if (!pa.memmap.isPopulated(s)) {
    pa.sectionManaged[s] = 1;
    freeWholeSection(pa, z, s);
    freed = PAGES_PER_SECTION;
  } else {
    // Reserved and non-RAM frames were initialised at boot (reserve_bootmem_region); the
    // untyped RAM frames are the uninitialised ones.
    const notFree = (pfn: number, n: number) => {
      for (let p = pfn; p < pfn + n; p++) if (pa.memmap.type(p) !== MT.NONE) return true;
      return false;
    };
    for (let pfn = base; pfn < end; ) {
      if (pa.memmap.type(pfn) !== MT.NONE || !z.contains(pfn)) {
        pfn++;
        continue;
      }
      const n = freeAlignedBlock(pa, z, pfn, end, ram, notFree);
      freed += n;
      pfn += n;
    }
  }
  z.deferredPages -= freed;
  pa.stat.pagesByType[MT.NONE] -= freed;
  return freed;
}

/**
 * deferred_grow_zone(): an allocation from the node's highest zone found too little free memory,
 * so initialise deferred sections from first_deferred_pfn on until at least
 * ALIGN(1 << order, PAGES_PER_SECTION) pages were freed, stopping on a section boundary. True
 * when it freed anything (the caller retries the zone).
 */
export function deferredGrowZone(pa: PageAlloc, z: Zone, order: number, ram: readonly PfnRange[]): boolean {
  const node = pa.nodes[z.nid];
  if (z.endPfn !== node.endPfn || node.firstDeferredPfn === Infinity) return false;
  const needed = Math.ceil((1 << order) / PAGES_PER_SECTION) * PAGES_PER_SECTION;
  let nr = 0;
  let s = node.firstDeferredPfn / PAGES_PER_SECTION;
  const last = Math.ceil(node.endPfn / PAGES_PER_SECTION);
  for (; s < last && nr < needed; s++)
    if (pa.memmap.isDeferredSection(s)) nr += deferredInitSection(pa, z, s, ram);
  while (s < last && !pa.memmap.isDeferredSection(s)) s++;
  node.firstDeferredPfn = s < last ? s * PAGES_PER_SECTION : Infinity;
  return nr > 0;
}

/**
 * page_alloc_init_late() → deferred_init_memmap() on every node: initialise and free all the
 * remaining deferred memory; first_deferred_pfn becomes ULONG_MAX and no zone grows again.
 * Returns the pages freed.
 */
export function pageAllocInitLate(pa: PageAlloc, ram: readonly PfnRange[]): number {
  let nr = 0;
  for (const node of pa.nodes) {
    if (node.firstDeferredPfn === Infinity) continue;
    const z = node.zones[node.zones.length - 1];
    const last = Math.ceil(node.endPfn / PAGES_PER_SECTION);
    for (let s = node.firstDeferredPfn / PAGES_PER_SECTION; s < last; s++)
      if (pa.memmap.isDeferredSection(s)) nr += deferredInitSection(pa, z, s, ram);
    node.firstDeferredPfn = Infinity;
  }
  return nr;
}
