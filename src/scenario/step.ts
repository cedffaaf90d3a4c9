/**
 * The contract between the scenario core (parser, runner) and the modules that implement ops and
 * expectations. An op module says what its step looks like (a strict zod shape), what it checks
 * before anything runs (labels defined and used) and what it does on the Machine; the core does
 * the rest: positions, error messages, `expect_error`, invariant checks, traces and reports.
 */
import { z } from 'zod';
import type { ResolvedConfig } from '../machine/config.js';
import type { Machine } from '../machine/machine.js';
import type { Path } from './diagnostics.js';
import { EXPECTED_ERRORS, oneOf } from './fields.js';
import type { Binding, Labels, StaticLabel } from './labels.js';

/** Keys every step may carry besides its op's own. */
export const STEP_COMMON = {
  /** The step must fail with this errno, or with a KernelBug. */
  expect_error: oneOf(EXPECTED_ERRORS, 'an errno name or KernelBug:').optional(),
};

/** One expectation that did not hold; `path` points inside the step at what was expected. */
export interface Failure {
  path: Path;
  message: string;
}

/** What a step did. */
export interface StepOutcome {
  /** One line: what happened, with the frames involved ("order 2 -> pfn 0x12000 as buf"). */
  summary: string;
  /** The value the op's `binds` key names. */
  binding?: Binding;
  /** Expectations checked and those that failed (expect steps). */
  checks?: number;
  failures?: Failure[];
  /** More lines to print under the summary (dump). */
  output?: string;
}

/**
 * Where a problem at a path is shown: at the value (`order: 12` -> `12`), or at the key when the
 * key itself is the problem (a counter or cache name that does not exist).
 */
export type At = 'value' | 'key';

/** What the parser offers an op's static checks; paths are relative to the step. */
export interface StaticContext {
  readonly config: ResolvedConfig;
  /** Define a label here (an error if the name is taken). */
  define(name: string, label: { kind: string; memory: boolean }, path: Path): void;
  /** Use a label: an error if it is undefined so far or of another kind ('memory': any label naming memory). */
  use(name: string, kinds: readonly string[] | 'memory', path: Path, at?: At): StaticLabel | undefined;
  lookup(name: string): StaticLabel | undefined;
  error(path: Path, message: string, at?: At): void;
}

/** What the runner offers an op. */
export interface RunContext {
  readonly m: Machine;
  readonly labels: Labels;
  /** Add to the step's summary line; kept when the step then fails (bulk progress). */
  note(text: string): void;
}

type Shape = z.ZodRawShape;

/** The validated arguments of a step of an op with fields F. */
export type StepArgs<F extends Shape> = z.output<z.ZodObject<F & typeof STEP_COMMON>>;

/** Which key of a step names its result, and what kind of label that is. */
export interface Binds {
  key: string;
  kind: string;
  memory: boolean;
}

/** An op, with its types erased so ops of every shape sit in one registry. */
export interface Op {
  readonly name: string;
  readonly doc: string;
  readonly schema: z.ZodObject;
  readonly binds?: Binds;
  analyse(args: Record<string, unknown>, ctx: StaticContext): void;
  run(args: Record<string, unknown>, ctx: RunContext): StepOutcome;
}

export interface OpSpec<F extends Shape> {
  name: string;
  /** One line for `pagelab schema`, naming the kernel function modelled. */
  doc: string;
  fields: F;
  binds?: Binds & { key: keyof F & string };
  analyse?(args: StepArgs<F>, ctx: StaticContext): void;
  run(args: StepArgs<F>, ctx: RunContext): StepOutcome;
}

export function defineOp<F extends Shape>(spec: OpSpec<F>): Op {
  const schema = z
    .strictObject({ op: z.literal(spec.name), ...spec.fields, ...STEP_COMMON })
    .meta({ title: spec.name, description: spec.doc });
  // The parser validated args with `schema` before calling either function.
  return {
    name: spec.name,
    doc: spec.doc,
    schema,
    binds: spec.binds,
    analyse: (args, ctx) => spec.analyse?.(args as StepArgs<F>, ctx),
    run: (args, ctx) => spec.run(args as StepArgs<F>, ctx),
  };
}

/** What one kind of expectation found. */
export interface CheckResult {
  checks: number;
  failures: Failure[];
}

/** A kind of expectation (page state, counters...), owning some keys of the `expect` op. */
export interface Expectation {
  readonly fields: Shape;
  analyse(args: Record<string, unknown>, ctx: StaticContext): void;
  check(args: Record<string, unknown>, ctx: RunContext): CheckResult;
}

export interface ExpectationSpec<F extends Shape> {
  /** Its keys of the `expect` op; each must be optional. */
  fields: F;
  analyse?(args: z.output<z.ZodObject<F>>, ctx: StaticContext): void;
  check(args: z.output<z.ZodObject<F>>, ctx: RunContext): CheckResult;
}

export function defineExpectation<F extends Shape>(spec: ExpectationSpec<F>): Expectation {
  return {
    fields: spec.fields,
    analyse: (args, ctx) => spec.analyse?.(args as z.output<z.ZodObject<F>>, ctx),
    check: (args, ctx) => spec.check(args as z.output<z.ZodObject<F>>, ctx),
  };
}
