import { describe, expect, it } from 'vitest';
import { compare } from '../../src/oracle/compare.js';
import { planScenario } from '../../src/oracle/translate.js';
import type { PageObs, SideStep } from '../../src/oracle/types.js';
import { parseScenario } from '../../src/scenario/parse.js';

const scenario = parseScenario(
  `name: x
steps:
  - { op: spawn, name: p }
  - { op: mmap, proc: p, name: b, size: 8K, prot: rw, flags: [private, anonymous] }
  - { op: write, proc: p, addr: b, byte: 1, len: 8K }
  - { op: pin, proc: p, addr: b, flags: [write, longterm], as: d }
`,
  'x.yaml',
);
if (!scenario.ok) throw new Error(scenario.errors[0].message);
const plan = planScenario(scenario.scenario).steps;

const page = (pfn: number, flags: string[], count = 1): PageObs => ({
  present: true,
  byte: 1,
  excl: count === 1,
  pfn,
  count,
  flags,
});
const side = (pages: PageObs[][], outcomes: string[] = []): SideStep[] =>
  pages.map((p, i) => ({
    outcome: outcomes[i] ?? 'ok',
    regions: p.length ? [{ proc: 'p', region: 'b', pages: p }] : [],
  }));
const absent: PageObs = { present: false, excl: false, pfn: 0, count: 0, flags: [] };
const replies = (r: string[]) => r.map((x) => ({ replies: [x], regions: [] }));

describe('compare', () => {
  it('agrees on different frame numbers with the same sharing, and disagrees on a moved frame', () => {
    const k = side([
      [],
      [absent, absent],
      [page(700, ['anon']), page(900, ['anon'])],
      [page(700, ['anon']), page(901, ['anon'])],
    ]);
    const m = side([
      [],
      [absent, absent],
      [page(5, ['anon']), page(6, ['anon'])],
      [page(5, ['anon']), page(6, ['anon'])],
    ]);
    const run = { steps: k.map((s) => ({ replies: ['ok'], regions: s.regions })) };
    const r = compare(plan, run, m);
    expect(r[2].rows.map((row) => row.verdict)).toEqual(['agree', 'agree']);
    expect(r[3].rows.map((row) => `${row.first}-${row.last} ${row.verdict} ${row.note}`)).toEqual([
      '0-0 agree ',
      '1-1 disagree same',
    ]);
  });

  it('is inconclusive from the step where the kernel has a small page and the model a THP', () => {
    const thp = (pfn: number, head: boolean) => page(pfn, ['anon', 'thp', head ? 'head' : 'tail']);
    const k = side([
      [],
      [absent, absent],
      [page(700, ['anon']), page(900, ['anon'])],
      [page(700, ['anon']), page(900, ['anon'])],
    ]);
    const m = side([
      [],
      [absent, absent],
      [thp(512, true), thp(513, false)],
      [thp(512, true), thp(513, false)],
    ]);
    const r = compare(plan, { steps: k.map((s) => ({ replies: ['ok'], regions: s.regions })) }, m);
    expect(r[2].rows.every((row) => row.verdict === 'inconclusive')).toBe(true);
    expect(r[3].rows[0].note).toBe('the kernel did not obtain a THP for b (step 3)');
  });

  it('is inconclusive from a command the kernel refused and the model ran', () => {
    const pages = [
      [],
      [absent, absent],
      [page(1, ['anon']), page(2, ['anon'])],
      [page(1, ['anon']), page(2, ['anon'])],
    ];
    const run = {
      steps: replies(['ok', 'ok', 'ok', 'err register EPERM']).map((s, i) => ({
        ...s,
        regions: side(pages)[i].regions,
      })),
    };
    const r = compare(plan, run, side(pages));
    expect(r[3].outcome).toEqual({ kernel: 'err EPERM', model: 'ok', verdict: 'inconclusive' });
    expect(r[3].rows[0]).toMatchObject({
      verdict: 'inconclusive',
      note: 'the kernel refused: err register EPERM',
    });
  });
});
