/**
 * The memdesc plan priced on a real machine: metadata bytes today (a 64-byte struct page for
 * every PFN that has a memmap) against the plan (an 8-byte memdesc word per such PFN plus one
 * separately allocated descriptor per folio, slab and ptdesc, of the sizes pagelab's layout
 * defines in src/designs/layout.ts), per frame type, with hugetlb's vmemmap optimisation (HVO)
 * stated both ways.
 *
 * Kernel files: include/linux/mm_types.h (struct page, 64 bytes on x86-64), mm/hugetlb_vmemmap.c
 * (HVO keeps one vmemmap page — HUGETLB_VMEMMAP_RESERVE_SIZE — per hugetlb folio and maps the
 * rest read-only onto it). The memdesc sizes are pagelab's, not the kernel's: the plan is not
 * merged, so they are an estimate of what each descriptor has to hold.
 */
import { accountLayout, anonExclusiveBitmapBytes, type Census, DESCRIPTOR_BYTES } from '../designs/layout.js';
import { MT, NR_MEM_TYPES } from '../mm/memdesc.js';
import { type Classification, FRAME, FRAME_NAMES, type Frame, NR_FRAMES } from './classify.js';

export const STRUCT_PAGE_BYTES = 64;
export const MEMDESC_WORD_BYTES = 8;
const PAGE_SIZE = 4096;

export interface PriceRow {
  type: string;
  pages: number;
  descriptors: number;
  structPageBytes: number;
  memdescWordBytes: number;
  memdescDescriptorBytes: number;
}

export interface Price {
  rows: PriceRow[];
  structPage: number;
  /** struct page with HVO on every hugetlb folio. */
  structPageHvo: number;
  memdesc: number;
  /** memdesc with the same trick applied to the words of hugetlb folios (it saves only where a folio's words fill more than one page). */
  memdescHvo: number;
  memmapPfns: number;
  method: string[];
}

/** Bytes of a descriptor for one object of frame type `f` and `order` under memdescs. */
function descriptorBytes(f: Frame, order: number): number {
  switch (f) {
    case FRAME.ANON:
    case FRAME.KSM:
      return order === 0
        ? DESCRIPTOR_BYTES.smallFolio
        : DESCRIPTOR_BYTES.largeFolio + anonExclusiveBitmapBytes(order);
    case FRAME.FILE:
    case FRAME.SHMEM:
      return order === 0 ? DESCRIPTOR_BYTES.smallFolio : DESCRIPTOR_BYTES.largeFolio;
    // hugetlb keeps anon-exclusive per folio, so no per-page bitmap.
    case FRAME.HUGETLB:
      return DESCRIPTOR_BYTES.largeFolio;
    case FRAME.SLAB:
      return DESCRIPTOR_BYTES.slab;
    case FRAME.PGTABLE:
      return DESCRIPTOR_BYTES.ptdesc;
    default:
      // zero, free, reserved, offline, hwpoison, kernel compound (large kmalloc), no-flags:
      // the plan keeps these inline in the word ("Misc"), as layout.ts does.
      return 0;
  }
}

/** Whether an object of frame type `f` gets a descriptor (and so counts as one). */
const hasDescriptor = (f: Frame, order: number) => descriptorBytes(f, order) > 0;

/** Price both layouts on a classified capture. */
export function priceMemdesc(c: Classification): Price {
  const descCount = new Float64Array(NR_FRAMES);
  const descBytes = new Float64Array(NR_FRAMES);
  let hvoStructSaving = 0;
  let hvoMemdescSaving = 0;
  for (const [key, n] of c.objects) {
    const [f, order] = key.split(':').map(Number) as [Frame, number];
    if (hasDescriptor(f, order)) {
      descCount[f] += n;
      descBytes[f] += n * descriptorBytes(f, order);
    }
    if (f === FRAME.HUGETLB) {
      const pages = 2 ** order;
      hvoStructSaving += n * Math.max(0, pages * STRUCT_PAGE_BYTES - PAGE_SIZE);
      hvoMemdescSaving += n * Math.max(0, pages * MEMDESC_WORD_BYTES - PAGE_SIZE);
    }
  }
  const rows: PriceRow[] = [];
  let desc = 0;
  for (let f = 0; f < NR_FRAMES; f++) {
    if (f === FRAME.HOLE) continue;
    const pages = c.pages[f];
    if (pages === 0 && descCount[f] === 0) continue;
    rows.push({
      type: FRAME_NAMES[f],
      pages,
      descriptors: descCount[f],
      structPageBytes: pages * STRUCT_PAGE_BYTES,
      memdescWordBytes: pages * MEMDESC_WORD_BYTES,
      memdescDescriptorBytes: descBytes[f],
    });
    desc += descBytes[f];
  }
  const structPage = c.memmapPfns * STRUCT_PAGE_BYTES;
  const memdesc = c.memmapPfns * MEMDESC_WORD_BYTES + desc;
  return {
    rows,
    structPage,
    structPageHvo: structPage - hvoStructSaving,
    memdesc,
    memdescHvo: memdesc - hvoMemdescSaving,
    memmapPfns: c.memmapPfns,
    method: [
      `struct page: ${STRUCT_PAGE_BYTES} B × PFNs with a memmap (${c.usedIomem ? 'whole sections holding System RAM, from iomem' : 'every PFN but NOPAGE: no iomem given'}).`,
      `memdesc: ${MEMDESC_WORD_BYTES} B word × the same PFNs + a descriptor per object: small folio ${DESCRIPTOR_BYTES.smallFolio} B, large folio ${DESCRIPTOR_BYTES.largeFolio} B (+ 1 bit per page for anon PG_anon_exclusive), slab ${DESCRIPTOR_BYTES.slab} B, ptdesc ${DESCRIPTOR_BYTES.ptdesc} B (src/designs/layout.ts); free, zero, reserved, no-flags and kernel compound frames stay inline in the word.`,
      `HVO: a hugetlb folio keeps one ${PAGE_SIZE} B vmemmap page (mm/hugetlb_vmemmap.c); for memdesc the same remap saves only where a folio's words fill more than one page (1 GiB folios, not 2 MiB).`,
      'Descriptor sizes are pagelab estimates of an unmerged plan; PFN types come from kpageflags as src/snapshot/classify.ts decides them.',
    ],
  };
}

/**
 * The frame types as pagelab's memory types, for accountLayout() and the replayed Machine. Frames
 * with no flags (mostly memory whose struct pages were never initialised: zoneinfo's present −
 * managed) and torn tails are reserved: memory the buddy allocator does not hand out.
 */
export const FRAME_TO_MT: readonly number[] = (() => {
  const m = new Array<number>(NR_FRAMES).fill(MT.RESERVED);
  m[FRAME.HOLE] = MT.NONE;
  m[FRAME.FREE] = MT.BUDDY;
  m[FRAME.RESERVED] = MT.RESERVED;
  m[FRAME.SLAB] = MT.SLAB;
  m[FRAME.PGTABLE] = MT.PGTABLE;
  m[FRAME.ZERO] = MT.ZERO;
  // pagelab has no hugetlb type; a hugetlb folio is priced as a large file-kind folio (no bitmap).
  m[FRAME.HUGETLB] = MT.FILE;
  m[FRAME.ANON] = MT.ANON;
  m[FRAME.KSM] = MT.ANON;
  m[FRAME.FILE] = MT.FILE;
  m[FRAME.SHMEM] = MT.FILE;
  m[FRAME.KERNEL_COMPOUND] = MT.LARGE_KMALLOC;
  m[FRAME.OFFLINE] = MT.OFFLINE;
  m[FRAME.HWPOISON] = MT.HWPOISON;
  return m;
})();

/** The capture as a layout.ts Census, so accountLayout() prices it exactly as Machine.accounting() does. */
export function snapshotCensus(c: Classification): Census {
  const pagesByType = new Float64Array(NR_MEM_TYPES);
  for (let f = 0; f < NR_FRAMES; f++) if (f !== FRAME.HOLE) pagesByType[FRAME_TO_MT[f]] += c.pages[f];
  const folios = new Map<string, number>();
  let slabs = 0;
  let ptdescs = 0;
  for (const [key, n] of c.objects) {
    const [f, order] = key.split(':').map(Number) as [Frame, number];
    if (f === FRAME.SLAB) slabs += n;
    else if (f === FRAME.PGTABLE) ptdescs += n;
    // Kernel compound pages are large-kmalloc folios in the model (a folio row, no descriptor bytes).
    else if (hasDescriptor(f, order) || f === FRAME.KERNEL_COMPOUND) {
      const k = `${FRAME_TO_MT[f]}:${order}`;
      folios.set(k, (folios.get(k) ?? 0) + n);
    }
  }
  return { presentPages: c.memmapPfns, pagesByType, folios, slabs, ptdescs };
}

/** accountLayout() of both layouts over the capture. */
export const snapshotAccounting = (c: Classification) =>
  (['struct-page', 'memdesc'] as const).map((l) => accountLayout(l, snapshotCensus(c)));
