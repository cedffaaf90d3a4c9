/**
 * The fuzzer's throughput: `pagelab check` budgets per check level, ops/s, and the finding
 * counts (which must be zero). In `npm run bench` it runs a short budget per level; the issue's
 * budgets (10^6 ops at cheap, 10^5 at full) per design are `npm run fuzz:long` (fuzz_long.ts).
 */
import { FINDING_KINDS, type FuzzOptions, fuzz } from '../src/fuzz/fuzz.js';
import type { CheckLevel } from '../src/index.js';
import { fmtRate, progress, QUICK, type SuiteResult } from './util.js';

/** One seeded run per 10^4 ops, so a finding names a short sequence; counts and rates add up. */
export function level(check: CheckLevel, ops: number, design: Partial<FuzzOptions> = {}) {
  const chunk = Math.min(ops, 10000);
  let ran = 0;
  let executed = 0;
  let ms = 0;
  let errors = 0;
  const counts = Object.fromEntries(FINDING_KINDS.map((k) => [k, 0])) as Record<string, number>;
  const found: string[] = [];
  for (let seed = 1; ran < ops; seed++) {
    const r = fuzz({ ...design, ops: Math.min(chunk, ops - ran), seed, check, shrinkBudget: 0 });
    ran += r.options.ops;
    executed += r.ops; // a run stops at its first finding
    ms += r.ms;
    errors += r.errors;
    for (const k of FINDING_KINDS) counts[k] += r.counts[k];
    if (r.finding)
      found.push(
        `seed ${seed} (${check}): ${r.finding.kind} in ${r.finding.op}: ${r.finding.message.slice(0, 160)}`,
      );
    if (seed % 10 === 0 || ran >= ops) progress(`fuzz ${check}: ${ran}/${ops} ops`);
  }
  return { check, ops: executed, ms, errors, counts, found };
}

export function runFuzz(budgets: Partial<Record<CheckLevel, number>> = {}): SuiteResult {
  const want: Record<CheckLevel, number> = QUICK
    ? { off: 2000, cheap: 1000, full: 500 }
    : { off: 20000, cheap: 10000, full: 3000 };
  const rows = (['off', 'cheap', 'full'] as CheckLevel[])
    .filter((c) => (budgets[c] ?? want[c]) > 0)
    .map((c) => level(c, budgets[c] ?? want[c]));
  const clean = rows.every((r) => FINDING_KINDS.every((k) => r.counts[k] === 0));
  return {
    tables: [
      {
        title: 'pagelab check (fuzzer): ops per check level, 5 % invalid arguments, bias pins, memdesc',
        columns: ['check', 'ops', 'ops/s', 'refused', ...FINDING_KINDS],
        rows: rows.map((r) => [
          r.check,
          String(r.ops),
          fmtRate((r.ops / r.ms) * 1000),
          String(r.errors),
          ...FINDING_KINDS.map((k) => String(r.counts[k])),
        ]),
        notes: rows.flatMap((r) => r.found),
      },
    ],
    targets: [
      {
        name: 'pagelab check finds nothing (crash, violation, state-changed, mismatch, accepted)',
        want: '0',
        got: String(rows.reduce((n, r) => n + FINDING_KINDS.reduce((m, k) => m + r.counts[k], 0), 0)),
        pass: clean,
      },
    ],
  };
}
