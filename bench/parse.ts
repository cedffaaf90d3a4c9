/**
 * Scenario parsing speed (issue 13 item 4): a generated file of N one-line write steps through
 * parseScenario (YAML, the schema of every step, the static label checks, the source map for
 * `file:line:col`), in µs per step against the target of 20 µs/step (a 100,000-step file
 * in well under a second, with margin), and the heap the parsed file holds against its size. For
 * comparison, the slow path alone (yaml, a source range per node: what a file the fast path is
 * unsure of costs) and running the steps (issue 14). It parses 100,000 steps (10,000 with
 * BENCH_QUICK); run alone — `node --expose-gc dist-bench/bench/parse.js [steps]` after
 * `tsc -p tsconfig.bench.json` — it takes the count given.
 */

import { availableParallelism, loadavg } from 'node:os';
import { pathToFileURL } from 'node:url';
import { type ParseResult, parseScenario, parseWithYaml } from '../src/scenario/parse.js';
import { runScenario } from '../src/scenario/run.js';
import { fmtBytes, hostMem, median, printTable, progress, QUICK, type SuiteResult } from './util.js';

const TARGET_US = 20;
/** "Well under a second" for the 100,000-step file, with margin: half of one. */
const TARGET_FILE_MS = 500;
/** Parses of the big file: the first (a fresh process's JIT) and the median of all. */
const ROUNDS = 5;
/** The parsed steps (objects, strings, closures) against the file's bytes. */
const TARGET_HEAP_RATIO = 10;

/** A scenario of `n` steps after a spawn and an mmap: one-line flow maps, as examples write them. */
export function manySteps(n: number): string {
  const lines = [
    'name: many steps',
    'machine: { memory: 512M }',
    'steps:',
    '  - { op: spawn, name: p }',
    '  - { op: mmap, proc: p, name: buf, size: 64K, prot: rw, flags: [private, anonymous] }',
  ];
  for (let i = 0; i < n; i++)
    lines.push(`  - { op: write, proc: p, addr: buf+${(i % 16) * 4}K, byte: ${i % 256}, len: 1 }`);
  return `${lines.join('\n')}\n`;
}

/** Parse `text` once, keeping the result: the time, and the heap it holds (after a full GC). */
function measure(parse: (text: string, file: string) => ParseResult, text: string) {
  const before = hostMem().heapUsed;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const r = parse(text, 'many.yaml');
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const heap = hostMem().heapUsed - before;
  if (!r.ok) throw new Error(`the generated scenario does not parse: ${r.errors[0]?.message}`);
  return { ms, cpuMs: (cpu.user + cpu.system) / 1000, heap, scenario: r.scenario };
}

export function runParse(steps = QUICK ? 10000 : 100000): SuiteResult {
  const text = manySteps(steps);
  parseScenario(manySteps(1000), 'warmup.yaml');
  parseWithYaml(manySteps(1000), 'warmup.yaml');
  progress(`parse: ${steps} steps, ${(text.length / 2 ** 20).toFixed(1)} MiB`);
  const fast = measure(parseScenario, text);
  const times = [fast.ms];
  for (let i = 1; i < ROUNDS; i++) times.push(measure(parseScenario, text).ms);
  const first = fast.ms;
  const ms = median(times);
  const us = (ms * 1000) / (steps + 2);
  // The slow path (yaml with a source range per node) is what a file the recogniser is unsure
  // of costs, and what every file cost before; a smaller file, as it is 20 times slower.
  const slowSteps = Math.min(steps, 5000);
  const slow = measure(parseWithYaml, manySteps(slowSteps));
  const slowUs = (slow.ms * 1000) / (slowSteps + 2);
  // Running the steps (issue 14): the parse should be a small part of parse + run.
  const runSteps = Math.min(steps, QUICK ? 2000 : 10000);
  const small = measure(parseScenario, manySteps(runSteps)).scenario;
  const t0 = performance.now();
  const run = runScenario(small);
  const runUs = ((performance.now() - t0) * 1000) / (runSteps + 2);
  if (run.exitCode !== 0) throw new Error(`the generated scenario does not run: exit ${run.exitCode}`);
  const ratio = fast.heap / text.length;
  return {
    tables: [
      {
        title: 'scenario parsing: one-line write steps through parseScenario',
        columns: ['path', 'steps', 'bytes', 'total', 'per step', 'CPU per step', 'heap held'],
        rows: [
          [
            `parseScenario (median of ${ROUNDS}; first ${first.toFixed(0)} ms)`,
            String(steps + 2),
            String(text.length),
            `${ms.toFixed(0)} ms`,
            `${us.toFixed(1)} µs`,
            `${((fast.cpuMs * 1000) / (steps + 2)).toFixed(1)} µs`,
            `${fmtBytes(fast.heap)} (${ratio.toFixed(1)}× the file)`,
          ],
          [
            'yaml alone (the fallback)',
            String(slowSteps + 2),
            String(manySteps(slowSteps).length),
            `${slow.ms.toFixed(0)} ms`,
            `${slowUs.toFixed(1)} µs`,
            `${((slow.cpuMs * 1000) / (slowSteps + 2)).toFixed(1)} µs`,
            fmtBytes(slow.heap),
          ],
          ['running them (runScenario)', String(runSteps + 2), '', '', `${runUs.toFixed(1)} µs`, '', ''],
        ],
        // Wall time is what the target is about; CPU time says how much of it a busy host added.
        notes: [`load average ${loadavg()[0]!.toFixed(1)} on ${availableParallelism()} CPUs`],
      },
    ],
    targets: [
      {
        name: `a ${steps}-step scenario parses in well under a second (median of ${ROUNDS})`,
        want: `≤ ${((TARGET_FILE_MS * (steps + 2)) / 100002).toFixed(0)} ms`,
        got: `${ms.toFixed(0)} ms`,
        pass: ms <= (TARGET_FILE_MS * (steps + 2)) / 100002,
      },
      {
        name: 'YAML parsing per step',
        want: `≤ ${TARGET_US} µs/step`,
        got: `${us.toFixed(1)} µs/step`,
        pass: us <= TARGET_US,
      },
      {
        name: 'and holds a small multiple of its size in memory',
        want: `≤ ${TARGET_HEAP_RATIO}× the file`,
        got: `${ratio.toFixed(1)}×`,
        pass: ratio <= TARGET_HEAP_RATIO,
      },
    ],
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const r = runParse(Number(process.argv[2]) || undefined);
  for (const t of [...r.tables]) printTable(t);
  for (const t of r.targets)
    process.stdout.write(`${t.name}: ${t.got} (want ${t.want}) ${t.pass ? 'PASS' : 'MISS'}\n`);
}
