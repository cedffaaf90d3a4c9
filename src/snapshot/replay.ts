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
 * The memory map is the capture's: its RAM ranges (iomem "System RAM", or without iomem the
 * sections that have a memmap), so the holes are holes (pfn_valid() false, never allocated) and
 * every frame is at its captured PFN. The zones are x86-64's over that map (DMA < 16 MiB, DMA32 <
 * 4 GiB, Normal), as the capture's kernel computed them; with zoneinfo they are checked against
 * it. Sections at the top of the highest zone that read all-zero are struct pages the capture's
 * kernel never initialised (deferred struct page init): the replay boots with deferredInit and
 * grows the zone to where the capture's initialised memory ends, so present − managed is the
 * capture's too.
 *
 * What a capture cannot say, and what is done instead (returned as `notes`):
 * - hugetlb folios are file-kind folios of their order (pagelab has no hugetlb pool); KSM pages are
 *   order-0 anon folios; no folio is mapped (kpageflags does not say by whom), so mapcounts,
 *   page contents and the page cache are not replayed, and compaction cannot move the placed
 *   folios (on no LRU, with a reference no mapping explains) — unless synthetic owners are asked
 *   for (replay_owners.ts: anon folios get made-up processes that map them);
 * - frames with no flags in initialised memory (untyped kernel pages: vmalloc, stacks, page_frag)
 *   and torn tails are reserved frames that stay managed (allocated, then marked reserved);
 *   PG_reserved frames are memblock-reserved (not managed); kernel compound pages are
 *   large-kmalloc folios; slabs come from one cache per slab order, one object each.
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
import { deferredGrowZone } from '../mm/mm_init.js';
import type { PfnRange } from '../mm/mmzone.js';
import { type KmemCache, slabOrderFor } from '../mm/slab.js';
import { PAGE_SIZE, PAGES_PER_SECTION } from '../mm/types.js';
import { type Classification, classify, FRAME, type Frame, TAIL } from './classify.js';
import { parseIomemRam, parseZoneinfo } from './companions.js';
import { SnapshotError } from './errors.js';
import type { Snapshot, SnapshotInfo } from './read.js';
import { addSyntheticOwners, type OwnerOptions } from './replay_owners.js';

export const REPLAY_NOTES: readonly string[] = [
  "every frame is at its captured PFN: the memory map is the capture's RAM (iomem, else the sections with a memmap), holes stay holes",
  "zones are x86-64's over that map (DMA < 16 MiB, DMA32 < 4 GiB, Normal), one node; checked against zoneinfo when the capture has it",
  "all-zero sections at the top of the highest zone are never-initialised struct pages: the machine boots with deferredInit and grows to the capture's initialised end",
  'hugetlb folios are file-kind folios of the same order (pagelab has no hugetlb pool); KSM pages are order-0 anon folios',
  'no folio is mapped (unless synthetic owners are asked for): mappings, mapcounts, page contents and the page cache are not replayed, so compaction can move none of the placed folios (they are on no LRU, and no mapping explains their reference)',
  'frames with no flags in initialised memory and torn tails are reserved but stay managed (allocated kernel pages the flags cannot type); PG_reserved frames are memblock-reserved; kernel compound pages are large-kmalloc folios; slabs come from one cache per order, one object each',
];

/** The frame types a replay puts down as memblock-reserved memory (no descriptor, not managed). */
const AS_RESERVED: ReadonlySet<number> = new Set([FRAME.RESERVED, FRAME.HOLE]);
/** Frame types put down as reserved frames that stay managed (allocated pages of unknown use). */
const AS_ALLOCATED: ReadonlySet<number> = new Set([FRAME.NOFLAGS, FRAME.TORN]);

const FOLIO_MT: Partial<Record<Frame, MemType>> = {
  [FRAME.ANON]: MT.ANON,
  [FRAME.KSM]: MT.ANON,
  [FRAME.FILE]: MT.FILE,
  [FRAME.SHMEM]: MT.FILE,
  [FRAME.HUGETLB]: MT.FILE,
  [FRAME.KERNEL_COMPOUND]: MT.LARGE_KMALLOC,
};

/** Machine keys a replay takes from the capture, whatever the scenario says. */
export type ReplayConfig = Omit<
  MachineConfig,
  'memory' | 'nodes' | 'reserved' | 'movable' | 'cma' | 'zeroPage' | 'deferredInit'
>;

export interface Replay {
  machine: Machine;
  notes: readonly string[];
  /** The model PFN of a captured PFN: the same PFN, or −1 in a hole (a section with no memmap). */
  pfnOf(capturedPfn: number): number;
  /** The capture's RAM as PFN ranges (the machine's memory map). */
  ram: readonly PfnRange[];
}

/** The capture's RAM: iomem's System RAM, else every section with a frame that has a memmap. */
export function captureRam(s: Snapshot | SnapshotInfo, c: Classification): PfnRange[] {
  if (s.companions.iomem !== undefined)
    return parseIomemRam(s.companions.iomem)
      .map((r) => ({ start: r.start, end: Math.min(r.end, c.nrPfns) }))
      .filter((r) => r.end > r.start);
  const out: PfnRange[] = [];
  for (let sec = 0; sec * PAGES_PER_SECTION < c.nrPfns; sec++) {
    const start = sec * PAGES_PER_SECTION;
    const end = Math.min(c.nrPfns, start + PAGES_PER_SECTION);
    let ram = false;
    for (let pfn = start; pfn < end && !ram; pfn++) ram = (c.frames[pfn] & ~TAIL) !== FRAME.HOLE;
    if (!ram) continue;
    const last = out[out.length - 1];
    if (last && last.end === start) last.end = end;
    else out.push({ start, end });
  }
  return out;
}

/**
 * The first PFN of the all-zero sections that end the capture's RAM (struct pages its kernel
 * never initialised), or Infinity. The first section of the highest zone always counts as
 * initialised, as defer_init() initialises it at boot.
 */
function uninitialisedFrom(c: Classification, ram: readonly PfnRange[]): number {
  const end = ram[ram.length - 1].end;
  if (end % PAGES_PER_SECTION !== 0) return Number.POSITIVE_INFINITY;
  let from = end;
  for (let sec = end / PAGES_PER_SECTION - 1; sec >= 0; sec--) {
    const base = sec * PAGES_PER_SECTION;
    if (base < ram[ram.length - 1].start) break;
    let zero = true;
    for (let pfn = base; pfn < base + PAGES_PER_SECTION && zero; pfn++)
      zero = c.frames[pfn] === FRAME.NOFLAGS;
    if (!zero) break;
    from = base;
  }
  return from === end ? Number.POSITIVE_INFINITY : from;
}

/** The capture's 4 KiB zero page (a lone ZERO frame), else its first reserved RAM frame. */
function captureZeroPfn(c: Classification, ram: readonly PfnRange[]): number {
  let reserved = -1;
  for (const r of ram)
    for (let pfn = r.start; pfn < r.end; pfn++) {
      const f = c.frames[pfn];
      if (f === FRAME.ZERO && c.frames[pfn + 1] !== (FRAME.ZERO | TAIL)) return pfn;
      if (f === FRAME.RESERVED && reserved < 0) reserved = pfn;
    }
  if (reserved < 0)
    throw new SnapshotError('replay: the capture has neither a zero page nor a reserved frame');
  return reserved;
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
  opts: { owners?: boolean | OwnerOptions } = {},
): Replay {
  const ram = captureRam(s, c);
  if (ram.length === 0) throw new SnapshotError('replay: the capture has no RAM');
  const uninit = uninitialisedFrom(c, ram);
  const zeroPfn = captureZeroPfn(c, ram);
  const m = new Machine({
    check: 'off',
    contents: false,
    ...config,
    memory: ram.map((r) => ({ start: r.start * PAGE_SIZE, size: (r.end - r.start) * PAGE_SIZE })),
    deferredInit: uninit !== Number.POSITIVE_INFINITY,
    // Only the zero page's frame is reserved at boot; everything else is placed below.
    reserved: [{ start: zeroPfn * PAGE_SIZE, size: PAGE_SIZE }],
    zeroPage: zeroPfn * PAGE_SIZE,
  });
  const k = m.kernel;
  const notes = [...REPLAY_NOTES];
  growTo(k, uninit, notes);
  const checkLevel = m.checkLevel;
  m.checkLevel = 'off';
  placeFrames(m, k, c, ram, Math.min(uninit, c.nrPfns));
  if (opts.owners) notes.push(...addSyntheticOwners(m, opts.owners === true ? {} : opts.owners).notes);
  m.checkLevel = checkLevel;
  if (s.companions.zoneinfo !== undefined)
    notes.push(...zoneMismatches(m, parseZoneinfo(s.companions.zoneinfo)));
  const pfnOf = (pfn: number) => (k.pa.memmap.pfnValid(pfn) ? pfn : -1);
  return { machine: m, notes, pfnOf, ram };
}

/** deferred_grow_zone() until the initialised memory ends where the capture's does. */
function growTo(k: Kernel, uninit: number, notes: string[]): void {
  const node = k.pa.nodes[0];
  const z = node.zones[node.zones.length - 1];
  while (node.firstDeferredPfn < uninit) if (!deferredGrowZone(k.pa, z, 0, k.pa.ram)) break;
  if (uninit !== Number.POSITIVE_INFINITY && node.firstDeferredPfn > uninit)
    notes.push(
      `the capture's uninitialised memory starts at pfn 0x${uninit.toString(16)}, below what boot initialises (0x${node.firstDeferredPfn.toString(16)}): the frames between are free`,
    );
}

/** The zones the model computed against the capture's zoneinfo: a note per difference. */
function zoneMismatches(m: Machine, captured: ReturnType<typeof parseZoneinfo>): string[] {
  const out: string[] = [];
  const model = m.zoneinfo();
  for (const cz of captured) {
    const z = model.find((mz) => mz.zone === cz.zone && mz.nid === cz.node);
    const got = z && [z.startPfn, z.spanned, z.present, z.managed].join('/');
    const want = [cz.startPfn, cz.spanned, cz.present, cz.managed].join('/');
    if (got !== want)
      out.push(
        `zone ${cz.zone}: start/spanned/present/managed ${got ?? 'absent'} here, ${want} in the capture's zoneinfo`,
      );
  }
  return out;
}

/** Walk the capture's RAM once, below `end`, and put every frame down at its PFN. */
function placeFrames(m: Machine, k: Kernel, c: Classification, ram: readonly PfnRange[], end: number): void {
  const { frames } = c;
  const caches = new Map<number, KmemCache>();
  // A run of frames put down as one type without a descriptor, closed at a type change, a zone
  // boundary or a section boundary.
  let runType = -1;
  let runAllocated = false;
  let runStart = 0;
  let runEnd = 0;
  const flush = () => {
    if (runType >= 0) {
      for (let p = runStart; p < runEnd; ) {
        const z = k.pa.zoneOf(p);
        const e = Math.min(runEnd, z.endPfn);
        allocContigTyped(k, p, e - p, runType as MemType, runAllocated);
        p = e;
      }
    }
    runType = -1;
  };
  const typed = (pfn: number, type: MemType, allocated = false) => {
    if (type === runType && allocated === runAllocated && pfn === runEnd && pfn % PAGES_PER_SECTION !== 0) {
      runEnd++;
      return;
    }
    flush();
    runType = type;
    runAllocated = allocated;
    runStart = pfn;
    runEnd = pfn + 1;
  };

  for (const r of ram) {
    const rEnd = Math.min(r.end, end);
    for (let pfn = r.start; pfn < rEnd; ) {
      const head = frames[pfn];
      const f = (head & ~TAIL) as Frame;
      let run = 1;
      while (pfn + run < rEnd && frames[pfn + run] === (f | TAIL)) run++;
      if (pfn === k.pa.zeroPfn) {
        // The model's zero page is already here (the capture's, reserved at boot).
        pfn += run;
        continue;
      }
      if (head & TAIL) {
        // A tail with no head of its own kind: torn.
        for (let i = 0; i < run; i++) typed(pfn + i, MT.RESERVED, true);
        pfn += run;
        continue;
      }
      const order = 31 - Math.clz32(run);
      const regular = run === 1 << order;
      if (AS_RESERVED.has(f) || (f === FRAME.ZERO && run === 1)) typed(pfn, MT.RESERVED);
      else if (AS_ALLOCATED.has(f)) typed(pfn, MT.RESERVED, true);
      else if (f === FRAME.OFFLINE) typed(pfn, MT.OFFLINE);
      else if (f === FRAME.HWPOISON) typed(pfn, MT.HWPOISON);
      else if (f === FRAME.FREE) flush();
      else {
        flush();
        // A compound run that is not a power of two (irregular) is put down page by page.
        const orders = regular ? [order] : new Array<number>(run).fill(0);
        let at = pfn;
        for (const o of orders) {
          placeObject(m, k, caches, f, at, o);
          at += 1 << o;
        }
      }
      pfn += run;
    }
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
