/**
 * `page-types -F FILE` and `page-types -r -F FILE`: the kernel tool's summary of a kpageflags
 * capture, byte for byte.
 *
 * Kernel file: tools/mm/page-types.c. What it does, and so what this does:
 * - non-raw mode (well_known_flags()) hides the kernel-internal bits 32–47 and the compound
 *   head/tail bits of every compound page that is not hugetlb (a THP shows as `thp` alone);
 * - raw mode (expand_overloaded_flags()) keeps everything but un-overloads three flags into
 *   page-types' private bits: PG_owner_2 on an anon page is anon_exclusive, PG_active and
 *   PG_error on a slab page are SLUB's frozen and debug bits, PG_reclaim without PG_writeback
 *   is PG_readahead;
 * - one summary row per distinct resulting word, in the order of its open-addressing hash table
 *   (8192 slots, key = word & 8191, linear probing from the key, slot 0 reserved for the word 0),
 *   so row order depends on the order words were first seen in PFN order; we replay that table;
 * - a named bit column per named flag; a set bit that has no name stops the tool with
 *   "unknown flag bit N", which we report as a SnapshotError.
 * With -F no pagemap is read, so the pagemap-derived bits (file, swap, mmap_exclusive, softdirty)
 * never appear.
 */
import { SnapshotError } from './errors.js';
import { HI, KPF, kpfHex, kpfLongName, kpfSymbols, LO, NAMED_HI, NAMED_LO } from './kpageflags.js';
import type { Snapshot } from './read.js';

const HASH_SIZE = 1 << 13;
const HASH_MASK = HASH_SIZE - 1;

const COMPOUND = LO(KPF.COMPOUND_HEAD) | LO(KPF.COMPOUND_TAIL);
/** KPF_HACKERS_BITS: 0xffff << 32, i.e. the low 16 bits of the hi half. */
const HACKERS_HI = 0xffff;

export interface PageTypesRow {
  lo: number;
  hi: number;
  pages: number;
}

export interface PageTypesSummary {
  raw: boolean;
  /** In page-types' print order. */
  rows: PageTypesRow[];
  total: number;
}

/** well_known_flags() / expand_overloaded_flags() of one word; returns [lo, hi] via `out`. */
function pageTypesFlags(lo: number, hi: number, raw: boolean, out: Uint32Array): void {
  if (raw) {
    if (lo & LO(KPF.ANON) && hi & HI(KPF.OWNER_2)) hi ^= HI(KPF.OWNER_2) | HI(KPF.ANON_EXCLUSIVE);
    if (lo & LO(KPF.SLAB)) {
      if (lo & LO(KPF.ACTIVE)) {
        lo ^= LO(KPF.ACTIVE);
        hi ^= HI(KPF.SLUB_FROZEN);
      }
      if (lo & LO(KPF.ERROR)) {
        lo ^= LO(KPF.ERROR);
        hi ^= HI(KPF.SLUB_DEBUG);
      }
    }
    if ((lo & (LO(KPF.RECLAIM) | LO(KPF.WRITEBACK))) === LO(KPF.RECLAIM)) {
      lo ^= LO(KPF.RECLAIM);
      hi ^= HI(KPF.READAHEAD);
    }
  } else {
    hi &= ~HACKERS_HI;
    if (lo & COMPOUND && !(lo & LO(KPF.HUGE))) lo &= ~COMPOUND;
  }
  out[0] = lo;
  out[1] = hi;
}

/** The page-types summary of a capture held in memory (every PFN, as `page-types -F` walks 0..EOF). */
export function pageTypes(s: Snapshot, raw: boolean): PageTypesSummary {
  const p = new PageTypesCounter(raw);
  p.push(s.flagsLo, s.flagsHi, 0, 0, 1, s.nrPfns);
  return p.finish();
}

/**
 * The summary as a stream: kpageflags entries pushed in PFN order, chunk by chunk (the layout of
 * Classifier.push). hash_slot() is replayed exactly; a per-raw-word cache keeps the per-PFN cost
 * to a comparison with the previous PFN's word, and a Map lookup only when it changes.
 */
export class PageTypesCounter {
  private readonly slotLo = new Uint32Array(HASH_SIZE);
  private readonly slotHi = new Uint32Array(HASH_SIZE);
  private readonly used = new Uint8Array(HASH_SIZE);
  private readonly pages = new Float64Array(HASH_SIZE);
  private readonly cache = new Map<number, number>();
  private readonly t = new Uint32Array(2);
  private total = 0;
  // The run of equal words open at the end of the last chunk.
  private prevLo = -1;
  private prevHi = -1;
  private slot = 0;
  private run = 0;

  constructor(readonly raw: boolean) {}

  /** hash_slot(): open addressing from `lo & 8191`, slot 0 kept for the word 0. */
  private hashSlot(lo: number, hi: number): number {
    if (lo === 0 && hi === 0) return 0;
    const { used, slotLo, slotHi } = this;
    let k = lo & HASH_MASK;
    for (let i = 1; i < HASH_SIZE; i++, k++) {
      if (k === 0 || k >= HASH_SIZE) k = 1;
      if (!used[k]) {
        used[k] = 1;
        slotLo[k] = lo;
        slotHi[k] = hi;
        return k;
      }
      if (slotLo[k] === lo && slotHi[k] === hi) return k;
    }
    throw new SnapshotError('page-types: hash table full (more than 8191 distinct flag words)');
  }

  private slotOf(lo: number, hi: number): number {
    // Exact as a double while hi < 2^21, which covers every bit the kernel sets (≤ 41).
    const key = hi < 0x200000 ? hi * 0x100000000 + lo : -1;
    let slot = key >= 0 ? this.cache.get(key) : undefined;
    if (slot === undefined) {
      pageTypesFlags(lo, hi, this.raw, this.t);
      checkNamed(this.t[0], this.t[1]);
      slot = this.hashSlot(this.t[0], this.t[1]);
      if (key >= 0) this.cache.set(key, slot);
    }
    return slot;
  }

  /** The next `count` entries: bits 0–31 at `lo[loOff + i * stride]`, 32–63 at `hi[hiOff + i * stride]`. */
  push(lo: Uint32Array, hi: Uint32Array, loOff: number, hiOff: number, stride: number, count: number): void {
    let { prevLo, prevHi, slot, run } = this;
    const pages = this.pages;
    for (let n = 0, i = 0; n < count; n++, i += stride) {
      const l = lo[loOff + i];
      const h = hi[hiOff + i];
      if (l !== prevLo || h !== prevHi) {
        if (run > 0) pages[slot] += run;
        run = 0;
        prevLo = l;
        prevHi = h;
        slot = this.slotOf(l, h);
      }
      run++;
    }
    this.prevLo = prevLo;
    this.prevHi = prevHi;
    this.slot = slot;
    this.run = run;
    this.total += count;
  }

  finish(): PageTypesSummary {
    if (this.run > 0) this.pages[this.slot] += this.run;
    this.run = 0;
    const rows: PageTypesRow[] = [];
    for (let i = 0; i < HASH_SIZE; i++)
      if (this.pages[i] > 0) rows.push({ lo: this.slotLo[i], hi: this.slotHi[i], pages: this.pages[i] });
    return { raw: this.raw, rows, total: this.total };
  }
}

/** page_flag_name() refuses a set bit that has no name. */
function checkNamed(lo: number, hi: number): void {
  const badLo = lo & ~NAMED_LO;
  const badHi = hi & ~NAMED_HI;
  if (badLo || badHi) {
    const bit = badLo ? 31 - Math.clz32(badLo & -badLo) : 32 + 31 - Math.clz32(badHi & -badHi);
    throw new SnapshotError(`unknown flag bit ${bit} (page-types stops here too): not a kpageflags capture?`);
  }
}

/** pages2mb(): pages × page size, shifted right by 20. */
const pagesToMb = (pages: number, pageSize: number): number => Math.floor((pages * pageSize) / 2 ** 20);

/** show_summary(): the text page-types prints, with its tabs and field widths. */
export function formatPageTypes(sum: PageTypesSummary, pageSize = 4096): string {
  const lines = ['             flags\tpage-count       MB  symbolic-flags\t\t\tlong-symbolic-flags'];
  for (const r of sum.rows) {
    lines.push(
      `${kpfHex(r.lo, r.hi)}\t${String(r.pages).padStart(10)} ${String(pagesToMb(r.pages, pageSize)).padStart(8)}  ${kpfSymbols(r.lo, r.hi)}\t${kpfLongName(r.lo, r.hi)}`,
    );
  }
  lines.push(
    `             total\t${String(sum.total).padStart(10)} ${String(pagesToMb(sum.total, pageSize)).padStart(8)}`,
  );
  return `${lines.join('\n')}\n`;
}
