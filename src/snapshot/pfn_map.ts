/**
 * A PFN-range map: the physical address space cut into equal buckets, each shown by the frame
 * type that holds most of its pages — the terminal's picture of fragmentation, and the JSON a
 * web heatmap draws from (per-bucket counts of every type).
 *
 * Kernel analogue: none directly; it is what one reads off `page-types -l` by eye.
 */
import { type Classification, FRAME_LETTERS, FRAME_NAMES, NR_FRAMES } from './classify.js';

export interface PfnMap {
  bucketPfns: number;
  /** Per bucket: pages of each frame type, `counts[b * NR_FRAMES + f]`. */
  counts: Float64Array;
  /** Per bucket: the frame type with most pages. */
  dominant: Uint8Array;
}

export function pfnMap(c: Classification, buckets = 2048): PfnMap {
  const bucketPfns = Math.max(1, Math.ceil(c.nrPfns / buckets));
  const nb = Math.ceil(c.nrPfns / bucketPfns);
  const counts = new Float64Array(nb * NR_FRAMES);
  const frames = c.frames;
  for (let pfn = 0; pfn < c.nrPfns; pfn++)
    counts[((pfn / bucketPfns) | 0) * NR_FRAMES + (frames[pfn] & 0x7f)]++;
  const dominant = new Uint8Array(nb);
  for (let b = 0; b < nb; b++) {
    let best = 0;
    for (let f = 1; f < NR_FRAMES; f++)
      if (counts[b * NR_FRAMES + f] > counts[b * NR_FRAMES + best]) best = f;
    dominant[b] = best;
  }
  return { bucketPfns, counts, dominant };
}

/** The map as text: `width` buckets a row, each row led by its first PFN, then a legend. */
export function formatPfnMap(m: PfnMap, width = 64): string {
  const lines: string[] = [
    `PFN map: one character = ${m.bucketPfns} PFNs (${((m.bucketPfns * 4096) / 2 ** 20).toFixed(1)} MiB), the type with most pages in it`,
  ];
  for (let b = 0; b < m.dominant.length; b += width) {
    let row = '';
    for (let i = b; i < Math.min(m.dominant.length, b + width); i++) row += FRAME_LETTERS[m.dominant[i]];
    lines.push(`${(b * m.bucketPfns).toString(16).padStart(8, '0')} |${row}|`);
  }
  const used = new Set(m.dominant);
  lines.push(
    `legend: ${[...used]
      .sort((a, b) => a - b)
      .map((f) => `'${FRAME_LETTERS[f]}' ${FRAME_NAMES[f]}`)
      .join(', ')}`,
  );
  return lines.join('\n');
}

/** JSON for a web view: bucket size, type names, and per bucket the dominant type and all counts. */
export function pfnMapJson(m: PfnMap) {
  const buckets: { start: number; dominant: string; pages: Record<string, number> }[] = [];
  for (let b = 0; b < m.dominant.length; b++) {
    const pages: Record<string, number> = {};
    for (let f = 0; f < NR_FRAMES; f++) {
      const v = m.counts[b * NR_FRAMES + f];
      if (v) pages[FRAME_NAMES[f]] = v;
    }
    buckets.push({ start: b * m.bucketPfns, dominant: FRAME_NAMES[m.dominant[b]], pages });
  }
  return { bucketPfns: m.bucketPfns, buckets };
}
