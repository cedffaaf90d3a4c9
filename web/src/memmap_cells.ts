/**
 * The heatmap's data: one display type per cell of `fpc` consecutive frames, read from the
 * model's memmap words. A section with no memmap is free (or a hole, when it is not RAM) and is
 * counted in one step, so a 64 TiB machine costs what its populated sections cost. A populated
 * section's types are decoded once per step into one byte per frame.
 */
import { type MemMap, MT, TYPE_MASK } from '../../src/mm/memdesc.js';
import { PAGES_PER_SECTION } from '../../src/mm/types.js';
import { HOLE } from './protocol.js';

export class MemmapCells {
  private readonly decoded = new Map<number, Uint8Array>();
  private readonly counts = new Uint32Array(16);

  constructor(private readonly mm: MemMap) {}

  get maxPfn(): number {
    return this.mm.maxPfn;
  }

  /** One byte per frame of a populated section, or undefined when the section has no memmap. */
  private section(sec: number): Uint8Array | undefined {
    if (!this.mm.isPopulated(sec)) return undefined;
    let t = this.decoded.get(sec);
    if (!t) {
      t = new Uint8Array(PAGES_PER_SECTION);
      const base = sec * PAGES_PER_SECTION;
      for (let i = 0; i < PAGES_PER_SECTION; i++) {
        const ty = this.mm.lo(base + i) & TYPE_MASK;
        t[i] = ty === MT.NONE ? MT.BUDDY : ty; // a present frame with no type is a free block's tail
      }
      this.decoded.set(sec, t);
    }
    return t;
  }

  /** The display type of one frame. */
  typeAt(pfn: number): number {
    if (pfn < 0 || pfn >= this.mm.maxPfn) return HOLE;
    const sec = Math.floor(pfn / PAGES_PER_SECTION);
    if (!this.mm.isPresentSection(sec)) return HOLE;
    const t = this.section(sec);
    return t ? t[pfn - sec * PAGES_PER_SECTION] : MT.BUDDY;
  }

  /**
   * `count` cells from `start`, each `fpc` frames: the most common used type in the cell, or free
   * when nothing in it is used, or a hole when it has no RAM at all.
   */
  cells(start: number, fpc: number, count: number): Uint8Array {
    const out = new Uint8Array(count);
    if (fpc === 1) {
      for (let i = 0; i < count; i++) out[i] = this.typeAt(start + i);
      return out;
    }
    const c = this.counts;
    const max = this.mm.maxPfn;
    for (let i = 0; i < count; i++) {
      c.fill(0);
      let a = start + i * fpc;
      const b = Math.min(a + fpc, max);
      if (a < 0) {
        c[HOLE] += Math.min(b, 0) - a;
        a = 0;
      }
      while (a < b) {
        const sec = Math.floor(a / PAGES_PER_SECTION);
        const end = Math.min(b, (sec + 1) * PAGES_PER_SECTION);
        if (!this.mm.isPresentSection(sec)) c[HOLE] += end - a;
        else {
          const t = this.section(sec);
          if (!t) c[MT.BUDDY] += end - a;
          else
            for (let j = a - sec * PAGES_PER_SECTION, e = end - sec * PAGES_PER_SECTION; j < e; j++)
              c[t[j]]++;
        }
        a = end;
      }
      let best = -1;
      let bestN = 0;
      for (let ty = 2; ty < HOLE; ty++)
        if (c[ty] > bestN) {
          best = ty;
          bestN = c[ty];
        }
      out[i] = best >= 0 ? best : c[MT.BUDDY] > 0 ? MT.BUDDY : HOLE;
    }
    return out;
  }
}
