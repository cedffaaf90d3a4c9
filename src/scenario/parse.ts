/**
 * Scenario files: YAML text to a validated, statically checked Scenario, or every problem found,
 * each as `file:line:col path: message`.
 *
 * Three passes over one document: YAML syntax (nothing else is trusted after a syntax error); the
 * schema of the top level, the machine and each step (each step on its own, so one bad step does
 * not hide the next); and, step by step in file order, the static checks of the ops — labels
 * defined before use, of the right kind, never defined twice.
 *
 * Two ways to read the YAML: the fast path (fast_parse.ts) for files whose steps are all of the
 * common shapes, without a source range per node; and `yaml` with every range kept, for the rest
 * and for every file with a problem, so that errors come from one place only.
 */
import type { z } from 'zod';
import type { CheckLevel } from '../check/invariants.js';
import { type MachineConfig, type ResolvedConfig, resolveConfig } from '../machine/config.js';
import { byPosition, type Diagnostic, type Path, type Pos, suggestion } from './diagnostics.js';
import { type FastDocument, fastDocument } from './fast_parse.js';
import { FAIL, fastSchema } from './fast_schema.js';
import type { StaticLabel } from './labels.js';
import {
  checkMachineConfig,
  DEFAULT_SCENARIO_CHECK,
  machineConfig,
  machineSchema,
} from './machine_config.js';
import { NOT_YET_STEP_KEYS } from './not_yet.js';
import { OPS_BY_NAME } from './registry.js';
import { stepSchema, TOP_LEVEL_KEYS, topLevelSchema } from './schema.js';
import { type Locator, SourceMap } from './source_map.js';
import type { At, Op, StaticContext } from './step.js';
import { readDocument } from './yaml_doc.js';

export interface Step {
  /** 1-based, as printed. */
  n: number;
  op: Op;
  args: Record<string, unknown>;
  pos: Pos;
  expectError?: string;
}

export interface Scenario {
  file: string;
  name: string;
  description?: string;
  machine: MachineConfig;
  /** Invariant checks after every step. */
  check: CheckLevel;
  steps: Step[];
  /** Where a path of the document (e.g. ['steps', 3, 'order']) is written. */
  locate(path: Path): Pos;
}

export type ParseResult = { ok: true; scenario: Scenario } | { ok: false; errors: Diagnostic[] };

/** Hostile-input bounds: a scenario is a page of steps, not a resource-exhaustion attack. */
export const MAX_DOCUMENT_BYTES = 16 * 1024 * 1024;
export { MAX_ALIAS_COUNT, MAX_NESTING } from './yaml_doc.js';

/** How a label of these kinds comes to be: `spawn name:` or `fork child:` for a process, ... */
function definedBy(kinds: readonly string[] | 'memory'): string {
  if (kinds === 'memory') return 'define it with as: on an earlier step';
  const ways = [...OPS_BY_NAME.values()]
    .filter((op) => op.binds && kinds.includes(op.binds.kind))
    .map((op) => `${op.name} ${op.binds!.key}:`);
  return ways.length
    ? `define it with ${ways.join(' or ')} on an earlier step`
    : 'define it on an earlier step';
}

export function parseScenario(text: string, file: string): ParseResult {
  // Most files are all common step shapes and valid: read them without a source range per node.
  // Any doubt, and any problem at all, and the file is read again the slow way, which alone
  // reports errors, so they are the same whichever way the file went first.
  const fast = text.length <= MAX_DOCUMENT_BYTES ? fastDocument(text) : undefined;
  if (fast) {
    const p = new Parser(file, fast.map, true);
    const scenario = p.scenario(fast.data, fast);
    if (scenario && p.errors.length === 0) return { ok: true, scenario };
  }
  return parseWithYaml(text, file);
}

/** The slow path alone, every node's source range kept: what the fast path is tested against. */
export function parseWithYaml(text: string, file: string): ParseResult {
  if (text.length > MAX_DOCUMENT_BYTES)
    return {
      ok: false,
      errors: [
        {
          file,
          pos: { line: 1, col: 1 },
          path: [],
          message: `the file is ${text.length} bytes; a scenario may have at most ${MAX_DOCUMENT_BYTES}`,
        },
      ],
    };
  const read = readDocument(text);
  if (!read.ok) return { ok: false, errors: read.problems.map((d) => ({ file, path: [], ...d })) };
  const p = new Parser(file, new SourceMap(read.doc, read.lines), false);
  const scenario = p.scenario(read.data);
  return p.errors.length > 0 || !scenario
    ? { ok: false, errors: bounded(p.errors.sort(byPosition)) }
    : { ok: true, scenario };
}

/** Errors reported one by one; past this, one line counts the rest. */
export const MAX_ERRORS = 100;

function bounded(errors: Diagnostic[]): Diagnostic[] {
  if (errors.length <= MAX_ERRORS) return errors;
  const rest = errors.length - MAX_ERRORS;
  const last = errors[MAX_ERRORS];
  return [
    ...errors.slice(0, MAX_ERRORS),
    {
      ...last,
      path: [],
      message: `and ${rest} more error(s) from here on (the first ${MAX_ERRORS} are shown)`,
    },
  ];
}

type Issue = z.core.$ZodIssue;

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function valueAt(data: unknown, path: Path): unknown {
  let v = data;
  for (const seg of path)
    v = isRecord(v) || Array.isArray(v) ? (v as Record<string, unknown>)[seg] : undefined;
  return v;
}

/** How an object's unknown keys are reported: the keys it takes, and those that come later. */
interface KeyHelp {
  keys: readonly string[];
  notYet?: ReadonlyMap<string, string>;
  /** The object's schema, to find the keys a nested object takes. */
  schema?: z.ZodType;
}

/** The keys the object at `path` inside `schema` takes (through optional, default and arrays). */
function keysAt(schema: z.ZodType | undefined, path: Path): string[] {
  let t = schema as { _zod?: { def: Record<string, unknown> } } | undefined;
  const unwrap = () => {
    for (
      let d = t?._zod?.def;
      d && ['optional', 'default', 'nullable', 'pipe', 'prefault'].includes(d.type as string);
      d = t?._zod?.def
    )
      t = (d.innerType ?? d.in) as typeof t;
  };
  for (const seg of path) {
    unwrap();
    const def = t?._zod?.def;
    if (!def) return [];
    if (def.type === 'array' && typeof seg === 'number') t = def.element as typeof t;
    else if (def.type === 'object' && typeof seg === 'string')
      t = (def.shape as Record<string, typeof t>)[seg];
    else return [];
  }
  unwrap();
  const def = t?._zod?.def;
  return def?.type === 'object' ? Object.keys(def.shape as object) : [];
}

class Parser {
  readonly errors: Diagnostic[] = [];
  private readonly labels = new Map<string, StaticLabel>();
  private readonly ctx = new LabelContext(this, this.labels);
  /** The last step's op and its compiled schema (steps often repeat an op; the cache is a WeakMap). */
  private lastOp: Op | undefined;
  private lastFast: (value: unknown) => unknown = () => FAIL;

  constructor(
    private readonly file: string,
    private readonly map: Locator,
    /** The fast path: errors are only counted (the slow path reports them), so zod need not keep inputs. */
    private readonly quick: boolean,
  ) {}

  error(path: Path, message: string, pos: Pos = this.map.at(path)): void {
    this.errors.push({ file: this.file, pos, path, message });
  }

  /** The line `path` is written on. */
  line(path: Path): number {
    return this.map.at(path).line;
  }

  keyPos(path: Path, key: string): Pos {
    return this.map.keyAt(path, key);
  }

  /** The scenario in `raw`; its steps from `fast` when given (raw then has none), read one by one. */
  scenario(raw: unknown, fast?: FastDocument): Scenario | undefined {
    if (!isRecord(raw)) {
      this.error([], 'a scenario is a map with name, machine and steps');
      return undefined;
    }
    const top = topLevelSchema.safeParse(fast ? { ...raw, steps: [] } : raw, { reportInput: true });
    if (!top.success) this.issues(top.error.issues, [], raw, { keys: TOP_LEVEL_KEYS });
    const machine = this.machine(raw.machine);
    const config = machine?.config ?? resolveConfig();
    const steps: Step[] = [];
    const visit = (s: unknown, i: number) => {
      const step = this.step(s, i, config);
      if (step) steps.push(step);
    };
    // Step by step, as read: each step's raw value is garbage once validated (the young
    // generation never copies 100,000 of them).
    if (fast) {
      if (!fast.scan(visit)) return undefined;
    } else if (Array.isArray(raw.steps)) raw.steps.forEach(visit);
    if (!top.success || !machine) return undefined;
    return {
      file: this.file,
      name: top.data.name,
      description: top.data.description,
      machine: machineConfig(machine.section),
      check: machine.section.check ?? DEFAULT_SCENARIO_CHECK,
      steps,
      locate: (path) => this.map.at(path),
    };
  }

  private machine(raw: unknown) {
    const r = machineSchema.safeParse(raw ?? {}, { reportInput: true });
    if (!r.success) {
      const keys = Object.keys(machineSchema.shape);
      this.issues(r.error.issues, ['machine'], raw, { keys });
      return undefined;
    }
    const checked = checkMachineConfig(r.data);
    if ('message' in checked) {
      this.error(checked.path, checked.message);
      return undefined;
    }
    return { section: r.data, config: checked.config };
  }

  private step(raw: unknown, i: number, config: ResolvedConfig): Step | undefined {
    const path: Path = ['steps', i];
    if (!isRecord(raw)) {
      this.error(path, 'a step is a map with an op: key');
      return undefined;
    }
    const name = raw.op;
    const op = typeof name === 'string' ? OPS_BY_NAME.get(name) : undefined;
    if (name === undefined) this.error(path, "missing required key 'op'");
    else if (!op)
      this.error(
        [...path, 'op'],
        `unknown op '${String(name)}'${suggestion(String(name), OPS_BY_NAME.keys())} (ops: ${[...OPS_BY_NAME.keys()].join(', ')})`,
      );
    if (!op) return undefined;
    // The op is known, so its own schema is the union's branch; on the fast path through the
    // compiled schema first, then zod itself (any params object at all takes zod off its own
    // fast path: twice the time on a valid step; this path's errors are only counted).
    if (op !== this.lastOp) {
      this.lastOp = op;
      this.lastFast = fastSchema(op.schema);
    }
    const fast = this.quick ? this.lastFast(raw) : FAIL;
    const r =
      fast !== FAIL
        ? { success: true as const, data: fast }
        : this.quick
          ? op.schema.safeParse(raw)
          : stepSchema.safeParse(raw, { reportInput: true });
    if (!r.success) {
      const keys = Object.keys(op.schema.shape);
      this.issues(r.error.issues, path, raw, { keys, notYet: NOT_YET_STEP_KEYS, schema: op.schema });
      // Keep the label it would define, so its uses below do not report it as unknown.
      const bound = op.binds && raw[op.binds.key];
      if (typeof bound === 'string' && !this.labels.has(bound))
        this.labels.set(bound, { kind: '*', memory: true, line: this.line(path) });
      return undefined;
    }
    const args = r.data as Record<string, unknown>;
    const expectError = args.expect_error as string | undefined;
    const ctx = this.ctx.at(path, config);
    op.analyse(args, ctx);
    if (op.binds && args[op.binds.key] !== undefined) {
      if (expectError === undefined) {
        const { kind, memory } = op.binds;
        ctx.define(args[op.binds.key] as string, { kind, memory }, [op.binds.key]);
      } else if (op.binds.key === 'as') {
        this.error([...path, 'as'], 'a step that expects an error binds no label');
      }
    }
    return { n: i + 1, op, args, pos: this.map.at(path), expectError };
  }

  /** zod issues as diagnostics, with messages in the file's terms. */
  private issues(issues: readonly Issue[], base: Path, data: unknown, help?: KeyHelp): void {
    for (const issue of issues) this.issue(issue, base, data, help);
  }

  private issue(issue: Issue, base: Path, data: unknown, help?: KeyHelp): void {
    const rel = issue.path as Path;
    const path = [...base, ...rel];
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        const later = rel.length === 0 ? help?.notYet?.get(key) : undefined;
        const keys = rel.length === 0 ? (help?.keys ?? []) : keysAt(help?.schema, rel);
        const takes = keys.filter((k) => k !== 'op');
        const known = takes.length ? ` (expected ${takes.join(', ')})` : '';
        const message = later
          ? `not implemented yet: ${later}`
          : `unknown key '${key}'${suggestion(key, takes)}${known}`;
        this.error([...path, key], message, this.map.keyAt(path, key));
      }
      return;
    }
    if (issue.code === 'invalid_union' && issue.errors.length > 0) {
      const branch = bestBranch(issue.errors, valueAt(data, rel));
      if (branch) {
        // The branch's paths are relative to the union's value.
        for (const i of branch) this.issue({ ...i, path: [...rel, ...i.path] } as Issue, base, data);
        return;
      }
    }
    // Whatever the schema expected there (a number, one of a union...), nothing was written.
    if (rel.length > 0 && valueAt(data, rel) === undefined) {
      this.error(path.slice(0, -1), `missing required key '${String(rel[rel.length - 1])}'`);
      return;
    }
    const value = valueAt(data, rel);
    const hint =
      issue.code === 'invalid_value' && typeof value === 'string'
        ? suggestion(value, issue.values.map(String))
        : '';
    this.error(path, `${issue.message}${hint}`);
  }
}

/**
 * The static checks' view of the labels, with paths relative to the step at `base`: one object
 * for the whole parse, moved from step to step (closures per step were a tenth of the parse).
 */
class LabelContext implements StaticContext {
  private base: Path = [];
  config: ResolvedConfig = resolveConfig();

  constructor(
    private readonly parser: Parser,
    private readonly labels: Map<string, StaticLabel>,
  ) {}

  at(base: Path, config: ResolvedConfig): this {
    this.base = base;
    this.config = config;
    return this;
  }

  private full(path: Path): Path {
    return [...this.base, ...path];
  }

  lookup(name: string): StaticLabel | undefined {
    return this.labels.get(name);
  }

  error(path: Path, message: string, on: At = 'value'): void {
    const full = this.full(path);
    const pos =
      on === 'key' ? this.parser.keyPos(full.slice(0, -1), String(full[full.length - 1])) : undefined;
    this.parser.error(full, message, pos);
  }

  define(name: string, label: { kind: string; memory: boolean }, path: Path): void {
    const had = this.labels.get(name);
    if (had) this.parser.error(this.full(path), `label '${name}' is already defined (${where(had)})`);
    else this.labels.set(name, { ...label, line: this.parser.line(this.full(path)) });
  }

  use(name: string, kinds: readonly string[] | 'memory', path: Path, on?: At): StaticLabel | undefined {
    const l = this.labels.get(name);
    if (!l) {
      const fits = [...this.labels].filter(([, x]) =>
        kinds === 'memory' ? x.memory : x.kind === '*' || kinds.includes(x.kind),
      );
      // A one- or two-letter label is too short to guess from.
      const guess =
        name.length > 2
          ? suggestion(
              name,
              fits.map(([n]) => n),
            )
          : '';
      this.error(path, `unknown label '${name}'${guess} (${definedBy(kinds)})`, on);
      return undefined;
    }
    const ok = l.kind === '*' || (kinds === 'memory' ? l.memory : kinds.includes(l.kind));
    if (!ok) {
      const want = kinds === 'memory' ? 'a label naming memory' : kinds.join(' or ');
      this.error(path, `'${name}' is a ${l.kind} label (${where(l)}); expected ${want}`, on);
    }
    return l;
  }
}

const where = (l: StaticLabel) => `line ${l.line}`;

/**
 * The union branch the author most likely meant: one whose complaints are all inside the value
 * (none about its type as a whole, none about keys missing). None such: the union's own message.
 */
function bestBranch(branches: Issue[][], value: unknown): Issue[] | undefined {
  const plausible = branches.filter((issues) =>
    issues.every(
      (i) =>
        i.path.length > 0 && !(i.code === 'invalid_type' && valueAt(value, i.path as Path) === undefined),
    ),
  );
  plausible.sort((a, b) => a.length - b.length);
  return plausible[0];
}
