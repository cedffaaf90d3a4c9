/**
 * `expect: { slabinfo: { dentry: { active_objs: 3, num_slabs: 1 }, kmalloc-64: {...} } }` — rows
 * of /proc/slabinfo, by cache name, with the file's column names.
 */
import { z } from 'zod';
import type { Machine } from '../../machine/machine.js';
import { uint } from '../fields.js';
import { defineExpectation, type Failure } from '../step.js';

type SlabRow = ReturnType<Machine['slabinfo']>[number];

/** /proc/slabinfo's column names and where each is in a row. */
const COLUMNS: readonly [string, (r: SlabRow) => number][] = [
  ['active_objs', (r) => r.activeObjs],
  ['num_objs', (r) => r.numObjs],
  ['objsize', (r) => r.objSize],
  ['objperslab', (r) => r.objPerSlab],
  ['pagesperslab', (r) => r.pagesPerSlab],
  ['active_slabs', (r) => r.activeSlabs],
  ['num_slabs', (r) => r.numSlabs],
];

const row = z.strictObject(Object.fromEntries(COLUMNS.map(([k]) => [k, uint().optional()])));

/** The built-in caches kmalloc uses exist on every machine; others must be created first. */
const KMALLOC_CACHE = /^kmalloc-/;

export const slabinfoExpectation = defineExpectation({
  fields: { slabinfo: z.record(z.string(), row).optional() },
  analyse: (a, ctx) => {
    for (const name of Object.keys(a.slabinfo ?? {}))
      if (!KMALLOC_CACHE.test(name)) ctx.use(name, ['cache'], ['slabinfo', name], 'key');
  },
  check: (a, { m }) => {
    const failures: Failure[] = [];
    let checks = 0;
    const rows = m.slabinfo();
    for (const [name, want] of Object.entries(a.slabinfo ?? {})) {
      checks++;
      const have = rows.find((r) => r.name === name);
      if (!have) {
        failures.push({ path: ['slabinfo', name], message: `no slab cache named ${name}` });
        continue;
      }
      const wrong = COLUMNS.filter(([k, get]) => want[k] !== undefined && get(have) !== want[k]).map(
        ([k, get]) => `${k} is ${get(have)}, expected ${want[k]}`,
      );
      if (wrong.length) failures.push({ path: ['slabinfo', name], message: `${name}: ${wrong.join('; ')}` });
    }
    return { checks, failures };
  },
});
