/**
 * `expect: { counters: { MemFree: 1040384, AnonPages: 8M, nr_anon_pages: 2048, pgalloc: 3 } }` —
 * /proc/meminfo fields (in kB as the file prints them; a size such as 8M is converted) and
 * /proc/vmstat fields (pages and event counts).
 */
import { z } from 'zod';
import { Machine } from '../../machine/machine.js';
import { parseSize } from '../../mm/types.js';
import { defineExpectation, type Failure } from '../step.js';

let known: { meminfo: Set<string>; vmstat: Set<string> } | undefined;

/** The counter names a machine has, taken from a small one once, so misspellings fail at parse time. */
function counterNames(): { meminfo: Set<string>; vmstat: Set<string> } {
  if (!known) {
    const probe = new Machine({ memory: '128M' });
    known = { meminfo: new Set(Object.keys(probe.meminfo())), vmstat: new Set(Object.keys(probe.vmstat())) };
  }
  return known;
}

const value = () =>
  z.union([z.number().int(), z.string()], {
    error: 'expected a whole number (kB for meminfo fields), or a size such as 8M for meminfo fields',
  });

/** A meminfo expectation in kB; a size string is bytes. */
function meminfoKb(v: number | string): number {
  return typeof v === 'number' ? v : parseSize(v) / 1024;
}

export const countersExpectation = defineExpectation({
  fields: { counters: z.record(z.string(), value()).optional() },
  analyse: (a, ctx) => {
    const names = counterNames();
    for (const [key, v] of Object.entries(a.counters ?? {})) {
      const path = ['counters', key];
      if (names.meminfo.has(key)) {
        if (typeof v === 'string') {
          try {
            if (parseSize(v) % 1024 !== 0) ctx.error(path, `${v} is not a whole number of kB`);
          } catch (e) {
            ctx.error(path, (e as Error).message);
          }
        }
      } else if (!names.vmstat.has(key)) {
        ctx.error(path, `no counter named '${key}' in meminfo or vmstat`, 'key');
      } else if (typeof v === 'string') {
        ctx.error(path, `${key} counts pages or events: expected a whole number`);
      }
    }
  },
  check: (a, { m }) => {
    const failures: Failure[] = [];
    const meminfo = m.meminfo();
    const vmstat = m.vmstat();
    const entries = Object.entries(a.counters ?? {});
    for (const [key, v] of entries) {
      const isKb = key in meminfo;
      const want = isKb ? meminfoKb(v) : (v as number);
      const have = isKb ? meminfo[key] : vmstat[key];
      const unit = isKb ? ' kB' : '';
      if (have !== want)
        failures.push({
          path: ['counters', key],
          message: `${key} is ${have}${unit}, expected ${want}${unit}`,
        });
    }
    return { checks: entries.length, failures };
  },
});
