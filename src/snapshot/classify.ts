/**
 * What every frame of a capture is: one pass over kpageflags that types each PFN, groups
 * compound pages into objects (folio heads and tails with their order, slabs, kernel compound
 * allocations), splits free memory into buddy blocks, and counts descriptors.
 *
 * Kernel files: fs/proc/page.c (stable_page_flags(): which bits mean what, and which come from
 * the folio rather than the page), include/linux/page-flags.h (page types: slab, pgtable, buddy
 * and offline are types, not folio flags), mm/page_alloc.c (buddy blocks are naturally aligned
 * powers of two up to MAX_PAGE_ORDER; is_free_buddy_page() is why every page of a free block
 * reads BUDDY, not only the head).
 *
 * Rules, in the order they are tested (the first that matches wins):
 * 1. NOPAGE, or a PFN in a section with no RAM (iomem) → hole (no memmap).
 * 2. HWPOISON → hwpoison. 3. SLAB → slab: slab pages reuse the mapping word that carries the
 *    ANON/KSM bits, so SLAB must be tested before them. 4. PGTABLE. 5. BUDDY → free.
 * 6. OFFLINE. 7. ZERO_PAGE → zero (the 4 KiB zero page, or with THP the huge zero folio).
 * 8. HUGE → hugetlb. 9. compound without THP → a kernel compound allocation, not a folio
 *    (__GFP_COMP pages, large kmalloc). 10. RESERVED → reserved (firmware, kernel image; some,
 *    like the vDSO, are mapped). 11. no bit at all → no flags: never initialised (deferred
 *    struct page init) or an untyped kernel page (vmalloc, stacks, page_frag) — the flags cannot
 *    tell which. 12. ANON → anon (KSM if KSM). 13. SWAPBACKED → shmem/tmpfs. 14. else → file.
 * A tail (COMPOUND_TAIL) joins the open head when it types the same; a tail with no such head
 * (the capture is not atomic: a folio may split while it is read) is counted as torn.
 * A large folio's order is log2 of its run; THP is the PMD order, mTHP any other.
 */
import { type BuddyInfo, memmapSections, parseIomemRam, SECTION_PFNS } from './companions.js';
import { HI, KPF, LO } from './kpageflags.js';
import type { Snapshot } from './read.js';

export const FRAME = {
  HOLE: 0,
  NOFLAGS: 1,
  RESERVED: 2,
  FREE: 3,
  SLAB: 4,
  PGTABLE: 5,
  ZERO: 6,
  HUGETLB: 7,
  ANON: 8,
  KSM: 9,
  FILE: 10,
  SHMEM: 11,
  KERNEL_COMPOUND: 12,
  OFFLINE: 13,
  HWPOISON: 14,
  TORN: 15,
} as const;
export type Frame = (typeof FRAME)[keyof typeof FRAME];

export const FRAME_NAMES: readonly string[] = [
  'hole',
  'no-flags',
  'reserved',
  'free',
  'slab',
  'pgtable',
  'zero',
  'hugetlb',
  'anon',
  'ksm',
  'file',
  'shmem',
  'kernel-compound',
  'offline',
  'hwpoison',
  'torn',
];
export const NR_FRAMES = FRAME_NAMES.length;
/** Orders an object can have: a run of up to 2^31 frames rounds up to order 32. */
const OBJECT_ORDERS = 33;
/** One letter per frame type for the PFN-range map. */
export const FRAME_LETTERS = ' .rFSgzhaxfsko!?';

/** Frame types whose objects are folios (a folio descriptor under memdescs). */
export const FOLIO_FRAMES: readonly Frame[] = [
  FRAME.ANON,
  FRAME.KSM,
  FRAME.FILE,
  FRAME.SHMEM,
  FRAME.HUGETLB,
  FRAME.ZERO,
];

/** Frame types whose pages make up objects that are counted (folios, slabs, ptdescs, compound pages). */
const IS_OBJECT: readonly boolean[] = FRAME_NAMES.map(
  (_, f) =>
    (FOLIO_FRAMES as readonly number[]).includes(f) ||
    f === FRAME.SLAB ||
    f === FRAME.PGTABLE ||
    f === FRAME.KERNEL_COMPOUND,
);

/** Set in `frames[pfn]` for a tail page of a large object. */
export const TAIL = 0x80;
export const MAX_PAGE_ORDER = 10;
/** HPAGE_PMD_ORDER with 4 KiB pages. */
export const PMD_ORDER = 9;

export interface Classification {
  nrPfns: number;
  /** FRAME value per PFN, | TAIL on tail pages. */
  frames: Uint8Array;
  /** Pages per frame type. */
  pages: Float64Array;
  /** Objects (folios, slabs, ptdescs, compound allocations, 4 KiB pages) per frame type and order: key `${frame}:${order}`. */
  objects: Map<string, number>;
  /** Free buddy blocks per order (inferred: maximal aligned blocks within each free run). */
  freeBlocks: number[];
  /** Sum of kpagecount over KSM pages (0 without kpagecount). */
  ksmMapcount: number;
  /** PFNs that have a memmap (present sections with RAM per iomem; all but NOPAGE without it). */
  memmapPfns: number;
  /** Whether iomem told holes from RAM. */
  usedIomem: boolean;
  /** Tails with no matching head; compound runs whose length is not a power of two. */
  torn: number;
  irregular: number;
}

const B = LO;
const HEAD = B(KPF.COMPOUND_HEAD);
const TAILBIT = B(KPF.COMPOUND_TAIL);
const RESERVED_HI = HI(KPF.RESERVED);

/** Rules 2–14 of the header for one word (rule 1 needs the PFN and is the caller's). */
export function frameOf(lo: number, hi: number): Frame {
  if (lo & B(KPF.NOPAGE)) return FRAME.HOLE;
  if (lo & B(KPF.HWPOISON)) return FRAME.HWPOISON;
  if (lo & B(KPF.SLAB)) return FRAME.SLAB;
  if (lo & B(KPF.PGTABLE)) return FRAME.PGTABLE;
  if (lo & B(KPF.BUDDY)) return FRAME.FREE;
  if (lo & B(KPF.OFFLINE)) return FRAME.OFFLINE;
  if (lo & B(KPF.ZERO_PAGE)) return FRAME.ZERO;
  if (lo & B(KPF.HUGE)) return FRAME.HUGETLB;
  if (lo & (HEAD | TAILBIT) && !(lo & B(KPF.THP))) return FRAME.KERNEL_COMPOUND;
  if (hi & RESERVED_HI) return FRAME.RESERVED;
  if (lo === 0 && hi === 0) return FRAME.NOFLAGS;
  if (lo & B(KPF.ANON)) return lo & B(KPF.KSM) ? FRAME.KSM : FRAME.ANON;
  if (lo & B(KPF.SWAPBACKED)) return FRAME.SHMEM;
  return FRAME.FILE;
}

/** Classify every PFN of a capture held in memory (see the header for the rules). */
export function classify(s: Snapshot): Classification {
  const c = new Classifier(s.companions.iomem, s.nrPfns);
  c.push(s.flagsLo, s.flagsHi, 0, 0, 1, s.nrPfns);
  if (s.mapcount) c.pushCounts(s.mapcount, 0, 1, s.nrPfns, 0);
  return c.finish();
}

/**
 * The classification as a stream: kpageflags entries pushed in PFN order, chunk by chunk, then
 * (optionally) kpagecount entries, which only the KSM total reads. What stays per PFN is the one
 * frame byte; everything else is counters, so a capture is classified in 1 byte per PFN.
 */
export class Classifier {
  private frames: Uint8Array;
  private n = 0;
  private readonly pages = new Float64Array(NR_FRAMES);
  /** Objects by frame × order (index frame * OBJECT_ORDERS + order), and the indices in first-seen order. */
  private readonly objectCounts = new Float64Array(NR_FRAMES * OBJECT_ORDERS);
  private readonly objectsSeen: number[] = [];
  private readonly freeBlocks = new Array<number>(MAX_PAGE_ORDER + 1).fill(0);
  private readonly iomem: string | undefined;
  private sections: Uint8Array | null = null;
  private ksmMapcount = 0;
  private memmapPfns = 0;
  private torn = 0;
  private irregular = 0;
  // State carried across chunks: the open compound head, the open free run, the last word.
  private headFrame = -1;
  private run = 0;
  private freeStart = -1;
  private prevLo = -1;
  private prevHi = -1;
  private prevFrame: Frame = FRAME.NOFLAGS;
  /** The final frame of the last PFN when it was a lone frame of word prevLo/prevHi, else −1. */
  private simple = -1;

  /** `iomem`: the /proc/iomem text, if any (holes); `expected`: a size hint in PFNs. */
  constructor(iomem?: string, expected = 0) {
    this.iomem = iomem;
    this.frames = new Uint8Array(Math.max(1 << 16, expected));
  }

  /** Sections holding System RAM per iomem (1), computed once; beyond its end there is none. */
  private sectionsOnce(): Uint8Array | null {
    if (this.iomem === undefined) return null;
    if (this.sections === null) {
      const ram = parseIomemRam(this.iomem);
      this.sections = memmapSections(ram, Math.max(...ram.map((r) => r.end)));
    }
    return this.sections;
  }

  /**
   * The next `count` kpageflags entries: entry i has bits 0–31 at `lo[loOff + i * stride]` and
   * 32–63 at `hi[hiOff + i * stride]` (stride 1: two columns; stride 2: the raw u64 words).
   */
  push(lo: Uint32Array, hi: Uint32Array, loOff: number, hiOff: number, stride: number, count: number): void {
    const first = this.n;
    const end = first + count;
    if (end > this.frames.length) {
      const f = new Uint8Array(Math.max(end, this.frames.length * 2));
      f.set(this.frames.subarray(0, first));
      this.frames = f;
    }
    const frames = this.frames;
    const pages = this.pages;
    const sections = this.sectionsOnce();
    let { headFrame, run, freeStart, prevLo, prevHi, prevFrame, memmapPfns, torn } = this;
    let simple = this.simple;
    for (let pfn = first, i = 0; pfn < end; pfn++, i += stride) {
      const l = lo[loOff + i];
      const h = hi[hiOff + i];
      // Fast path: the word of the previous PFN again, and that PFN was a lone frame (no head,
      // tail or object) in the same section: nothing opens or closes, only counts move.
      if (l === prevLo && h === prevHi && simple >= 0 && pfn % SECTION_PFNS !== 0) {
        frames[pfn] = simple;
        pages[simple]++;
        if (simple !== FRAME.HOLE) memmapPfns++;
        continue;
      }
      let f: Frame;
      if (l === prevLo && h === prevHi) f = prevFrame;
      else {
        f = frameOf(l, h);
        prevLo = l;
        prevHi = h;
        prevFrame = f;
      }
      if (sections !== null && f === FRAME.NOFLAGS && sections[(pfn / SECTION_PFNS) | 0] !== 1)
        f = FRAME.HOLE;
      simple = l & (HEAD | TAILBIT) || IS_OBJECT[f] ? -1 : f;
      if (f !== FRAME.HOLE) memmapPfns++;
      pages[f]++;

      if (f === FRAME.FREE) {
        if (freeStart < 0) freeStart = pfn;
      } else if (freeStart >= 0) {
        splitBuddyRun(freeStart, pfn, this.freeBlocks);
        freeStart = -1;
      }

      if (l & TAILBIT) {
        if (headFrame === f) {
          frames[pfn] = f | TAIL;
          run++;
          continue;
        }
        if (headFrame >= 0) this.closeHead(headFrame, run);
        headFrame = -1;
        // A tail of a free or torn-down object reads as that type's tail; one with no head of
        // its own type means the folio changed while the capture was taken.
        pages[f]--;
        pages[FRAME.TORN]++;
        frames[pfn] = FRAME.TORN | TAIL;
        torn++;
        continue;
      }
      if (headFrame >= 0) this.closeHead(headFrame, run);
      headFrame = -1;
      frames[pfn] = f;
      if (l & HEAD) {
        headFrame = f;
        run = 1;
      } else if (IS_OBJECT[f]) this.addObject(f, 0);
    }
    this.headFrame = headFrame;
    this.run = run;
    this.freeStart = freeStart;
    this.prevLo = prevLo;
    this.prevHi = prevHi;
    this.prevFrame = prevFrame;
    this.memmapPfns = memmapPfns;
    this.torn = torn;
    this.simple = simple;
    this.n = end;
  }

  /**
   * kpagecount entries for PFNs `firstPfn`.. (after their kpageflags were pushed): entry i at
   * `words[off + i * stride]`. Only KSM pages' counts are kept (their sum).
   */
  pushCounts(words: Uint32Array, off: number, stride: number, count: number, firstPfn: number): void {
    const frames = this.frames;
    const end = Math.min(firstPfn + count, this.n);
    let sum = 0;
    for (let pfn = firstPfn, i = off; pfn < end; pfn++, i += stride)
      if ((frames[pfn] & ~TAIL) === FRAME.KSM) sum += words[i];
    this.ksmMapcount += sum;
  }

  /**
   * kpagecount as the raw u64 words of a stream (entry i: `words[2i]` low, `words[2i + 1]` high)
   * for PFNs `firstPfn`..: what pushCounts() takes, with a negative count (the kernel's count is
   * an int, so only it sets the high half) saturated to 0xffffffff as read.ts saturates it.
   * Returns how many entries saturated.
   */
  pushCountWords(words: Uint32Array, count: number, firstPfn: number): number {
    const frames = this.frames;
    const end = Math.min(firstPfn + count, this.n);
    let sum = 0;
    let saturated = 0;
    let i = 0;
    for (let pfn = firstPfn; pfn < end; pfn++, i += 2) {
      const hi = words[i + 1];
      if (hi !== 0) saturated++;
      if ((frames[pfn] & ~TAIL) === FRAME.KSM) sum += hi === 0 ? words[i] : 0xffffffff;
    }
    // Entries past the kpageflags PFNs (a mismatch the caller reports) still count as saturated.
    for (; i < 2 * count; i += 2) if (words[i + 1] !== 0) saturated++;
    this.ksmMapcount += sum;
    return saturated;
  }

  /** PFNs pushed so far. */
  get length(): number {
    return this.n;
  }

  // A count per frame and order, not a Map keyed by a string built per object: the capture holds
  // millions of objects and a handful of distinct keys. The Map is built once, in finish().
  private addObject(frame: number, order: number): void {
    const k = frame * OBJECT_ORDERS + order;
    if (this.objectCounts[k]++ === 0) this.objectsSeen.push(k);
  }

  private closeHead(frame: number, run: number): void {
    const order = 31 - Math.clz32(run);
    if (run !== 1 << order) this.irregular++;
    this.addObject(frame, run === 1 << order ? order : order + 1);
  }

  /** Close the open runs and return the classification. */
  finish(): Classification {
    const n = this.n;
    if (this.headFrame >= 0) this.closeHead(this.headFrame, this.run);
    this.headFrame = -1;
    if (this.freeStart >= 0) splitBuddyRun(this.freeStart, n, this.freeBlocks);
    this.freeStart = -1;
    const usedIomem = this.iomem !== undefined;
    return {
      nrPfns: n,
      frames: this.frames.subarray(0, n),
      pages: this.pages,
      objects: new Map(
        this.objectsSeen.map((k) => [
          `${Math.floor(k / OBJECT_ORDERS)}:${k % OBJECT_ORDERS}`,
          this.objectCounts[k],
        ]),
      ),
      freeBlocks: this.freeBlocks,
      ksmMapcount: this.ksmMapcount,
      memmapPfns: usedIomem ? this.memmapPfns : n - this.pages[FRAME.HOLE],
      usedIomem,
      torn: this.torn,
      irregular: this.irregular,
    };
  }
}

/**
 * A run of free PFNs as the buddy allocator holds it: at each PFN the largest naturally aligned
 * block (≤ MAX_PAGE_ORDER) that fits. Two free buddies of one order would have merged
 * (__free_one_page()), so this is the only decomposition a consistent allocator can be in.
 */
export function splitBuddyRun(start: number, end: number, blocks: number[]): void {
  let pfn = start;
  while (pfn < end) {
    let order = Math.min(MAX_PAGE_ORDER, pfn === 0 ? MAX_PAGE_ORDER : 31 - Math.clz32(pfn & -pfn));
    while (pfn + (1 << order) > end) order--;
    blocks[order]++;
    pfn += 1 << order;
  }
}

/** Objects of one frame type, summed over orders; `large` counts order > 0 only. */
export function objectCount(c: Classification, frame: Frame, large = false): number {
  let total = 0;
  for (const [key, v] of c.objects) {
    const [f, order] = key.split(':').map(Number);
    if (f === frame && (!large || order > 0)) total += v;
  }
  return total;
}

/** Totals the README of a capture quotes. */
export function folioTotals(c: Classification): { folios: number; large: number } {
  let folios = 0;
  let large = 0;
  for (const f of FOLIO_FRAMES) {
    folios += objectCount(c, f);
    large += objectCount(c, f, true);
  }
  return { folios, large };
}

/** Free blocks per order as buddyinfo prints them, summed over zones (for the cross-check). */
export function buddyinfoTotals(rows: BuddyInfo[]): number[] {
  const out = new Array<number>(MAX_PAGE_ORDER + 1).fill(0);
  for (const r of rows) for (let o = 0; o < r.free.length && o < out.length; o++) out[o] += r.free[o];
  return out;
}
