/**
 * `pagelab explain FILE --after N --pfn X`: run the scenario up to step N and describe one frame
 * the way dump_page() would, or (`--proc p --addr buf`) walk a user address through the page
 * tables level by level.
 */
import { formatDiagnostic } from '../scenario/diagnostics.js';
import { explainAddress, explainData, explainFrame, pfnArgument } from '../scenario/explain.js';
import { failureText } from '../scenario/format.js';
import { runScenario } from '../scenario/run.js';
import type { Io } from './io.js';
import { jsonDocument } from './json.js';
import { readScenario } from './scenario_files.js';
import { UsageError } from './usage_error.js';

export interface ExplainOptions {
  after?: number;
  pfn?: string;
  proc?: string;
  addr?: string;
  json?: boolean;
}

export function explainCommand(file: string, o: ExplainOptions, io: Io): number {
  const byAddress = o.proc !== undefined || o.addr !== undefined;
  if (byAddress && (o.proc === undefined || o.addr === undefined))
    throw new UsageError('explain needs both --proc and --addr');
  if (!byAddress && o.pfn === undefined)
    throw new UsageError('explain needs --pfn N (a frame number or a label), or --proc P --addr A');
  const parsed = readScenario(file);
  if (!parsed.ok) {
    for (const d of parsed.errors) io.err(`${formatDiagnostic(d)}\n`);
    return 2;
  }
  const s = parsed.scenario;
  const after = o.after ?? s.steps.length;
  if (after > s.steps.length) throw new UsageError(`--after ${after}: ${file} has ${s.steps.length} steps`);
  const r = runScenario(s, { until: after });
  for (const d of r.inputErrors) io.err(`${formatDiagnostic(d)}\n`);
  if (r.inputErrors.length > 0) return 2;
  if (r.stoppedAt !== undefined && r.stoppedAt < after) {
    for (const f of r.failures) io.err(`${failureText(s.file, f)}\n`);
    io.err(`pagelab: the run stopped at step ${r.stoppedAt}, before step ${after}\n`);
    return 1;
  }
  if (o.json) {
    io.out(jsonDocument('explain', { file, after, ...explainData(r, o) }));
    return 0;
  }
  io.out(`${byAddress ? explainAddress(r, o.proc!, o.addr!) : explainFrame(r, pfnArgument(o.pfn!))}\n`);
  return 0;
}
