/**
 * Replaying a capture into a model Machine at the capture's own PFNs: the machine gets the
 * capture's memory map, and every frame is put where it was — each folio of its order at its
 * PFN, each slab and page table on its frame, reserved and untyped frames reserved, free memory
 * left free — through the kernel's way of allocating a given range, alloc_contig_range
 * (src/mm/alloc_contig.ts). The free lists that remain are then the capture's free runs in their
 * unique buddy decomposition, so a scenario (compaction, a THP allocation, memory failure) runs
 * on the real machine's fragmentation.
 *
 * Kernel analogue: none as a whole; the pieces are alloc_contig_range(), allocate_slab() and
 * pagetable_alloc() on chosen frames, and memblock_reserve() for what the buddy allocator never
 * got.
 *
 * What a capture cannot say, and what is done instead (returned as `notes`):
 * - holes: the model has no holes inside RAM, so whole sections without memmap (the PCI hole)
 *   are left out and the sections above move down; alignment is kept (sections hold whole
 *   max-order blocks), so PFNs below the first hole are the capture's and the rest are shifted
 *   by the holes below them — `pfnOf()` maps one to the other;
 * - zones: the model's (DMA32 below 4 GiB of model RAM, Normal above), not the capture's; one node;
 * - hugetlb folios are file-kind folios of their order (pagelab has no hugetlb pool); KSM pages are
 *   order-0 anon folios; no folio is mapped (kpageflags does not say by whom), so mapcounts,
 *   page contents and the page cache are not replayed, and compaction cannot move the placed
 *   folios (a reference no mapping explains: its extra_refs rule);
 * - frames with no flags (never-initialised memory, untyped kernel pages) and torn tails are
 *   reserved; kernel compound pages are large-kmalloc folios; slabs come from one cache per slab
 *   order, one object each;
 * - the 4 KiB zero page stays at the model's fixed PFN; the capture's zero-page frame is reserved
 *   (both are kernel-image frames); the huge zero folio is placed where it was.
 */
import type { MachineConfig } from '../machine/config.js';
import { Machine } from '../machine/machine.js';
import {
  allocContigFolio,
  allocContigHugeZero,
  allocContigPagetable,
  allocContigSlab,
  allocContigTyped,
} from '../mm/alloc_contig.js';
import type { Kernel } from '../mm/kernel.js';
import { type MemType, MT } from '../mm/memdesc.js';
import { type KmemCache, slabOrderFor } from '../mm/slab.js';
import { PAGE_SIZE, PAGES_PER_SECTION } from '../mm/types.js';
import { type Classification, classify, FRAME, type Frame, TAIL } from './classify.js';
import type { Snapshot, SnapshotInfo } from './read.js';

export const REPLAY_NOTES: readonly string[] = [
  'every frame is at its captured PFN below the first hole; holes (whole sections without memmap) are left out and the sections above them move down',
  "zones are the model's (DMA32 below 4 GiB of model RAM, then Normal), one node",
  'hugetlb folios are file-kind folios of the same order (pagelab has no hugetlb pool); KSM pages are order-0 anon folios',
  'no folio is mapped: mappings, mapcounts, page contents and the page cache are not replayed, so compaction can move none of the placed folios (each holds a reference no mapping explains)',
  'frames with no flags and torn tails are reserved; kernel compound pages are large-kmalloc folios; slabs come from one cache per order, one object each',
  "the 4 KiB zero page stays at the model's fixed PFN and the capture's zero-page frame is reserved; the huge zero folio is where it was",
];

/** The frame types a replay puts down as reserved memory (no descriptor, never allocatable). */
const AS_RESERVED: ReadonlySet<number> = new Set([FRAME.RESERVED, FRAME.NOFLAGS, FRAME.TORN, FRAME.HOLE]);

const FOLIO_MT: Partial<Record<Frame, MemType>> = {
  [FRAME.ANON]: MT.ANON,
  [FRAME.KSM]: MT.ANON,
  [FRAME.FILE]: MT.FILE,
  [FRAME.SHMEM]: MT.FILE,
  [FRAME.HUGETLB]: MT.FILE,
  [FRAME.KERNEL_COMPOUND]: MT.LARGE_KMALLOC,
};

/** The model's fixed zero page (bootKernel: the last frame of the 16 MiB kernel image at 16 MiB). */
const MODEL_ZERO_PFN = (32 * 2 ** 20) / PAGE_SIZE - 1;

/** Machine keys a replay takes from the capture, whatever the scenario says. */
export type ReplayConfig = Omit<MachineConfig, 'memory' | 'nodes' | 'reserved' | 'movable' | 'cma'>;

export interface Replay {
  machine: Machine;
  notes: readonly string[];
  /** The model PFN of a captured PFN (−1 for a PFN in a left-out hole section). */
  pfnOf(capturedPfn: number): number;
}

/** Sections of the capture with at least one frame that has a memmap, in order. */
function keptSections(c: Classification): Int32Array {
  const n = Math.ceil(c.nrPfns / PAGES_PER_SECTION);
  const map = new Int32Array(n).fill(-1);
  let next = 0;
  for (let s = 0; s < n; s++) {
    const end = Math.min(c.nrPfns, (s + 1) * PAGES_PER_SECTION);
    for (let pfn = s * PAGES_PER_SECTION; pfn < end; pfn++)
      if ((c.frames[pfn] & ~TAIL) !== FRAME.HOLE) {
        map[s] = next++;
        break;
      }
  }
  return map;
}

/** A slab cache per slab order, its object size chosen so calculate_order() gives that order. */
function slabCache(m: Machine, caches: Map<number, KmemCache>, order: number): KmemCache | undefined {
  let c = caches.get(order);
  if (c) return c;
  for (let size = 8; size <= PAGE_SIZE << order; size *= 2) {
    if (slabOrderFor(size) !== order) continue;
    const name = `snapshot-replay-order${order}`;
    m.kmemCacheCreate(name, size);
    c = m.kernel.slab.cacheByName(name);
    if (c) caches.set(order, c);
    return c;
  }
  return undefined;
}

/** Build a Machine holding the capture's frames at its PFNs (see the header for what is and is not kept). */
export function machineFromSnapshot(
  s: Snapshot | SnapshotInfo,
  c: Classification = classify(s as Snapshot),
  config: ReplayConfig = {},
): Replay {
  const sections = keptSections(c);
  const nrKept = sections.reduce((n, v) => n + (v >= 0 ? 1 : 0), 0);
  const pfnOf = (pfn: number): number => {
    const ms = sections[Math.floor(pfn / PAGES_PER_SECTION)];
    return ms < 0 ? -1 : ms * PAGES_PER_SECTION + (pfn % PAGES_PER_SECTION);
  };
  const m = new Machine({
    check: 'off',
    contents: false,
    ...config,
    memory: nrKept * PAGES_PER_SECTION * PAGE_SIZE,
    // Only the zero page's frame is reserved at boot; everything else is placed below.
    reserved: [{ start: MODEL_ZERO_PFN * PAGE_SIZE, size: PAGE_SIZE }],
  });
  const k = m.kernel;
  const checkLevel = m.checkLevel;
  m.checkLevel = 'off';
  placeFrames(m, k, c, pfnOf, MODEL_ZERO_PFN);
  m.checkLevel = checkLevel;
  return { machine: m, notes: REPLAY_NOTES, pfnOf };
}

/** Walk the capture once and put every frame down at its model PFN. */
function placeFrames(
  m: Machine,
  k: Kernel,
  c: Classification,
  pfnOf: (pfn: number) => number,
  modelZero: number,
): void {
  const { frames, nrPfns } = c;
  const caches = new Map<number, KmemCache>();
  // A run of frames put down as one type without a descriptor, closed at a type change, a zone
  // boundary or a section boundary (the next section may have moved).
  let runType = -1;
  let runStart = 0;
  let runEnd = 0;
  const flush = () => {
    if (runType >= 0) {
      for (let p = runStart; p < runEnd; ) {
        const z = k.pa.zoneOf(p);
        const end = Math.min(runEnd, z.endPfn);
        allocContigTyped(k, p, end - p, runType as MemType);
        p = end;
      }
    }
    runType = -1;
  };
  const typed = (mp: number, type: MemType) => {
    if (type === runType && mp === runEnd && mp % PAGES_PER_SECTION !== 0) {
      runEnd++;
      return;
    }
    flush();
    runType = type;
    runStart = mp;
    runEnd = mp + 1;
  };

  for (let pfn = 0; pfn < nrPfns; ) {
    const head = frames[pfn];
    const f = (head & ~TAIL) as Frame;
    let run = 1;
    while (pfn + run < nrPfns && frames[pfn + run] === (f | TAIL)) run++;
    const mp = pfnOf(pfn);
    if (mp < 0) {
      pfn += run;
      continue;
    }
    if (head & TAIL) {
      // A tail with no head of its own kind: torn.
      for (let i = 0; i < run; i++) typed(mp + i, MT.RESERVED);
      pfn += run;
      continue;
    }
    const order = 31 - Math.clz32(run);
    const regular = run === 1 << order;
    if (mp === modelZero) {
      // The model's own zero page sits here: the capture's frame goes where its zero page was.
      pfn += run;
      continue;
    }
    if (AS_RESERVED.has(f) || (f === FRAME.ZERO && run === 1)) typed(mp, MT.RESERVED);
    else if (f === FRAME.OFFLINE) typed(mp, MT.OFFLINE);
    else if (f === FRAME.HWPOISON) typed(mp, MT.HWPOISON);
    else if (f === FRAME.FREE) flush();
    else {
      flush();
      // A compound run that is not a power of two (irregular) is put down page by page.
      const orders = regular ? [order] : new Array<number>(run).fill(0);
      let at = mp;
      for (const o of orders) {
        placeObject(m, k, caches, f, at, o);
        at += 1 << o;
      }
    }
    pfn += run;
  }
  flush();
}

/** One object of frame type `f` and `order` at model PFN `mp`. */
function placeObject(
  m: Machine,
  k: Kernel,
  caches: Map<number, KmemCache>,
  f: Frame,
  mp: number,
  order: number,
) {
  const mt = FOLIO_MT[f];
  if (mt !== undefined) allocContigFolio(k, mp, order, mt);
  else if (f === FRAME.SLAB) {
    const cache = slabCache(m, caches, order);
    if (cache) allocContigSlab(k, cache, mp);
    else
      for (let i = 0; i < 1 << order; i++) allocContigSlab(k, slabCache(m, caches, 0) as KmemCache, mp + i);
  } else if (f === FRAME.PGTABLE) for (let i = 0; i < 1 << order; i++) allocContigPagetable(k, mp + i);
  else if (f === FRAME.ZERO) allocContigHugeZero(k, mp);
  else allocContigTyped(k, mp, 1 << order, MT.RESERVED);
}
