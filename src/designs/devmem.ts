/**
 * Metadata cost of device memory (ZONE_DEVICE) under each memmap mode, descriptor layout and
 * compound order of the device's folios (a devdax/fsdax namespace is mapped in folios of one
 * order, pgmap->vmemmap_shift: 0 for 4 KiB, 9 for 2 MiB, 18 for 1 GiB).
 *
 * Modes (src/mm/memremap.ts): `eager` describes every pfn at memremap time
 * (memmap_init_zone_device); `lazy` maps the whole vmemmap to one
 * shared read-only page of "invalid" descriptors and populates one memmap page at a time; `none`
 * is pfn-only memory with no metadata at all (only special pfnmap entries can map it).
 * Layouts (src/designs/layout.ts): `struct-page` — the descriptor *is* the 64-byte memmap entry, so
 * a 4 KiB memmap page covers 64 pfns; `memdesc` — an 8-byte word per pfn (512 per memmap page) plus
 * one separately allocated descriptor per device folio (DESCRIPTOR_BYTES.smallFolio for order 0,
 * largeFolio for a compound one: a device folio has refcount, mapcount, flags, pgmap and pfn like
 * any folio; device folios are never anon, so no exclusivity bitmap).
 *
 * The fair comparison for struct page is what Linux does for compound devmaps
 * (mm/sparse-vmemmap.c vmemmap_populate_compound_pages, Documentation/mm/vmemmap_dedup.rst): when
 * vmemmap_can_optimize() (power-of-two struct page, vmemmap_shift > 0, no altmap), each compound
 * page gets two real vmemmap pages — the one holding its head struct page and the first page of
 * tail struct pages — and every further vmemmap page of that compound page is a PTE to the second
 * one (tails are identical: they only point at the head). A compound page bigger than a section
 * keeps reusing that tail page across sections (reuse_compound_section). So an order-9 folio costs
 * 2 vmemmap pages instead of 8 and an order-18 folio 2 instead of 4096, plus one PTE per vmemmap
 * page (the dedup maps the vmemmap with base pages). An undeduplicated memmap, of either layout,
 * is mapped with 2 MiB PMDs on x86-64 — 8 bytes per 2 MiB, under 0.0004 % — and not counted.
 *
 * Lazy costs count: the populated memmap pages, the PTEs that map the rest of the vmemmap to the
 * shared page (8 bytes per 4 KiB of vmemmap), and the shared page itself. The workload touches a
 * fraction of the folios, contiguously (the best case for lazy). Leaves out: the altmap (vmemmap
 * carved from the device itself, which disables the dedup) and the 2025-26 proposal to share one
 * tail page per node and order across all compound pages.
 */

import { MEMMAP_MODES, type MemmapMode } from '../mm/memremap.js';
import { PAGE_SIZE } from '../mm/types.js';
import { DESCRIPTOR_BYTES, LAYOUTS, type LayoutName } from './layout.js';

const PTE_BYTES = 8;
const STRUCT_PAGE_BYTES = 64;
/** VMEMMAP_RESERVE_NR (include/linux/mm.h): the vmemmap pages a deduplicated compound page keeps. */
export const VMEMMAP_RESERVE_NR = 2;

/** The device folio orders `pagelab devmem` compares: 4 KiB, 2 MiB, 1 GiB. */
export const DEVMEM_ORDERS = [0, 9, 18] as const;

export interface DevmemCost {
  deviceBytes: number;
  layout: LayoutName;
  mode: MemmapMode;
  /** Order of the device's compound folios (pgmap->vmemmap_shift). */
  order: number;
  /** Fraction of the device's folios the workload touches (0..1). */
  touched: number;
  memmapBytes: number;
  descriptorBytes: number;
  /**
   * Page-table bytes: for lazy, the PTEs mapping the unpopulated vmemmap to the shared invalid
   * page plus that page; for a deduplicated struct-page vmemmap, its base-page PTEs.
   */
  reserveBytes: number;
  totalBytes: number;
}

/** vmemmap_can_optimize(): struct page is a power of two and the pgmap has compound pages. */
const dedups = (order: number): boolean => order > 0 && (1 << order) * STRUCT_PAGE_BYTES > PAGE_SIZE;

/**
 * Real vmemmap pages one compound page of `order` needs under struct page: 2 with the dedup
 * (vmemmap_populate_compound_pages), else its share of the vmemmap (fractional below order 6).
 */
export function vmemmapPagesPerFolio(order: number): number {
  const all = ((1 << order) * STRUCT_PAGE_BYTES) / PAGE_SIZE;
  return dedups(order) ? Math.min(VMEMMAP_RESERVE_NR, all) : all;
}

/** PTE bytes mapping the deduplicated vmemmap of `folios` compound pages: one per vmemmap page. */
function vmemmapTableBytes(order: number, folios: number): number {
  return dedups(order) ? folios * (((1 << order) * STRUCT_PAGE_BYTES) / PAGE_SIZE) * PTE_BYTES : 0;
}

const memdescDescriptor = (order: number): number =>
  order === 0 ? DESCRIPTOR_BYTES.smallFolio : DESCRIPTOR_BYTES.largeFolio;

/** Metadata bytes for a device of `deviceBytes` under one mode, layout and folio order, `touched` of it in use. */
export function devmemCost(
  deviceBytes: number,
  layout: LayoutName,
  mode: MemmapMode,
  touched: number,
  order = 0,
): DevmemCost {
  if (!(touched >= 0 && touched <= 1)) throw new RangeError(`touched fraction ${touched} is not in 0..1`);
  if (!Number.isInteger(order) || order < 0 || order > 30)
    throw new RangeError(`order ${order} is not 0..30`);
  const pfns = Math.floor(deviceBytes / PAGE_SIZE);
  const nr = 1 << order;
  const folios = Math.floor(pfns / nr);
  const used = Math.ceil(folios * touched);
  const perPfn = layout === 'struct-page' ? STRUCT_PAGE_BYTES : 8;
  const perPage = PAGE_SIZE / perPfn;
  const desc = layout === 'memdesc' ? memdescDescriptor(order) : 0;
  /** Memmap bytes of n folios: deduplicated compound struct pages, else one entry per pfn. */
  const memmapOf = (n: number): number =>
    layout === 'struct-page' && dedups(order) ? n * vmemmapPagesPerFolio(order) * PAGE_SIZE : n * nr * perPfn;
  let memmap = 0;
  let descriptors = 0;
  let reserve = 0;
  if (mode === 'eager') {
    memmap = memmapOf(folios);
    descriptors = folios * desc;
    if (layout === 'struct-page') reserve = vmemmapTableBytes(order, folios);
  } else if (mode === 'lazy') {
    // Populated a memmap page at a time: whole pages for what the touched folios need.
    memmap = Math.ceil(memmapOf(used) / PAGE_SIZE) * PAGE_SIZE;
    descriptors = used * desc;
    reserve = Math.ceil(pfns / perPage) * PTE_BYTES + PAGE_SIZE;
  }
  return {
    deviceBytes,
    layout,
    mode,
    order,
    touched,
    memmapBytes: memmap,
    descriptorBytes: descriptors,
    reserveBytes: reserve,
    totalBytes: memmap + descriptors + reserve,
  };
}

/** Every layout x mode x order x touched fraction for one device size (order 0 unless asked). */
export function devmemTable(
  deviceBytes: number,
  touched: readonly number[] = [0.01, 0.1, 1],
  orders: readonly number[] = [0],
): DevmemCost[] {
  const rows: DevmemCost[] = [];
  for (const layout of LAYOUTS)
    for (const mode of MEMMAP_MODES)
      for (const order of orders)
        for (const t of touched) rows.push(devmemCost(deviceBytes, layout, mode, t, order));
  return rows;
}
