import { fc, test } from '@fast-check/vitest';
import { describe, expect, it, vi } from 'vitest';
import { InvariantViolation, Machine } from '../../src/index.js';
import { runText } from '../../src/scenario/format.js';
import { run, yaml } from './helpers.js';

const SHOWCASE_LIKE = yaml([
  '{ op: folio_alloc, order: 2, as: f }',
  '{ op: kmem_cache_create, name: c, size: 100 }',
  '{ op: kmem_cache_alloc, cache: c, count: 50 }',
  '{ op: kmalloc, size: 20K, as: k }',
  '{ op: pagetable_alloc, level: pmd, as: t }',
  '{ op: folio_put, folio: f }',
  '{ op: dump, page: t }',
  '{ op: expect, counters: { AnonPages: 0 } }',
]);

describe('determinism', () => {
  it('the same input gives the same text and trace, byte for byte', () => {
    const a = run(SHOWCASE_LIKE, { trace: true });
    const b = run(SHOWCASE_LIKE, { trace: true });
    expect(runText(a)).toBe(runText(b));
    expect(a.trace.join('\n')).toBe(b.trace.join('\n'));
    expect(a.exitCode).toBe(0);
  });

  const step = fc.oneof(
    fc.record({ op: fc.constant('folio_alloc'), order: fc.nat(4) }),
    fc.record({ op: fc.constant('alloc_pages'), order: fc.nat(3) }),
    fc.record({ op: fc.constant('kmalloc'), size: fc.integer({ min: 1, max: 20000 }) }),
    fc.record({ op: fc.constant('pagetable_alloc'), level: fc.constantFrom('pte', 'pmd') }),
    fc.record({ op: fc.constant('free'), pick: fc.nat() }),
  );

  type StepSpec = typeof step extends fc.Arbitrary<infer T> ? T : never;

  /** YAML for random allocations, each freed at most once by a later `free`. */
  function scenarioOf(ops: StepSpec[]): string {
    const live: { label: string; free: string }[] = [];
    const lines = ops.map((o, i) => {
      const label = `x${i}`;
      if (o.op === 'free') {
        if (live.length === 0) return '{ op: dump, what: buddyinfo }';
        const [victim] = live.splice(o.pick % live.length, 1);
        return victim.free;
      }
      const frees: Record<string, string> = {
        folio_alloc: `{ op: folio_put, folio: ${label} }`,
        alloc_pages: `{ op: free_pages, page: ${label} }`,
        kmalloc: `{ op: kfree, obj: ${label} }`,
        pagetable_alloc: `{ op: pagetable_free, table: ${label} }`,
      };
      live.push({ label, free: frees[o.op] });
      const { op, ...args } = o;
      const fields = Object.entries(args).map(([k, v]) => `${k}: ${v}`);
      return `{ op: ${op}, ${fields.join(', ')}, as: ${label} }`;
    });
    return yaml(lines, '{ memory: 256M, check: full }');
  }

  test.prop([fc.array(step, { minLength: 1, maxLength: 40 })], { numRuns: 25 })(
    'random valid allocation sequences pass every invariant check and run identically twice',
    (ops) => {
      const text = scenarioOf(ops);
      const a = run(text, { trace: true });
      expect(a.failures).toEqual([]);
      expect(a.exitCode).toBe(0);
      const b = run(text, { trace: true });
      expect(runText(b)).toBe(runText(a));
      expect(b.trace).toEqual(a.trace);
    },
  );
});

describe('the trace', () => {
  it('has the boot, the events of each step with its number, each step, the report and the result', () => {
    const r = run(yaml(['{ op: folio_alloc, as: f }', '{ op: folio_put, folio: f }']), { trace: true });
    const records = r.trace.map((l) => JSON.parse(l));
    expect(records.map((x) => x.type)).toEqual([
      'boot',
      'alloc',
      'step',
      'counters',
      'free',
      'step',
      'counters',
      'report',
      'result',
    ]);
    expect(records[0]).toEqual({
      type: 'boot',
      name: 't',
      memory: 128 << 20,
      nodes: 1,
      design: 'memdesc',
      check: 'cheap',
    });
    expect(records[1]).toEqual({ step: 1, type: 'alloc', pfn: 0x100, order: 0, kind: 'anon' });
    expect(records[2]).toEqual({
      type: 'step',
      step: 1,
      op: 'folio_alloc',
      line: 4,
      col: 5,
      status: 'ok',
      summary: 'anon order 0 -> pfn 0x100 as f',
    });
    expect(records[3]).toMatchObject({ type: 'counters', step: 1, counters: { pagelab_folio_alloc: 1 } });
    expect(records[4]).toMatchObject({ step: 2, type: 'free', pfn: 0x100 });
    expect(Object.keys(records[7].sections)).toEqual(['pages', 'meminfo', 'vmstat', 'accounting']);
    expect(records[8]).toEqual({ type: 'result', status: 'pass', steps: 2, expectations: 0, failed: 0 });
  });

  it('records failures, and is empty unless asked for', () => {
    const text = yaml(['{ op: folio_alloc, as: f }', '{ op: expect, page: f, state: { refcount: 3 } }']);
    const records = run(text, { trace: true }).trace.map((l) => JSON.parse(l));
    expect(records.find((x) => x.type === 'failure')).toEqual({
      type: 'failure',
      step: 2,
      line: 5,
      col: 47,
      message: 'f (pfn 0x100): refcount is 1, expected 3',
    });
    expect(records[records.length - 1]).toMatchObject({ status: 'fail', failed: 1 });
    expect(run(text).trace).toEqual([]);
  });
});

describe('the text of a run', () => {
  it('has the header, a line per step, the report and the verdict', () => {
    const text = runText(
      run(yaml(['{ op: folio_alloc, order: 1, as: f }', '{ op: expect, page: f, state: { order: 1 } }'])),
    );
    expect(text.split('\n').slice(0, 4)).toEqual([
      '== t (t.yaml)',
      'machine: 128M RAM, 1 node, design memdesc, invariants checked after every step: cheap',
      '   1  folio_alloc        anon order 1 -> pfn 0x100 as f',
      '   2  expect             ok, 1 check',
    ]);
    expect(text).toContain('report after step 2:\n  page frames by type:\n    buddy');
    expect(text).toContain('  metadata accounting:\n    memdesc: ');
    expect(text.split('\n').at(-1)).toBe('PASS  2 steps, 1 expectation held');
  });

  it('ends with every failure at its position, and where the run stopped', () => {
    const text = runText(
      run(
        yaml([
          '{ op: folio_alloc, as: f }',
          '{ op: expect, page: f, state: { order: 1 } }',
          '{ op: folio_put, folio: f }',
          '{ op: folio_put, folio: f }',
        ]),
      ),
    );
    expect(text.split('\n').slice(-3)).toEqual([
      'FAIL  2 failures in 4 steps (1 expectation checked); the run stopped at step 4 of 4',
      '  t.yaml:5:44 step 2 (expect): f (pfn 0x100): order is 0, expected 1',
      '  t.yaml:7:5 step 4 (folio_put): BUG: stale or invalid folio handle #0.1 (pfn 0x100) [folio: use after free]',
    ]);
  });
});

describe('invariants', () => {
  it('are checked after every step at the scenario level; a violation stops the run at that step', () => {
    const levels: string[] = [];
    const check = vi.spyOn(Machine.prototype, 'check').mockImplementation((level) => {
      levels.push(String(level));
      if (levels.length === 2)
        throw new InvariantViolation([{ rule: 'counters', message: 'free pages 1 != pages typed buddy 2' }]);
    });
    try {
      const r = run(
        yaml(
          ['{ op: alloc_pages }', '{ op: alloc_pages }', '{ op: alloc_pages }'],
          '{ memory: 128M, check: full }',
        ),
      );
      expect(levels).toEqual(['full', 'full']);
      expect(r.stoppedAt).toBe(2);
      expect(r.failures.map((f) => [f.step, f.pos.line, f.message])).toEqual([
        [2, 5, 'invariants broken after this step: [counters] free pages 1 != pages typed buddy 2'],
      ]);
    } finally {
      check.mockRestore();
    }
  });

  it("print the dump_page() of the first violation's frame", () => {
    const check = vi.spyOn(Machine.prototype, 'check').mockImplementation(() => {
      throw new InvariantViolation([
        { rule: 'counters', message: 'no frame here' },
        { rule: 'folio', message: 'folio 0x100: negative mapcount', pfn: 0x100 },
      ]);
    });
    try {
      const r = run(yaml(['{ op: folio_alloc, order: 0 }'], '{ memory: 128M, check: cheap }'));
      const msg = r.failures[0].message;
      expect(msg).toContain('[folio] folio 0x100: negative mapcount');
      expect(msg).toMatch(
        /\n {6}page: refcount:1 mapcount:0 mapping:anon index:0x0 pfn:0x100\n {6}memdesc: anon/,
      );
    } finally {
      check.mockRestore();
    }
  });
});

describe('the report', () => {
  it("lists the GUP pin counters among vmstat's events (nr_foll_pin_* count events, not pages)", () => {
    const r = run(
      yaml([
        '{ op: spawn, name: p }',
        '{ op: mmap, proc: p, name: b, size: 4K, prot: rw, flags: [private, anonymous] }',
        '{ op: write, proc: p, addr: b, len: 4K, byte: 1 }',
        '{ op: pin, proc: p, addr: b, pages: 1, as: x }',
        '{ op: unpin, pin: x }',
      ]),
    );
    const vmstat = r.report!.find((s) => s.id === 'vmstat')!;
    expect(vmstat.data).toMatchObject({ nr_foll_pin_acquired: 1, nr_foll_pin_released: 1 });
    expect(
      Object.keys(vmstat.data as object).some((k) => k.startsWith('nr_') && !k.startsWith('nr_foll_pin_')),
    ).toBe(false);
  });
});
