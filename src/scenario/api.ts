/**
 * The scenario API for library users: parse a scenario's text, run it, and get its report as
 * plain data (what `pagelab run` prints, without the live Machine).
 *
 *     const parsed = parseScenario(text, 'mine.yaml');
 *     if (!parsed.ok) throw new Error(parsed.errors.map(formatDiagnostic).join('\n'));
 *     const report = scenarioReport(runScenario(parsed.scenario));
 *     report.exitCode; // 0 every expectation held, 1 one failed, 2 bad input
 */
import type { Diagnostic } from './diagnostics.js';
import type { BuiltSection } from './report.js';
import type { RunFailure, RunResult, StepRecord } from './run.js';

/** A run's outcome as data: JSON-serialisable, no Machine. */
export interface ScenarioReport {
  name: string;
  file: string;
  steps: StepRecord[];
  failures: RunFailure[];
  inputErrors: Diagnostic[];
  /** Expectations checked (expect checks and expect_error steps). */
  expectations: number;
  stoppedAt?: number;
  /** The final report's sections (processes, page frames by type, meminfo, ...). */
  report: BuiltSection[];
  exitCode: 0 | 1 | 2;
}

/** The report of a run, as data. */
export function scenarioReport(r: RunResult): ScenarioReport {
  return {
    name: r.scenario.name,
    file: r.scenario.file,
    steps: r.steps,
    failures: r.failures,
    inputErrors: r.inputErrors,
    expectations: r.expectations,
    stoppedAt: r.stoppedAt,
    report: r.report ?? [],
    exitCode: r.exitCode,
  };
}
