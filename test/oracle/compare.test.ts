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

describe('compare: counters', () => {
  const withCounters = (anon: number[], pins: number[], ahp: number[] = anon.map(() => 0)): SideStep[] =>
    anon.map((a, i) => ({
      outcome: 'ok',
      regions: [],
      counters: {
        procs: { p: { Anonymous: a, AnonHugePages: ahp[i] } },
        global: { nr_foll_pin_acquired: pins[i] },
      },
    }));
  const kernelRun = (s: SideStep[]) => ({
    steps: s.map((x) => ({ replies: ['ok'], regions: [], counters: x.counters })),
  });
  const verdicts = (r: ReturnType<typeof compare>) =>
    r.map((st) => st.counters.map((c) => `${c.name}:${c.kernel}/${c.model}:${c.verdict}`));

  it("compares each process's anonymous memory as the step's change, from its second observation", () => {
    // The kernel's probe process starts with 1,700 kB of its own; the model's with nothing.
    const k = withCounters([1700, 1700, 1708, 1712], [0, 0, 0, 0]);
    const m = withCounters([0, 0, 8, 12], [0, 0, 0, 0]);
    const r = verdicts(compare(plan, kernelRun(k), m));
    expect(r[0]).toEqual(['p/AnonHugePages:0/0:agree']);
    expect(r[2]).toContain('p/Anonymous change:8/8:agree');
    const off = withCounters([0, 0, 8, 16], [0, 0, 0, 0]);
    expect(verdicts(compare(plan, kernelRun(k), off))[3]).toContain('p/Anonymous change:4/8:disagree');
  });

  it('AnonHugePages is compared absolutely (the probe maps no THP)', () => {
    const k = withCounters([0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 2048, 2048]);
    const m = withCounters([0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 2048, 0]);
    const r = verdicts(compare(plan, kernelRun(k), m));
    expect(r[2]).toContain('p/AnonHugePages:2048/2048:agree');
    expect(r[3]).toContain('p/AnonHugePages:2048/0:disagree');
  });

  it('machine-wide counters count once, over the whole run: more on the kernel is inconclusive, less is a disagreement', () => {
    const m = withCounters([0, 0, 0, 0], [100, 100, 100, 101]);
    const more = verdicts(compare(plan, kernelRun(withCounters([0, 0, 0, 0], [5000, 5000, 5000, 5003])), m));
    expect(
      more
        .slice(0, 3)
        .flat()
        .filter((v) => v.startsWith('nr_foll')),
    ).toEqual([]);
    expect(more[3]).toContain('nr_foll_pin_acquired over the run:3/1:inconclusive');
    const same = verdicts(compare(plan, kernelRun(withCounters([0, 0, 0, 0], [7, 7, 7, 8])), m));
    expect(same[3]).toContain('nr_foll_pin_acquired over the run:1/1:agree');
    const less = verdicts(compare(plan, kernelRun(withCounters([0, 0, 0, 0], [7, 7, 7, 7])), m));
    expect(less[3]).toContain('nr_foll_pin_acquired over the run:0/1:disagree');
  });
});

describe('compare by rules (compact)', () => {
  const s = parseScenario(
    `name: x
steps:
  - { op: spawn, name: p }
  - { op: mmap, proc: p, name: b, size: 12K, prot: rw, flags: [private, anonymous] }
  - { op: write, proc: p, addr: b, byte: 1, len: 12K }
  - { op: pin, proc: p, addr: b+4K, flags: [write, longterm], as: d }
  - { op: compact }
`,
    'x.yaml',
  );
  if (!s.ok) throw new Error(s.errors[0].message);
  const rplan = planScenario(s.scenario).steps;
  const before = [page(10, ['anon']), page(11, ['anon']), page(12, ['anon'])];
  const kernelRun = (after: PageObs[]) => ({
    steps: side([[], [absent, absent, absent], before, before, after]).map((x) => ({
      replies: ['ok'],
      regions: x.regions,
    })),
  });
  // The model moved the two unpinned pages, the pinned one stayed.
  const model = side([
    [],
    [absent, absent, absent],
    [page(1, ['anon']), page(2, ['anon']), page(3, ['anon'])],
    [page(1, ['anon']), page(2, ['anon']), page(3, ['anon'])],
    [page(7, ['anon']), page(2, ['anon']), page(8, ['anon'])],
  ]);

  it('the plan runs compact_memory and knows the pinned pages; a zone or an order is refused', () => {
    expect(rplan[4].commands).toEqual(['compact']);
    expect(rplan[4].rules).toEqual({ pinned: ['p/b/1'] });
    const bad = parseScenario(
      'name: x\nsteps:\n  - { op: spawn, name: p }\n  - { op: compact, order: 9 }\n',
      'x.yaml',
    );
    if (!bad.ok) throw new Error(bad.errors[0].message);
    expect(() => planScenario(bad.scenario)).toThrow(/compact_memory/);
  });

  it('agrees whether or not the kernel moved an unpinned page, and says it compared rules', () => {
    const r = compare(rplan, kernelRun(before), model);
    expect(r[4].rows.every((row) => row.verdict === 'agree')).toBe(true);
    expect(r[4].rules).toMatch(/compared by rules, not frames/);
    expect(r[3].rules).toBeUndefined();
  });

  it('disagrees when the kernel moved the long-term-pinned page, or a page lost its bytes or sharing', () => {
    const moved = compare(rplan, kernelRun([before[0], page(99, ['anon']), before[2]]), model);
    expect(moved[4].rows.find((row) => row.first === 1)).toMatchObject({
      verdict: 'disagree',
      note: 'a long-term-pinned page moved',
    });
    const bytes = compare(rplan, kernelRun([{ ...before[0], byte: 0 }, before[1], before[2]]), model);
    expect(bytes[4].rows[0]).toMatchObject({ verdict: 'disagree', note: 'byte' });
    const shared = compare(rplan, kernelRun([page(10, ['anon']), before[1], page(10, ['anon'])]), model);
    expect(shared[4].rows.some((row) => row.verdict === 'disagree' && row.note.includes('cls'))).toBe(true);
  });
});
