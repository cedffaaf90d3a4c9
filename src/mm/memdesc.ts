/**
 * Memory types, the 8-byte memdesc word and the sparse memory map.
 *
 * Models: the memdesc plan (kernelnewbies MatthewWilcox/Memdescs) — one
 * 64-bit word per page frame holding a 4-bit type plus either a descriptor pointer or inline
 * data — and SPARSEMEM's per-section memmap (mm/sparse.c), which here is allocated only when a
 * 128 MiB section first holds something other than free memory.
 *
 * The word is stored as two u32: `lo` = type (bits 0-3) | order (bits 4-7) | migratetype of a
 * free block (bits 8-10) | misc flags; `hi` = the descriptor's row in its pool (folio, slab,
 * ptdesc, scamem, buddy block). Every page of a multi-page object carries the same row, so
 * page_folio() is one load, as under memdescs.
 *
 * A present section without a memmap is entirely free: its 4 MiB-aligned pfns read as free
 * max-order buddy blocks and every other pfn as the tail of one. A section with no RAM is not
 * present (pfn_valid() is false, every pfn reads NONE); a deferred section (struct pages not
 * initialised yet, mm_init.ts) is present but reads NONE until the deferred init reaches it.
 * Leaves out: memory hotplug of partial sections; SPARSEMEM_VMEMMAP's virtual layout.
 */
import {
  MAX_PAGE_ORDER as MAX_PAGE_ORDER_IMPORT,
  PAGE_SHIFT as PAGE_SHIFT_IMPORT,
  PAGEBLOCK_PAGES as PAGEBLOCK_PAGES_IMPORT,
  PAGES_PER_SECTION as PAGES_PER_SECTION_IMPORT,
  SECTION_SHIFT as SECTION_SHIFT_IMPORT,
} from './types.js';

// Imports the hot paths read, as this module's own consts (why: docs/architecture.md).
const MAX_PAGE_ORDER = MAX_PAGE_ORDER_IMPORT;
const PAGE_SHIFT = PAGE_SHIFT_IMPORT;
const PAGEBLOCK_PAGES = PAGEBLOCK_PAGES_IMPORT;
const PAGES_PER_SECTION = PAGES_PER_SECTION_IMPORT;
const SECTION_SHIFT = SECTION_SHIFT_IMPORT;

/** Memory types: what a page frame is used for. Values fit the memdesc word's low 4 bits. */
export const MT = {
  /** No descriptor: a hole, or a tail page of a free buddy block. */
  NONE: 0,
  /** Head of a free buddy block (order and migratetype inline). */
  BUDDY: 1,
  ANON: 2,
  FILE: 3,
  SLAB: 4,
  LARGE_KMALLOC: 5,
  /** Page-table page (ptdesc). */
  PGTABLE: 6,
  /** vmalloc page, described by a scamem. */
  VMALLOC: 7,
  /** ZONE_DEVICE memory (memremap_pages). */
  DEVICE: 8,
  /** The shared zero page or the huge zero folio. */
  ZERO: 9,
  /** Memory the kernel owns from boot (firmware, kernel image). */
  RESERVED: 10,
  /** Offlined by a balloon or hot-unplug. */
  OFFLINE: 11,
  /** Taken out of use after a memory failure. */
  HWPOISON: 12,
  /** Allocated with alloc_pages() for a driver: no owner type (memdesc Misc "unknown"). */
  UNKNOWN: 13,
} as const;
export type MemType = (typeof MT)[keyof typeof MT];

export const MT_NAMES: readonly string[] = [
  'none',
  'buddy',
  'anon',
  'file',
  'slab',
  'large_kmalloc',
  'pgtable',
  'vmalloc',
  'device',
  'zero',
  'reserved',
  'offline',
  'hwpoison',
  'unknown',
];
export const NR_MEM_TYPES = MT_NAMES.length;

/** Parse a memory-type name (as printed) back to its value. */
export function memTypeByName(name: string): MemType | undefined {
  const i = MT_NAMES.indexOf(name);
  return i < 0 ? undefined : (i as MemType);
}

/**
 * A read-only set of memory types whose `has()` is a bit test: the folio paths ask it on every
 * allocation and free, and Set.prototype.has is a hash lookup (~10 ns).
 */
class MemTypeSet extends Set<number> {
  private readonly bits: number;

  constructor(types: readonly MemType[]) {
    super();
    let bits = 0;
    for (const t of types) {
      super.add(t);
      bits |= 1 << t;
    }
    this.bits = bits;
  }

  override has(t: number): boolean {
    // `(t & TYPE_MASK) === t` holds exactly for the integers 0..15, the only possible members.
    return (t & TYPE_MASK) === t && ((this.bits >>> t) & 1) === 1;
  }

  override add(): this {
    throw new TypeError('a memory-type set is read-only');
  }

  override delete(): boolean {
    throw new TypeError('a memory-type set is read-only');
  }

  override clear(): void {
    throw new TypeError('a memory-type set is read-only');
  }
}

/**
 * What a lookup of the folio row behind an entry or a pfn returns when there is no row to count
 * on: the one table of sentinels (rows are ≥ 0).
 * - SPECIAL: a special mapping — pfnmap, a mixed map's special entry, the zero pages, a frame with
 *   no descriptor (vm_normal_page() returns NULL);
 * - INVALID: the shared invalid descriptor of an unpopulated lazy device memmap (memremap.ts);
 * - VMALLOC: a vmalloc page, described by its scamem (vmalloc.ts), not by a folio.
 */
export const NO_ROW = { SPECIAL: -1, INVALID: -2, VMALLOC: -3 } as const;
export const SPECIAL_PAGE = NO_ROW.SPECIAL;
export const INVALID_PAGE = NO_ROW.INVALID;
export const VMALLOC_PAGE = NO_ROW.VMALLOC;

/** Types whose `hi` word is a row in the folio pool. */
export const FOLIO_TYPES: ReadonlySet<number> = new MemTypeSet([
  MT.ANON,
  MT.FILE,
  MT.LARGE_KMALLOC,
  MT.UNKNOWN,
  MT.DEVICE,
]);

/** Frames a hot loop may look up with folioRowInt(): those below 2^31, as int32 values. */
export const INT32_FRAMES = 2 ** 31;
/** A frame's section number from its frame number, for frames below INT32_FRAMES. */
export const PFN_SECTION_SHIFT = SECTION_SHIFT - PAGE_SHIFT;
/** A frame's pageblock index from its frame number, for frames below INT32_FRAMES. */
export const PAGEBLOCK_SHIFT = Math.log2(PAGEBLOCK_PAGES);

/**
 * pfn_to_section_nr(). Below INT32_FRAMES a shift, so the section number is an int32 from the
 * start: an index that comes out of a float division costs several times an integer one here.
 */
export const pfnToSection = (pfn: number): number =>
  pfn < INT32_FRAMES ? pfn >> PFN_SECTION_SHIFT : Math.floor(pfn / PAGES_PER_SECTION);

/** pfn_to_pageblock index (the pageblock bitmap's word), as pfnToSection() computes it. */
export const pfnToPageblock = (pfn: number): number =>
  pfn < INT32_FRAMES ? pfn >> PAGEBLOCK_SHIFT : Math.floor(pfn / PAGEBLOCK_PAGES);

/** FOLIO_TYPES as a bit mask over type values. */
const FOLIO_TYPE_BITS = [...FOLIO_TYPES].reduce((m, t) => m | (1 << t), 0);

/** FOLIO_TYPES.has(type) as one shift and mask (no hash lookup on the allocation path). */
export const isFolioType = (type: number): boolean =>
  type >= 0 && type < 32 && ((FOLIO_TYPE_BITS >>> type) & 1) === 1;

// Word layout helpers (lo word).
export const TYPE_MASK = 0xf;
export const ORDER_SHIFT = 4;
export const MIGRATETYPE_SHIFT = 8;

export const mdType = (lo: number): MemType => (lo & TYPE_MASK) as MemType;
export const mdOrder = (lo: number): number => (lo >>> ORDER_SHIFT) & 0xf;
export const mdMigratetype = (lo: number): number => (lo >>> MIGRATETYPE_SHIFT) & 0x7;
export const mdWord = (type: MemType, order = 0, migratetype = 0): number =>
  type | (order << ORDER_SHIFT) | (migratetype << MIGRATETYPE_SHIFT);
/**
 * The `lo` word of every frame of a small (order-0) anon folio, KSM or not: a loop that reads it
 * knows the type and the order without the folio's columns (the memmap check holds the two to agree).
 */
export const SMALL_ANON_WORD = mdWord(MT.ANON, 0);

const MAX_ORDER_PAGES = 1 << MAX_PAGE_ORDER;
const SECTION_PRESENT = 1;
const SECTION_DEFERRED = 2;
const SECTION_WORDS = PAGES_PER_SECTION * 2;

/**
 * The memory map: one 8-byte memdesc per page frame, stored per section and allocated lazily.
 */
export class MemMap {
  private readonly sections: (Uint32Array | undefined)[];
  /** Per section: 0 no RAM (no memmap), PRESENT, or DEFERRED (memmap not initialised yet). */
  private readonly present: Uint8Array;
  /**
   * The memmap of the last section given back, kept for the next section to come online, so a
   * section that empties and fills again (a common pattern) does not allocate and zero 256 KiB
   * each time. Not counted in hostBytes(): it stands for memory the kernel has freed.
   */
  private spare: Uint32Array | undefined;
  /** Sections that currently have a memmap. */
  populatedSections = 0;
  /**
   * The folio row of a frame above RAM (ZONE_DEVICE memory, src/mm/memremap.ts), or -1. Device
   * ranges keep their own per-chunk descriptor arrays, so only this miss path consults them and
   * RAM lookups cost nothing more.
   */
  beyondRam: ((pfn: number) => number) | null = null;

  /**
   * @param pageblockMt the migratetype of every pageblock (owned by the page allocator): the free
   *   blocks of an unpopulated section read with their pageblock's type.
   */
  constructor(
    readonly maxPfn: number,
    private readonly pageblockMt: Uint8Array,
  ) {
    const n = Math.ceil(maxPfn / PAGES_PER_SECTION);
    this.sections = new Array(n).fill(undefined);
    this.present = new Uint8Array(n);
  }

  static sectionOf(pfn: number): number {
    return pfnToSection(pfn);
  }

  get nrSections(): number {
    return this.sections.length;
  }

  /** Mark a section as holding RAM with its struct pages initialised; its memmap may still be unallocated. */
  setPresent(section: number): void {
    this.present[section] = SECTION_PRESENT;
  }

  /** A section of RAM whose struct pages the deferred init has not reached (mm_init.ts). */
  setDeferred(section: number): void {
    this.present[section] = SECTION_DEFERRED;
  }

  /** Frames with a memmap (present sections), holes inside them included. */
  get memmapPages(): number {
    let n = 0;
    for (let s = 0; s < this.present.length; s++) if (this.present[s] !== 0) n += PAGES_PER_SECTION;
    return n;
  }

  /** The section has RAM, so a memmap (initialised or not). */
  isPresentSection(section: number): boolean {
    return this.present[section] !== 0;
  }

  isDeferredSection(section: number): boolean {
    return this.present[section] === SECTION_DEFERRED;
  }

  /** pfn_valid(): the frame's section has a memmap (SPARSEMEM: a section holding RAM). */
  pfnValid(pfn: number): boolean {
    return pfn >= 0 && pfn < this.maxPfn && this.present[pfnToSection(pfn)] !== 0;
  }

  isPopulated(section: number): boolean {
    return this.sections[section] !== undefined;
  }

  /**
   * Allocate a section's memmap. The section must be entirely free at this moment, so every
   * max-order block head is written as a free block; the caller then carves what it needs.
   */
  populate(section: number): Uint32Array {
    let s = this.sections[section];
    if (s) return s;
    // A spare memmap belonged to an entirely free section: every word but its max-order heads is
    // already zero (free tail frames are NONE/0 — the `full` invariants check it), and the heads
    // are written below, so it reads exactly like a new one.
    s = this.spare ?? new Uint32Array(SECTION_WORDS);
    this.spare = undefined;
    const firstBlock = section * (PAGES_PER_SECTION / MAX_ORDER_PAGES);
    for (let off = 0, b = firstBlock; off < PAGES_PER_SECTION; off += MAX_ORDER_PAGES, b++) {
      s[off * 2] = this.freeHeadWord(section * PAGES_PER_SECTION + off);
      s[off * 2 + 1] = b;
    }
    this.sections[section] = s;
    this.populatedSections++;
    return s;
  }

  /** Drop a section's memmap again; the caller guarantees it is entirely free. */
  depopulate(section: number): void {
    const s = this.sections[section];
    if (s) {
      this.spare = s;
      this.sections[section] = undefined;
      this.populatedSections--;
    }
  }

  /** The `lo` word of a frame. Unpopulated sections read as free max-order blocks. */
  lo(pfn: number): number {
    const sec = pfnToSection(pfn);
    const s = this.sections[sec];
    if (s) return s[((pfn - sec * PAGES_PER_SECTION) | 0) << 1];
    if (pfn < 0 || pfn >= this.maxPfn || this.present[sec] !== SECTION_PRESENT) return MT.NONE;
    return pfn % MAX_ORDER_PAGES === 0 ? this.freeHeadWord(pfn) : MT.NONE;
  }

  private freeHeadWord(pfn: number): number {
    return mdWord(MT.BUDDY, MAX_PAGE_ORDER, this.pageblockMt[pfnToPageblock(pfn)]);
  }

  /**
   * The folio row of a frame in one section lookup: its `hi` word when its type keeps a folio
   * (FOLIO_TYPES), else -1. The hottest lookup of faults, GUP and zap.
   */
  folioRow(pfn: number): number {
    const sec = pfnToSection(pfn);
    const s = this.sections[sec];
    if (!s) return pfn >= this.maxPfn && this.beyondRam !== null ? this.beyondRam(pfn) : -1;
    const i = ((pfn - sec * PAGES_PER_SECTION) | 0) << 1;
    return (FOLIO_TYPE_BITS >>> (s[i] & TYPE_MASK)) & 1 ? s[i + 1] : -1;
  }

  /**
   * folioRow() of a frame below INT32_FRAMES, in integer arithmetic (shifts and masks, no float
   * division): for hot loops that have checked the bound. Beyond RAM there is no folio here.
   */
  folioRowInt(pfn: number): number {
    const s = this.sections[pfn >> (SECTION_SHIFT - PAGE_SHIFT)];
    if (!s) return pfn >= this.maxPfn && this.beyondRam !== null ? this.beyondRam(pfn) : -1;
    const i = (pfn & (PAGES_PER_SECTION - 1)) << 1;
    return (FOLIO_TYPE_BITS >>> (s[i]! & TYPE_MASK)) & 1 ? s[i + 1]! : -1;
  }

  /**
   * The word pairs of one section (frame `pfn` of it at `(pfn & (PAGES_PER_SECTION - 1)) * 2`),
   * or undefined where it has no memmap: for loops over consecutive frames that look the section
   * up once, not once per frame.
   */
  sectionWords(section: number): Uint32Array | undefined {
    return this.sections[section];
  }

  /** The `hi` word (descriptor row) of a frame. */
  hi(pfn: number): number {
    const sec = pfnToSection(pfn);
    const s = this.sections[sec];
    if (s) return s[(((pfn - sec * PAGES_PER_SECTION) | 0) << 1) + 1];
    return pfn % MAX_ORDER_PAGES === 0 && this.present[sec] === SECTION_PRESENT ? pfn / MAX_ORDER_PAGES : 0;
  }

  type(pfn: number): MemType {
    return (this.lo(pfn) & TYPE_MASK) as MemType;
  }

  /** Write one frame's word; the section must be populated. */
  set(pfn: number, lo: number, hi: number): void {
    const sec = pfnToSection(pfn);
    const s = this.sections[sec]!;
    const i = ((pfn - sec * PAGES_PER_SECTION) | 0) << 1;
    s[i] = lo;
    s[i + 1] = hi;
  }

  /** set() of a frame below INT32_FRAMES, in integer arithmetic (the order-0 fast paths). */
  setInt(pfn: number, lo: number, hi: number): void {
    const s = this.sections[pfn >> PFN_SECTION_SHIFT]!;
    const i = (pfn & (PAGES_PER_SECTION - 1)) << 1;
    s[i] = lo;
    s[i + 1] = hi;
  }

  /** Write one frame's word if its section has a memmap; returns whether it had one. */
  setIfPopulated(pfn: number, lo: number, hi: number): boolean {
    const sec = pfnToSection(pfn);
    const s = this.sections[sec];
    if (s === undefined) return false;
    const i = ((pfn - sec * PAGES_PER_SECTION) | 0) << 1;
    s[i] = lo;
    s[i + 1] = hi;
    return true;
  }

  /** Write the same word to `n` consecutive frames inside one section. */
  setRange(pfn: number, n: number, lo: number, hi: number): void {
    const sec = pfnToSection(pfn);
    const s = this.sections[sec]!;
    let i = ((pfn - sec * PAGES_PER_SECTION) | 0) << 1;
    const end = i + (n << 1);
    if (lo === 0 && hi === 0 && n > 8) {
      s.fill(0, i, end);
      return;
    }
    for (; i < end; i += 2) {
      s[i] = lo;
      s[i + 1] = hi;
    }
  }

  /** Host bytes the populated memmap takes. */
  hostBytes(): number {
    return (
      this.populatedSections * PAGES_PER_SECTION * 8 + this.present.byteLength + this.sections.length * 8
    );
  }
}
