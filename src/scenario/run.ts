/**
 * Running a scenario: a fresh Machine, each step in order, invariants checked after every step,
 * a line per step, the failures, a final report and a JSONL trace of the machine's events.
 *
 * A failed expectation is recorded and the run goes on. A step that fails when it should not (or
 * succeeds when it should fail), and broken invariants, stop the run: what follows would be built
 * on a state the author did not intend. Nothing here depends on time or host, so the same input
 * gives the same result, byte for byte.
 */
import { type CheckLevel, InvariantViolation } from '../check/invariants.js';
import { ConfigError, InputError, type MachineConfig } from '../machine/config.js';
import { Machine } from '../machine/machine.js';
import { KernelBug, KernelError } from '../mm/types.js';
import { type Diagnostic, type Pos, ScenarioInputError } from './diagnostics.js';
import { Labels } from './labels.js';
import type { Scenario, Step } from './parse.js';
import { REPORT_SECTIONS } from './registry.js';
import { type BuiltSection, buildReport } from './report.js';
import type { RunContext, StepOutcome } from './step.js';
import { CounterDelta, namedEvent } from './trace.js';

export interface StepRecord {
  n: number;
  op: string;
  pos: Pos;
  status: 'ok' | 'expected-error' | 'failed';
  summary: string;
  /** Lines printed under the step (dump). */
  output?: string;
}

export interface RunFailure {
  step: number;
  op: string;
  pos: Pos;
  message: string;
  /** The frame involved, when the model named one. */
  pfn?: number;
}

export interface RunResult {
  scenario: Scenario;
  /** Undefined when the machine could not be built. */
  machine?: Machine;
  labels: Labels;
  steps: StepRecord[];
  failures: RunFailure[];
  /** Bad input found only while running (exit code 2). */
  inputErrors: Diagnostic[];
  /** Expectations checked: expect checks and expect_error steps. */
  expectations: number;
  /** The step after which the run stopped early, if it did. */
  stoppedAt?: number;
  report?: BuiltSection[];
  /** JSONL records, one per line, when asked for. */
  trace: string[];
  exitCode: 0 | 1 | 2;
}

export interface RunOptions {
  /** Stop after this step (`explain --after N`); no report then. */
  until?: number;
  trace?: boolean;
  /** Receive each trace record as it happens instead of collecting them in `trace`. */
  onRecord?: (line: string) => void;
  /** Called after each step with the steps run and the scenario's total (progress output). */
  onStep?: (done: number, total: number) => void;
  /** Build the machine from the scenario's config instead of `new Machine` (a snapshot's replay). */
  machine?: (config: MachineConfig) => Machine;
}

export function runScenario(s: Scenario, opts: RunOptions = {}): RunResult {
  return new Runner(s, opts).run();
}

/** The name `expect_error` gives an error the model raised, or undefined if it is not one. */
function errorName(e: unknown): string | undefined {
  if (e instanceof KernelError) return e.errno;
  if (e instanceof KernelBug) return 'KernelBug';
  return undefined;
}

class Runner {
  private readonly labels = new Labels();
  private readonly steps: StepRecord[] = [];
  private readonly failures: RunFailure[] = [];
  private readonly inputErrors: Diagnostic[] = [];
  private readonly trace: string[] = [];
  private expectations = 0;
  private current = 0;

  constructor(
    private readonly s: Scenario,
    private readonly opts: RunOptions,
  ) {}

  private record(obj: Record<string, unknown>): void {
    if (!this.opts.trace) return;
    const line = JSON.stringify(obj);
    if (this.opts.onRecord) this.opts.onRecord(line);
    else this.trace.push(line);
  }

  run(): RunResult {
    const s = this.s;
    let m: Machine | undefined;
    try {
      m = this.opts.machine ? this.opts.machine(s.machine) : new Machine(s.machine);
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      this.inputError(['machine'], e.message);
    }
    let stoppedAt: number | undefined;
    let report: BuiltSection[] | undefined;
    if (m) {
      const c = m.config;
      this.record({
        type: 'boot',
        name: s.name,
        memory: c.memory,
        nodes: c.nodes,
        design: c.design,
        check: s.check,
      });
      const machine = m;
      const off = this.opts.trace
        ? m.on((ev) => this.record({ step: this.current, ...namedEvent(machine, ev) }))
        : undefined;
      const moved = this.opts.trace ? new CounterDelta(m) : undefined;
      for (const step of s.steps) {
        if (this.opts.until !== undefined && step.n > this.opts.until) break;
        const ok = this.runStep(m, step);
        this.opts.onStep?.(step.n, s.steps.length);
        const counters = moved?.take();
        if (counters) this.record({ type: 'counters', step: step.n, counters });
        if (!ok) {
          stoppedAt = step.n;
          break;
        }
      }
      off?.();
      if (this.opts.until === undefined && this.inputErrors.length === 0) {
        report = buildReport(m, this.labels, REPORT_SECTIONS);
        this.record({
          type: 'report',
          after: this.current,
          sections: Object.fromEntries(report.map((r) => [r.id, r.data])),
        });
      }
    }
    const exitCode = this.inputErrors.length > 0 ? 2 : this.failures.length > 0 ? 1 : 0;
    this.record({
      type: 'result',
      status: ['pass', 'fail', 'bad-input'][exitCode],
      steps: this.steps.length,
      expectations: this.expectations,
      failed: this.failures.length,
    });
    return {
      scenario: s,
      machine: m,
      labels: this.labels,
      steps: this.steps,
      failures: this.failures,
      inputErrors: this.inputErrors,
      expectations: this.expectations,
      stoppedAt,
      report,
      trace: this.trace,
      exitCode,
    };
  }

  /** Run one step; false stops the run. */
  private runStep(m: Machine, step: Step): boolean {
    this.current = step.n;
    const notes: string[] = [];
    const ctx: RunContext = { m, labels: this.labels, note: (t) => notes.push(t) };
    let outcome: StepOutcome | undefined;
    let error: unknown;
    try {
      outcome = step.op.run(step.args, ctx);
    } catch (e) {
      error = e;
    }
    const noted = (text: string) => [text, ...notes].join(' ');
    let ok = true;
    if (error !== undefined) {
      if (error instanceof ScenarioInputError || error instanceof InputError) {
        const rel = error instanceof ScenarioInputError ? error.path : [];
        this.inputError(['steps', step.n - 1, ...rel], error.message);
        this.stepRecord(step, 'failed', noted('bad input'));
        return false;
      }
      const name = errorName(error);
      if (name === undefined) throw error;
      if (name === step.expectError) {
        this.expectations++;
        this.stepRecord(step, 'expected-error', `${noted((error as Error).message)} (expected)`);
      } else {
        const why = step.expectError
          ? `expected ${step.expectError}, got ${(error as Error).message}`
          : (error as Error).message;
        this.fail(step, why, error instanceof KernelBug ? error.pfn : undefined);
        // The reason on the step's own line too, not only after the report.
        this.stepRecord(step, 'failed', noted(`FAILED: ${why}`));
        ok = false;
      }
    } else if (outcome) {
      if (step.expectError) {
        this.fail(step, `expected ${step.expectError}, but it succeeded: ${outcome.summary}`);
        this.stepRecord(step, 'failed', noted(`FAILED: ${outcome.summary}`));
        ok = false;
      } else {
        const key = step.op.binds?.key;
        if (key && outcome.binding && typeof step.args[key] === 'string')
          this.labels.bind(step.args[key] as string, outcome.binding);
        this.expectations += outcome.checks ?? 0;
        for (const f of outcome.failures ?? [])
          this.fail(step, f.message, undefined, this.s.locate(['steps', step.n - 1, ...f.path]));
        this.stepRecord(
          step,
          outcome.failures?.length ? 'failed' : 'ok',
          noted(outcome.summary),
          outcome.output,
        );
      }
    }
    return this.checkInvariants(m, step, this.s.check) && ok;
  }

  private checkInvariants(m: Machine, step: Step, level: CheckLevel): boolean {
    try {
      m.check(level);
      return true;
    } catch (e) {
      if (!(e instanceof InvariantViolation)) throw e;
      this.fail(step, `invariants broken after this step: ${e.violations.join('; ')}${firstDump(m, e)}`);
      return false;
    }
  }

  private stepRecord(step: Step, status: StepRecord['status'], summary: string, output?: string): void {
    const rec: StepRecord = { n: step.n, op: step.op.name, pos: step.pos, status, summary, output };
    this.steps.push(rec);
    this.record({
      type: 'step',
      step: step.n,
      op: rec.op,
      line: step.pos.line,
      col: step.pos.col,
      status,
      summary,
    });
  }

  private fail(step: Step, message: string, pfn?: number, pos: Pos = step.pos): void {
    this.failures.push({ step: step.n, op: step.op.name, pos, message, pfn });
    this.record({ type: 'failure', step: step.n, line: pos.line, col: pos.col, message });
  }

  private inputError(path: (string | number)[], message: string): void {
    this.inputErrors.push({ file: this.s.file, pos: this.s.locate(path), path, message });
  }
}

/** The dump_page() of the first violation's frame, as VM_BUG_ON_FOLIO prints it (empty when it has none). */
function firstDump(m: Machine, e: InvariantViolation): string {
  const pfn = e.list.find((x) => x.pfn !== undefined)?.pfn;
  if (pfn === undefined) return '';
  try {
    return `\n${m
      .dumpPage(pfn)
      .split('\n')
      .map((l) => `      ${l}`)
      .join('\n')}`;
  } catch {
    return ''; // a frame beyond the machine: the message already names it
  }
}
