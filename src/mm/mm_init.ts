/**
 * Boot: cut memory into nodes and zones, hand everything but the reserved ranges to the buddy
 * allocator, place the zero page and the CMA area.
 *
 * Models: mm/mm_init.c (free_area_init, zone spans, memmap_init), mm/memblock.c memblock_free_all
 * (free memory reaches the free lists in ascending PFN order) and mm/cma.c's activation
 * (init_cma_reserved_pageblock: CMA pageblocks are MIGRATE_CMA from boot).
 *
 * Leaves out: memory holes inside a node, mirrored memory, deferred struct page init.
 */
import { MT, mdWord } from './memdesc.js';
import {
  listIndex,
  MAX_BLOCK,
  type MemoryLayout,
  MIGRATE,
  type PgDat,
  ZONE,
  Zone,
  type ZoneId,
} from './mmzone.js';
import type { PageAlloc } from './page_alloc.js';
import { GiB, MAX_PAGE_ORDER, PAGE_SIZE, PAGES_PER_SECTION } from './types.js';

interface PfnRange {
  start: number;
  end: number;
}

/**
 * free_area_init(): nodes of equal size (whole sections), each cut into DMA32 below 4 GiB, Normal,
 * and the top `movable / nodes` bytes as ZONE_MOVABLE (movablecore=).
 */
export function layoutZones(layout: MemoryLayout, maxPfn: number): { nodes: PgDat[]; zones: Zone[] } {
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
        zones.push(z);
      }
    }
    nodes.push(node);
    start = end;
  }
  return { nodes, zones };
}

/**
 * memblock_free_all(): hand all memory but the reserved ranges to the buddy allocator; returns
 * the zero page's pfn. A wholly free section is linked as max-order blocks by index, no memmap.
 */
export function memblockFreeAll(pa: PageAlloc, layout: MemoryLayout): number {
  const reserved = new Uint8Array(pa.maxPfn / PAGES_PER_SECTION);
  const ranges = layout.reserved
    .map((r) => ({
      start: Math.floor(r.start / PAGE_SIZE),
      end: Math.ceil((r.start + r.size) / PAGE_SIZE),
    }))
    .filter((r) => r.end > r.start)
    .sort((a, b) => a.start - b.start);
  for (const r of ranges) {
    if (r.end > pa.maxPfn) throw new RangeError('a reserved range lies beyond the end of memory');
    for (let s = Math.floor(r.start / PAGES_PER_SECTION); s * PAGES_PER_SECTION < r.end; s++) reserved[s] = 1;
  }
  for (const z of pa.zones) {
    for (let pfn = z.startPfn; pfn < z.endPfn; pfn += PAGES_PER_SECTION) {
      const s = pfn / PAGES_PER_SECTION;
      if (reserved[s]) {
        freePartialSection(pa, z, s, ranges);
        continue;
      }
      for (let b = pfn / MAX_BLOCK, n = PAGES_PER_SECTION / MAX_BLOCK; n > 0; n--, b++) {
        pa.area.listAddTail(z, b, listIndex(MAX_PAGE_ORDER, MIGRATE.MOVABLE));
      }
      z.freePages += PAGES_PER_SECTION;
      z.managedPages += PAGES_PER_SECTION;
      pa.sectionFree[s] = PAGES_PER_SECTION;
      pa.stat.pagesByType[MT.BUDDY] += PAGES_PER_SECTION;
    }
  }
  const zeroPfn = Math.floor(layout.zeroPage / PAGE_SIZE);
  if (!ranges.some((r) => zeroPfn >= r.start && zeroPfn < r.end)) {
    throw new RangeError('the zero page must lie in a reserved range (the kernel image)');
  }
  pa.memmap.set(zeroPfn, mdWord(MT.ZERO), 0);
  pa.stat.retype(MT.RESERVED, MT.ZERO, 1);
  if (layout.cma > 0) initCmaReservedPageblocks(pa, layout.cma);
  return zeroPfn;
}

/** A section holding reserved frames: populate its memmap and free the rest in aligned blocks. */
function freePartialSection(pa: PageAlloc, z: Zone, s: number, ranges: PfnRange[]): void {
  pa.sectionManaged[s] = 0;
  const base = s * PAGES_PER_SECTION;
  const end = base + PAGES_PER_SECTION;
  pa.memmap.populate(s);
  pa.memmap.setRange(base, PAGES_PER_SECTION, MT.NONE, 0);
  pa.stat.events.section_populate++;
  const overlaps = (pfn: number, n: number) => ranges.some((r) => r.start < pfn + n && r.end > pfn);
  for (let pfn = base; pfn < end; ) {
    if (overlaps(pfn, 1)) {
      pa.memmap.set(pfn, mdWord(MT.RESERVED), 0);
      pa.stat.pagesByType[MT.RESERVED]++;
      pfn++;
      continue;
    }
    let order = MAX_PAGE_ORDER;
    while (order > 0 && (pfn % (1 << order) !== 0 || pfn + (1 << order) > end || overlaps(pfn, 1 << order)))
      order--;
    const n = 1 << order;
    pa.area.insertFree(z, pfn, order, pa.pageblockMigratetype(pfn), true);
    z.managedPages += n;
    z.freePages += n;
    pa.sectionFree[s] += n;
    pa.stat.pagesByType[MT.BUDDY] += n;
    pfn += n;
  }
}

/** init_cma_reserved_pageblock(): `bytes` at the end of the first node's lowest non-movable zone. */
function initCmaReservedPageblocks(pa: PageAlloc, bytes: number): void {
  const pages = Math.ceil(bytes / PAGE_SIZE / MAX_BLOCK) * MAX_BLOCK;
  const z = [...pa.nodes[0].zones]
    .reverse()
    .find((zz) => zz.id !== ZONE.MOVABLE && zz.spannedPages >= pages * 2);
  if (!z) throw new RangeError('CMA area does not fit in the first node');
  for (let pfn = z.endPfn - pages; pfn < z.endPfn; pfn += MAX_BLOCK) {
    const row = pa.area.rowOf(pfn, MAX_PAGE_ORDER);
    pa.area.listDel(z, row);
    pa.setPageblockMigratetype(pfn, MAX_PAGE_ORDER, MIGRATE.CMA);
    pa.area.listAddTail(z, row, listIndex(MAX_PAGE_ORDER, MIGRATE.CMA));
    if (pa.memmap.isPopulated(Math.floor(pfn / PAGES_PER_SECTION)))
      pa.memmap.set(pfn, mdWord(MT.BUDDY, MAX_PAGE_ORDER, MIGRATE.CMA), row);
  }
  z.cmaPages += pages;
}
