/**
 * Boot suite: how long `new Machine({ memory })` takes and how much host memory the booted
 * machine holds, from 64 GiB to 64 TiB of simulated RAM.
 *
 * Boot links every max-order block of every free section by index and allocates no memmap for
 * them (only the section holding the reserved ranges gets one), so both time and memory grow
 * with the number of 4 MiB blocks (the buddy rows: 8.25 bytes each), not with the number of pages.
 */
import os from 'node:os';
import { Bench } from 'tinybench';
import type { Machine } from '../src/index.js';
import { TiB } from '../src/mm/types.js';
import {
  benchMachine,
  fmtBytes,
  fmtMs,
  fmtRatio,
  gc,
  hostMem,
  p50,
  progress,
  QUICK,
  type SuiteResult,
  samples,
  spread,
  type Table,
  type Target,
} from './util.js';

interface Size {
  memory: string;
  bytes: number;
  runs: number;
}

const SIZES: Size[] = [
  { memory: '64G', bytes: TiB / 16, runs: QUICK ? 3 : 31 },
  { memory: '1T', bytes: TiB, runs: QUICK ? 3 : 21 },
  { memory: '16T', bytes: 16 * TiB, runs: QUICK ? 2 : 9 },
  { memory: '64T', bytes: 64 * TiB, runs: QUICK ? 1 : 5 },
];

/** Keeps the last machine reachable so the boot is not optimised away. */
let sink: Machine | undefined;

interface BootResult {
  size: Size;
  medianMs: number;
  minMs: number;
  spread: string;
  runs: number;
  host: ReturnType<Machine['hostBytes']>;
  arrayBuffers: number;
  rss: number;
  sections: { populated: number; total: number };
}

function measure(size: Size): BootResult {
  const bench = new Bench({
    name: `boot ${size.memory}`,
    time: 0,
    iterations: size.runs,
    warmupIterations: 1,
    warmupTime: 0,
    throws: true,
  });
  bench.add(
    `boot ${size.memory}`,
    () => {
      sink = benchMachine(size.memory);
    },
    {
      beforeEach: () => {
        sink = undefined;
        gc();
      },
    },
  );
  bench.runSync();
  if (sink?.totalPages !== size.bytes / 4096) throw new Error(`boot ${size.memory}: wrong machine size`);
  const task = bench.tasks[0];
  const r = task.result;
  const minMs = r.state === 'completed' ? r.latency.min : Number.NaN;

  // Host memory of one booted machine: a fresh boot between two GC'd snapshots.
  sink = undefined;
  const before = hostMem();
  const m = benchMachine(size.memory);
  const after = hostMem();
  const result: BootResult = {
    size,
    medianMs: p50(task),
    minMs,
    spread: spread(task),
    runs: samples(task),
    host: m.hostBytes(),
    arrayBuffers: after.arrayBuffers - before.arrayBuffers,
    rss: after.rss - before.rss,
    sections: m.sections(),
  };
  sink = m;
  return result;
}

export function runBoot(): SuiteResult {
  const results: BootResult[] = [];
  for (const size of SIZES) {
    progress(`boot: ${size.memory} x ${size.runs} runs`);
    results.push(measure(size));
    sink = undefined;
    gc();
  }
  const maxRssKiB = process.resourceUsage().maxRSS;
  const base = results[1];
  const table: Table = {
    title: 'Boot: new Machine({ memory }) — median over runs, host memory of one booted machine',
    columns: [
      'memory',
      'runs',
      'boot p50',
      'MAD',
      'boot min',
      'vs 1T',
      'hostBytes total',
      'memmap',
      'allocator',
      'descriptors',
      'arrayBuffers Δ',
      'rss Δ',
      'host B/GiB',
      'sections (populated/total)',
    ],
    rows: results.map((r) => [
      r.size.memory,
      String(r.runs),
      fmtMs(r.medianMs),
      r.spread,
      fmtMs(r.minMs),
      fmtRatio(r.medianMs / base.medianMs),
      fmtBytes(r.host.total),
      fmtBytes(r.host.memmap),
      fmtBytes(r.host.allocator),
      fmtBytes(r.host.descriptors),
      fmtBytes(r.arrayBuffers),
      fmtBytes(r.rss),
      (r.host.total / (r.size.bytes / 2 ** 30)).toFixed(0),
      `${r.sections.populated}/${r.sections.total}`,
    ]),
    notes: [
      'hostBytes = Machine.hostBytes(); Δ columns = process.memoryUsage() after/before one boot, both after global.gc().',
      `allocator = buddy-block rows for every 4 MiB block + pageblock types + per-section counters; host RAM ${fmtBytes(os.totalmem())}, peak RSS of this process so far ${fmtBytes(maxRssKiB * 1024)}.`,
    ],
  };
  const oneT = results.find((r) => r.size.memory === '1T')!;
  const big = results.find((r) => r.size.memory === '64T')!;
  const targets: Target[] = [
    {
      name: 'boot a 1 TiB machine',
      want: '< 1 s (median)',
      got: fmtMs(oneT.medianMs),
      pass: oneT.medianMs < 1000,
    },
    {
      name: `boot a 64 TiB machine on this ${fmtBytes(os.totalmem())} host`,
      want: 'boots',
      got: `booted in ${fmtMs(big.medianMs)}, ${fmtBytes(big.host.total)} host bytes, peak RSS ${fmtBytes(maxRssKiB * 1024)}`,
      pass: Number.isFinite(big.medianMs) && maxRssKiB * 1024 < os.totalmem(),
    },
  ];
  return { tables: [table], targets };
}
