/**
 * The model in a Web Worker: the same scenario parser, runner and explain code as the CLI, run
 * on messages from the page (protocol.ts). One scenario at a time; a step is shown by running the
 * scenario again up to it (`explain --after N`), so every view is exactly what the CLI sees.
 */
import { formatDiagnostic } from '../../src/scenario/diagnostics.js';
import { explainAddress, explainFrame } from '../../src/scenario/explain.js';
import { parseScenario, type Scenario } from '../../src/scenario/parse.js';
import { type RunResult, runScenario } from '../../src/scenario/run.js';
import { FRAME_NAMES, TAIL } from '../../src/snapshot/classify.js';
import { kpfHex, kpfLongName } from '../../src/snapshot/kpageflags.js';
import { type Capture, pageTypesText, readCapture } from './capture.js';
import { CaptureCells } from './capture_cells.js';
import { designsData } from './designs_model.js';
import { MemmapCells } from './memmap_cells.js';
import type { Kind, Loaded, ProblemText, ProcBar, Request, Requests, Response } from './protocol.js';
import { frameMappings, processFrames } from './sharing.js';

let scenario: Scenario | undefined;
let at: RunResult | undefined;
let cells: MemmapCells | undefined;
let shown = 0;
let capture: Capture | undefined;
let captureCells: CaptureCells | undefined;

function needCapture(): { c: Capture; cells: CaptureCells } {
  if (!capture || !captureCells) throw new Error('no capture loaded');
  return { c: capture, cells: captureCells };
}

function problems(text: string, file: string): { s?: Scenario; errors: ProblemText[] } {
  const p = parseScenario(text, file);
  if (p.ok) return { s: p.scenario, errors: [] };
  return { errors: p.errors.map((d) => ({ line: d.pos.line, col: d.pos.col, text: formatDiagnostic(d) })) };
}

function need(): RunResult {
  if (!at?.machine) throw new Error('no scenario has run');
  return at;
}

function goto(step: number): { step: number; ms: number } {
  if (!scenario) throw new Error('no scenario loaded');
  const t = performance.now();
  const n = Math.max(0, Math.min(step, scenario.steps.length));
  at = runScenario(scenario, { until: n });
  shown = n;
  cells = at.machine ? new MemmapCells(at.machine.kernel.pa.memmap) : undefined;
  return { step: n, ms: performance.now() - t };
}

type Handlers = {
  [K in Kind]: (a: Requests[K]['req']) => Requests[K]['res'] | Promise<Requests[K]['res']>;
};
const handlers: Handlers = {
  parse: ({ text, file }) => problems(text, file).errors,
  load: ({ text, file }) => {
    const t = performance.now();
    const { s, errors } = problems(text, file);
    scenario = s;
    at = undefined;
    cells = undefined;
    const empty: Loaded = {
      ok: false,
      errors,
      name: '',
      steps: [],
      exitCode: 2,
      maxPfn: 0,
      usedEnd: 0,
      memory: '',
      runMs: 0,
    };
    if (!s) return empty;
    // Up to the last step: what the CLI's run does, less the final report, which the page does not show.
    const r = runScenario(s, { until: s.steps.length });
    const runMs = performance.now() - t;
    const errs = r.inputErrors.map((d) => ({ line: d.pos.line, col: d.pos.col, text: formatDiagnostic(d) }));
    const steps = r.steps.map((st) => ({
      n: st.n,
      op: st.op,
      line: st.pos.line,
      status: st.status,
      summary: st.summary,
      failures: r.failures.filter((f) => f.step === st.n).map((f) => f.message),
    }));
    at = r;
    shown = s.steps.length;
    cells = r.machine ? new MemmapCells(r.machine.kernel.pa.memmap) : undefined;
    return {
      ok: errs.length === 0 && !!r.machine,
      errors: errs,
      name: s.name,
      steps,
      exitCode: r.exitCode,
      maxPfn: cells?.maxPfn ?? 0,
      usedEnd: cells?.usedEnd() ?? 0,
      memory: String(s.machine.memory ?? ''),
      runMs,
    };
  },
  goto: ({ step }) => goto(step),
  cells: ({ start, fpc, count }) => {
    if (!cells) throw new Error('no machine');
    const t = performance.now();
    const out = cells.cells(start, fpc, count);
    return { cells: out, ms: performance.now() - t };
  },
  info: ({ pfn }) => {
    const m = need().machine!;
    if (cells && cells.typeAt(pfn) === 14) return { pfn, type: 'hole', order: 0 };
    const p = m.page(pfn);
    return { pfn, type: p.type, order: p.order };
  },
  dump: ({ pfn }) => explainFrame(need(), pfn),
  procs: () => {
    const r = need();
    const names = new Map<number, string>();
    for (const [name, b] of r.labels.entries()) if (b.kind === 'process') names.set(r.labels.num(name), name);
    return r.machine!.processes().map(
      (p): ProcBar => ({
        pid: p.pid,
        name: p.name,
        label: names.get(p.pid),
        alive: p.alive,
        vmas: p.vmas.map((v) => ({ start: v.start, end: v.end, name: v.name, flags: v.flags })),
      }),
    );
  },
  walk: ({ pid, addr }) => {
    const r = need();
    const label = [...r.labels.entries()].find(
      ([n, b]) => b.kind === 'process' && r.labels.num(n) === pid,
    )?.[0];
    if (!label) throw new Error(`process ${pid} has no label in the scenario`);
    return explainAddress(r, label, `0x${addr.toString(16)}`);
  },
  mappings: ({ pfn }) => frameMappings(need().machine!, pfn),
  procFrames: ({ pid }) => processFrames(need().machine!, pid),
  designs: ({ deviceBytes }) => {
    if (!scenario) throw new Error('no scenario loaded');
    return designsData(scenario, need(), shown, deviceBytes);
  },
  capture: async ({ file, iomem }) => {
    // The previous capture's arrays go first: two captures of a big machine need not fit at once.
    capture = undefined;
    captureCells = undefined;
    const c = await readCapture(file, iomem ? await iomem.text() : undefined);
    const t = performance.now();
    captureCells = new CaptureCells(c.classification.frames);
    capture = c;
    return { ...c.summary, cellsMs: performance.now() - t };
  },
  captureCells: ({ start, fpc, count }) => {
    const t = performance.now();
    const out = needCapture().cells.cells(start, fpc, count);
    return { cells: out, ms: performance.now() - t };
  },
  capturePageTypes: () => pageTypesText(needCapture().c),
  captureInfo: ({ pfn }) => {
    const { c } = needCapture();
    if (pfn < 0 || pfn >= c.snapshot.nrPfns) return `pfn 0x${pfn.toString(16)}: beyond the capture`;
    const f = c.classification.frames[pfn];
    const lo = c.snapshot.flagsLo[pfn];
    const hi = c.snapshot.flagsHi[pfn];
    const type = `${FRAME_NAMES[f & ~TAIL]}${f & TAIL ? ' (tail)' : ''}`;
    return `pfn 0x${pfn.toString(16)} · ${type} · ${kpfHex(lo, hi)} ${kpfLongName(lo, hi) || '(no flags)'}`;
  },
};

self.onmessage = async (ev: MessageEvent<Request>) => {
  const { id, kind, args } = ev.data;
  let msg: Response;
  try {
    const result = await (handlers[kind] as (a: unknown) => unknown)(args);
    msg = { id, result };
  } catch (e) {
    msg = { id, error: e instanceof Error ? e.message : String(e) };
  }
  const cellsOut = (kind === 'cells' || kind === 'captureCells') && msg.result;
  const transfer = cellsOut ? [(msg.result as { cells: Uint8Array }).cells.buffer] : [];
  (self as unknown as Worker).postMessage(msg, transfer as Transferable[]);
};
