/**
 * Scenario parsing speed (issue 13 item 4): a generated file of N one-line write steps through
 * parseScenario (YAML, the schema of every step, the static label checks, the source map for
 * `file:line:col`), in µs per step against the target of 20 µs/step (a 100,000-step file
 * in well under a second, with margin). In `npm run bench` it parses 20,000 steps; run alone —
 * `node dist-bench/bench/parse.js [steps]` after `tsc -p tsconfig.bench.json` — it takes 100,000
 * or the count given.
 */
import { pathToFileURL } from 'node:url';
import { parseScenario } from '../src/scenario/parse.js';
import { printTable, progress, QUICK, type SuiteResult } from './util.js';

const TARGET_US = 20;

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

export function runParse(steps = QUICK ? 2000 : 20000): SuiteResult {
  const text = manySteps(steps);
  parseScenario(manySteps(1000), 'warmup.yaml');
  progress(`parse: ${steps} steps, ${(text.length / 2 ** 20).toFixed(1)} MiB`);
  const t0 = performance.now();
  const r = parseScenario(text, 'many.yaml');
  const ms = performance.now() - t0;
  if (!r.ok) throw new Error(`the generated scenario does not parse: ${r.errors[0]?.message}`);
  const us = (ms * 1000) / (steps + 2);
  return {
    tables: [
      {
        title: 'scenario parsing: one-line write steps through parseScenario',
        columns: ['steps', 'bytes', 'total', 'per step'],
        rows: [[String(steps + 2), String(text.length), `${ms.toFixed(0)} ms`, `${us.toFixed(1)} µs`]],
      },
    ],
    targets: [
      {
        name: 'a 100,000-step scenario parses in well under a second (per step)',
        want: `≤ ${TARGET_US} µs/step`,
        got: `${us.toFixed(1)} µs/step`,
        pass: us <= TARGET_US,
      },
    ],
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const r = runParse(Number(process.argv[2]) || 100000);
  for (const t of [...r.tables]) printTable(t);
  for (const t of r.targets)
    process.stdout.write(`${t.name}: ${t.got} (want ${t.want}) ${t.pass ? 'PASS' : 'MISS'}\n`);
}
