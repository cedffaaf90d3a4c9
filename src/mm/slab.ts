/**
 * Slab caches and kmalloc on their own descriptor type.
 *
 * Models: SLUB (mm/slub.c: kmem_cache_create, calculate_order, allocate_slab, kmem_cache_alloc,
 * kmem_cache_free, __kmalloc, kfree, ___kmalloc_large_node) and struct slab (mm/slab.h). A slab is
 * NOT a folio: its frames carry memdesc type SLAB and point at a slab descriptor (cache, inuse,
 * objects, free-object bitmap). kmalloc above KMALLOC_MAX_CACHE_SIZE (two pages) takes whole
 * pages typed LARGE_KMALLOC, as the kernel does.
 *
 * Objects are named by their physical address (frame * 4096 + offset); the kernel would use the
 * direct-map virtual address, which differs by a constant. Choice is deterministic: the newest
 * partial slab first, lowest free object first. Leaves out: per-CPU slabs and sheaves, cache
 * merging, RCU-freed slabs, kmemcg accounting; an empty slab is freed at once (SLUB keeps a few).
 */

import type { FolioPool } from './folio.js';
import { MT, mdWord } from './memdesc.js';
import { GFP, GFP_KERNEL } from './mmzone.js';
import type { PageAlloc } from './page_alloc.js';
import { freeFrozenPages } from './pcp.js';
import { grown, HandlePool } from './pool.js';
import { KernelBug, KernelError, kernelPointer, MAX_PAGE_ORDER, PAGE_SIZE } from './types.js';
import type { VmStat } from './vmstat.js';

/** SLUB's slub_max_order default. */
const SLUB_MAX_ORDER = 3;
/** KMALLOC_MAX_CACHE_SIZE: larger kmallocs go straight to the page allocator. */
export const KMALLOC_MAX_CACHE_SIZE = 2 * PAGE_SIZE;
const KMALLOC_SIZES = [8, 16, 32, 64, 96, 128, 192, 256, 512, 1024, 2048, 4096, 8192];
const SLAB_ALIGN = 8;

export interface KmemCache {
  readonly id: number;
  readonly name: string;
  readonly objectSize: number;
  /** Bytes between objects (object size rounded up to the alignment). */
  readonly stride: number;
  readonly order: number;
  readonly objectsPerSlab: number;
  readonly reclaimable: boolean;
  /** Slab rows with at least one free object, newest last. */
  partial: number[];
  nrSlabs: number;
  activeObjects: number;
}

/**
 * calculate_order(): the smallest order that holds enough objects with little waste; an object
 * too big for slub_max_order gets get_order(size) (one object per slab).
 */
export function slabOrderFor(size: number, nrCpus = 2): number {
  const minObjects = 4 * (Math.floor(Math.log2(nrCpus)) + 2);
  for (let order = 0; order <= SLUB_MAX_ORDER; order++) {
    const bytes = PAGE_SIZE << order;
    const objs = Math.floor(bytes / size);
    if (objs === 0) continue;
    const waste = bytes - objs * size;
    if ((objs >= minObjects || order === SLUB_MAX_ORDER) && waste * 16 <= bytes) return order;
  }
  for (let order = 0; order <= SLUB_MAX_ORDER; order++) if (PAGE_SIZE << order >= size) return order;
  // No order up to slub_max_order holds one object: get_order(size), up to MAX_PAGE_ORDER.
  return Math.ceil(Math.log2(Math.ceil(size / PAGE_SIZE)));
}

export interface SlabInfoRow {
  name: string;
  activeObjs: number;
  numObjs: number;
  objSize: number;
  objPerSlab: number;
  pagesPerSlab: number;
  activeSlabs: number;
  numSlabs: number;
}

/** The slab descriptor pool and the caches built on it. */
export class SlabAllocator extends HandlePool {
  cache = new Int32Array(64);
  pfn = new Float64Array(64);
  inuse = new Int32Array(64);
  /** Offset of this slab's free bitmap in `freeBits` (one bit per object, 1 = free). */
  bitsBase = new Int32Array(64);
  freeBits = new Uint32Array(256);
  private bitsUsed = 0;
  private readonly bitsFree = new Map<number, number[]>();
  readonly caches: KmemCache[] = [];
  private readonly kmallocCaches: KmemCache[] = [];

  constructor(
    private readonly pa: PageAlloc,
    private readonly folios: FolioPool,
    private readonly stat: VmStat,
  ) {
    super('slab');
    for (const size of KMALLOC_SIZES) {
      this.kmallocCaches.push(this.create(`kmalloc-${size >= 1024 ? `${size / 1024}k` : size}`, size));
    }
  }

  protected growFields(n: number): void {
    this.cache = grown(this.cache, n);
    this.pfn = grown(this.pfn, n);
    this.inuse = grown(this.inuse, n);
    this.bitsBase = grown(this.bitsBase, n);
  }

  hostBytes(): number {
    return (
      this.baseHostBytes() +
      this.cache.byteLength +
      this.pfn.byteLength +
      this.inuse.byteLength +
      this.bitsBase.byteLength +
      this.freeBits.byteLength
    );
  }

  /** kmem_cache_create(). */
  create(name: string, size: number, opts: { reclaimable?: boolean } = {}): KmemCache {
    if (!name) throw new KernelError('EINVAL', 'a slab cache needs a name');
    const stride = Math.ceil(size / SLAB_ALIGN) * SLAB_ALIGN;
    // calculate_order() fails only above KMALLOC_MAX_SIZE (an order beyond MAX_PAGE_ORDER).
    if (!Number.isInteger(size) || size <= 0 || stride > PAGE_SIZE << MAX_PAGE_ORDER) {
      throw new KernelError('EINVAL', `object size ${size} is outside 1..${PAGE_SIZE << MAX_PAGE_ORDER}`);
    }
    const order = slabOrderFor(stride);
    const cache: KmemCache = {
      id: this.caches.length,
      name,
      objectSize: size,
      stride,
      order,
      objectsPerSlab: Math.floor((PAGE_SIZE << order) / stride),
      reclaimable: opts.reclaimable ?? false,
      partial: [],
      nrSlabs: 0,
      activeObjects: 0,
    };
    this.caches.push(cache);
    return cache;
  }

  cacheByName(name: string): KmemCache | undefined {
    return this.caches.find((c) => c.name === name);
  }

  /** allocate_slab(): a new slab of the cache's order, all objects free. */
  private newSlab(c: KmemCache, nid: number, at?: number): number {
    const gfp = c.reclaimable ? GFP.RECLAIMABLE : GFP_KERNEL;
    const pfn = at ?? this.pa.rmqueue(c.order, gfp, nid);
    const row = this.allocRow();
    this.cache[row] = c.id;
    this.pfn[row] = pfn;
    this.inuse[row] = 0;
    const words = Math.ceil(c.objectsPerSlab / 32);
    const base = this.allocBits(words);
    this.bitsBase[row] = base;
    for (let i = 0; i < c.objectsPerSlab; i++) this.freeBits[base + (i >>> 5)] |= 1 << (i & 31);
    this.pa.memmap.setRange(pfn, 1 << c.order, mdWord(MT.SLAB, c.order), row);
    this.stat.retype(MT.BUDDY, MT.SLAB, 1 << c.order);
    this.stat.events.slab_alloc++;
    c.nrSlabs++;
    c.partial.push(row);
    return row;
  }

  private allocBits(words: number): number {
    const free = this.bitsFree.get(words);
    if (free && free.length > 0) {
      const base = free.pop()!;
      this.freeBits.fill(0, base, base + words);
      return base;
    }
    const base = this.bitsUsed;
    this.bitsUsed += words;
    if (this.bitsUsed > this.freeBits.length)
      this.freeBits = grown(this.freeBits, Math.max(this.bitsUsed, this.freeBits.length * 2));
    return base;
  }

  private discardSlab(c: KmemCache, row: number): void {
    const words = Math.ceil(c.objectsPerSlab / 32);
    const list = this.bitsFree.get(words) ?? [];
    list.push(this.bitsBase[row]);
    this.bitsFree.set(words, list);
    const pfn = this.pfn[row];
    this.stat.retype(MT.SLAB, MT.BUDDY, 1 << c.order);
    this.freeRow(row);
    freeFrozenPages(this.pa, pfn, c.order);
    this.stat.events.slab_free++;
    c.nrSlabs--;
  }

  /** A new slab of `c` on frames the caller took off the free lists (alloc_contig.ts); returns its row. */
  installSlab(c: KmemCache, pfn: number): number {
    return this.newSlab(c, 0, pfn);
  }

  /** kmem_cache_alloc(): returns the object's address. ENOMEM when no slab can be had. */
  alloc(c: KmemCache, nid = 0): number {
    const row = c.partial.length > 0 ? c.partial[c.partial.length - 1] : this.newSlab(c, nid);
    const base = this.bitsBase[row];
    const words = Math.ceil(c.objectsPerSlab / 32);
    let idx = -1;
    for (let w = 0; w < words; w++) {
      const bits = this.freeBits[base + w];
      if (bits !== 0) {
        idx = w * 32 + (31 - Math.clz32(bits & -bits));
        break;
      }
    }
    this.freeBits[base + (idx >>> 5)] &= ~(1 << (idx & 31));
    this.inuse[row]++;
    c.activeObjects++;
    if (this.inuse[row] === c.objectsPerSlab) c.partial.splice(c.partial.lastIndexOf(row), 1);
    return this.pfn[row] * PAGE_SIZE + idx * c.stride;
  }

  /** The slab row holding an address, or a KernelBug if the address is not in a slab. */
  private slabOf(addr: number, rule: string): number {
    const pfn = Math.floor(addr / PAGE_SIZE);
    if (!this.pa.memmap.pfnValid(pfn) || this.pa.memmap.type(pfn) !== MT.SLAB) {
      throw new KernelBug(`address ${kernelPointer(addr)} is not a slab object`, { pfn, rule });
    }
    return this.pa.memmap.hi(pfn);
  }

  /** kmem_cache_free(): frees an object; a double free or a wrong cache is a KernelBug. */
  free(c: KmemCache, addr: number): void {
    const row = this.slabOf(addr, 'kmem_cache_free: object not from a slab');
    this.freeInSlab(row, addr, c);
  }

  private freeInSlab(row: number, addr: number, expect?: KmemCache): void {
    const c = this.caches[this.cache[row]];
    const pfn = this.pfn[row];
    if (expect && expect !== c) {
      throw new KernelBug(`object belongs to ${c.name}, not ${expect.name}`, {
        pfn,
        rule: 'cache_from_obj: wrong cache',
      });
    }
    const off = addr - pfn * PAGE_SIZE;
    const idx = off / c.stride;
    if (!Number.isInteger(idx) || idx >= c.objectsPerSlab) {
      throw new KernelBug(`${kernelPointer(addr)} is not the start of an object in ${c.name}`, {
        pfn,
        rule: 'slab: invalid object pointer',
      });
    }
    const word = this.bitsBase[row] + (idx >>> 5);
    const bit = 1 << (idx & 31);
    if (this.freeBits[word] & bit)
      throw new KernelBug(`double free of ${kernelPointer(addr)} in ${c.name}`, {
        pfn,
        rule: 'slab: double free',
      });
    this.freeBits[word] |= bit;
    if (this.inuse[row] === c.objectsPerSlab) c.partial.push(row);
    this.inuse[row]--;
    c.activeObjects--;
    if (this.inuse[row] === 0) {
      c.partial.splice(c.partial.lastIndexOf(row), 1);
      this.discardSlab(c, row);
    }
  }

  /** kmalloc(): a kmalloc-N cache object, or whole LARGE_KMALLOC pages above two pages. */
  kmalloc(size: number, nid = 0): number {
    if (!Number.isInteger(size) || size <= 0)
      throw new KernelError('EINVAL', `kmalloc size ${size} must be a positive integer`);
    let addr: number;
    if (size > KMALLOC_MAX_CACHE_SIZE) {
      const order = Math.ceil(Math.log2(Math.ceil(size / PAGE_SIZE)));
      // Above KMALLOC_MAX_SIZE kmalloc returns NULL: __alloc_pages() refuses order > MAX_PAGE_ORDER.
      if (order > MAX_PAGE_ORDER)
        throw new KernelError(
          'ENOMEM',
          `kmalloc(${size}) exceeds KMALLOC_MAX_SIZE (${PAGE_SIZE << MAX_PAGE_ORDER})`,
        );
      const h = this.folios.alloc(GFP.COMP, order, MT.LARGE_KMALLOC, nid);
      addr = this.folios.pfn[h >>> 0] * PAGE_SIZE;
    } else {
      const c = this.kmallocCaches.find((k) => k.objectSize >= size)!;
      addr = this.alloc(c, nid);
    }
    this.stat.events.kmalloc++;
    return addr;
  }

  /** kfree(): frees a kmalloc object or large-kmalloc pages; anything else is a KernelBug. */
  kfree(addr: number): void {
    const pfn = Math.floor(addr / PAGE_SIZE);
    if (this.pa.memmap.pfnValid(pfn) && this.pa.memmap.type(pfn) === MT.LARGE_KMALLOC) {
      const h = this.folios.pageFolio(pfn);
      const row = h >>> 0;
      if (this.folios.pfn[row] * PAGE_SIZE !== addr) {
        throw new KernelBug(`kfree(${kernelPointer(addr)}) inside a large kmalloc`, {
          pfn,
          rule: 'kfree: invalid pointer',
        });
      }
      this.folios.put(h);
      this.stat.events.kfree++;
      return;
    }
    const row = this.slabOf(addr, 'kfree: not a kmalloc object');
    this.freeInSlab(row, addr);
    this.stat.events.kfree++;
  }

  /** /proc/slabinfo rows. */
  slabinfo(): SlabInfoRow[] {
    return this.caches.map((c) => ({
      name: c.name,
      activeObjs: c.activeObjects,
      numObjs: c.nrSlabs * c.objectsPerSlab,
      objSize: c.objectSize,
      objPerSlab: c.objectsPerSlab,
      pagesPerSlab: 1 << c.order,
      activeSlabs: c.nrSlabs,
      numSlabs: c.nrSlabs,
    }));
  }

  /** Objects in use in one slab (for invariants). */
  slabInuse(row: number): { cache: KmemCache; inuse: number; free: number; pfn: number } {
    const c = this.caches[this.cache[row]];
    let free = 0;
    const base = this.bitsBase[row];
    for (let i = 0; i < c.objectsPerSlab; i++) if (this.freeBits[base + (i >>> 5)] & (1 << (i & 31))) free++;
    return { cache: c, inuse: this.inuse[row], free, pfn: this.pfn[row] };
  }

  *liveSlabs(): Generator<number> {
    yield* this.liveRows();
  }
}
