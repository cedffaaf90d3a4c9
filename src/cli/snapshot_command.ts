/**
 * `pagelab snapshot [FILE|DIR]`: what every frame of a real machine is, from a saved
 * /proc/kpageflags capture (raw, gzip or zstd; kpagecount and the /proc texts found beside it),
 * a directory `--save` wrote (its manifest checked first), or, without FILE, the live machine
 * (root only). Prints the census, the memdesc price and a PFN map; `--page-types` prints the
 * summary of the kernel's `page-types -F FILE` (`-r` for raw mode) byte for byte instead;
 * `--json` prints the same data as JSON; `--save DIR` captures the live machine into DIR.
 * Bad input is one line on stderr and exit code 2.
 */
import fs from 'node:fs';
import {
  type AnalyseOptions,
  type Analysis,
  analyseCapture,
  analyseLive,
  censusJson,
  formatCensus,
  formatPageTypes,
  formatPfnMap,
  formatPrice,
  kpfHex,
  kpfLongName,
  type MachineConfig,
  machineFromSnapshot,
  openCaptureDir,
  pfnMap,
  pfnMapJson,
  priceMemdesc,
  SnapshotError,
  saveCapture,
} from '../index.js';
import { runText } from '../scenario/format.js';
import { runScenario } from '../scenario/run.js';
import type { Io } from './io.js';
import { jsonDocument } from './json.js';
import { progress } from './progress.js';
import { forEachScenario } from './scenario_files.js';
import { UsageError } from './usage_error.js';

export interface SnapshotOptions {
  count?: string;
  pageTypes?: boolean;
  raw?: boolean;
  json?: boolean;
  map?: boolean;
  width?: number;
  save?: string;
  force?: boolean;
  replay?: string;
  owners?: boolean;
}

/** Machine keys a replay takes from the capture: the scenario's are replaced, and the run says so. */
const FROM_CAPTURE = ['memory', 'nodes', 'reserved', 'movable', 'cma', 'zeroPage', 'deferredInit'] as const;

/**
 * Run one scenario on a machine shaped like the capture: its memory map and every frame where it
 * was (src/snapshot/replay.ts); the scenario's other machine keys (design, thp, check, ...) apply.
 */
function replay(a: Analysis, file: string, owners: boolean, io: Io): number {
  const c = a.classification;
  if (c === null) throw new Error('snapshot: a census analysis returned no classification');
  return forEachScenario([file], io, (s) => {
    const ignored = FROM_CAPTURE.filter((key) => s.machine[key] !== undefined);
    let notes: readonly string[] = [];
    const r = runScenario(s, {
      machine: (config: MachineConfig) => {
        const rest = Object.fromEntries(
          Object.entries(config).filter(([key]) => !(FROM_CAPTURE as readonly string[]).includes(key)),
        );
        const built = machineFromSnapshot(a.info, c, rest, { owners });
        notes = built.notes;
        return built.machine;
      },
    });
    const head = [
      `replaying ${a.info.source.flags} (${a.info.nrPfns.toLocaleString('en-US')} PFNs) for ${file}`,
      ignored.length > 0 ? `  machine ${ignored.join(', ')}: taken from the capture, not the scenario` : '',
      ...notes.map((n) => `  ${n}`),
    ].filter(Boolean);
    io.out(`${head.join('\n')}\n\n${runText(r)}\n`);
    return r.exitCode;
  });
}

async function load(file: string | undefined, o: SnapshotOptions, io: Io): Promise<Analysis> {
  const what: Omit<AnalyseOptions, 'flags'> = o.pageTypes
    ? { census: false, pageTypes: o.raw ? 'raw' : 'normal' }
    : { census: true };
  if (file === undefined) {
    const bar = progress(io, 'pagelab snapshot', 'MiB read');
    try {
      return await analyseLive({
        ...what,
        progress: (_f, bytes) => bar.update(Math.floor(bytes / 2 ** 20), 0),
      });
    } finally {
      bar.end();
    }
  }
  if (fs.statSync(file, { throwIfNoEntry: false })?.isDirectory()) {
    if (o.count !== undefined) throw new UsageError('--count does not apply to a capture directory');
    const d = await openCaptureDir(file);
    return analyseCapture({ ...what, flags: d.flags, count: d.count, companions: d.companions });
  }
  return analyseCapture({ ...what, flags: file, count: o.count });
}

async function save(
  file: string | undefined,
  o: SnapshotOptions & { save: string },
  io: Io,
): Promise<number> {
  if (file !== undefined) throw new UsageError('--save captures the live machine: give no FILE');
  if (o.pageTypes || o.raw || o.json || o.count !== undefined)
    throw new UsageError('--save takes only --force');
  const m = await saveCapture({
    dir: o.save,
    force: o.force === true,
    // What it is reading, line by line, for a person watching; silent in a pipe or a log.
    progress: (line) => {
      if (io.tty) io.err(`pagelab snapshot: ${line}\n`);
    },
  });
  const lines = [
    `saved ${m.pfns.toLocaleString('en-US')} PFNs of ${m.host} (Linux ${m.kernel.release}) to ${o.save}:`,
    ...m.files.map((f) => `  ${f.name.padEnd(16)} ${String(f.bytes).padStart(10)} B  sha256 ${f.sha256}`),
    `  manifest.json    read ${m.started} .. ${m.finished}; pagelab ${m.pagelab}`,
  ];
  io.out(`${lines.join('\n')}\n`);
  return 0;
}

export async function snapshotCommand(file: string | undefined, o: SnapshotOptions, io: Io): Promise<number> {
  if (o.raw && !o.pageTypes) throw new UsageError('--raw applies to --page-types');
  if (o.force && o.save === undefined) throw new UsageError('--force applies to --save');
  try {
    if (o.save !== undefined) return await save(file, { ...o, save: o.save }, io);
    if (o.owners && o.replay === undefined) throw new UsageError('--owners applies to --replay only');
    if (o.replay !== undefined && (o.pageTypes || o.json))
      throw new UsageError('--replay prints the scenario run: no --page-types or --json with it');
    const a = await load(file, o, io);
    if (o.replay !== undefined) return replay(a, o.replay, o.owners === true, io);
    if (a.pageTypes) {
      const sum = a.pageTypes;
      if (!o.json) io.out(formatPageTypes(sum));
      else
        io.out(
          jsonDocument('snapshot', {
            raw: sum.raw,
            total: sum.total,
            rows: sum.rows.map((r) => ({
              flags: kpfHex(r.lo, r.hi),
              pages: r.pages,
              names: kpfLongName(r.lo, r.hi),
            })),
          }),
        );
      return 0;
    }
    const c = a.classification;
    if (c === null) throw new Error('snapshot: a census analysis returned no classification');
    const price = priceMemdesc(c);
    const map = pfnMap(c);
    if (o.json) {
      io.out(jsonDocument('snapshot', { ...censusJson(a.info, c, price), map: pfnMapJson(map) }));
      return 0;
    }
    const parts = [formatCensus(a.info, c), formatPrice(price)];
    if (o.map !== false) parts.push(formatPfnMap(map, o.width));
    io.out(`${parts.join('\n\n')}\n`);
    return 0;
  } catch (e) {
    if (e instanceof SnapshotError) throw new UsageError(e.message);
    throw e;
  }
}
