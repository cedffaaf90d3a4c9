/**
 * The fast path of parseScenario (fast_parse.ts, fast_yaml.ts) against yaml's: for every input it
 * takes, the same values, the same positions and the same parsed scenario; everything it is not
 * sure of goes to yaml (issues 13 and 14).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { fastParse } from '../../src/scenario/fast_parse.js';
import { type ParseResult, parseScenario, parseWithYaml } from '../../src/scenario/parse.js';
import { agreesWithYaml } from './fast_helpers.js';

const HEAD = 'name: t\nmachine: { memory: 128M }\nsteps:\n';
const doc = (...steps: string[]) => `${HEAD}${steps.join('\n')}\n`;

/** What a parse result says, without the closures (locate is compared by its answers). */
function summary(r: ParseResult) {
  if (!r.ok) return r;
  const { locate, steps, ...rest } = r.scenario;
  return {
    ...rest,
    steps: steps.map(({ op, ...s }) => ({ op: op.name, ...s })),
    locate: steps.map((s) => [locate(['steps', s.n - 1]), locate(['steps', s.n - 1, 'addr'])]),
    machine: locate(['machine']),
  };
}

function sameScenario(text: string): void {
  expect(summary(parseScenario(text, 'f.yaml'))).toEqual(summary(parseWithYaml(text, 'f.yaml')));
}

describe('the fast path', () => {
  it('takes most examples, and agrees with yaml on each it takes', () => {
    const files = readdirSync('examples', { recursive: true })
      .map(String)
      .filter((f) => f.endsWith('.yaml'));
    let fast = 0;
    for (const f of files) {
      const text = readFileSync(`examples/${f}`, 'utf8');
      if (agreesWithYaml(text)) fast++;
      sameScenario(text);
    }
    expect(fast / files.length).toBeGreaterThan(0.8);
  });

  it('reads the common shapes: flow steps, block steps, nested maps, quoted text, comments', () => {
    const text = [
      '# a scenario',
      'name: t',
      'steps:',
      '  - { op: spawn, name: p } # a comment',
      '',
      '  # between steps',
      '  - op: mmap',
      '    proc: p',
      "    name: 'it''s'",
      '    size: 0x2000',
      '    flags: [private, anonymous]',
      '  - op: expect',
      '    page: { proc: p, addr: buf+4K }',
      '    state:',
      '      refcount: -1',
      '      frame: "A b"',
      '    counters:',
      '      { pgfault: 1, 10: true, x: ~ }',
      'machine: { memory: 128M }',
      '',
    ].join('\n');
    expect(agreesWithYaml(text)).toBe(true);
    sameScenario(text);
  });

  it.each([
    ['an anchor', '  - &a { op: spawn, name: p }'],
    ['an alias', '  - *a'],
    ['a tag', '  - !!map { op: spawn }'],
    ['a float', '  - { op: x, n: 1.5 }'],
    ['an exponent', '  - { op: x, n: 1e3 }'],
    ['an octal int', '  - { op: x, n: 0o17 }'],
    ['.inf', '  - { op: x, n: .inf }'],
    ['an escape', '  - { op: x, s: "a\\tb" }'],
    ['non-ASCII text', '  - { op: x, s: é }'],
    ['a tab', '  - { op: x,\ts: 1 }'],
    ['CRLF', '  - { op: x }\r'],
    ['a duplicate key', '  - { op: x, op: y }'],
    ['a duplicate block key', '  - op: x\n    op: y'],
    ['a key that is not its text', '  - { op: x, 0x10: 1 }'],
    ['a bool key', '  - { op: x, true: 1 }'],
    ['a merge key', '  - { op: x, <<: 1 }'],
    ['__proto__', '  - { op: x, __proto__: 1 }'],
    ['a quoted key', '  - { "op": x }'],
    ['a flow map over lines', '  - { op: x,\n      s: 1 }'],
    ['a trailing comma', '  - { op: x, }'],
    ['an empty value', '  - { op: x, s: }'],
    ['a key with no value', '  - op: x\n    s:'],
    ['a: inside a plain scalar', '  - { op: a:b }'],
    ['# inside a plain scalar', '  - { op: a#b }'],
    ['a comma in a block scalar', '  - op: a,b'],
    ['a multi-line plain scalar', '  - op: a\n      b'],
    ['a block scalar', '  - op: |\n      a'],
    ['a nested block sequence', '  - op: x\n    flags:\n      - a'],
    ['an implicit pair in a sequence', '  - { op: x, s: [a: 1] }'],
    ['a scalar item', '  - spawn'],
    ['a dash alone', '  - { op: - }'],
    ['uneven dashes', '  - { op: x }\n   - { op: y }'],
    ['a sequence at column 0', '- { op: x }'],
    ['a second document', '  - { op: x }\n---\nname: u'],
  ])('leaves %s to yaml', (_, step) => {
    const text = doc(step);
    expect(fastParse(text)).toBeUndefined();
    sameScenario(text);
  });

  it.each([
    ['no steps', 'name: t\nsteps: []\n'],
    ['steps written as a flow list', 'name: t\nsteps: [{ op: spawn, name: p }]\n'],
    ['the steps key twice', `${doc('  - { op: spawn, name: p }')}steps:\n  - { op: exit, proc: p }\n`],
    ['a syntax error around the steps', `name: [t\n${doc('  - { op: spawn, name: p }')}`],
    [
      'a steps line inside a quoted scalar',
      "name: 'a\nsteps:\n  - { op: nope }\n'\nsteps:\n  - { op: spawn, name: p }\n",
    ],
    ['a steps line inside a flow map', 'name: t\nmachine: { memory: 1G,\nsteps:\n  - { op: x }\n}\n'],
  ])('leaves %s to yaml', (_, text) => {
    expect(fastParse(text)).toBeUndefined();
    sameScenario(text);
  });

  it('gives errors from the slow path only, the same file:line:col', () => {
    for (const text of [
      doc('  - { op: spawn, name: p }', '  - { op: exit, proc: q }'),
      doc('  - { op: write, proc: p, addr: buf }'),
      doc('  - { op: nope }', '  - op: spawn\n    name: 1'),
      doc('  - { op: spawn, name: p, extra: 1 }'),
    ]) {
      expect(fastParse(text)).toBeDefined();
      const r = parseScenario(text, 'f.yaml');
      expect(r.ok).toBe(false);
      expect(r).toEqual(parseWithYaml(text, 'f.yaml'));
    }
  });
});

/** Scalars the fast path reads, some only looking like numbers; and ones it leaves to yaml. */
const plainScalar = fc.constantFrom(
  'p',
  'buf',
  'buf+4K',
  'buf + 0x10',
  '64K',
  '2M',
  '0x1000',
  '0X10',
  '0x',
  '1_000',
  '007',
  '-1',
  '+5',
  '-x',
  '12345678901234567890',
  '999999999999999',
  '1234567890123456',
  '0',
  '0b1',
  'null',
  'Null',
  '~',
  'true',
  'True',
  'yes',
  'off',
  "'it''s'",
  "''",
  '"q"',
  '"a b"',
  'a b',
  'a  b',
  '[]',
  '{}',
  '[a, 1]',
  '[a,b]',
  '{ a: 1 }',
  '{a: 1}',
  '{ a: [1, { b: c }] }',
  '[ ]',
  '1_0.5',
);
const trickyScalar = fc.constantFrom(
  '1.',
  '1.5',
  '.5',
  '1e3',
  '.inf',
  '.NaN',
  '0o17',
  '"\\n"',
  'a:b',
  'a: b',
  'a#b',
  'a #b',
  '-',
  '- x',
  '?x',
  '@x',
  '`x',
  '%x',
  '&a x',
  '*a',
  '!x',
  'é',
  '[a, ]',
  'a,b',
  'x]',
);
const scalar = fc.oneof({ arbitrary: plainScalar, weight: 30 }, { arbitrary: trickyScalar, weight: 1 });

const key = fc.oneof(
  { arbitrary: fc.constantFrom('op', 'proc', 'addr', 'a', 'b', '0', '10', 'x y', 'k-1'), weight: 30 },
  { arbitrary: fc.constantFrom('01', 'true', '<<', 'a:', '-k', '0x1', '~'), weight: 1 },
);

/** Keys unique but now and then (a duplicate is left to yaml, which reports it). */
const entries = fc.oneof(
  { arbitrary: fc.uniqueArray(fc.tuple(key, scalar), { maxLength: 4, selector: ([k]) => k }), weight: 9 },
  { arbitrary: fc.array(fc.tuple(key, scalar), { maxLength: 4 }), weight: 1 },
);

/** A step written as a one-line flow map or as a block map (maybe nested), with comments. */
const step = fc.oneof(
  fc
    .tuple(entries, fc.constantFrom('', ' # c', '#c', '  '), fc.constantFrom(' ', '', '  '))
    .map(([es, tail, pad]) => `  - {${pad}${es.map(([k, v]) => `${k}: ${v}`).join(', ')}${pad}}${tail}`),
  fc
    .tuple(
      entries,
      fc.option(
        fc.tuple(
          key,
          entries.filter((es) => es.length > 0),
        ),
      ),
      fc.constantFrom('', ' # c'),
    )
    .filter(([es]) => es.length > 0)
    .map(([es, nested, tail]) => {
      const lines = es.map(([k, v], i) => `${i === 0 ? '  - ' : '    '}${k}: ${v}${tail}`);
      if (nested) {
        lines.push(`    ${nested[0]}:`);
        lines.push(...nested[1].map(([k, v]) => `      ${k}: ${v}`));
      }
      return lines.join('\n');
    }),
  fc.constantFrom(
    '  # a comment',
    '',
    '  - { op: spawn, name: p }',
    '  - { op: write, proc: p, addr: 0x1000 }',
  ),
);

/** Whole documents: the steps before or after the machine, a trailing newline or not. */
const document = fc
  .tuple(fc.array(step, { maxLength: 5 }), fc.boolean(), fc.boolean())
  .map(([steps, machineLast, newline]) => {
    const machine = 'machine: { memory: 128M }';
    const lines = ['name: gen', ...(machineLast ? [] : [machine]), 'steps:', ...steps];
    if (machineLast) lines.push(machine);
    return lines.join('\n') + (newline ? '\n' : '');
  });

describe('the fast path against yaml, generated', () => {
  it('the same values, positions and results; the fast path takes many of them', () => {
    let fast = 0;
    fc.assert(
      fc.property(document, (text) => {
        if (agreesWithYaml(text)) fast++;
        sameScenario(text);
      }),
      { numRuns: 2000 },
    );
    expect(fast).toBeGreaterThan(400);
  });

  /** Valid scenarios too, so the fast path's results (not only its values) are compared. */
  const valid = fc
    .array(
      fc.tuple(
        fc.constantFrom('0x1000', 'buf', 'buf+4K', 'buf + 0x10', "'buf'"),
        fc.integer({ min: 0, max: 300 }),
      ),
      { maxLength: 8 },
    )
    .map((writes) =>
      doc(
        '  - { op: spawn, name: p }',
        '  - op: mmap\n    proc: p\n    name: buf\n    size: 64K\n    prot: rw\n    flags: [private, anonymous]',
        ...writes.map(([addr, byte]) => `  - { op: write, proc: p, addr: ${addr}, byte: ${byte}, len: 1 }`),
      ),
    );
  test.prop([valid], { numRuns: 300 })('the same scenarios, or the same errors', (text) => {
    expect(agreesWithYaml(text)).toBe(true);
    sameScenario(text);
  });
});
