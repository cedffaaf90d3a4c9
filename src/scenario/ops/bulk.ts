/**
 * `count: N` on allocating steps: the same allocation N times, for building up load (a page
 * cache's worth of folios, a slab cache's worth of objects) or running memory out (ENOMEM).
 */
import { hex } from '../fields.js';
import type { RunContext, StaticContext } from '../step.js';

/** A label names one allocation, so `as` and `count` > 1 do not go together. */
export function analyseCount(args: { count?: number; as?: string }, ctx: StaticContext): void {
  if ((args.count ?? 1) > 1 && args.as !== undefined)
    ctx.error(['as'], 'a label names one allocation: drop `as` or `count`');
}

/**
 * Run `alloc` `n` times. When one fails, the earlier ones stay allocated (as they would in the
 * kernel) and the step's line says how far it got.
 */
export function repeat<T>(n: number, ctx: RunContext, alloc: () => T): T[] {
  const out: T[] = [];
  try {
    for (let i = 0; i < n; i++) out.push(alloc());
  } catch (e) {
    if (n > 1) ctx.note(`after ${out.length} of ${n}`);
    throw e;
  }
  return out;
}

/** `pfn 0x1000`, or `100 x, pfn 0x1000..0x1063` for a bulk step. */
export function pfnsText(pfns: number[]): string {
  if (pfns.length === 1) return `pfn ${hex(pfns[0])}`;
  let lo = pfns[0];
  let hi = pfns[0];
  for (const p of pfns) {
    lo = Math.min(lo, p);
    hi = Math.max(hi, p);
  }
  return `${pfns.length} x, pfn ${hex(lo)}..${hex(hi)}`;
}

export const asText = (name: string | undefined): string => (name === undefined ? '' : ` as ${name}`);
