/**
 * Page-table pages: ptdesc descriptors and their 512-entry tables.
 *
 * Models: struct ptdesc (include/linux/mm_types.h), pagetable_alloc / pagetable_free and the
 * pagetable_*_ctor/dtor accounting (include/linux/mm.h, NR_PAGETABLE). Each ptdesc row owns one
 * 512-entry block of a shared Float64Array: the table's entries are exactly what the hardware
 * page would hold (8 bytes each), so a table costs 4 KiB of host memory like the page it models.
 * The walk, PTE encoding and the levels' use come with the virtual-memory layer.
 * Leaves out: split page-table locks (the model is single-threaded), PMD sharing for hugetlb.
 */

import { MT, mdWord } from './memdesc.js';
import { GFP_KERNEL } from './mmzone.js';
import type { PageAlloc } from './page_alloc.js';
import { freeFrozenPages } from './pcp.js';
import { grown, HandlePool } from './pool.js';
import { KernelBug, mod } from './types.js';
import type { VmStat } from './vmstat.js';

export const PTRS_PER_TABLE = 512;

/** Page-table levels, leaf first (as pte, pmd, pud, p4d/pgd on 4-level x86-64). */
export const PT_LEVEL = { PTE: 1, PMD: 2, PUD: 3, PGD: 4 } as const;
export const PT_LEVEL_NAMES = ['', 'pte', 'pmd', 'pud', 'pgd'] as const;

export class PtdescPool extends HandlePool {
  pfn = new Float64Array(64);
  level = new Uint8Array(64);
  /** Owning address space (pt_mm), 0 if none. */
  mm = new Int32Array(64);
  /** Entries in use (non-zero) in this table. */
  used = new Int32Array(64);
  /** The tables themselves: row r owns entries [r*512, r*512+512). */
  entries = new Float64Array(64 * PTRS_PER_TABLE);

  constructor(
    private readonly pa: PageAlloc,
    private readonly stat: VmStat,
  ) {
    super('ptdesc');
  }

  protected growFields(n: number): void {
    this.pfn = grown(this.pfn, n);
    this.level = grown(this.level, n);
    this.mm = grown(this.mm, n);
    this.used = grown(this.used, n);
    this.entries = grown(this.entries, n * PTRS_PER_TABLE);
  }

  hostBytes(): number {
    return (
      this.baseHostBytes() +
      this.pfn.byteLength +
      this.level.byteLength +
      this.mm.byteLength +
      this.used.byteLength +
      this.entries.byteLength
    );
  }

  /** pagetable_alloc() + ctor: a zeroed table page for `level`, owned by `mm`. ENOMEM if none. */
  alloc(level: number, mm: number, nid = 0): number {
    return this.install(this.pa.rmqueue(0, GFP_KERNEL, nid), level, mm);
  }

  /** The ptdesc of a table on a frame the caller took off the free lists (alloc_contig.ts). */
  install(pfn: number, level: number, mm: number): number {
    const row = this.allocRow();
    this.pfn[row] = pfn;
    this.level[row] = level;
    this.mm[row] = mm;
    this.used[row] = 0;
    this.entries.fill(0, row * PTRS_PER_TABLE, (row + 1) * PTRS_PER_TABLE);
    this.pa.memmap.set(pfn, mdWord(MT.PGTABLE), row);
    this.stat.retype(MT.BUDDY, MT.PGTABLE, 1);
    this.stat.events.pgtable_alloc++;
    return this.handleOf(row);
  }

  /** pagetable_dtor() + pagetable_free(). The caller has emptied the table. */
  free(h: number): void {
    const row = this.row(h);
    const pfn = this.pfn[row];
    if (this.used[row] !== 0) {
      throw new KernelBug(`freeing a page table with ${this.used[row]} entries in use`, {
        pfn,
        rule: 'pagetable_free: table not empty',
      });
    }
    this.stat.retype(MT.PGTABLE, MT.BUDDY, 1);
    this.freeRow(row);
    freeFrozenPages(this.pa, pfn, 0);
    this.stat.events.pgtable_free++;
  }

  /** Read entry `i` of table `row`. */
  get(row: number, i: number): number {
    return this.entries[row * PTRS_PER_TABLE + i];
  }

  /** Write entry `i` of table `row`, keeping the count of used entries. */
  set(row: number, i: number, e: number): void {
    const k = row * PTRS_PER_TABLE + i;
    const old = this.entries[k];
    if (old === 0 && e !== 0) this.used[row]++;
    else if (old !== 0 && e === 0) this.used[row]--;
    this.entries[k] = e;
    this.touched.add(row);
  }

  /**
   * The table of `level` covering `addr` under the PGD `pgd`, or -1 when a level on the way is
   * empty (or, below PMD level, when the PMD maps a huge page). With `alloc`, missing tables are
   * allocated (__pte_alloc, __pmd_alloc, __pud_alloc); ENOMEM propagates with nothing changed
   * but the tables already present.
   */
  tableFor(pgd: number, addr: number, level: number, alloc: boolean): number {
    let row = pgd;
    for (let l: number = PT_LEVEL.PGD; l > level; l--) {
      const i = levelIndex(addr, l);
      const e = this.entries[row * PTRS_PER_TABLE + i];
      if (e === 0) {
        if (!alloc) return -1;
        const child = this.alloc(l - 1, this.mm[row]) >>> 0;
        this.set(row, i, mkEntry(child, TABLE_BITS));
        row = child;
      } else {
        if (mod(e, ENTRY_UNIT) & PTE.HUGE) return -1;
        row = Math.floor(e / ENTRY_UNIT);
      }
    }
    return row;
  }

  /** Level of the entry the last leafSlot() call found (PTE or PMD). */
  leafLevel = 0;

  /**
   * The flat index in `entries` of the leaf entry for `addr` — a PTE, or a PMD that maps a huge
   * page — or -1 when a table on the way is missing. The MMU's walk, without allocating.
   */
  leafSlot(pgd: number, addr: number): number {
    // One division splits the address into int32 halves (bits 30 up: the PGD and PUD indices;
    // bits 0-29: PMD and PTE), and the four indices are shifts of those: the MMU's walk runs on
    // every user access, and a float division per level was most of its time.
    const hi = Math.floor(addr / 2 ** 30);
    const lo = addr - hi * 2 ** 30;
    const ents = this.entries;
    let e = ents[pgd * PTRS_PER_TABLE + ((hi >>> 9) & 511)];
    if (e === 0) return -1;
    e = ents[Math.floor(e / ENTRY_UNIT) * PTRS_PER_TABLE + (hi & 511)];
    if (e === 0) return -1;
    const k = Math.floor(e / ENTRY_UNIT) * PTRS_PER_TABLE + (lo >>> 21);
    e = ents[k];
    if (e === 0) return -1;
    const row = Math.floor(e / ENTRY_UNIT);
    if ((e - row * ENTRY_UNIT) & PTE.HUGE) {
      this.leafLevel = 2;
      return k;
    }
    this.leafLevel = 1;
    return row * PTRS_PER_TABLE + ((lo >>> 12) & 511);
  }

  /**
   * The PTE table under PMD entry `i` of table `pmdRow`, allocated if absent (__pte_alloc).
   * The PMD must not map a huge page.
   */
  pteTableAt(pmdRow: number, i: number): number {
    const e = this.entries[pmdRow * PTRS_PER_TABLE + i];
    if (e !== 0) return Math.floor(e / ENTRY_UNIT);
    const child = this.alloc(PT_LEVEL.PTE, this.mm[pmdRow]) >>> 0;
    this.set(pmdRow, i, mkEntry(child, TABLE_BITS));
    return child;
  }

  /** Every level's entry for `addr`, top-down, stopping at an empty or leaf entry. */
  walk(pgd: number, addr: number): WalkLevel[] {
    const out: WalkLevel[] = [];
    let row = pgd;
    for (let l: number = PT_LEVEL.PGD; l >= PT_LEVEL.PTE; l--) {
      const index = levelIndex(addr, l);
      const entry = this.get(row, index);
      out.push({ level: l, table: row, index, entry });
      if (entry === 0 || l === PT_LEVEL.PTE || entryBits(entry) & PTE.HUGE) break;
      row = entryPfn(entry);
    }
    return out;
  }

  /**
   * The first address in [addr, end) whose leaf entry (a PTE, swap entry included, or a huge PMD)
   * is not empty, or `end`: walk_page_range()'s descent, which skips a hole at the highest level
   * it is empty (pte_hole) instead of visiting its pages, so a 100 TiB VMA with three pages costs
   * a few tables, not 2^35 lookups. A huge PMD answers its first address inside [addr, end).
   */
  nextPopulated(pgd: number, addr: number, end: number): number {
    return this.scanLevel(pgd, PT_LEVEL.PGD, 0, addr, end);
  }

  private scanLevel(row: number, level: number, base: number, addr: number, end: number): number {
    const size = LEVEL_SIZE[level];
    for (let i = Math.max(0, Math.floor((addr - base) / size)); i < PTRS_PER_TABLE; i++) {
      const s = base + i * size;
      if (s >= end) return end;
      const e = this.entries[row * PTRS_PER_TABLE + i];
      if (e === 0) continue;
      const from = Math.max(s, addr);
      if (level === PT_LEVEL.PTE || mod(e, ENTRY_UNIT) & PTE.HUGE) return from;
      const r = this.scanLevel(Math.floor(e / ENTRY_UNIT), level - 1, s, from, end);
      if (r < end) return r;
    }
    return end;
  }

  /** Live page-table pages per level (index = level). */
  countByLevel(): number[] {
    const n = [0, 0, 0, 0, 0];
    for (const r of this.liveRows()) n[this.level[r]]++;
    return n;
  }
}

// ---------------------------------------------------------------- entries and walks

/**
 * Entry bits (arch/x86/include/asm/pgtable_types.h, plus software bits). A leaf entry is
 * `pfn * 4096 + bits`; a non-leaf entry names the next table by its ptdesc row instead of its
 * frame (`row * 4096 + bits`), which saves a memmap lookup per level — explain prints the frame.
 */
export const PTE = {
  PRESENT: 1 << 0,
  WRITE: 1 << 1,
  USER: 1 << 2,
  DIRTY: 1 << 3,
  YOUNG: 1 << 4,
  /** PSE: a PMD entry that maps 2 MiB itself. */
  HUGE: 1 << 5,
  SPECIAL: 1 << 6,
  SOFT_DIRTY: 1 << 7,
  UFFD_WP: 1 << 8,
  /** Software bits reserved for designs (e.g. a "pinned through this PTE" bit). */
  SW1: 1 << 9,
  SW2: 1 << 10,
  SW3: 1 << 11,
} as const;

/** An entry is `pfn * ENTRY_UNIT + bits`; hot loops split it with one division. */
export const ENTRY_UNIT = 4096;
export const mkEntry = (pfnOrRow: number, bits: number): number => pfnOrRow * ENTRY_UNIT + bits;
export const entryPfn = (e: number): number => Math.floor(e / ENTRY_UNIT);
export const entryBits = (e: number): number => mod(e, ENTRY_UNIT);
/** The same entry with bits `set` set and `clear` cleared. */
export const withBits = (e: number, set: number, clear: number): number =>
  Math.floor(e / ENTRY_UNIT) * ENTRY_UNIT + ((mod(e, ENTRY_UNIT) | set) & ~clear);
export const TABLE_BITS = PTE.PRESENT | PTE.WRITE | PTE.USER;

/** Bytes one entry of each level maps (index = level). */
export const LEVEL_SIZE = [0, 2 ** 12, 2 ** 21, 2 ** 30, 2 ** 39] as const;
export const PMD_SIZE = LEVEL_SIZE[2];

/** pgd_index / pud_index / pmd_index / pte_index. */
export const levelIndex = (addr: number, level: number): number => {
  // As in leafSlot(): int32 halves of the address, then a shift (no float modulo).
  const hi = Math.floor(addr / 2 ** 30);
  return level >= PT_LEVEL.PUD
    ? (hi >>> (9 * (level - PT_LEVEL.PUD))) & 511
    : ((addr - hi * 2 ** 30) >>> (12 + 9 * (level - PT_LEVEL.PTE))) & 511;
};

export interface WalkLevel {
  level: number;
  /** ptdesc row of the table consulted at this level. */
  table: number;
  index: number;
  entry: number;
}

// ---------------------------------------------------------------- swap entries

/**
 * A swap PTE (swp_entry_to_pte, include/linux/swapops.h): not present, the swap offset where a
 * leaf keeps its frame, SW2 saying "swap entry" (SW3 alone is a hwpoison entry, memory-failure.ts).
 * The model has one swap device, so the type is implicit. Besides the offset it carries the
 * anon-exclusive marker (pte_swp_exclusive) and the soft-dirty and uffd-wp bits a present PTE
 * had (pte_swp_mksoft_dirty, pte_swp_mkuffd_wp), each in the bit it occupies in a present PTE,
 * except the marker, which takes the PSE bit as x86's _PAGE_SWP_EXCLUSIVE does.
 */
export const SWP_EXCLUSIVE = PTE.HUGE;
const SWP_CARRIED = PTE.SOFT_DIRTY | PTE.UFFD_WP;

/** swp_entry_to_pte(): the entry for swap slot `offset`, keeping `carried`'s soft-dirty and uffd-wp bits. */
export const mkSwapEntry = (offset: number, exclusive: boolean, carried = 0): number =>
  mkEntry(offset, PTE.USER | PTE.SW2 | (carried & SWP_CARRIED) | (exclusive ? SWP_EXCLUSIVE : 0));
/** is_swap_pte() && !non_swap_entry(): a PTE naming a swap slot. */
export const isSwapEntry = (e: number): boolean =>
  e !== 0 && (mod(e, ENTRY_UNIT) & (PTE.PRESENT | PTE.SW2 | PTE.SW3)) === PTE.SW2;
/** swp_offset(pte_to_swp_entry()). */
export const swapOffset = (e: number): number => Math.floor(e / ENTRY_UNIT);
/** pte_swp_exclusive(). */
export const swpExclusive = (e: number): boolean => (mod(e, ENTRY_UNIT) & SWP_EXCLUSIVE) !== 0;
/** pte_swp_clear_exclusive(). */
export const swpClearExclusive = (e: number): number => withBits(e, 0, SWP_EXCLUSIVE);
/** The soft-dirty and uffd-wp bits a swap entry hands back to the PTE that replaces it. */
export const swpCarried = (e: number): number => mod(e, ENTRY_UNIT) & SWP_CARRIED;

// ---------------------------------------------------------------- uffd-wp bits and PTE markers

/**
 * A PTE marker (make_pte_marker, include/linux/swapops.h): a non-present entry that names no page
 * and no swap slot, only a reason for the next fault to look. The kernel encodes it as a swap
 * entry of type SWP_PTE_MARKER with the marker bits in the offset; the model takes SW2 and SW3
 * together (SW2 alone is a swap entry, SW3 alone a hwpoison entry) and puts the marker bits where
 * a swap entry keeps its offset. PTE_MARKER_UFFD_WP is the only marker the model makes: "this
 * none entry is write-protected by userfaultfd" (mm/userfaultfd.c, zap_install_uffd_wp_if_needed).
 */
export const PTE_MARKER_UFFD_WP = 1;
const MARKER_BITS = PTE.USER | PTE.SW2 | PTE.SW3;

/** make_pte_marker(PTE_MARKER_UFFD_WP). */
export const mkUffdWpMarker = (): number => mkEntry(PTE_MARKER_UFFD_WP, MARKER_BITS);
/** is_pte_marker(). */
export const isPteMarker = (e: number): boolean =>
  e !== 0 && (mod(e, ENTRY_UNIT) & (PTE.PRESENT | PTE.SW2 | PTE.SW3)) === (PTE.SW2 | PTE.SW3);
/** pte_marker_uffd_wp(): a marker carrying PTE_MARKER_UFFD_WP. */
export const pteMarkerUffdWp = (e: number): boolean =>
  isPteMarker(e) && (Math.floor(e / ENTRY_UNIT) & PTE_MARKER_UFFD_WP) !== 0;
/** pte_uffd_wp(): the software bit of a present entry (PTE or PMD leaf). */
export const pteUffdWp = (e: number): boolean =>
  (mod(e, ENTRY_UNIT) & (PTE.PRESENT | PTE.UFFD_WP)) === (PTE.PRESENT | PTE.UFFD_WP);
/** pte_mkuffd_wp(): on x86 setting the bit also write-protects the entry. */
export const pteMkUffdWp = (e: number): number => withBits(e, PTE.UFFD_WP, PTE.WRITE);
/** pte_clear_uffd_wp() / pte_swp_clear_uffd_wp(): the bit sits in the same place in both forms. */
export const pteClearUffdWp = (e: number): number => withBits(e, 0, PTE.UFFD_WP);
/** pte_swp_uffd_wp(): a swap entry that was write-protected when its page went out. */
export const pteSwpUffdWp = (e: number): boolean => isSwapEntry(e) && (swpCarried(e) & PTE.UFFD_WP) !== 0;
/** pte_swp_uffd_wp_any(): a swap entry or a marker that says "write-protected". */
export const pteSwpUffdWpAny = (e: number): boolean => pteSwpUffdWp(e) || pteMarkerUffdWp(e);
/** What pagemap's PM_UFFD_WP (bit 57) says of an entry: present, swapped or marker. */
export const entryUffdWp = (e: number): boolean => pteUffdWp(e) || pteSwpUffdWpAny(e);
