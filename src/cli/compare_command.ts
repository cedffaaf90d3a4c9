/**
 * `pagelab compare --pincount bias,exact,ptable,shadow,sticky,ptebit FILE`: one scenario under each
 * pin-count design, one table — metadata bytes, pins taken, how folio_maybe_dma_pinned() answered
 * against the truth, COW copies fork made for maybe-pinned pages, migrations that failed, and
 * whether the scenario's expectations held (a design that loses a pin fails them).
 */
import { PIN_DESIGNS, type PinDesign } from '../index.js';
import { formatDiagnostic } from '../scenario/diagnostics.js';
import { failureText } from '../scenario/format.js';
import { table } from '../scenario/procfs.js';
import { runScenario } from '../scenario/run.js';
import type { Io } from './io.js';
import { readScenario } from './scenario_files.js';
import { UsageError } from './usage_error.js';

export function parseDesigns(list: string): PinDesign[] {
  const names = list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const n of names)
    if (!PIN_DESIGNS.includes(n as PinDesign))
      throw new UsageError(`--pincount: '${n}' is not one of ${PIN_DESIGNS.join(', ')}`);
  if (names.length === 0) throw new UsageError('--pincount needs at least one design');
  return names as PinDesign[];
}

export function compareCommand(file: string, designs: PinDesign[], io: Io): number {
  const parsed = readScenario(file);
  if (!parsed.ok) {
    for (const d of parsed.errors) io.err(`${formatDiagnostic(d)}\n`);
    return 2;
  }
  const s = parsed.scenario;
  const rows = [
    [
      'design',
      'metadata',
      'pins',
      'true+',
      'false+',
      'false-',
      'true-',
      'fork copies',
      'migration skips',
      'result',
    ],
  ];
  const notes: string[] = [];
  let code = 0;
  for (const design of designs) {
    const r = runScenario({ ...s, machine: { ...s.machine, pincount: design } });
    for (const d of r.inputErrors) io.err(`${formatDiagnostic(d)}\n`);
    if (r.inputErrors.length > 0) return 2;
    const m = r.machine!;
    const score = m.pinScore();
    const v = m.vmstat();
    rows.push([
      design,
      `${score.metadataBytes} B`,
      String(score.pinsTaken),
      String(score.truePositives),
      String(score.falsePositives),
      String(score.falseNegatives),
      String(score.trueNegatives),
      String(v.fork_copy),
      String(v.pgmigrate_fail),
      r.exitCode === 0 ? 'PASS' : `FAIL (${r.failures.length})`,
    ]);
    for (const f of r.failures.slice(0, 3)) notes.push(`${design}: ${failureText(s.file, f)}`);
    code = Math.max(code, r.exitCode);
  }
  io.out(`${s.name} (${file}) under ${designs.length} pin-count design(s):\n${table(rows)}\n`);
  if (notes.length) io.out(`${notes.join('\n')}\n`);
  return code;
}
