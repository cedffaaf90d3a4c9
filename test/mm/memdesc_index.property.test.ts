/**
 * pfnToSection / pfnToPageblock (memdesc.ts) take a shift below INT32_FRAMES and a division above
 * it; both halves must agree with the definition, floor(pfn / frames per unit), on every frame
 * a machine can have (below MAX_PFN = 2^40) and on the -1 a lookup may be handed.
 */
import { fc, test } from '@fast-check/vitest';
import { expect } from 'vitest';
import { INT32_FRAMES, pfnToPageblock, pfnToSection } from '../../src/mm/memdesc.js';
import { PAGEBLOCK_PAGES, PAGES_PER_SECTION } from '../../src/mm/types.js';

const MAX_PFN = 2 ** 40;
const pfn = fc.oneof(
  fc.integer({ min: 0, max: INT32_FRAMES - 1 }),
  fc.integer({ min: INT32_FRAMES - 4096, max: INT32_FRAMES + 4096 }),
  fc.integer({ min: INT32_FRAMES, max: MAX_PFN - 1 }),
  fc.constant(-1),
);

test.prop([pfn], { numRuns: 2000 })('pfnToSection is floor(pfn / PAGES_PER_SECTION)', (p) => {
  expect(pfnToSection(p)).toBe(Math.floor(p / PAGES_PER_SECTION));
});

test.prop([pfn], { numRuns: 2000 })('pfnToPageblock is floor(pfn / PAGEBLOCK_PAGES)', (p) => {
  expect(pfnToPageblock(p)).toBe(Math.floor(p / PAGEBLOCK_PAGES));
});
