/**
 * `pagelab compare FILE... [--design memdesc,struct-page] [--pincount bias,exact,...]
 * [--pfn-lookup memmap,vma] [--jobs N]`: each scenario under every combination of the design
 * axes, one row per combination, with the metrics of each axis named on the command line —
 * layout: metadata bytes; pincount: pin metadata, how folio_maybe_dma_pinned() answered against
 * the truth, safety, fork copies, failed migrations; pfn-lookup: compaction's pages moved and
 * skipped and free order-9 blocks gained, memory failure's results, the lookup's work and what it
 * could not handle — and whether the scenario's own expectations held; then every failure (up to
 * a limit per row, with "and N more"). With no axis given, the pin-count designs are compared.
 * Combinations run on a worker pool (compare_pool.ts) when there are several and a compiled
 * worker exists; the output is the serial one. Exit code: 2 for bad input, else 1 if an
 * expectation failed under some combination, else 0.
 */
import { readFileSync } from 'node:fs';
import type { PfnLookupName } from '../index.js';
import { formatSize, LAYOUTS, type LayoutName, PFN_LOOKUPS, PIN_DESIGNS, type PinDesign } from '../index.js';
import {
  assembleCompare,
  type Combo,
  type CompareResult,
  combos,
  compareCombos,
  type DesignRow,
} from '../scenario/compare.js';
import { formatDiagnostic } from '../scenario/diagnostics.js';
import { parseScenario, type Scenario } from '../scenario/parse.js';
import { table } from '../scenario/procfs.js';
import { defaultWorkerFile, poolSize, runPool } from './compare_pool.js';
import type { Io } from './io.js';
import { jsonDocument } from './json.js';
import { progress } from './progress.js';
import { UsageError } from './usage_error.js';

export { type CompareResult, compareScenario, type DesignRow } from '../scenario/compare.js';

/** A comma-separated list of names from `choices`. */
function parseList<T extends string>(flag: string, list: string, choices: readonly T[]): T[] {
  const names = list
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const n of names)
    if (!choices.includes(n as T))
      throw new UsageError(`${flag}: '${n}' is not one of ${choices.join(', ')}`);
  if (names.length === 0) throw new UsageError(`${flag} needs at least one name`);
  return names as T[];
}

export const parseDesigns = (list: string): PinDesign[] => parseList('--pincount', list, PIN_DESIGNS);

/** The axes of one compare run; an axis absent from the command line is held at its default. */
export interface CompareAxes {
  design?: LayoutName[];
  pincount?: PinDesign[];
  pfnLookup?: PfnLookupName[];
}

export function parseAxes(o: { design?: string; pincount?: string; pfnLookup?: string }): CompareAxes {
  const axes: CompareAxes = {};
  if (o.design !== undefined) axes.design = parseList('--design', o.design, LAYOUTS);
  if (o.pincount !== undefined) axes.pincount = parseDesigns(o.pincount);
  if (o.pfnLookup !== undefined) axes.pfnLookup = parseList('--pfn-lookup', o.pfnLookup, PFN_LOOKUPS);
  // No axis named: the pin-count designs, every one of them.
  if (!axes.design && !axes.pincount && !axes.pfnLookup) axes.pincount = [...PIN_DESIGNS];
  return axes;
}

/** The combinations for one scenario: its own machine section fills the axes not asked for. */
function scenarioCombos(s: Scenario, axes: CompareAxes): Combo[] {
  return combos(
    axes.design ?? [s.machine.design ?? 'memdesc'],
    axes.pincount ?? [s.machine.pincount ?? 'bias'],
    axes.pfnLookup ?? [s.machine.pfn_lookup ?? 'memmap'],
  );
}

/** Failures listed per row before "and N more". */
const SHOWN = 5;

/** `0 B`, `512 KiB`, `1.5 MiB`. */
function humanBytes(b: number): string {
  if (b < 1024) return `${b} B`;
  const s = formatSize(b);
  return `${s.slice(0, -1)} ${s.slice(-1)}iB`;
}

const LEGEND: Record<'design' | 'pincount' | 'pfnLookup' | 'always', string[]> = {
  design: [
    '  design       the descriptor layout (--design): struct-page or memdesc',
    "  metadata     that layout's memmap plus descriptors at the end of the run",
  ],
  pincount: [
    '  pincount     the pin-count design (--pincount)',
    "  pin meta     what the pin-count design keeps beyond Linux's own fields, over the run",
    '  pins         pins taken (FOLL_PIN) over the run',
    '  true+ false+ false- true-   folio_maybe_dma_pinned() against the exact truth: said pinned and was,',
    '               said pinned and was not (a needless copy), said not pinned and was (unsafe), neither',
    '  safe here    yes: no false negative in this run; NO: a pinned page was called not pinned',
    '  pincount†    a design known to be unsafe (it can miss a pin, src/designs/pincount.ts), even in a',
    '               run where it happened not to',
    '  fork copies  pages fork copied because they looked maybe-pinned (vmstat pagelab_fork_copy)',
    '  migr. fails  migrations that failed, e.g. for FOLL_LONGTERM on a pinned page (pgmigrate_fail)',
  ],
  pfnLookup: [
    '  pfn lookup   how code starting from a frame learns what it is (--pfn-lookup): memmap or vma',
    '  moved        pages the compact steps migrated',
    '  skipped      pages their migrate scanner passed over (free, pinned, unreachable, ...)',
    '  o9 gained    free order-9 blocks the compact steps gained',
    '  mf results   memory_failure results: R recovered, D delayed, F failed, I ignored (- none)',
    '  unhandled    frames the lookup could not place, gup/compaction/memory failure',
    '  lookup work  entries the lookup visited, gup/compaction/memory failure (memmap: one word a frame)',
  ],
  always: [
    "  expectations the scenario's own expectations that held, of those checked; FAIL: some did not",
    '               under this combination (a scenario written for one design may fail under another:',
    '               that is a finding about the design, not a crash); the failures are listed below',
  ],
};

/** What the columns mean, for the axes shown, printed once. */
export function compareLegend(axes: CompareAxes): string {
  const parts = ['legend:'];
  if (axes.design) parts.push(...LEGEND.design);
  if (axes.pincount) parts.push(...LEGEND.pincount);
  if (axes.pfnLookup) parts.push(...LEGEND.pfnLookup);
  return [...parts, ...LEGEND.always].join('\n');
}

const mfText = (r: DesignRow['memoryFailure']): string =>
  (['MF_RECOVERED', 'MF_DELAYED', 'MF_FAILED', 'MF_IGNORED'] as const)
    .filter((k) => r[k])
    .map((k) => `${k[3]}${r[k]}`)
    .join(' ') || '-';

const perConsumer = (p: DesignRow['lookupVisited']): string => `${p.gup}/${p.compact}/${p.mf}`;

/** One row's label in the failure list: its values of the axes shown. */
function label(d: DesignRow, axes: CompareAxes): string {
  const parts: string[] = [];
  if (axes.design) parts.push(d.layout);
  if (axes.pincount) parts.push(d.design);
  if (axes.pfnLookup) parts.push(d.pfnLookup);
  return parts.join('/');
}

export function compareText(c: CompareResult, axes: CompareAxes): string {
  const head: string[] = [];
  if (axes.design) head.push('design', 'metadata');
  if (axes.pincount)
    head.push(
      'pincount',
      'pin meta',
      'pins',
      'true+',
      'false+',
      'false-',
      'true-',
      'safe here',
      'fork copies',
      'migr. fails',
    );
  if (axes.pfnLookup)
    head.push('pfn lookup', 'moved', 'skipped', 'o9 gained', 'mf results', 'unhandled', 'lookup work');
  head.push('expectations');
  const rows = [head];
  const notes: string[] = [];
  for (const d of c.designs) {
    const e = d.expectations;
    const row: string[] = [];
    if (axes.design) row.push(d.layout, humanBytes(d.layoutBytes));
    if (axes.pincount)
      row.push(
        `${d.design}${d.declaredUnsafe ? '†' : ''}`,
        humanBytes(d.metadataBytes),
        String(d.pinsTaken),
        String(d.truePositives),
        String(d.falsePositives),
        String(d.falseNegatives),
        String(d.trueNegatives),
        d.safe ? 'yes' : 'NO',
        String(d.forkCopies),
        String(d.migrationSkips),
      );
    if (axes.pfnLookup)
      row.push(
        d.pfnLookup,
        String(d.compaction.moved),
        String(d.compaction.skipped),
        String(d.compaction.order9Gained),
        mfText(d.memoryFailure),
        perConsumer(d.lookupUnhandled),
        perConsumer(d.lookupVisited),
      );
    row.push(e.failures.length === 0 ? `${e.held}/${e.checked} held` : `FAIL ${e.held}/${e.checked} held`);
    rows.push(row);
    const who = label(d, axes);
    for (const f of e.failures.slice(0, SHOWN)) notes.push(`  ${who}: ${f}`);
    if (e.failures.length > SHOWN) notes.push(`  ${who}: ... and ${e.failures.length - SHOWN} more`);
  }
  const n = c.designs.length;
  const named = [axes.design && 'design', axes.pincount && 'pincount', axes.pfnLookup && 'pfn lookup'].filter(
    Boolean,
  );
  const title = `${c.name} (${c.file}) under ${n} combination${n === 1 ? '' : 's'} of ${named.join(', ')}:`;
  return [title, table(rows), ...(notes.length ? ['failures:', ...notes] : [])].join('\n');
}

export interface CompareOptions {
  json?: boolean;
  /** Worker threads (1: serial, in this thread). Default: one per CPU, at most one per combination. */
  jobs?: number;
  /** The worker module; default the compiled one beside this file (none when run from source: serial). */
  workerFile?: string;
}

/** Every scenario's rows: serially, or on the pool. Bad files are reported and dropped (exit 2). */
async function compareAll(
  files: string[],
  axes: CompareAxes,
  o: CompareOptions,
  io: Io,
): Promise<{ results: CompareResult[]; bad: boolean }> {
  const good: { file: string; text: string; scenario: Scenario; combos: Combo[] }[] = [];
  let bad = false;
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new UsageError(
        `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      );
    }
    const parsed = parseScenario(text, file);
    if (!parsed.ok) {
      for (const d of parsed.errors) io.err(`${formatDiagnostic(d)}\n`);
      bad = true;
      continue;
    }
    good.push({ file, text, scenario: parsed.scenario, combos: scenarioCombos(parsed.scenario, axes) });
  }
  const tasks = good.reduce((n, g) => n + g.combos.length, 0);
  const threads = poolSize(tasks, o.jobs);
  const worker = o.workerFile ?? defaultWorkerFile();
  const bar = progress(io, 'pagelab compare', 'runs');
  let done = 0;
  const tick = () => bar.update(++done, tasks);
  try {
    if (threads <= 1 || !worker)
      return { results: good.map((g) => compareCombos(g.scenario, g.combos, tick)), bad };
    const outcomes = await runPool(worker, good, threads, tick);
    return { results: good.map((g, i) => assembleCompare(g.scenario, outcomes[i])), bad };
  } finally {
    bar.end();
  }
}

export async function compareCommand(
  files: string[],
  axes: CompareAxes,
  io: Io,
  o: CompareOptions = {},
): Promise<number> {
  const { results, bad } = await compareAll(files, axes, o, io);
  let code = bad ? 2 : 0;
  let first = true;
  for (const c of results) {
    for (const e of c.inputErrors) io.err(`${e}\n`);
    code = Math.max(code, c.exitCode);
    if (c.exitCode === 2 || o.json) continue;
    io.out(`${first ? `${compareLegend(axes)}\n` : ''}\n${compareText(c, axes)}\n`);
    first = false;
  }
  if (o.json) io.out(jsonDocument('compare', { designs: axes.pincount ?? [], axes, scenarios: results }));
  return code;
}
