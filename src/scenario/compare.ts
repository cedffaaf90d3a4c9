/**
 * One scenario under every combination of the design axes (DESIGN.md §5): the descriptor layout
 * (`design`), the pin-count design (`pincount`) and the PFN lookup (`pfn_lookup`), as data: what
 * `pagelab compare` tabulates and the web visualiser charts. Here, not in the CLI, so the
 * browser's worker runs the same code; the CLI's worker pool runs compareCombo() per combination
 * and assembleCompare() puts the rows together exactly as the serial compareCombos() does.
 */
import type { LayoutName } from '../designs/layout.js';
import type { PfnLookupName } from '../designs/pfnlookup.js';
import { type PinDesign, UNSAFE_PIN_DESIGNS } from '../designs/pincount.js';
import { Machine } from '../machine/machine.js';
import type { MfResult } from '../mm/memory-failure.js';
import { MAX_PAGE_ORDER, PAGEBLOCK_ORDER } from '../mm/types.js';
import { formatDiagnostic } from './diagnostics.js';
import { failureText } from './format.js';
import { runScenario } from './run.js';

/** One point of the design space. */
export interface Combo {
  layout: LayoutName;
  pincount: PinDesign;
  pfnLookup: PfnLookupName;
}

/** Frames by consumer: GUP dirtying, compaction, memory failure. */
export interface PerConsumer {
  gup: number;
  compact: number;
  mf: number;
}

/** One combination's run of one scenario. */
export interface DesignRow {
  /** The pin-count design (the field's name from when it was the only axis). */
  design: PinDesign;
  layout: LayoutName;
  pfnLookup: PfnLookupName;
  /** The layout's metadata at the end of the run: memmap plus descriptors (bytes). */
  layoutBytes: number;
  /** The pin-count design's own metadata (bytes) beyond what Linux keeps. */
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
  /** Over every `compact` step: pages migrated, pages the migrate scanner passed over, and free order-9 blocks gained. */
  compaction: { moved: number; skipped: number; order9Gained: number };
  /** memory_failure results over the run, by result. */
  memoryFailure: Partial<Record<MfResult, number>>;
  /** The pfn_lookup design's work (entries visited) and frames it could not handle, per consumer. */
  lookupVisited: PerConsumer;
  lookupUnhandled: PerConsumer;
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

/** What one combination's run gives: its row, or the bad input it found. */
export type ComboOutcome = { row: DesignRow; exitCode: 0 | 1 } | { inputErrors: string[] };

/** compact's skip reasons that count blocks, not pages. */
const BLOCK_SKIPS = new Set(['skip_hint', 'isolated_block', 'cma_block', 'migratetype_block']);

/** Free blocks of pageblock order a machine could hand out now (larger blocks count for several). */
function freeOrder9(m: Machine): number {
  let n = 0;
  for (const z of m.kernel.pa.zones)
    for (let o = PAGEBLOCK_ORDER; o <= MAX_PAGE_ORDER; o++)
      n += z.freeBlocks(o) * (1 << (o - PAGEBLOCK_ORDER));
  return n;
}

/**
 * A Machine whose compact and memoryFailure results are also tallied for the row: the scenario
 * runner keeps them per step, the comparison needs their sum.
 */
function observedMachine(
  config: ConstructorParameters<typeof Machine>[0],
  row: DesignRow['compaction'],
  mf: DesignRow['memoryFailure'],
): Machine {
  const m = new Machine(config);
  const compact = m.compact.bind(m);
  m.compact = (req) => {
    const before = freeOrder9(m);
    const reports = compact(req);
    for (const r of reports) {
      row.moved += r.migrated;
      for (const [why, n] of Object.entries(r.skipped)) if (!BLOCK_SKIPS.has(why)) row.skipped += n;
    }
    row.order9Gained += freeOrder9(m) - before;
    return reports;
  };
  const failure = m.memoryFailure.bind(m);
  m.memoryFailure = (req) => {
    const out = failure(req);
    mf[out.result] = (mf[out.result] ?? 0) + 1;
    return out;
  };
  return m;
}

/** Run one scenario under one combination. */
export function compareCombo(s: Parameters<typeof runScenario>[0], c: Combo): ComboOutcome {
  const compaction = { moved: 0, skipped: 0, order9Gained: 0 };
  const memoryFailure: DesignRow['memoryFailure'] = {};
  const machine = { ...s.machine, design: c.layout, pincount: c.pincount, pfn_lookup: c.pfnLookup };
  const r = runScenario(
    { ...s, machine },
    { machine: (config) => observedMachine(config, compaction, memoryFailure) },
  );
  if (r.inputErrors.length > 0) return { inputErrors: r.inputErrors.map(formatDiagnostic) };
  const m = r.machine!;
  const score = m.pinScore();
  const v = m.vmstat();
  const layoutBytes = m.accounting().find((a) => a.layout === c.layout)?.totalBytes ?? 0;
  return {
    exitCode: r.exitCode === 0 ? 0 : 1,
    row: {
      design: c.pincount,
      layout: c.layout,
      pfnLookup: c.pfnLookup,
      layoutBytes,
      metadataBytes: score.metadataBytes,
      pinsTaken: score.pinsTaken,
      truePositives: score.truePositives,
      falsePositives: score.falsePositives,
      falseNegatives: score.falseNegatives,
      trueNegatives: score.trueNegatives,
      safe: score.falseNegatives === 0,
      declaredUnsafe: UNSAFE_PIN_DESIGNS.includes(c.pincount),
      forkCopies: v.pagelab_fork_copy,
      migrationSkips: v.pgmigrate_fail,
      compaction,
      memoryFailure,
      lookupVisited: {
        gup: v.pagelab_lookup_gup_visited,
        compact: v.pagelab_lookup_compact_visited,
        mf: v.pagelab_lookup_mf_visited,
      },
      lookupUnhandled: {
        gup: v.pagelab_lookup_gup_unhandled,
        compact: v.pagelab_lookup_compact_unhandled,
        mf: v.pagelab_lookup_mf_unhandled,
      },
      expectations: {
        checked: r.expectations,
        held: Math.max(0, r.expectations - r.failures.length),
        failures: r.failures.map((f) => failureText(s.file, f)),
      },
    },
  };
}

/** The rows of one scenario, in combination order; the first bad input ends it (exit code 2). */
export function assembleCompare(
  s: { file: string; name: string },
  outcomes: readonly ComboOutcome[],
): CompareResult {
  const out: CompareResult = { file: s.file, name: s.name, designs: [], exitCode: 0, inputErrors: [] };
  for (const o of outcomes) {
    if ('inputErrors' in o) return { ...out, designs: [], inputErrors: o.inputErrors, exitCode: 2 };
    out.designs.push(o.row);
    out.exitCode = Math.max(out.exitCode, o.exitCode) as 0 | 1;
  }
  return out;
}

/** Every combination of the axes, in the order the table lists them (layout, then pincount, then lookup). */
export function combos(
  layouts: readonly LayoutName[],
  pincounts: readonly PinDesign[],
  lookups: readonly PfnLookupName[],
): Combo[] {
  const out: Combo[] = [];
  for (const layout of layouts)
    for (const pincount of pincounts)
      for (const pfnLookup of lookups) out.push({ layout, pincount, pfnLookup });
  return out;
}

/** Run one scenario under each combination, one after the other. */
export function compareCombos(
  s: Parameters<typeof runScenario>[0],
  list: readonly Combo[],
  onCombo?: () => void,
): CompareResult {
  const outcomes: ComboOutcome[] = [];
  for (const c of list) {
    const o = compareCombo(s, c);
    onCombo?.();
    outcomes.push(o);
    if ('inputErrors' in o) break;
  }
  return assembleCompare(s, outcomes);
}

/** Run one scenario under each pin-count design, its own layout and lookup kept (the web view's call). */
export function compareScenario(s: Parameters<typeof runScenario>[0], designs: PinDesign[]): CompareResult {
  const layout = s.machine.design ?? 'memdesc';
  const lookup = s.machine.pfn_lookup ?? 'memmap';
  return compareCombos(s, combos([layout], designs, [lookup]));
}
