/**
 * The conformance suite of the memmap-layout seam (src/designs/layout.ts): the layout is
 * accounting only. Every example runs under `memdesc` and `struct-page` and must behave the same
 * — the same step summaries, failures, trace events, /proc views and frame descriptions — while
 * the accounting reports the same two layouts in the configured one's order.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LAYOUTS } from '../../src/index.js';
import { parseScenario } from '../../src/scenario/parse.js';
import { runScenario } from '../../src/scenario/run.js';

const DIR = 'examples';
const files = readdirSync(DIR, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.yaml'));

/** A trace record with its report's accounting in a fixed order (the configured layout comes first). */
function sortedAccounting(line: string): unknown {
  const rec = JSON.parse(line);
  if (rec.design) rec.design = '(layout under test)'; // the run header names the configured layout
  const acc = rec.sections?.accounting as { layout: string }[] | undefined;
  if (acc) acc.sort((x, y) => x.layout.localeCompare(y.layout));
  return rec;
}

function runUnder(file: string, design: (typeof LAYOUTS)[number]) {
  const parsed = parseScenario(readFileSync(join(DIR, file), 'utf8'), file);
  if (!parsed.ok) throw new Error(`${file} does not parse`);
  const s = parsed.scenario;
  const r = runScenario({ ...s, machine: { ...s.machine, design } }, { trace: true });
  const m = r.machine!;
  const frames = Array.from({ length: 64 }, (_, i) => Math.floor((i * m.totalPages) / 64));
  return {
    exitCode: r.exitCode,
    failures: r.failures.map((f) => f.message),
    steps: r.steps.map((x) => `${x.status} ${x.summary}`),
    trace: r.trace.map(sortedAccounting),
    meminfo: m.meminfo(),
    vmstat: m.vmstat(),
    buddyinfo: m.buddyinfo(),
    pages: frames.map((pfn) => m.page(pfn)),
    accounting: m.accounting(),
  };
}

describe('memmap layouts behave the same; only the accounting differs', () => {
  it('there are two layouts to compare', () =>
    expect([...LAYOUTS].sort()).toEqual(['memdesc', 'struct-page']));

  it.each(files)('%s', (file) => {
    const a = runUnder(file, 'memdesc');
    const b = runUnder(file, 'struct-page');
    const { accounting: accA, ...restA } = a;
    const { accounting: accB, ...restB } = b;
    expect(restB).toEqual(restA);
    expect(accA.map((x) => x.layout)).toEqual(['memdesc', 'struct-page']);
    expect(accB.map((x) => x.layout)).toEqual(['struct-page', 'memdesc']);
    expect(accB[1]).toEqual(accA[0]);
    expect(accB[0]).toEqual(accA[1]);
  });
});
