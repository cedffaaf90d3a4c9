/**
 * Issue #13: the fuzzer's long budgets, per design — 10^6 ops at `check: cheap` and 10^5 at
 * `check: full` for every pin-count design under every memmap layout, with ops/s and the finding
 * counts (all must be zero). Takes a long while (the budgets times 12 designs), so it is a script
 * of its own, not part of `npm run bench`:
 *
 *     npm run fuzz:long -- [cheapOps] [fullOps] [layout/pincount,...]
 *
 * e.g. `npm run fuzz:long -- 100000 10000 memdesc/bias,struct-page/exact`. Exits 1 on a finding.
 */
import { LAYOUTS } from '../src/designs/layout.js';
import { PIN_DESIGNS } from '../src/designs/pincount.js';
import { FINDING_KINDS } from '../src/fuzz/fuzz.js';
import type { CheckLevel } from '../src/index.js';
import { level } from './fuzz.js';
import { fmtRate, printTable } from './util.js';

const [cheapArg, fullArg, only] = process.argv.slice(2);
/** A budget argument, or the default when it is not given (0 skips the level). */
const budget = (arg: string | undefined, dflt: number) =>
  arg === undefined || arg === '' ? dflt : Number(arg);
const budgets: [CheckLevel, number][] = [
  ['cheap', budget(cheapArg, 1e6)],
  ['full', budget(fullArg, 1e5)],
];
const designs = LAYOUTS.flatMap((design) => PIN_DESIGNS.map((pincount) => ({ design, pincount }))).filter(
  (d) => !only || only.split(',').includes(`${d.design}/${d.pincount}`),
);

const rows: string[][] = [];
const notes: string[] = [];
let findings = 0;
for (const d of designs) {
  for (const [check, ops] of budgets) {
    if (ops <= 0) continue;
    const r = level(check, ops, d);
    const n = FINDING_KINDS.reduce((m, k) => m + r.counts[k], 0);
    findings += n;
    rows.push([
      `${d.design}/${d.pincount}`,
      check,
      String(r.ops),
      fmtRate((r.ops / r.ms) * 1000),
      `${(r.ms / 1000).toFixed(0)} s`,
      String(r.errors),
      ...FINDING_KINDS.map((k) => String(r.counts[k])),
    ]);
    notes.push(...r.found);
    // Each design's rows as they finish: a run of hours should not print only at the end.
    process.stdout.write(`${rows[rows.length - 1].join('  ')}\n`);
  }
}
printTable({
  title: 'pagelab check (fuzzer), long budgets per design: 5 % invalid arguments, thp madvise',
  columns: ['design', 'check', 'ops', 'ops/s', 'time', 'refused', ...FINDING_KINDS],
  rows,
  notes,
});
process.exitCode = findings > 0 ? 1 : 0;
