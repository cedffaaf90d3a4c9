/**
 * `expect: { devmem: { pagemap: D, populated: 2, reclaimed: 1, chunks: 2 } }` — the lazy memmap of
 * a memremap'd range: memmap chunks populated so far, reclaimed so far, and live now.
 */

import { z } from 'zod';
import type { PagemapId } from '../../machine/ids.js';
import { labelName, uint } from '../fields.js';
import { defineExpectation, type Failure } from '../step.js';

export const devmemExpectation = defineExpectation({
  fields: {
    devmem: z
      .strictObject({
        pagemap: labelName(),
        populated: uint().optional(),
        reclaimed: uint().optional(),
        chunks: uint().optional(),
      })
      .optional(),
  },
  analyse: (a, ctx) => {
    if (a.devmem) ctx.use(a.devmem.pagemap, ['pagemap'], ['devmem', 'pagemap']);
  },
  check: (a, ctx) => {
    if (!a.devmem) return { checks: 0, failures: [] };
    const info = ctx.m.pagemapInfo(ctx.labels.num<PagemapId>(a.devmem.pagemap));
    const got = { populated: info.populated, reclaimed: info.reclaimed, chunks: info.chunks.length };
    const failures: Failure[] = [];
    let checks = 0;
    for (const key of ['populated', 'reclaimed', 'chunks'] as const) {
      const want = a.devmem[key];
      if (want === undefined) continue;
      checks++;
      if (got[key] !== want)
        failures.push({
          path: ['devmem', key],
          message: `${a.devmem.pagemap}: ${key} is ${got[key]}, expected ${want}`,
        });
    }
    return { checks, failures };
  },
});
