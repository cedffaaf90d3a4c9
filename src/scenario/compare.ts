/**
 * One scenario under each pin-count design, as data: what `pagelab compare` tabulates and the web
 * visualiser charts. Here, not in the CLI, so the browser's worker runs the same code.
 */
import { type PinDesign, UNSAFE_PIN_DESIGNS } from '../designs/pincount.js';
import { formatDiagnostic } from './diagnostics.js';
import { failureText } from './format.js';
import { runScenario } from './run.js';

/** One design's run of one scenario. */
export interface DesignRow {
  design: PinDesign;
  /** The design's own metadata (bytes) beyond what Linux keeps. */
  metadataBytes: number;
  pinsTaken: number;
  truePositives: number;
  falsePositives: number;
  falseNegatives: number;
  trueNegatives: number;
  /** No false negative in this run: the design never called a pinned page unpinned. */
  safe: boolean;
  /** Declared unsafe in src/designs/pincount.ts (it may lose pins). */
  declaredUnsafe: boolean;
  forkCopies: number;
  migrationSkips: number;
  expectations: { checked: number; held: number; failures: string[] };
}

export interface CompareResult {
  file: string;
  name: string;
  designs: DesignRow[];
  exitCode: 0 | 1 | 2;
  /** Bad input found while running (exit code 2). */
  inputErrors: string[];
}

/** Run one scenario under each design. */
export function compareScenario(s: Parameters<typeof runScenario>[0], designs: PinDesign[]): CompareResult {
  const out: CompareResult = { file: s.file, name: s.name, designs: [], exitCode: 0, inputErrors: [] };
  for (const design of designs) {
    const r = runScenario({ ...s, machine: { ...s.machine, pincount: design } });
    if (r.inputErrors.length > 0) {
      out.inputErrors = r.inputErrors.map(formatDiagnostic);
      out.exitCode = 2;
      return out;
    }
    const m = r.machine!;
    const score = m.pinScore();
    const v = m.vmstat();
    out.designs.push({
      design,
      metadataBytes: score.metadataBytes,
      pinsTaken: score.pinsTaken,
      truePositives: score.truePositives,
      falsePositives: score.falsePositives,
      falseNegatives: score.falseNegatives,
      trueNegatives: score.trueNegatives,
      safe: score.falseNegatives === 0,
      declaredUnsafe: UNSAFE_PIN_DESIGNS.includes(design),
      forkCopies: v.pagelab_fork_copy,
      migrationSkips: v.pgmigrate_fail,
      expectations: {
        checked: r.expectations,
        held: Math.max(0, r.expectations - r.failures.length),
        failures: r.failures.map((f) => failureText(s.file, f)),
      },
    });
    out.exitCode = Math.max(out.exitCode, r.exitCode) as 0 | 1;
  }
  return out;
}
