/**
 * The `run --json` trace: every record and event named by strings (no numeric memory types), the
 * process behind an `mm` named, and complete for what it counts rather than itemises — each
 * counter after the run is its boot value plus the trace's per-step deltas. Every event type the
 * shipped examples produce is documented in docs/json/README.md.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { Machine, parseScenario, runScenario } from '../../src/index.js';

async function trace(file: string): Promise<Record<string, unknown>[]> {
  let out = '';
  const code = await main(['run', file, '--json', '-'], { out: (s) => (out += s), err: () => {} });
  expect(code).toBeLessThan(2);
  return out
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
}

const EXAMPLES = readdirSync('examples')
  .filter((f) => f.endsWith('.yaml'))
  .map((f) => `examples/${f}`);
const DOC = readFileSync('docs/json/README.md', 'utf8');

describe('run --json: the trace', () => {
  it('names what it reports: types, memory kinds and the process of an mm', async () => {
    const t = await trace('examples/cow-after-fork.yaml');
    for (const r of t) expect(typeof r.type).toBe('string');
    const allocs = t.filter((r) => r.type === 'alloc');
    expect(allocs.length).toBeGreaterThan(0);
    for (const a of allocs) expect(a.kind).toBe('anon');
    const faults = t.filter((r) => r.type === 'fault');
    expect(faults.map((f) => [f.proc, f.pid])).toEqual([
      ['p', 1],
      ['p', 1],
    ]);
    const cow = t.find((r) => r.type === 'cow')!;
    expect(cow.proc).toBe('p');
  });

  it('counts what it does not itemise: boot value plus every step delta is the final counter', async () => {
    const file = 'examples/cow-after-fork.yaml';
    const parsed = parseScenario(readFileSync(file, 'utf8'), file);
    if (!parsed.ok) throw new Error('example does not parse');
    const boot = new Machine(parsed.scenario.machine).vmstat();
    const end = runScenario(parsed.scenario).machine!.vmstat();
    const t = await trace(file);
    const sum: Record<string, number> = { ...boot };
    for (const r of t.filter((x) => x.type === 'counters'))
      for (const [k, v] of Object.entries(r.counters as Record<string, number>)) sum[k] = (sum[k] ?? 0) + v;
    expect(sum).toEqual(end);
    // The page-table and buddy work is in there, step by step.
    const moved = t.filter((r) => r.type === 'counters').map((r) => r.counters as Record<string, number>);
    expect(moved.some((c) => c.pagelab_pgtable_alloc > 0)).toBe(true);
    expect(moved.some((c) => c.pagelab_buddy_split > 0)).toBe(true);
    expect(moved.some((c) => c.pagelab_buddy_merge > 0)).toBe(true);
    // Each counters record follows its step's own record.
    for (let i = 0; i < t.length; i++)
      if (t[i].type === 'counters') expect([t[i - 1].type, t[i - 1].step]).toEqual(['step', t[i].step]);
  });

  it('every record and event type the examples produce is documented', async () => {
    const types = new Set<string>();
    for (const f of EXAMPLES) for (const r of await trace(f)) types.add(r.type as string);
    expect(types.size).toBeGreaterThan(10);
    for (const t of types) expect(DOC, `trace type '${t}'`).toContain(`\`${t}\``);
  }, 120_000);
});
