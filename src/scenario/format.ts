/**
 * A run as text: a header, one line per step (and what a dump printed), the report, then the
 * verdict with every failure at its `file:line:col`.
 */

import type { ResolvedConfig } from '../machine/config.js';
import { formatSize } from '../mm/types.js';
import { formatDiagnostic } from './diagnostics.js';
import type { Scenario } from './parse.js';
import { indent, reportText } from './report.js';
import type { RunFailure, RunResult } from './run.js';

const OP_WIDTH = 18;

export function header(s: Scenario, c: ResolvedConfig | undefined): string {
  const machine = c
    ? `machine: ${formatSize(c.memory)} RAM, ${c.nodes} node${c.nodes === 1 ? '' : 's'}, design ${c.design}, invariants checked after every step: ${s.check}`
    : 'machine: not built';
  return [
    `== ${s.name} (${s.file})`,
    ...(s.description ? [indent(wrap(s.description.trim()))] : []),
    machine,
  ].join('\n');
}

/** Fold a paragraph (YAML `>` text arrives as one line) to the report's width. */
function wrap(text: string, width = 96): string {
  const lines: string[] = [];
  for (const para of text.split('\n')) {
    let line = '';
    for (const word of para.split(/\s+/).filter(Boolean)) {
      if (line && line.length + 1 + word.length > width) {
        lines.push(line);
        line = word;
      } else line = line ? `${line} ${word}` : word;
    }
    lines.push(line);
  }
  return lines.join('\n');
}

export const failureText = (file: string, f: RunFailure): string =>
  `${file}:${f.pos.line}:${f.pos.col} step ${f.step} (${f.op}): ${f.message}`;

export function runText(r: RunResult): string {
  const out: string[] = [header(r.scenario, r.machine?.config)];
  for (const st of r.steps) {
    out.push(`${String(st.n).padStart(4)}  ${st.op.padEnd(OP_WIDTH)} ${st.summary}`);
    if (st.output) out.push(indent(st.output, ' '.repeat(6)));
  }
  if (r.report) out.push(`report after step ${r.steps.length}:`, indent(reportText(r.report)));
  out.push(verdict(r));
  return out.join('\n');
}

const plural = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`;

function verdict(r: RunResult): string {
  if (r.inputErrors.length > 0)
    return ['BAD INPUT', ...r.inputErrors.map((d) => indent(formatDiagnostic(d)))].join('\n');
  const stopped =
    r.stoppedAt === undefined ? '' : `; the run stopped at step ${r.stoppedAt} of ${r.scenario.steps.length}`;
  if (r.failures.length === 0)
    return `PASS  ${r.steps.length} steps, ${plural(r.expectations, 'expectation')} held`;
  return [
    `FAIL  ${plural(r.failures.length, 'failure')} in ${r.steps.length} steps (${plural(r.expectations, 'expectation')} checked)${stopped}`,
    ...r.failures.map((f) => indent(failureText(r.scenario.file, f))),
  ].join('\n');
}
