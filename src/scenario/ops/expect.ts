/**
 * The `expect` op. Its keys come from the expectation modules (page state, counters, buddyinfo,
 * slabinfo, accounting — and more as mechanisms land): one step may check several at once. A
 * failed expectation is reported and the run goes on, so one run shows everything that differs.
 */
import type { z } from 'zod';
import { defineOp, type Expectation, type Failure, type Op } from '../step.js';

export function makeExpectOp(expectations: readonly Expectation[]): Op {
  const fields: z.ZodRawShape = Object.assign({}, ...expectations.map((e) => e.fields));
  const used = (e: Expectation, args: Record<string, unknown>) =>
    Object.keys(e.fields).some((k) => args[k] !== undefined);
  return defineOp({
    name: 'expect',
    doc: 'check page state, counters, buddyinfo, slabinfo or the design accounting; a failure does not stop the run',
    fields,
    analyse: (args, ctx) => {
      const present = expectations.filter((e) => used(e, args));
      if (present.length === 0)
        ctx.error([], `expect needs at least one of: ${Object.keys(fields).join(', ')}`);
      for (const e of present) e.analyse(args, ctx);
    },
    run: (args, ctx) => {
      let checks = 0;
      const failures: Failure[] = [];
      for (const e of expectations.filter((x) => used(x, args))) {
        const r = e.check(args, ctx);
        checks += r.checks;
        failures.push(...r.failures);
      }
      const summary = failures.length
        ? `FAILED ${failures.length} of ${checks} check${checks === 1 ? '' : 's'}`
        : `ok, ${checks} check${checks === 1 ? '' : 's'}`;
      return { summary, checks, failures };
    },
  });
}
