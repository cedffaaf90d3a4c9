/**
 * The kernel-internal allocation APIs as a module would call them, with the argument checks the
 * kernel makes (or, where it would BUG, the KernelBug): alloc_pages / __free_pages, folio_alloc,
 * kmem_cache_* and kmalloc by cache name, pagetable_alloc. The allocators are in src/mm
 * (page_alloc.ts, folio.ts, slab.ts, pgtable.ts); this file only checks and names.
 */
import { allocContigRange as allocContig, freeContigRange as freeContig } from '../mm/alloc_contig.js';
import { PG } from '../mm/folio.js';
import type { Kernel } from '../mm/kernel.js';
import { INT32_FRAMES as INT32_FRAMES_IMPORT, MT as MT_IMPORT, MT_NAMES } from '../mm/memdesc.js';
import { GFP_HIGHUSER_MOVABLE, GFP as GFP_IMPORT, GFP_KERNEL as GFP_KERNEL_IMPORT } from '../mm/mmzone.js';
import { KernelBug } from '../mm/types.js';
import { ConfigError } from './config.js';

// Imports the hot paths read, as this module's own consts (why: docs/architecture.md).
const MT = MT_IMPORT;
const INT32_FRAMES = INT32_FRAMES_IMPORT;
const GFP = GFP_IMPORT;
const GFP_KERNEL = GFP_KERNEL_IMPORT;

/** alloc_pages(gfp, order): 2^order frames with refcount 1 and no owner type. Returns the first pfn. */
export function allocPages(k: Kernel, order: number, gfp = GFP_KERNEL, nid = 0): number {
  const row = k.folios.allocRowOf(gfp | GFP.COMP, order, MT.UNKNOWN, nid);
  return k.folios.pfn[row];
}

/** __free_pages(page, order): drop the allocation's reference; frees at zero. */
export function freePages(k: Kernel, pfn: number, order: number): void {
  const { folios } = k;
  // One memmap lookup on the way that succeeds; the error paths (out of line, so the hot path
  // stays small enough to inline) say what the frame is.
  const row = pfn < INT32_FRAMES ? k.pa.memmap.folioRowInt(pfn | 0) : k.pa.memmap.folioRow(pfn);
  if (row < 0 || folios.kind[row] !== MT.UNKNOWN || folios.pfn[row] !== pfn || folios.order[row] !== order)
    badFreePages(k, pfn, order, row);
  folios.putRow(row);
}

/** Why __free_pages(pfn, order) is wrong: a frame alloc_pages did not return, or another order. */
function badFreePages(k: Kernel, pfn: number, order: number, row: number): never {
  const { folios, pa } = k;
  if (row < 0 || folios.kind[row] !== MT.UNKNOWN) {
    const what = pa.memmap.pfnValid(pfn) ? MT_NAMES[pa.memmap.type(pfn)] : 'not RAM';
    throw new KernelBug(`__free_pages of a frame that alloc_pages did not return (it is ${what})`, {
      pfn,
      rule: '__free_pages: page not allocated',
    });
  }
  throw new KernelBug(
    `__free_pages order ${order} does not match the allocation (head 0x${folios.pfn[row].toString(16)}, order ${folios.order[row]})`,
    { pfn, rule: '__free_pages: wrong page or order' },
  );
}

/**
 * alloc_contig_range() of [startPfn, startPfn + nrPages): one compound allocation with GFP.COMP,
 * else nrPages order-0 ones (src/mm/alloc_contig.ts). EBUSY when a frame is in use. Returns startPfn.
 */
export function allocContigRange(k: Kernel, startPfn: number, nrPages: number, gfp = 0): number {
  if (!Number.isInteger(nrPages) || nrPages < 1)
    throw new ConfigError(`nrPages ${nrPages} is not a positive whole number`);
  allocContig(k, startPfn, startPfn + nrPages, gfp);
  return startPfn;
}

/** free_contig_range(): free what allocContigRange() allocated in [pfn, pfn + nrPages). */
export function freeContigRange(k: Kernel, pfn: number, nrPages: number): void {
  freeContig(k, pfn, nrPages);
}

/** folio_alloc(): an anon or file folio of 2^order pages, refcount 1. Returns its handle. */
export function folioAlloc(
  k: Kernel,
  order: number,
  kind: 'anon' | 'file',
  gfp = GFP_HIGHUSER_MOVABLE,
  nid = 0,
) {
  const type = kind === 'file' ? MT.FILE : MT.ANON;
  const h = k.folios.alloc(gfp | GFP.COMP, order, type, nid);
  const row = h >>> 0;
  if (order > 0) k.folios.setFlag(row, PG.large_rmappable);
  if (type === MT.ANON) k.folios.setFlag(row, PG.swapbacked);
  return h;
}

/** The slab cache called `name`. */
export function cacheByName(k: Kernel, name: string) {
  const c = k.slab.cacheByName(name);
  if (!c) throw new ConfigError(`no slab cache named '${name}'`);
  return c;
}

/** kmem_cache_create(): names are unique here (Linux would allow duplicates; scenarios need one). */
export function kmemCacheCreate(k: Kernel, name: string, objectSize: number, reclaimable?: boolean): void {
  if (k.slab.cacheByName(name)) throw new ConfigError(`slab cache '${name}' already exists`);
  k.slab.create(name, objectSize, { reclaimable });
}

/** pagetable_alloc() for a table of `level` (1 = PTE ... 4 = PGD). Returns the ptdesc handle. */
export function pagetableAlloc(k: Kernel, level: number, mm = 0, nid = 0): number {
  if (!Number.isInteger(level) || level < 1 || level > 4)
    throw new ConfigError(`page-table level ${level} is not 1..4`);
  return k.ptdesc.alloc(level, mm, nid);
}
