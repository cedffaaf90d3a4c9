/**
 * The heatmap's data for a capture: one frame type per cell of `fpc` frames, from the
 * classification's one byte per PFN. A cell shows its most common type other than hole, free and
 * no-flags (the background), or the most common background when it has nothing else — the rule
 * the scenario heatmap uses. Every cell of 2^z frames (z ≥ 1) is one load from a table of block
 * types, made the first time the map shows that zoom: a uniform block in one comparison pass,
 * others from per-type counts (from the frames up to 2^8, else summed from the level below), so
 * the first view costs one pass over the frames. No object per PFN exists.
 */
import { FRAME, NR_FRAMES, TAIL } from '../../src/snapshot/classify.js';

/** Per-type counts are kept from blocks of 2^LOW frames up (n / 4 bytes); smaller blocks count their frames. */
const LOW = 8;
const TOP = 22;
const NT = NR_FRAMES;
/** The frame type of a classification byte (without TAIL). */
const TYPE = ~TAIL & 0xff;
const HOLE: number = FRAME.HOLE;
const FREE: number = FRAME.FREE;
const NOFLAGS: number = FRAME.NOFLAGS;
const IS_BACKGROUND = Uint8Array.from({ length: NT }, (_, f) =>
  f === HOLE || f === FREE || f === NOFLAGS ? 1 : 0,
);

/**
 * The display type of counts `c` (NT of them from `at`): the most common non-background type
 * (ties to the lower type), else the most common of hole, free and no-flags (ties in that
 * order). Always a Uint32Array, so the hot loop stays monomorphic.
 */
function pick(c: Uint32Array, at: number): number {
  let best = -1;
  let bestN = 0;
  for (let t = 0; t < NT; t++) {
    const v = c[at + t];
    if (v > bestN && IS_BACKGROUND[t] === 0) {
      best = t;
      bestN = v;
    }
  }
  if (best >= 0) return best;
  const h = c[at + HOLE];
  const f = c[at + FREE];
  const nf = c[at + NOFLAGS];
  return h >= f ? (h >= nf ? HOLE : NOFLAGS) : f >= nf ? FREE : NOFLAGS;
}

export class CaptureCells {
  /** The classification's byte per PFN: frame type | TAIL. */
  private readonly frames: Uint8Array;
  /** counts[L]: NT counts for each block of 2^L frames (L ≥ LOW), made on first use. */
  private readonly counts: Uint32Array[] = [];
  /** picks[L]: the display type of each block of 2^L frames (past the end: holes), made on first use. */
  private readonly picks: Uint8Array[] = [];
  private readonly c = new Uint32Array(NT);
  readonly maxPfn: number;

  constructor(frames: Uint8Array) {
    const n = frames.length;
    this.maxPfn = n;
    this.frames = frames;
  }

  /** Counts per block of 2^level frames: from the frames at LOW, else summed from the level below. */
  private countsAt(level: number): Uint32Array {
    let out = this.counts[level];
    if (out) return out;
    const n = this.maxPfn;
    out = new Uint32Array(Math.ceil(n / 2 ** level) * NT);
    if (level === LOW) {
      const frames = this.frames;
      for (let i = 0; i < n; i++) out[(i >> LOW) * NT + (frames[i] & TYPE)]++;
    } else {
      const below = this.countsAt(level - 1);
      for (let k = 0, blocks = below.length / NT; k < blocks; k++) {
        const to = (k >> 1) * NT;
        const from = k * NT;
        for (let t = 0; t < NT; t++) out[to + t] += below[from + t];
      }
    }
    this.counts[level] = out;
    return out;
  }

  /** Block types for 2^level frames: uniform blocks at a glance, the others from their counts. */
  private picksAt(level: number): Uint8Array {
    let p = this.picks[level];
    if (p) return p;
    const size = 2 ** level;
    const n = this.maxPfn;
    const frames = this.frames;
    const c = this.c;
    p = new Uint8Array(Math.ceil(n / size));
    const counts = level >= LOW ? this.countsAt(level) : undefined;
    for (let k = 0, a = 0; k < p.length; k++, a += size) {
      const e = Math.min(a + size, n);
      if (size <= 4096) {
        // A uniform block (most of a real machine: long runs of one type) needs no count.
        const t0 = frames[a] & TYPE;
        let q = a + 1;
        while (q < e && (frames[q] & TYPE) === t0) q++;
        if (q === e && e - a === size) {
          p[k] = t0;
          continue;
        }
      }
      if (counts) for (let t = 0; t < NT; t++) c[t] = counts[k * NT + t];
      else {
        c.fill(0);
        for (let q = a; q < e; q++) c[frames[q] & TYPE]++;
      }
      c[HOLE] += a + size - e; // frames past the end (the last block only)
      p[k] = pick(c, 0);
    }
    this.picks[level] = p;
    return p;
  }

  typeAt(pfn: number): number {
    return pfn >= 0 && pfn < this.maxPfn ? this.frames[pfn] & TYPE : HOLE;
  }

  cells(start: number, fpc: number, count: number): Uint8Array {
    const out = new Uint8Array(count);
    const n = this.maxPfn;
    const frames = this.frames;
    const level = Math.log2(fpc);
    if (fpc === 1) {
      for (let i = 0; i < count; i++) {
        const p = start + i;
        out[i] = p >= 0 && p < n ? frames[p] & TYPE : HOLE;
      }
      return out;
    }
    if (level >= 1 && level <= TOP && Number.isInteger(level) && start % fpc === 0) {
      const p = this.picksAt(level);
      const first = start / fpc;
      for (let i = 0; i < count; i++) out[i] = first + i < p.length ? p[first + i] : HOLE;
      return out;
    }
    const c = this.c;
    for (let i = 0; i < count; i++) {
      const a = start + i * fpc;
      const b = a + fpc;
      if (b <= 0 || a >= n) {
        out[i] = HOLE;
        continue;
      }
      c.fill(0);
      for (let q = Math.max(0, a), e = Math.min(b, n); q < e; q++) c[frames[q] & TYPE]++;
      if (b > n) c[HOLE] += b - Math.max(a, n);
      out[i] = pick(c, 0);
    }
    return out;
  }
}
