/**
 * A faster way through a step's zod schema, for the values the YAML reader gives (maps, lists,
 * strings, numbers, booleans, null; never undefined). zod spends most of a valid step's time on
 * the plumbing between nodes (a payload and an issues array per object field, union branch,
 * pipe, optional and default); the leaves' own work is small. So this unrolls those containers
 * into closures (an object into a function written for its keys, objectRun) and hands every
 * leaf, and every container with checks of its own, to zod's own `_zod.run`, or checks the few
 * leaf kinds whose rules it reads from zod's own definitions (bounded, matching, member).
 *
 * It answers with zod's output or FAIL; FAIL means "ask zod" (the step may still be valid, e.g.
 * a key whose absence a transform accepts), so being unsure costs time, never a wrong answer.
 * The tests hold it to zod's output over every step of the examples and mutations of them.
 */
import type { z } from 'zod';

/** No answer: run zod itself (which reports what is wrong, or accepts what this did not). */
export const FAIL: unique symbol = Symbol('fail');
/** An absent key whose schema puts nothing in its place. */
const OMIT: unique symbol = Symbol('omit');

type Out = unknown | typeof FAIL;
/** A compiled node: the output for a present value, and for an absent key. */
interface Node {
  run(value: unknown): Out;
  absent(): Out | typeof OMIT;
}

interface Def {
  type: string;
  checks?: unknown[];
  shape?: Record<string, z.ZodType>;
  catchall?: z.ZodType;
  innerType?: z.ZodType;
  options?: z.ZodType[];
  in?: z.ZodType;
  out?: z.ZodType;
  transform?: (value: unknown, payload: Payload) => unknown;
  coerce?: boolean;
  readonly defaultValue?: unknown;
}

interface Payload {
  value: unknown;
  issues: unknown[];
}

interface Internals {
  def: Def;
  /** How the schema takes an absent key: 'defaulted' substitutes a value. */
  optin?: 'optional' | 'defaulted';
  /** The values a literal or an enum accepts. */
  values?: ReadonlySet<unknown>;
  run(payload: Payload, ctx: { async: false }): Payload;
}

const internals = (t: z.ZodType) => (t as unknown as { _zod: Internals })._zod;
/** The parse context safeParse gives when called without parameters. */
const CTX = { async: false } as const;

/** zod's own run of `t` on one value. */
function leaf(t: z.ZodType): Node {
  const zod = internals(t);
  return {
    run(value) {
      const r = zod.run({ value, issues: [] }, CTX);
      return r.issues.length === 0 ? r.value : FAIL;
    },
    absent: () => FAIL,
  };
}

/**
 * $ZodString and $ZodBoolean without checks or coercion: the type is all they ask. Returning
 * the value itself is what zod does (its payload's value, unchanged).
 */
function typed(type: string): Node {
  return { run: (v) => (typeof v === type ? v : FAIL), absent: () => FAIL };
}

/** What $ZodNumber accepts: a number, not NaN and finite. */
const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** A check's definition: which check, and what it compares with. */
interface CheckDef {
  check?: string;
  format?: string;
  value?: unknown;
  inclusive?: boolean;
  pattern?: RegExp;
  when?: unknown;
}

const checkDef = (c: unknown) => (c as { _zod: { def: CheckDef } })._zod.def;

/**
 * $ZodNumber with only the checks `uint()` and `.max()` write: `int` (the safeint format:
 * Number.isSafeInteger, which implies its range) and inclusive or strict bounds against a
 * number. Any other check, or a conditional one, is zod's (undefined).
 */
function bounded(checks: unknown[]): Node | undefined {
  let int = false;
  let min = Number.NEGATIVE_INFINITY;
  let minIncl = true;
  let max = Number.POSITIVE_INFINITY;
  let maxIncl = true;
  for (const c of checks) {
    const d = checkDef(c);
    if (d.when) return undefined;
    if (d.check === 'number_format' && d.format === 'safeint') int = true;
    else if ((d.check === 'greater_than' || d.check === 'less_than') && typeof d.value === 'number') {
      // Two bounds on one side: keep the tighter (both must hold).
      if (d.check === 'greater_than' && (d.value > min || (d.value === min && !d.inclusive))) {
        min = d.value;
        minIncl = d.inclusive === true;
      }
      if (d.check === 'less_than' && (d.value < max || (d.value === max && !d.inclusive))) {
        max = d.value;
        maxIncl = d.inclusive === true;
      }
    } else return undefined;
  }
  const ok = (v: number) =>
    (!int || Number.isSafeInteger(v)) && (minIncl ? v >= min : v > min) && (maxIncl ? v <= max : v < max);
  return { run: (v) => (isNumber(v) && ok(v) ? v : FAIL), absent: () => FAIL };
}

/** $ZodString with only regex checks (`labelName()`): the type, then each pattern as zod tests it. */
function matching(checks: unknown[]): Node | undefined {
  const patterns: RegExp[] = [];
  for (const c of checks) {
    const d = checkDef(c);
    if (d.when || d.check !== 'string_format' || d.format !== 'regex' || !(d.pattern instanceof RegExp))
      return undefined;
    patterns.push(d.pattern);
  }
  return {
    run(v) {
      if (typeof v !== 'string') return FAIL;
      for (const re of patterns) {
        re.lastIndex = 0;
        if (!re.test(v)) return FAIL;
      }
      return v;
    },
    absent: () => FAIL,
  };
}

/** $ZodLiteral and $ZodEnum: membership of the very Set zod parses with (`_zod.values`). */
function member(values: ReadonlySet<unknown>): Node {
  return { run: (v) => (values.has(v) ? v : FAIL), absent: () => FAIL };
}

const compiled = new WeakMap<z.ZodType, (value: unknown) => Out>();

/** `schema` compiled once (kept with it), as a function from a value to zod's output or FAIL. */
export function fastSchema(schema: z.ZodType): (value: unknown) => Out {
  let f = compiled.get(schema);
  if (!f) {
    const node = compile(schema);
    f = (value) => node.run(value);
    compiled.set(schema, f);
  }
  return f;
}

function compile(t: z.ZodType): Node {
  const def = internals(t).def;
  if (def.checks && def.checks.length > 0) {
    if (def.type === 'number' && !def.coerce) return bounded(def.checks) ?? leaf(t);
    if (def.type === 'string' && !def.coerce) return matching(def.checks) ?? leaf(t);
    // A container with checks of its own (a refine, a max length) is zod's to run whole.
    return leaf(t);
  }
  switch (def.type) {
    case 'number':
      return def.coerce ? leaf(t) : { run: (v) => (isNumber(v) ? v : FAIL), absent: () => FAIL };
    case 'object':
      return object(t, def);
    case 'optional':
      return optional(compile(def.innerType!), internals(def.innerType!).optin === 'defaulted');
    case 'default':
      return withDefault(def, compile(def.innerType!));
    case 'union':
      return union(def.options!.map(compile));
    case 'pipe':
      return pipe(compile(def.in!), compile(def.out!));
    case 'transform':
      return transform(def.transform!);
    case 'string':
    case 'boolean':
      return def.coerce ? leaf(t) : typed(def.type);
    case 'literal':
    case 'enum':
      return member(internals(t).values!);
    default:
      return leaf(t);
  }
}

/** $ZodObject: a map, its keys in the shape's order, no others when strict (catchall never). */
function object(t: z.ZodType, def: Def): Node {
  const strict = def.catchall && internals(def.catchall).def.type === 'never';
  // Passthrough or a catchall schema: zod keeps or checks the extra keys; not unrolled.
  if (def.catchall && !strict) return { run: () => FAIL, absent: () => FAIL };
  const keys = Object.keys(def.shape!);
  // `out.__proto__ = v` would set the prototype: such a shape is zod's to run.
  if (keys.includes('__proto__')) return leaf(t);
  const fields = keys.map((k) => compile(def.shape![k]!));
  return { run: objectRun(keys, fields, strict === true), absent: () => FAIL };
}

/**
 * The object's run as a function written for its keys (`input["proc"]`, `out["proc"] = v`):
 * each property access then has one key and sees few shapes, where a loop over the keys makes
 * every access see every key (V8's megamorphic keyed loads and stores: two thirds of a valid
 * step's time in the schema). The YAML reader's values are never undefined, so `!== undefined`
 * is "present", and reads what zod reads (`input[key]`, inherited keys too). A strict object has
 * no keys but these: as many keys as were found present.
 */
function objectRun(keys: string[], fields: Node[], strict: boolean): (value: unknown) => Out {
  const body = keys.map((k, i) => {
    const key = JSON.stringify(k);
    return `
  v = input[${key}] !== undefined ? (seen++, f[${i}].run(input[${key}])) : f[${i}].absent();
  if (v === FAIL) return FAIL;
  if (v !== OMIT) out[${key}] = v;`;
  });
  const count = strict ? '\n  let n = 0;\n  for (const k in input) n++;\n  if (n !== seen) return FAIL;' : '';
  const code = `return function run(input) {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return FAIL;
  const out = {};
  let seen = 0;
  let v;${body.join('')}${count}
  return out;
};`;
  return new Function('f', 'FAIL', 'OMIT', code)(fields, FAIL, OMIT) as (value: unknown) => Out;
}

/** $ZodOptional: an absent key stays absent, unless the inner schema is a default. */
function optional(inner: Node, defaulted: boolean): Node {
  return { run: (v) => inner.run(v), absent: defaulted ? () => inner.absent() : () => OMIT };
}

/** $ZodDefault: an absent key takes the default (a fresh copy each time, as zod gives it). */
function withDefault(def: Def, inner: Node): Node {
  return {
    run(v) {
      const r = inner.run(v);
      return r === undefined ? def.defaultValue : r;
    },
    absent: () => def.defaultValue,
  };
}

/** $ZodUnion: the first branch that accepts the value. */
function union(options: Node[]): Node {
  return {
    run(v) {
      for (const o of options) {
        const r = o.run(v);
        if (r !== FAIL) return r;
      }
      return FAIL;
    },
    absent: () => FAIL,
  };
}

function pipe(first: Node, then: Node): Node {
  return {
    run(v) {
      const r = first.run(v);
      return r === FAIL ? FAIL : then.run(r);
    },
    absent: () => FAIL,
  };
}

/**
 * $ZodTransform: the function, given the payload it may add issues to. One payload per node,
 * emptied after each call (a transform pushes to it and returns; it never keeps it), so a valid
 * step allocates none.
 */
function transform(f: (value: unknown, payload: Payload) => unknown): Node {
  const payload: Payload = { value: undefined, issues: [] };
  return {
    run(value) {
      payload.value = value;
      const r = f(value, payload);
      payload.value = undefined;
      if (payload.issues.length === 0) return r;
      payload.issues = [];
      return FAIL;
    },
    absent: () => FAIL,
  };
}
