/**
 * The capture heatmap's cells against a direct count: for every zoom a cell holds the most
 * common type other than hole, free and no-flags, else the most common of those, ties to the
 * lower type number; frames past the end count as holes. Runs in Node (no browser needed).
 */
import { describe, expect, it } from 'vitest';
import { FRAME, NR_FRAMES, TAIL } from '../../src/snapshot/classify.js';
import { CaptureCells } from '../../web/src/capture_cells.js';

const BACKGROUND: number[] = [FRAME.HOLE, FRAME.FREE, FRAME.NOFLAGS];

function reference(types: Uint8Array, start: number, fpc: number, count: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const c = new Array<number>(NR_FRAMES).fill(0);
    for (let p = start + i * fpc; p < start + (i + 1) * fpc; p++)
      c[p < types.length ? types[p] : FRAME.HOLE]++;
    let best = -1;
    for (let t = 0; t < NR_FRAMES; t++)
      if (!BACKGROUND.includes(t) && c[t] > 0 && (best < 0 || c[t] > c[best])) best = t;
    if (best < 0) for (const t of BACKGROUND) if (c[t] > 0 && (best < 0 || c[t] > c[best])) best = t;
    out.push(best);
  }
  return out;
}

describe('CaptureCells', () => {
  it('gives each cell its most common type at every zoom, at the ends too', () => {
    // Runs of random types (some tails), a length that is no power of two.
    let seed = 7;
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x80000000;
    };
    const n = 300_001;
    const frames = new Uint8Array(n);
    const types = new Uint8Array(n);
    for (let i = 0; i < n; ) {
      const t = Math.floor(rnd() * NR_FRAMES);
      const len = 1 + Math.floor(rnd() * (rnd() < 0.9 ? 12 : 3000));
      for (let j = 0; j < len && i < n; j++, i++) {
        types[i] = t;
        frames[i] = t | (j > 0 && rnd() < 0.5 ? TAIL : 0);
      }
    }
    // The end is free memory: the last big blocks are mostly past the end, so mostly holes.
    for (let i = n - 2000; i < n; i++) frames[i] = types[i] = FRAME.FREE;
    const cells = new CaptureCells(frames);
    for (let z = 0; z <= 19; z++) {
      const fpc = 2 ** z;
      const count = Math.min(4096, Math.ceil(n / fpc) + 2);
      for (const start of [
        0,
        Math.floor(n / 2 / fpc) * fpc,
        Math.max(0, (Math.ceil(n / fpc) - count + 2) * fpc),
      ]) {
        expect([...cells.cells(start, fpc, count)], `z=${z} start=${start}`).toEqual(
          reference(types, start, fpc, count),
        );
      }
    }
    // An unaligned start (a cell straddling blocks) takes the counting path and agrees too.
    expect([...cells.cells(24, 16, 100)]).toEqual(reference(types, 24, 16, 100));
    expect(cells.typeAt(n)).toBe(FRAME.HOLE);
  });
});
