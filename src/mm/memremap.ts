/**
 * Device memory (ZONE_DEVICE): memremap_pages() with an eager, lazy or absent memmap.
 *
 * Models: mm/memremap.c (memremap_pages / memunmap_pages, struct dev_pagemap), mm/mm_init.c
 * memmap_init_zone_device (every device pfn gets a descriptor at hotplug time: the `eager` mode),
 * and the 2015 pmem/GPU proposal of a lazily populated vmemmap:
 * every pfn of a `lazy` range starts as one shared read-only "invalid" descriptor; only the
 * sanctioned accessor (pfnToPagePopulate, the proposal's explicitly allowed pfn_to_page variant)
 * gives a memmap page's worth of pfns — 64 struct pages, one 4 KiB page of vmemmap — real
 * descriptors; chunks nobody uses are reclaimed least-recently-allocated first when a new chunk
 * would exceed the configured limit. `none` is pfn-only memory (I/O or flash): no memmap at all,
 * pfn_valid() is false, and only special (pfnmap) entries can map it.
 *
 * Device ranges sit above RAM, each starting on a section boundary. A populated chunk is one
 * Int32Array of 64 folio rows (kind MT.DEVICE) — no object per pfn. The pagemap holds one
 * reference on every real descriptor (as ZONE_DEVICE pages did before 6.x made idle pages
 * refcount 0), so "no users" is refcount 1, mapcount 0 and no pins. Contents of device frames live
 * in the kernel's content store by pfn, like RAM, and survive descriptor reclaim.
 * Leaves out: device-private/coherent migration, P2PDMA, compound devmaps (vmemmap_shift), the
 * altmap (memmap carved from the device itself), percpu_ref teardown waits.
 */
import type { Kernel } from './kernel.js';
import { INVALID_PAGE, MT } from './memdesc.js';
import { KernelError, PAGE_SIZE, PAGES_PER_SECTION } from './types.js';

export const MEMMAP_MODES = ['eager', 'lazy', 'none'] as const;
export type MemmapMode = (typeof MEMMAP_MODES)[number];

/** Struct pages in one 4 KiB vmemmap page: the lazy memmap's unit of population. */
export const PAGES_PER_MEMMAP_PAGE = PAGE_SIZE / 64;

/** struct dev_pagemap plus the lazy memmap's bookkeeping. */
export interface DevPagemap {
  readonly id: number;
  readonly name: string;
  readonly startPfn: number;
  readonly nrPages: number;
  readonly mode: MemmapMode;
  readonly nid: number;
  /** Lazy mode: most chunks populated at once (0: no limit). */
  readonly limit: number;
  /** Chunk index -> its 64 folio rows. Map order is allocation order: the oldest chunk first. */
  readonly chunks: Map<number, Int32Array>;
  /** Chunks populated and reclaimed over the pagemap's life. */
  populated: number;
  reclaimed: number;
}

export interface MemremapRequest {
  /** Bytes; a multiple of 64 pages (one memmap page of descriptors). */
  size: number;
  mode: MemmapMode;
  nid?: number;
  limit?: number;
  name?: string;
}

/** Every device range of the machine. */
export class DevMem {
  readonly maps: DevPagemap[] = [];
  private nextId = 1;
  /** First pfn of the next range: the section after RAM, then after each range. */
  private nextPfn: number;

  constructor(private readonly k: Kernel) {
    this.nextPfn = Math.ceil(k.pa.maxPfn / PAGES_PER_SECTION) * PAGES_PER_SECTION;
    // pfn_to_page for the RAM memmap's misses: a real device descriptor, or nothing.
    k.pa.memmap.beyondRam = (pfn) => {
      const r = this.pfnToPage(pfn);
      return r >= 0 ? r : -1;
    };
  }

  /** memremap_pages(): hot-add a device range above RAM; `eager` describes every pfn at once. */
  memremapPages(req: MemremapRequest): DevPagemap {
    const unit = PAGES_PER_MEMMAP_PAGE * PAGE_SIZE;
    if (!Number.isSafeInteger(req.size) || req.size <= 0 || req.size % unit !== 0)
      throw new KernelError('EINVAL', `device size ${req.size} is not a positive multiple of ${unit} bytes`);
    if (!(MEMMAP_MODES as readonly string[]).includes(req.mode))
      throw new KernelError('EINVAL', `memmap mode '${req.mode}' is not one of ${MEMMAP_MODES.join(', ')}`);
    const limit = req.limit ?? 0;
    if (!Number.isInteger(limit) || limit < 0)
      throw new KernelError('EINVAL', 'lazy memmap limit must be >= 0');
    const nrPages = req.size / PAGE_SIZE;
    const map: DevPagemap = {
      id: this.nextId++,
      name: req.name ?? `dev${this.nextId - 1}`,
      startPfn: this.nextPfn,
      nrPages,
      mode: req.mode,
      nid: req.nid ?? 0,
      limit,
      chunks: new Map(),
      populated: 0,
      reclaimed: 0,
    };
    this.nextPfn += Math.ceil(nrPages / PAGES_PER_SECTION) * PAGES_PER_SECTION;
    this.maps.push(map);
    if (map.mode === 'eager')
      for (let c = 0; c < nrPages / PAGES_PER_MEMMAP_PAGE; c++) this.populateChunk(map, c);
    return map;
  }

  /** memunmap_pages(): every descriptor must be idle (EBUSY otherwise); they all go. */
  memunmapPages(map: DevPagemap): void {
    for (const rows of map.chunks.values())
      if (!this.chunkIdle(rows))
        throw new KernelError('EBUSY', `device range ${map.name} still has pages in use`);
    for (const rows of map.chunks.values()) for (const r of rows) this.k.folios.release(r);
    map.chunks.clear();
    this.maps.splice(this.maps.indexOf(map), 1);
  }

  /** The pagemap covering `pfn` (get_dev_pagemap), or undefined. */
  pagemapOf(pfn: number): DevPagemap | undefined {
    for (const m of this.maps) if (pfn >= m.startPfn && pfn < m.startPfn + m.nrPages) return m;
    return undefined;
  }

  /** pfn_valid() for a device pfn: it has a memmap (possibly the shared invalid one). */
  pfnValid(pfn: number): boolean {
    const m = this.pagemapOf(pfn);
    return m !== undefined && m.mode !== 'none';
  }

  /**
   * pfn_to_page() as any ordinary path calls it: a real descriptor's folio row, INVALID_PAGE for
   * an unpopulated lazy pfn (the shared read-only descriptor: refcount 0, type unknown), or -1
   * when the pfn has no memmap at all.
   */
  pfnToPage(pfn: number): number {
    const m = this.pagemapOf(pfn);
    if (!m || m.mode === 'none') return -1;
    const off = pfn - m.startPfn;
    const rows = m.chunks.get(Math.floor(off / PAGES_PER_MEMMAP_PAGE));
    return rows ? rows[off % PAGES_PER_MEMMAP_PAGE] : INVALID_PAGE;
  }

  /**
   * The sanctioned accessor of the lazy proposal: pfn_to_page that populates the pfn's memmap
   * page first. Over the limit, the least-recently-allocated idle chunk is reclaimed; if every
   * chunk is busy, ENOMEM. EINVAL for a pfn without a memmap.
   */
  pfnToPagePopulate(pfn: number): number {
    const m = this.pagemapOf(pfn);
    if (!m || m.mode === 'none')
      throw new KernelError('EINVAL', `pfn 0x${pfn.toString(16)} has no memmap to populate`);
    const off = pfn - m.startPfn;
    const c = Math.floor(off / PAGES_PER_MEMMAP_PAGE);
    let rows = m.chunks.get(c);
    if (!rows) {
      if (m.limit > 0 && m.chunks.size >= m.limit && this.reclaim(m, 1) === 0)
        throw new KernelError('ENOMEM', `${m.name}: all ${m.limit} memmap chunks are in use`);
      rows = this.populateChunk(m, c);
    }
    return rows[off % PAGES_PER_MEMMAP_PAGE];
  }

  private populateChunk(m: DevPagemap, c: number): Int32Array {
    const rows = new Int32Array(PAGES_PER_MEMMAP_PAGE);
    const first = m.startPfn + c * PAGES_PER_MEMMAP_PAGE;
    for (let i = 0; i < rows.length; i++) rows[i] = this.k.folios.adopt(first + i, MT.DEVICE);
    m.chunks.set(c, rows);
    m.populated++;
    if (this.k.stat.tracing) this.k.stat.emit({ type: 'devmap_populate', dev: m.name, pfn: first });
    return rows;
  }

  /** No descriptor of the chunk is referenced beyond the pagemap, mapped or pinned. */
  chunkIdle(rows: Int32Array): boolean {
    const f = this.k.folios;
    for (const r of rows)
      if (f.refcount[r] !== 1 || f.mapcountOf(r) !== 0 || this.k.pins.pinsOn(f.pfn[r]) !== 0) return false;
    return true;
  }

  /**
   * Reclaim up to `max` idle chunks of a lazy range, least recently allocated first; their pfns
   * see the invalid descriptor again. Returns how many went. Eager ranges never shrink.
   */
  reclaim(m: DevPagemap, max = Number.POSITIVE_INFINITY): number {
    if (m.mode !== 'lazy') return 0;
    let n = 0;
    for (const [c, rows] of m.chunks) {
      if (n >= max) break;
      if (!this.chunkIdle(rows)) continue;
      for (const r of rows) this.k.folios.release(r);
      m.chunks.delete(c);
      m.reclaimed++;
      n++;
    }
    return n;
  }

  /** Real descriptors alive over every range (the checker compares this with the folio pool). */
  liveDescriptors(): number {
    let n = 0;
    for (const m of this.maps) n += m.chunks.size * PAGES_PER_MEMMAP_PAGE;
    return n;
  }
}
