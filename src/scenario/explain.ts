/**
 * `explain`: what one frame is after step N of a scenario, told the way the kernel's dump_page()
 * would (both layouts: the memdesc word and the struct page's raw: words), with the scenario's
 * labels that name it; or a user address walked through the page tables level by level, each
 * present entry as x86-64 would hold it.
 */
import { pageLayouts } from '../machine/debug.js';
import type { Machine } from '../machine/machine.js';
import { hex64, type StructPage, x86Entry } from '../machine/struct_page.js';
import type { WalkStep } from '../machine/types.js';
import { PTE } from '../mm/pgtable.js';
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
  const at = addressArgument(r, address);
  const lines = [`${proc} (pid ${pid}) ${address} = ${hex(at)}:`];
  for (const s of x86Walk(m, pid, at)) {
    const target = s.pfn === undefined ? '' : s.leaf ? `pfn ${hex(s.pfn)}` : `table pfn ${hex(s.pfn)}`;
    const entry =
      s.entry === 0
        ? 'none'
        : s.x86
          ? `${s.x86} -> ${target} (x86: ${s.x86Bits}${s.modelOnly ? `; model-only: ${s.modelOnly}` : ''})`
          : `${hex(s.entry)} (not present, the model's encoding: ${s.flags})`;
    lines.push(
      indent(`${s.level.padEnd(3)} table pfn ${hex(s.tablePfn)} [${String(s.index).padStart(3)}] ${entry}`),
    );
  }
  const page = m.pageAt(pid, at);
  if (!page) {
    // No page: a fault fills it if a VMA covers the address; outside every VMA an access is SIGSEGV.
    const vma = m.process(pid).vmas.find((v) => at >= v.start && at < v.end);
    lines.push(
      indent(
        vma
          ? `nothing mapped yet in ${vma.name || 'its VMA'} (${hex(vma.start)}-${hex(vma.end)}): the next access faults it in`
          : 'no VMA covers this address: an access here is SIGSEGV',
      ),
    );
  } else {
    lines.push(
      indent(
        `maps pfn ${hex(page.pfn)} through a ${page.level.toUpperCase()} (the model's bits: ${page.pte})`,
      ),
    );
    lines.push(indent(m.dumpPage(page.pfn)));
  }
  return lines.join('\n');
}

/** A walk step with its entry as x86-64 would hold it (`x86` undefined for an empty or non-present entry). */
export interface X86WalkStep extends WalkStep {
  x86?: string;
  x86Bits?: string;
  modelOnly?: string;
}

/** The walk of `addr` with each present entry in x86-64 bit positions (NX from the VMA's VM_EXEC). */
export function x86Walk(m: Machine, pid: number, addr: number): X86WalkStep[] {
  const vma = m.process(pid).vmas.find((v) => addr >= v.start && addr < v.end);
  const exec = vma?.flags.split('|').includes('exec') ?? false;
  return m.walk(pid, addr).map((s) => {
    const bits = s.entry % 4096;
    const e = s.entry === 0 || !(bits & PTE.PRESENT) ? undefined : x86Entry(bits, s.pfn!, s.leaf, exec);
    if (!e) return s;
    return {
      ...s,
      x86: `0x${hex64(e.value)}`,
      x86Bits: e.names.join(' '),
      ...(e.modelOnly.length ? { modelOnly: e.modelOnly.join(' ') } : {}),
    };
  });
}

/** `buf`, `buf+4K` or a number, with the run's region labels. */
export function addressArgument(r: RunResult, text: string): number {
  if (/^(0x[0-9a-f]+|\d+)$/i.test(text)) return Number(text);
  const m = /^([A-Za-z_][A-Za-z0-9_.-]*)(?:\+(\S+))?$/.exec(text);
  if (!m || !r.labels.has(m[1]) || r.labels.get(m[1]).kind !== 'region') {
    throw new ScenarioInputError(
      `'${text}' is not a region label (or region+offset) after step ${r.steps.length}`,
    );
  }
  let offset = 0;
  try {
    offset = m[2] ? parseSize(m[2]) : 0;
  } catch (e) {
    if (!(e instanceof RangeError)) throw e;
    throw new ScenarioInputError(`'${text}': ${e.message}`);
  }
  return r.labels.num(m[1]) + offset;
}

/** The two layouts of a frame with every word as a hex string (JSON has no 64-bit integers). */
function layoutsJson(m: Machine, pfn: number) {
  const l = pageLayouts(m.kernel, pfn);
  const sp = (s: StructPage | undefined) =>
    s && { words: s.words.map((w) => `0x${hex64(w)}`), names: s.names, synthesised: s.synthesised };
  return {
    memdescWord: l.memdescWord,
    structPage: sp(l.structPage),
    head: sp(l.head),
    addresses: l.addresses,
  };
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
    layouts: layoutsJson(m, pfn),
    labels: labelsOn(r, pfn),
  });
  if (o.proc === undefined || o.addr === undefined) return frame(targetPfn(r, pfnArgument(o.pfn!)));
  if (!r.labels.has(o.proc) || r.labels.get(o.proc).kind !== 'process')
    throw new ScenarioInputError(`no process named '${o.proc}' after step ${r.steps.length}`);
  const pid = r.labels.num(o.proc);
  const address = addressArgument(r, o.addr);
  const page = m.pageAt(pid, address);
  return { pid, address, walk: x86Walk(m, pid, address), ...(page ? frame(page.pfn) : { labels: [] }) };
}
