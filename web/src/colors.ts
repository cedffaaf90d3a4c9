/** One colour per display type (MT_NAMES order, then the hole), for the heatmap and its legend. */
import { MT_NAMES } from '../../src/mm/memdesc.js';
import { FRAME, FRAME_NAMES } from '../../src/snapshot/classify.js';
import { HOLE } from './protocol.js';

/** A map's colours: names and #rrggbb per display value, RGBA words to paint, and what the legend lists. */
export interface Palette {
  names: readonly string[];
  colors: readonly string[];
  rgba: Uint32Array;
  legend: readonly number[];
}

export const TYPE_NAMES: readonly string[] = [...MT_NAMES.slice(0, HOLE), 'hole'].map((n, i) =>
  i === 1 ? 'free (buddy)' : n,
);

/** #rrggbb per display type. */
export const TYPE_COLORS: readonly string[] = [
  '#000000', // none: never drawn (a present frame with no type is free)
  '#dde3ea', // free
  '#e15759', // anon
  '#4e79a7', // file
  '#59a14f', // slab
  '#8cd17d', // large_kmalloc
  '#f28e2b', // pgtable
  '#b07aa1', // vmalloc
  '#9c755f', // device
  '#76b7b2', // zero
  '#4b4b4b', // reserved
  '#bab0ac', // offline
  '#ff00ff', // hwpoison
  '#edc948', // unknown
  '#ffffff', // hole
];

/** Colours as little-endian RGBA words, for writing ImageData through a Uint32Array. */
const rgbaWords = (colors: readonly string[]) =>
  Uint32Array.from(colors, (c) => {
    const v = Number.parseInt(c.slice(1), 16);
    return (0xff << 24) | ((v & 0xff) << 16) | (v & 0xff00) | (v >>> 16);
  });

export const TYPE_RGBA: Uint32Array = rgbaWords(TYPE_COLORS);

/** The scenario machine's memory types (the none type is never drawn). */
export const TYPE_PALETTE: Palette = {
  names: TYPE_NAMES,
  colors: TYPE_COLORS,
  rgba: TYPE_RGBA,
  legend: TYPE_NAMES.map((_, i) => i).filter((i) => i > 0),
};

/** A capture's frame types (src/snapshot/classify.ts), coloured like the model's nearest type. */
const CAPTURE_COLORS: readonly string[] = FRAME_NAMES.map((_, f) => {
  switch (f) {
    case FRAME.HOLE:
      return '#ffffff';
    case FRAME.NOFLAGS:
      return '#f1e9d8';
    case FRAME.RESERVED:
      return '#4b4b4b';
    case FRAME.FREE:
      return '#dde3ea';
    case FRAME.SLAB:
      return '#59a14f';
    case FRAME.PGTABLE:
      return '#f28e2b';
    case FRAME.ZERO:
      return '#76b7b2';
    case FRAME.HUGETLB:
      return '#7b2d8e';
    case FRAME.ANON:
      return '#e15759';
    case FRAME.KSM:
      return '#ff9da7';
    case FRAME.FILE:
      return '#4e79a7';
    case FRAME.SHMEM:
      return '#a0cbe8';
    case FRAME.KERNEL_COMPOUND:
      return '#8cd17d';
    case FRAME.OFFLINE:
      return '#bab0ac';
    case FRAME.HWPOISON:
      return '#ff00ff';
    default:
      return '#edc948'; // torn
  }
});

export const CAPTURE_PALETTE: Palette = {
  names: FRAME_NAMES,
  colors: CAPTURE_COLORS,
  rgba: rgbaWords(CAPTURE_COLORS),
  legend: FRAME_NAMES.map((_, i) => i),
};
