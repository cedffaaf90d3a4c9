/**
 * `npm run bench`: every suite in turn, one table per suite on stdout, then the Foundation
 * issue's targets with PASS or MISS. Progress goes to stderr. `BENCH_QUICK=1` shortens all runs.
 *
 * Run with `node --expose-gc` (the npm script does) so the memory figures are taken after a full
 * collection. Machines here are noisy: compare numbers from one run, not across runs.
 * `BENCH_SUITES=snapshot,vm` runs only the named suites (their targets alone are listed).
 *
 * Each suite runs in a Node process of its own (this script again, with BENCH_SUITE set), so what
 * one leaves behind — gigabytes of garbage, a grown heap, JIT state — does not slow the next.
 */
import os from 'node:os';
import { runBoot } from './boot.js';
import { runCompaction } from './compaction.js';
import { runContents } from './contents.js';
import { runFloor } from './floor.js';
import { runFuzz } from './fuzz.js';
import { runGup } from './gup.js';
import { runMemmap } from './memmap.js';
import { runPageAlloc, runPageAllocCase } from './page_alloc.js';
import { runParse } from './parse.js';
import { runSnapshot } from './snapshot.js';
import { runSteps } from './steps.js';
import { inFreshProcess, printTable, progress, QUICK, type SuiteResult, type Target } from './util.js';
import { runVm } from './vm.js';

const SUITES: [string, () => SuiteResult][] = [
  ['boot', runBoot],
  ['page_alloc', runPageAlloc],
  ['memmap', runMemmap],
  ['floor', runFloor],
  ['vm', runVm],
  ['gup', runGup],
  ['compaction', runCompaction],
  ['snapshot', runSnapshot],
  ['contents', runContents],
  ['fuzz', () => runFuzz()],
  ['steps', () => runSteps()],
  ['parse', () => runParse()],
];

/** Parts of a suite that it runs in processes of their own (not suites: main() skips them). */
const PARTS: [string, () => unknown][] = [['page_alloc_case', runPageAllocCase]];

/** The child's side: run one suite (or part), its result as JSON on the last line of stdout. */
function child(name: string): void {
  const suite = [...SUITES, ...PARTS].find(([n]) => n === name);
  if (!suite) throw new Error(`no bench suite '${name}'`);
  const result = suite[1]();
  process.stdout.write(`\n${JSON.stringify(result)}\n`);
}

/** One suite in a fresh process (stderr, its progress, passes through). */
const inChild = (name: string): SuiteResult =>
  inFreshProcess<SuiteResult>(`bench suite ${name}`, { BENCH_SUITE: name });

function main(): void {
  const started = performance.now();
  const cpu = os.cpus()[0]?.model.trim() ?? 'unknown CPU';
  process.stdout.write(
    `# pagelab benchmarks${QUICK ? ' (BENCH_QUICK)' : ''}\n\n` +
      `${new Date().toISOString().slice(0, 10)} · Node ${process.version} · ${cpu} · ${os.cpus().length} CPUs · ` +
      `${(os.totalmem() / 2 ** 30).toFixed(0)} GiB RAM · ${os.platform()} ${os.release()}\n\n`,
  );
  const targets: Target[] = [];
  const only = process.env.BENCH_SUITES?.split(',').filter(Boolean);
  for (const [name] of SUITES) {
    if (only && !only.includes(name)) continue;
    const t0 = performance.now();
    progress(`suite ${name}: start`);
    const result = inChild(name);
    for (const table of result.tables) printTable(table);
    targets.push(...result.targets);
    progress(`suite ${name}: done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
  printTable({
    title: "Targets (the issues' Acceptance sections)",
    columns: ['target', 'want', 'measured', 'result'],
    rows: targets.map((t) => [t.name, t.want, t.got, t.pass ? 'PASS' : 'MISS']),
    notes: [`total bench time ${((performance.now() - started) / 1000).toFixed(1)} s`],
  });
}

if (process.env.BENCH_SUITE) child(process.env.BENCH_SUITE);
else main();
