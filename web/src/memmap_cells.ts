/**
 * The heatmap's data: one display type per cell of `fpc` consecutive frames, read from the
 * model's memmap words. A section with no memmap is free (or a hole, when it is not RAM) and is
 * counted in one step, so a 64 TiB machine costs what its populated sections cost. A populated
 * section's types are decoded once per step into one byte per frame.
 */
import { type MemMap, MT, TYPE_MASK } from '../../src/mm/memdesc.js';
import { PAGES_PER_SECTION } from '../../src/mm/types.js';
import { HOLE } from './protocol.js';

/** What a section is, for the fast path: no RAM, RAM without a memmap (all free), or decoded. */
const NO_RAM = 0;
const ALL_FREE = 1;
const DECODED = 2;

export class MemmapCells {
  private readonly decoded = new Map<number, Uint8Array>();
  /** Per section: NO_RAM, ALL_FREE or DECODED (a populated section, decoded on first use). */
  private readonly kind: Uint8Array;
  /** Per decoded section, its frames counted by display type (16 each). */
  private readonly sectionCounts = new Map<number, Uint32Array>();
  private readonly counts = new Uint32Array(16);
  readonly maxPfn: number;

  constructor(private readonly mm: MemMap) {
    this.maxPfn = mm.maxPfn;
    this.kind = new Uint8Array(mm.nrSections);
    for (let sec = 0; sec < mm.nrSections; sec++)
      this.kind[sec] = !mm.isPresentSection(sec) ? NO_RAM : mm.isPopulated(sec) ? DECODED : ALL_FREE;
  }

  /** The end of the last section with a memmap: where the machine's used memory ends, roughly. */
  usedEnd(): number {
    for (let sec = this.kind.length - 1; sec >= 0; sec--)
      if (this.kind[sec] === DECODED) return Math.min(this.maxPfn, (sec + 1) * PAGES_PER_SECTION);
    return this.maxPfn;
  }

  /** One byte per frame of a populated section. */
  private section(sec: number): Uint8Array {
    let t = this.decoded.get(sec);
    if (!t) {
      t = new Uint8Array(PAGES_PER_SECTION);
      const counts = new Uint32Array(16);
      const base = sec * PAGES_PER_SECTION;
      for (let i = 0; i < PAGES_PER_SECTION; i++) {
        const ty = this.mm.lo(base + i) & TYPE_MASK;
        const d = ty === MT.NONE ? MT.BUDDY : ty; // a present frame with no type is a free block's tail
        t[i] = d;
        counts[d]++;
      }
      this.decoded.set(sec, t);
      this.sectionCounts.set(sec, counts);
    }
    return t;
  }

  /** The display type of one frame. */
  typeAt(pfn: number): number {
    if (pfn < 0 || pfn >= this.maxPfn) return HOLE;
    const sec = Math.floor(pfn / PAGES_PER_SECTION);
    const k = this.kind[sec];
    if (k === NO_RAM) return HOLE;
    if (k === ALL_FREE) return MT.BUDDY;
    return this.section(sec)[pfn - sec * PAGES_PER_SECTION];
  }

  /**
   * `count` cells from `start`, each `fpc` frames: the most common used type in the cell, or free
   * when nothing in it is used, or a hole when it has no RAM at all. A cell inside one section
   * without a memmap costs one load; a whole decoded section adds its precomputed counts.
   */
  cells(start: number, fpc: number, count: number): Uint8Array {
    const out = new Uint8Array(count);
    const max = this.maxPfn;
    const kind = this.kind;
    if (fpc === 1) {
      for (let i = 0; i < count; ) {
        const pfn = start + i;
        if (pfn < 0 || pfn >= max) {
          out[i++] = HOLE;
          continue;
        }
        // Whole runs of one section at a time.
        const sec = Math.floor(pfn / PAGES_PER_SECTION);
        const base = sec * PAGES_PER_SECTION;
        const n = Math.min(count - i, base + PAGES_PER_SECTION - pfn, max - pfn);
        const k = kind[sec];
        if (k === DECODED) out.set(this.section(sec).subarray(pfn - base, pfn - base + n), i);
        else out.fill(k === ALL_FREE ? MT.BUDDY : HOLE, i, i + n);
        i += n;
      }
      return out;
    }
    const c = this.counts;
    const PPS = PAGES_PER_SECTION;
    // The section of the cell's first frame, followed as the cells advance (no division per cell).
    let sec = Math.floor(Math.max(0, start) / PPS);
    let secEnd = (sec + 1) * PPS;
    for (let i = 0; i < count; i++) {
      let a = start + i * fpc;
      const b = Math.min(a + fpc, max);
      if (b <= 0 || a >= max) {
        out[i] = HOLE;
        continue;
      }
      if (a < 0) a = 0;
      while (a >= secEnd) {
        sec++;
        secEnd += PPS;
      }
      const k = kind[sec];
      if (k !== DECODED && b <= secEnd) {
        out[i] = k === ALL_FREE ? MT.BUDDY : HOLE;
        continue;
      }
      let s = sec;
      for (let t = 0; t < 16; t++) c[t] = 0;
      while (a < b) {
        const base = s * PPS;
        const end = Math.min(b, base + PPS);
        const ks = kind[s];
        if (ks === NO_RAM) c[HOLE] += end - a;
        else if (ks === ALL_FREE) c[MT.BUDDY] += end - a;
        else if (a === base && end === base + PPS) {
          this.section(s);
          const sc = this.sectionCounts.get(s)!;
          for (let t = 0; t < 16; t++) c[t] += sc[t];
        } else {
          const t = this.section(s);
          for (let j = a - base, e = end - base; j < e; j++) c[t[j]]++;
        }
        a = end;
        s++;
      }
      let best: number = c[MT.BUDDY] > 0 ? MT.BUDDY : HOLE;
      let bestN = 0;
      for (let ty = 2; ty < HOLE; ty++)
        if (c[ty] > bestN) {
          best = ty;
          bestN = c[ty];
        }
      out[i] = best;
    }
    return out;
  }
}
