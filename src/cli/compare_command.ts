/**
 * `pagelab compare --pincount bias,exact,ptable,shadow,sticky,ptebit FILE...`: each scenario under
 * each pin-count design, one table per scenario — metadata, pins taken, how
 * folio_maybe_dma_pinned() answered against the truth, whether the design was safe (never said
 * "not pinned" of a pinned page), COW copies fork made for maybe-pinned pages, migrations that
 * failed, and whether the scenario's own expectations held — then every failure (up to a limit
 * per design, with "and N more"). Exit code: 2 for bad input, else 1 if an expectation failed
 * under some design, else 0.
 */
import { formatSize, PIN_DESIGNS, type PinDesign } from '../index.js';
import { type CompareResult, compareScenario } from '../scenario/compare.js';
import { table } from '../scenario/procfs.js';
import type { Io } from './io.js';
import { jsonDocument } from './json.js';
import { forEachScenario } from './scenario_files.js';
import { UsageError } from './usage_error.js';

export { type CompareResult, compareScenario, type DesignRow } from '../scenario/compare.js';

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

/** Failures listed per design before "and N more". */
const SHOWN = 5;

/** `0 B`, `512 KiB`, `1.5 MiB`. */
function humanBytes(b: number): string {
  if (b < 1024) return `${b} B`;
  const s = formatSize(b);
  return `${s.slice(0, -1)} ${s.slice(-1)}iB`;
}

/** What the columns mean, printed once. */
export const COMPARE_LEGEND = [
  'legend:',
  "  metadata     what the design keeps beyond Linux's own fields, over the run",
  '  pins         pins taken (FOLL_PIN) over the run',
  '  true+ false+ false- true-   folio_maybe_dma_pinned() against the exact truth: said pinned and was,',
  '               said pinned and was not (a needless copy), said not pinned and was (unsafe), neither',
  '  safe         yes: no false negative in this run; a design declared unsafe is marked (unsafe)',
  '  fork copies  pages fork copied because they looked maybe-pinned (vmstat pagelab_fork_copy)',
  '  migr. fails  migrations that failed, e.g. for FOLL_LONGTERM on a pinned page (pgmigrate_fail)',
  "  expectations the scenario's own expectations that held, of those checked",
].join('\n');

export function compareText(c: CompareResult, designs: number): string {
  const rows = [
    [
      'design',
      'metadata',
      'pins',
      'true+',
      'false+',
      'false-',
      'true-',
      'safe',
      'fork copies',
      'migr. fails',
      'expectations',
    ],
  ];
  const notes: string[] = [];
  for (const d of c.designs) {
    const e = d.expectations;
    rows.push([
      d.design,
      humanBytes(d.metadataBytes),
      String(d.pinsTaken),
      String(d.truePositives),
      String(d.falsePositives),
      String(d.falseNegatives),
      String(d.trueNegatives),
      `${d.safe ? 'yes' : 'NO'}${d.declaredUnsafe ? ' (unsafe)' : ''}`,
      String(d.forkCopies),
      String(d.migrationSkips),
      e.failures.length === 0 ? `${e.held}/${e.checked} held` : `FAIL ${e.held}/${e.checked} held`,
    ]);
    for (const f of e.failures.slice(0, SHOWN)) notes.push(`  ${d.design}: ${f}`);
    if (e.failures.length > SHOWN) notes.push(`  ${d.design}: ... and ${e.failures.length - SHOWN} more`);
  }
  const head = `${c.name} (${c.file}) under ${designs} pin-count design${designs === 1 ? '' : 's'}:`;
  return [head, table(rows), ...(notes.length ? ['failures:', ...notes] : [])].join('\n');
}

export function compareCommand(files: string[], designs: PinDesign[], io: Io, json = false): number {
  let first = true;
  const scenarios: CompareResult[] = [];
  const code = forEachScenario(files, io, (s) => {
    const c = compareScenario(s, designs);
    for (const e of c.inputErrors) io.err(`${e}\n`);
    scenarios.push(c);
    if (c.exitCode === 2 || json) return c.exitCode;
    io.out(`${first ? `${COMPARE_LEGEND}\n` : ''}\n${compareText(c, designs.length)}\n`);
    first = false;
    return c.exitCode;
  });
  if (json) io.out(jsonDocument('compare', { designs, scenarios }));
  return code;
}
