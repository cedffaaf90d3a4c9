/**
 * `explain`: what one frame is after step N of a scenario, told the way the kernel's dump_page()
 * would, with the scenario's labels that name it. (With processes, a user address will be walked
 * through the page tables level by level first.)
 */
import { KernelBug } from '../index.js';
import { ScenarioInputError } from './diagnostics.js';
import { hex } from './fields.js';
import { indent } from './report.js';
import type { RunResult } from './run.js';

/** The page a `--pfn` argument names: a frame number (decimal or 0x hex) or a label. */
export function pfnArgument(text: string): number | string {
  return /^(?:0x[0-9a-f]+|\d+)$/i.test(text) ? Number(text) : text;
}

/** Labels whose memory includes `pfn`, as `buf (folio, pfn 0x1000..0x1003)`. */
function labelsOn(r: RunResult, pfn: number): string[] {
  const out: string[] = [];
  for (const [name, b] of r.labels.entries()) {
    if (!b.frames) continue;
    let f: { pfn: number; count: number };
    try {
      f = b.frames(r.machine!);
    } catch (e) {
      // A label whose object is gone (a stale folio handle) names no frame now.
      if (e instanceof KernelBug) continue;
      throw e;
    }
    if (pfn < f.pfn || pfn >= f.pfn + f.count) continue;
    const span = f.count === 1 ? `pfn ${hex(f.pfn)}` : `pfn ${hex(f.pfn)}..${hex(f.pfn + f.count - 1)}`;
    out.push(`${name} (${b.kind}, ${span})`);
  }
  return out;
}

/** The frame a `--pfn` argument names after the run `r`. */
function targetPfn(r: RunResult, target: number | string): number {
  if (typeof target === 'number') return target;
  const b = r.labels.has(target) ? r.labels.get(target) : undefined;
  if (!b?.frames)
    throw new ScenarioInputError(`no label '${target}' naming memory after step ${r.steps.length}`);
  return b.frames(r.machine!).pfn;
}

/**
 * The text for one frame after the run `r` (which stopped where explain was asked to look). A pfn
 * that is not RAM is the Machine's ConfigError.
 */
export function explainFrame(r: RunResult, target: number | string): string {
  const pfn = targetPfn(r, target);
  const m = r.machine!;
  const last = r.steps[r.steps.length - 1];
  const where = last
    ? `after step ${last.n} (line ${last.pos.line}: ${last.op} ${last.summary})`
    : 'after boot';
  const labels = labelsOn(r, pfn);
  return [
    `${where}:`,
    indent(m.dumpPage(pfn)),
    ...(labels.length ? [indent(`labels: ${labels.join(', ')}`)] : []),
  ].join('\n');
}
