/** One colour per display type (MT_NAMES order, then the hole), for the heatmap and its legend. */
import { MT_NAMES } from '../../src/mm/memdesc.js';
import { HOLE } from './protocol.js';

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
export const TYPE_RGBA: Uint32Array = Uint32Array.from(TYPE_COLORS, (c) => {
  const v = Number.parseInt(c.slice(1), 16);
  return (0xff << 24) | ((v & 0xff) << 16) | (v & 0xff00) | (v >>> 16);
});
