/**
 * The compiled step schemas against zod: wherever the compiled one answers, zod accepts the step
 * and gives the same output (values and key order); over every step of every example, and
 * mutations of them that zod must reject or may accept.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { FAIL, fastSchema } from '../../src/scenario/fast_schema.js';
import { OPS_BY_NAME } from '../../src/scenario/registry.js';
import { readDocument } from '../../src/scenario/yaml_doc.js';

type Raw = Record<string, unknown>;

/** Every step of every example file whose op exists. */
const corpus: Raw[] = readdirSync('examples', { recursive: true })
  .map(String)
  .filter((f) => f.endsWith('.yaml'))
  .flatMap((f) => {
    const d = readDocument(readFileSync(`examples/${f}`, 'utf8'));
    const steps = d.ok ? (d.data as { steps?: unknown }).steps : undefined;
    return Array.isArray(steps) ? (steps as Raw[]) : [];
  })
  .filter((s) => typeof s === 'object' && s !== null && OPS_BY_NAME.has(String(s.op)));

/** The compiled answer is zod's, or FAIL; which one it was. */
function sameAsZod(step: unknown): 'fast' | 'zod' {
  const op = OPS_BY_NAME.get(String((step as Raw | null)?.op));
  if (!op) return 'zod';
  const fast = fastSchema(op.schema)(step);
  if (fast === FAIL) return 'zod';
  const zod = op.schema.safeParse(step);
  expect(zod.success, JSON.stringify(step)).toBe(true);
  expect(JSON.stringify(fast)).toBe(JSON.stringify(zod.data));
  expect(fast).toEqual(zod.data);
  return 'fast';
}

describe('the compiled step schemas', () => {
  it('agree with zod on every step of the examples, and answer nearly all of them', () => {
    expect(corpus.length).toBeGreaterThan(3000);
    const fast = corpus.filter((s) => sameAsZod(s) === 'fast').length;
    // Not unrolled: steps with a refine of their own, or keys only a transform accepts absent.
    expect(fast / corpus.length).toBeGreaterThan(0.95);
  });

  it('turn down what zod turns down: an unknown key, a wrong type, a missing key', () => {
    const write = OPS_BY_NAME.get('write')!.schema;
    const f = fastSchema(write);
    const ok = { op: 'write', proc: 'p', addr: 'buf+4K', byte: 3, len: 1 };
    expect(f(ok)).toEqual(write.parse(ok));
    for (const bad of [
      { ...ok, extra: 1 },
      { ...ok, len: 'lots' },
      { ...ok, addr: -1 },
      { ...ok, proc: undefined },
      { op: 'write', addr: 'buf' },
      [ok],
      null,
    ]) {
      expect(f(bad)).toBe(FAIL);
      expect(write.safeParse(bad).success).toBe(false);
    }
  });

  it('gives a fresh default each time, as zod does', () => {
    const op = [...OPS_BY_NAME.values()].find((o) =>
      Object.values(o.schema.shape).some(
        (t) => (t as { _zod: { def: { type: string } } })._zod.def.type === 'default',
      ),
    )!;
    const step = corpus.find((s) => s.op === op.name && sameAsZod(s) === 'fast');
    expect(step).toBeDefined();
    const a = fastSchema(op.schema)(step) as Raw;
    const b = fastSchema(op.schema)(step) as Raw;
    expect(a).toEqual(b);
    expect(a).not.toBe(b);
  });

  /** Every number and string schema with checks, anywhere in the ops' schemas. */
  const leaves: z.ZodType[] = [];
  const seen = new Set<unknown>();
  const walk = (t: unknown) => {
    if (!t || seen.has(t)) return;
    seen.add(t);
    const def = (t as { _zod: { def: Record<string, unknown> } })._zod.def;
    if ((def.type === 'number' || def.type === 'string') && (def.checks as unknown[] | undefined)?.length)
      leaves.push(t as z.ZodType);
    for (const k of ['innerType', 'in', 'out', 'element']) walk(def[k]);
    for (const o of (def.options as unknown[] | undefined) ?? []) walk(o);
    for (const f of Object.values((def.shape as Record<string, unknown> | undefined) ?? {})) walk(f);
  };
  for (const op of OPS_BY_NAME.values()) walk(op.schema);

  it('find the checked numbers and strings the ops use', () => {
    const types = leaves.map((t) => (t as unknown as { _zod: { def: { type: string } } })._zod.def.type);
    expect(types).toContain('number');
    expect(types).toContain('string');
  });

  test.prop(
    [
      fc.nat(),
      fc.oneof(
        fc.double(),
        fc.integer(),
        fc.constantFrom(0, -0, 1, 255, 256, 511, 512, 2 ** 53 - 1, 2 ** 53, -1, 0.5, Number.NaN, Infinity),
        fc.string(),
        fc.constantFrom('buf', '_a.b-c', '9x', '', 'a b', 'rw'),
      ),
    ],
    { numRuns: 2000 },
  )('answer as zod does on every checked number and string leaf', (pick, v) => {
    const t = leaves[pick % leaves.length]!;
    const fast = fastSchema(t)(v);
    const zod = t.safeParse(v);
    if (fast === FAIL) expect(zod.success).toBe(false);
    else expect(zod).toEqual({ success: true, data: fast });
  });

  /** A strict shape with a key Object.prototype also has, a default, an optional union. */
  const odd = z.strictObject({
    op: z.literal('odd'),
    constructor: z.number().optional(),
    toString: z.string().default('d'),
    n: z.union([z.number().int(), z.string()]).optional(),
  });
  test.prop(
    [
      fc.dictionary(
        fc.constantFrom('op', 'constructor', 'toString', 'n', 'hasOwnProperty', 'x'),
        fc.oneof(fc.constantFrom('odd', 'p', 1, 2.5, null, true), fc.jsonValue({ maxDepth: 1 })),
      ),
    ],
    { numRuns: 1000 },
  )('read a key Object.prototype has as zod reads it (inherited when absent)', (raw) => {
    const fast = fastSchema(odd)(raw);
    const zod = odd.safeParse(raw);
    if (fast === FAIL) return;
    expect(zod.success, JSON.stringify(raw)).toBe(true);
    expect(JSON.stringify(fast)).toBe(JSON.stringify(zod.data));
  });

  it('answer a shape whose keys Object.prototype has only where zod accepts it', () => {
    // Absent, `constructor` reads the inherited function: zod refuses the object, and so must this.
    expect(odd.safeParse({ op: 'odd' }).success).toBe(false);
    expect(fastSchema(odd)({ op: 'odd' })).toBe(FAIL);
    const given = { op: 'odd', constructor: 3, toString: 's' };
    expect(fastSchema(odd)(given)).toEqual(odd.parse(given));
  });

  const value = fc.oneof(
    fc.jsonValue({ maxDepth: 2 }),
    fc.constantFrom('4K', '1M', 'p', 'buf', 'buf+4K', '0x1000', 'rw', 'private', -1, 0, 0.5, 2 ** 53, true),
  );
  test.prop([fc.nat(), fc.nat(), fc.array(fc.tuple(fc.nat(), value, fc.boolean()), { maxLength: 3 })], {
    numRuns: 600,
  })('agree with zod on mutated steps (keys dropped, added, values changed)', (pick, other, edits) => {
    const step: Raw = { ...corpus[pick % corpus.length]! };
    const donor = corpus[other % corpus.length]!;
    for (const [k, v, drop] of edits) {
      const keys = [...Object.keys(step), ...Object.keys(donor), 'extra'];
      const key = keys[k % keys.length]!;
      if (drop && key !== 'op') delete step[key];
      else if (key !== 'op') step[key] = k % 2 ? v : donor[key];
    }
    sameAsZod(step);
  });
});
