/**
 * Descriptor layouts: how many bytes of metadata describe physical memory.
 *
 * `struct-page`: Linux today — a 64-byte struct page for every present frame, with folio,
 * slab and ptdesc data living inside that array, so nothing is allocated beside it.
 * `memdesc`: the memdesc plan — an 8-byte word per frame, plus one separately allocated
 * descriptor per object, sized by DESCRIPTOR_BYTES below. Free, reserved, zero and other
 * "Misc" frames keep their data inline in the word and cost nothing more.
 *
 * Bytes are computed on demand from a census of the live pools, never on a hot path.
 */
import { MT, MT_NAMES, NR_MEM_TYPES } from '../mm/memdesc.js';

export const LAYOUTS = ['struct-page', 'memdesc'] as const;
export type LayoutName = (typeof LAYOUTS)[number];

/** What exists right now, counted from the pools. */
export interface Census {
  presentPages: number;
  /** Frames per memory type (index: MT value). */
  pagesByType: ArrayLike<number>;
  /** Folio descriptors per memory type and order: key `${type}:${order}`. */
  folios: Map<string, number>;
  slabs: number;
  ptdescs: number;
}

/**
 * Descriptor sizes under memdescs, in bytes, with what they hold. Each is the sum of the fields
 * the kernel keeps for that object today once they no longer overlay
 * struct page, plus the frame number a detached descriptor must record, rounded to 16 bytes.
 */
export const DESCRIPTOR_BYTES = {
  /** flags, lru, mapping, index, private, _mapcount+_refcount, memcg_data, pfn: 72 -> 80. */
  smallFolio: 80,
  /** + _large_mapcount, _nr_pages_mapped, _entire_mapcount, _pincount, _mm_id[2] and counts, _nr_pages, _deferred_list: 136 -> 144. */
  largeFolio: 144,
  /** slab_cache, slab_list, freelist, counters, flags, obj_exts, pfn: 56 -> 64. */
  slab: 64,
  /** pt_flags, pt_list, pmd_huge_pte, pt_mm, ptl, pt_memcg_data, pfn: 56 -> 64. */
  ptdesc: 64,
  /**
   * A raw alloc_pages() driver page still needs a refcount to be vm_insert_page()d; the
   * plan keeps such pages inline as Misc "unknown", which loses it. pagelab charges refcount,
   * mapcount and pfn.
   */
  driverPage: 16,
} as const;

/** Per-page PG_anon_exclusive of a large anon folio moves into its descriptor: one bit a page. */
export const anonExclusiveBitmapBytes = (order: number): number =>
  order === 0 ? 0 : Math.ceil((1 << order) / 8);

export interface TypeAccounting {
  type: string;
  pages: number;
  descriptors: number;
  memmapBytes: number;
  descriptorBytes: number;
}

export interface LayoutAccounting {
  layout: LayoutName;
  memmapBytes: number;
  /**
   * The part of memmapBytes already written: all of it but the struct pages (or words) the
   * deferred init has not reached (census type `none`, CONFIG_DEFERRED_STRUCT_PAGE_INIT).
   */
  memmapInitialisedBytes: number;
  descriptorBytes: number;
  totalBytes: number;
  /** Metadata bytes per present frame. */
  bytesPerPage: number;
  perType: TypeAccounting[];
}

export function perPfnBytes(layout: LayoutName): number {
  return layout === 'struct-page' ? 64 : 8;
}

function folioDescriptorBytes(type: number, order: number): number {
  if (type === MT.UNKNOWN) return DESCRIPTOR_BYTES.driverPage;
  if (type === MT.LARGE_KMALLOC) return 0;
  if (order === 0) return DESCRIPTOR_BYTES.smallFolio;
  return DESCRIPTOR_BYTES.largeFolio + (type === MT.ANON ? anonExclusiveBitmapBytes(order) : 0);
}

/** Metadata bytes of one layout over the census. */
export function accountLayout(layout: LayoutName, c: Census): LayoutAccounting {
  const per = perPfnBytes(layout);
  const rows: TypeAccounting[] = [];
  const descCount = new Float64Array(NR_MEM_TYPES);
  const descBytes = new Float64Array(NR_MEM_TYPES);
  if (layout === 'memdesc') {
    for (const [key, n] of c.folios) {
      const [type, order] = key.split(':').map(Number);
      descCount[type] += n;
      descBytes[type] += n * folioDescriptorBytes(type, order);
    }
    descCount[MT.SLAB] = c.slabs;
    descBytes[MT.SLAB] = c.slabs * DESCRIPTOR_BYTES.slab;
    descCount[MT.PGTABLE] = c.ptdescs;
    descBytes[MT.PGTABLE] = c.ptdescs * DESCRIPTOR_BYTES.ptdesc;
  }
  let memmap = 0;
  let desc = 0;
  for (let t = 0; t < NR_MEM_TYPES; t++) {
    const pages = c.pagesByType[t];
    if (pages === 0 && descCount[t] === 0) continue;
    rows.push({
      type: MT_NAMES[t],
      pages,
      descriptors: descCount[t],
      memmapBytes: pages * per,
      descriptorBytes: descBytes[t],
    });
    memmap += pages * per;
    desc += descBytes[t];
  }
  // Frames the census did not count are still covered by the memmap.
  memmap = Math.max(memmap, c.presentPages * per);
  return {
    layout,
    memmapBytes: memmap,
    memmapInitialisedBytes: memmap - c.pagesByType[MT.NONE] * per,
    descriptorBytes: desc,
    totalBytes: memmap + desc,
    bytesPerPage: c.presentPages ? (memmap + desc) / c.presentPages : 0,
    perType: rows,
  };
}
