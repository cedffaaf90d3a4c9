/**
 * `explain`: what one frame is after step N of a scenario, told the way the kernel's dump_page()
 * would, with the scenario's labels that name it; or a user address walked through the page
 * tables level by level.
 */
import { KernelBug, KernelError, parseSize } from '../mm/types.js';
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
      // A label whose object is gone (a stale folio handle, a vfree'd area) names no frame now.
      if (e instanceof KernelBug || e instanceof KernelError) continue;
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

/**
 * `explain --proc p --addr buf`: the page-table walk for a user address, level by level — each
 * table's frame, the index used, the entry and its bits — then the frame reached, as dump_page().
 */
export function explainAddress(r: RunResult, proc: string, address: string): string {
  const m = r.machine!;
  if (!r.labels.has(proc) || r.labels.get(proc).kind !== 'process') {
    throw new ScenarioInputError(`no process named '${proc}' after step ${r.steps.length}`);
  }
  const pid = r.labels.num(proc);
  const at = resolveAddressText(r, address);
  const lines = [`${proc} (pid ${pid}) ${address} = ${hex(at)}:`];
  for (const s of m.walk(pid, at)) {
    const entry =
      s.entry === 0
        ? 'none'
        : `${hex(s.entry)} ${s.leaf ? `-> pfn ${hex(s.pfn!)}` : `-> table pfn ${hex(s.pfn!)}`} (${s.flags})`;
    lines.push(
      indent(`${s.level.padEnd(3)} table pfn ${hex(s.tablePfn)} [${String(s.index).padStart(3)}] ${entry}`),
    );
  }
  const page = m.pageAt(pid, at);
  if (!page) lines.push(indent('nothing mapped: the next access faults'));
  else {
    lines.push(indent(`maps pfn ${hex(page.pfn)} through a ${page.level.toUpperCase()} (${page.pte})`));
    lines.push(indent(m.dumpPage(page.pfn)));
  }
  return lines.join('\n');
}

/** `buf`, `buf+4K` or a number, with the run's region labels. */
function resolveAddressText(r: RunResult, text: string): number {
  if (/^(0x[0-9a-f]+|\d+)$/i.test(text)) return Number(text);
  const m = /^([A-Za-z_][A-Za-z0-9_.-]*)(?:\+(\S+))?$/.exec(text);
  if (!m || !r.labels.has(m[1]) || r.labels.get(m[1]).kind !== 'region') {
    throw new ScenarioInputError(
      `'${text}' is not a region label (or region+offset) after step ${r.steps.length}`,
    );
  }
  return r.labels.num(m[1]) + (m[2] ? parseSize(m[2]) : 0);
}

/** `explain --json`: the frame (or the address's walk and frame) as data. */
export function explainData(
  r: RunResult,
  o: { pfn?: string; proc?: string; addr?: string },
): Record<string, unknown> {
  const m = r.machine!;
  const frame = (pfn: number) => ({
    pfn,
    page: m.page(pfn),
    dump: m.dumpPage(pfn),
    labels: labelsOn(r, pfn),
  });
  if (o.proc === undefined || o.addr === undefined) return frame(targetPfn(r, pfnArgument(o.pfn!)));
  if (!r.labels.has(o.proc) || r.labels.get(o.proc).kind !== 'process')
    throw new ScenarioInputError(`no process named '${o.proc}' after step ${r.steps.length}`);
  const pid = r.labels.num(o.proc);
  const address = resolveAddressText(r, o.addr);
  const page = m.pageAt(pid, address);
  return { pid, address, walk: m.walk(pid, address), ...(page ? frame(page.pfn) : { labels: [] }) };
}
