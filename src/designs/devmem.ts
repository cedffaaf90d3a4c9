/**
 * Metadata cost of device memory (ZONE_DEVICE) under each memmap mode and descriptor layout.
 *
 * Modes (src/mm/memremap.ts): `eager` describes every pfn at memremap time
 * (memmap_init_zone_device); `lazy` maps the whole vmemmap to one
 * shared read-only page of "invalid" descriptors and populates one memmap page at a time; `none`
 * is pfn-only memory with no metadata at all (only special pfnmap entries can map it).
 * Layouts (src/designs/layout.ts): `struct-page` — the descriptor *is* the 64-byte memmap entry, so
 * a 4 KiB memmap page covers 64 pfns; `memdesc` — an 8-byte word per pfn (512 per memmap page) plus
 * a separately allocated descriptor for each pfn that has one (DESCRIPTOR_BYTES.smallFolio: a
 * device folio needs refcount, mapcount, flags, pgmap and pfn like any small folio).
 *
 * Lazy costs count: the populated memmap pages, the PTEs that map the rest of the vmemmap to the
 * shared page (8 bytes per 4 KiB of vmemmap), and the shared page itself. The workload touches a
 * fraction of the pfns, contiguously (the best case for lazy: ceil(touched / pfns-per-page) pages).
 */

import { MEMMAP_MODES, type MemmapMode } from '../mm/memremap.js';
import { PAGE_SIZE } from '../mm/types.js';
import { DESCRIPTOR_BYTES, LAYOUTS, type LayoutName } from './layout.js';

const PTE_BYTES = 8;

export interface DevmemCost {
  deviceBytes: number;
  layout: LayoutName;
  mode: MemmapMode;
  /** Fraction of the device's pfns the workload touches (0..1). */
  touched: number;
  memmapBytes: number;
  descriptorBytes: number;
  /** Page-table bytes mapping the unpopulated vmemmap to the shared invalid page, plus that page. */
  reserveBytes: number;
  totalBytes: number;
}

/** Metadata bytes for a device of `deviceBytes` under one mode and layout, `touched` of it in use. */
export function devmemCost(
  deviceBytes: number,
  layout: LayoutName,
  mode: MemmapMode,
  touched: number,
): DevmemCost {
  if (!(touched >= 0 && touched <= 1)) throw new RangeError(`touched fraction ${touched} is not in 0..1`);
  const pfns = Math.floor(deviceBytes / PAGE_SIZE);
  const used = Math.ceil(pfns * touched);
  const perPfn = layout === 'struct-page' ? 64 : 8;
  const perPage = PAGE_SIZE / perPfn;
  const desc = layout === 'memdesc' ? DESCRIPTOR_BYTES.smallFolio : 0;
  let memmap = 0;
  let descriptors = 0;
  let reserve = 0;
  if (mode === 'eager') {
    memmap = pfns * perPfn;
    descriptors = pfns * desc;
  } else if (mode === 'lazy') {
    const pages = Math.ceil(used / perPage);
    memmap = pages * PAGE_SIZE;
    descriptors = used * desc;
    reserve = Math.ceil(pfns / perPage) * PTE_BYTES + PAGE_SIZE;
  }
  return {
    deviceBytes,
    layout,
    mode,
    touched,
    memmapBytes: memmap,
    descriptorBytes: descriptors,
    reserveBytes: reserve,
    totalBytes: memmap + descriptors + reserve,
  };
}

/** Every layout x mode x touched fraction for one device size. */
export function devmemTable(deviceBytes: number, touched: readonly number[] = [0.01, 0.1, 1]): DevmemCost[] {
  const rows: DevmemCost[] = [];
  for (const layout of LAYOUTS)
    for (const mode of MEMMAP_MODES)
      for (const t of touched) rows.push(devmemCost(deviceBytes, layout, mode, t));
  return rows;
}
