/** Shared helpers of the scenario tests: parse or run YAML given inline. */
import { formatDiagnostic } from '../../src/scenario/diagnostics.js';
import { type ParseResult, parseScenario, type Scenario } from '../../src/scenario/parse.js';
import { type RunOptions, type RunResult, runScenario } from '../../src/scenario/run.js';

export const FILE = 't.yaml';

/** A scenario file from its steps (one YAML line each) on a small machine. */
export function yaml(steps: string[], machine = '{ memory: 128M }'): string {
  const list = steps.length ? ['steps:', ...steps.map((s) => `  - ${s}`)] : ['steps: []'];
  return ['name: t', `machine: ${machine}`, ...list, ''].join('\n');
}

export function parse(text: string): ParseResult {
  return parseScenario(text, FILE);
}

export function parseOk(text: string): Scenario {
  const r = parse(text);
  if (!r.ok) throw new Error(`unexpected parse errors:\n${r.errors.map(formatDiagnostic).join('\n')}`);
  return r.scenario;
}

/** Every parse error, formatted as the CLI prints it. */
export function errorsOf(text: string): string[] {
  const r = parse(text);
  if (r.ok) throw new Error('expected parse errors, the file parsed');
  return r.errors.map(formatDiagnostic);
}

export function run(text: string, opts: RunOptions = {}): RunResult {
  return runScenario(parseOk(text), opts);
}

/** The steps' summary lines of a run. */
export const summaries = (r: RunResult): string[] => r.steps.map((s) => `${s.op}: ${s.summary}`);
