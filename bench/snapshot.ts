/**
 * Snapshot suite: analysing the shipped real capture (6.5 M PFNs, 52 MB of kpageflags and as
 * much kpagecount, gzip) as `pagelab snapshot` does — one streaming pass per file that classifies
 * every PFN and builds the page-types summary, then the memdesc price — next to the floor: merely
 * reading and gunzipping both files.
 *
 * The measurement runs in a child process (this file, with PAGELAB_BENCH_SNAPSHOT_CHILD=time, then =memory for one analysis alone) so
 * the async stream pipeline can be awaited while the suite API stays synchronous, and so the
 * peak RSS is that of an analysis alone, not of the whole bench run.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { analyseCapture } from '../src/snapshot/analyse.js';
import { probeFile, streamFile } from '../src/snapshot/decompress.js';
import { formatPageTypes } from '../src/snapshot/page_types.js';
import { priceMemdesc } from '../src/snapshot/price.js';
import { fmtBytes, fmtMs, median, progress, QUICK, type SuiteResult } from './util.js';

const FLAGS = path.resolve('examples/snapshots/loaded.kpageflags.gz');
const COUNT = path.resolve('examples/snapshots/loaded.kpagecount.gz');
const TARGET_MS = 500;
const TARGET_RSS = 200 * 2 ** 20;

interface ChildResult {
  runs: number;
  floorMs: number;
  totalMs: number;
  /** User + system CPU time of the total: what load on the other cores changes least. */
  cpuMs: number;
  maxRss: number;
}

/** Read + gunzip both files, discarding the bytes: nothing can be faster than this. */
async function floor(): Promise<void> {
  for (const f of [FLAGS, COUNT]) await streamFile(f, probeFile(f).format, () => {});
}

/** The census, the price and the page-types summary, as the CLI computes them. */
async function analyse(): Promise<void> {
  const a = await analyseCapture({ flags: FLAGS, count: COUNT, census: true, pageTypes: 'normal' });
  if (a.classification === null || a.pageTypes === null) throw new Error('analysis incomplete');
  priceMemdesc(a.classification);
  formatPageTypes(a.pageTypes);
}

/**
 * One analysis and nothing else, for its peak RSS: VmHWM, the high-water mark of this process's
 * own mm. Not getrusage's maxrss, which on Linux keeps the forking parent's size across the exec
 * (exec_mmap folds the old mm's high-water mark into the signal struct's maxrss).
 */
async function childMemory(): Promise<void> {
  await analyse();
  const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  const maxRss = hwm ? Number(hwm[1]) * 1024 : process.resourceUsage().maxRSS * 1024;
  process.stdout.write(JSON.stringify({ maxRss }));
}

async function child(): Promise<void> {
  const runs = QUICK ? 3 : 9;
  const fl: number[] = [];
  const tot: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < runs + 1; i++) {
    const t0 = performance.now();
    await floor();
    const t1 = performance.now();
    const c0 = process.cpuUsage();
    await analyse();
    const c1 = process.cpuUsage(c0);
    const t2 = performance.now();
    if (i === 0) continue; // warm-up
    fl.push(t1 - t0);
    tot.push(t2 - t1);
    cpu.push((c1.user + c1.system) / 1000);
  }
  const r: ChildResult = { runs, floorMs: median(fl), totalMs: median(tot), cpuMs: median(cpu), maxRss: 0 };
  process.stdout.write(JSON.stringify(r));
}

function spawnChild(mode: 'time' | 'memory'): unknown {
  const p = spawnSync(process.execPath, [fileURLToPath(import.meta.url)], {
    env: { ...process.env, PAGELAB_BENCH_SNAPSHOT_CHILD: mode },
    encoding: 'utf8',
  });
  if (p.status !== 0) throw new Error(`snapshot bench child (${mode}) failed: ${p.stderr}`);
  return JSON.parse(p.stdout);
}

export function runSnapshot(): SuiteResult {
  progress('snapshot: analysing the shipped capture in a child process');
  const r = spawnChild('time') as ChildResult;
  r.maxRss = (spawnChild('memory') as { maxRss: number }).maxRss;
  return {
    tables: [
      {
        title: `Snapshot: the shipped 6.5 M-PFN capture (gzip), median of ${r.runs} runs`,
        columns: ['step', 'median'],
        rows: [
          ['floor: read + gunzip kpageflags and kpagecount (bytes discarded)', fmtMs(r.floorMs)],
          ['total: stream both, classify, page-types summary, price', fmtMs(r.totalMs)],
          ['CPU time of the total (user + system, all threads)', fmtMs(r.cpuMs)],
          ['peak RSS of the analysing process', fmtBytes(r.maxRss)],
        ],
        notes: [
          'The floor is what any tool pays for these files; the rest is ours.',
          'Streaming: per PFN only the frame byte is kept (no column of the 64-bit words).',
        ],
      },
    ],
    targets: [
      {
        name: 'snapshot: census + page-types of the shipped capture',
        want: `< ${TARGET_MS} ms`,
        got: fmtMs(r.totalMs),
        pass: r.totalMs < TARGET_MS,
      },
      {
        name: 'snapshot: peak memory of that analysis',
        want: `< ${fmtBytes(TARGET_RSS)}`,
        got: fmtBytes(r.maxRss),
        pass: r.maxRss < TARGET_RSS,
      },
    ],
  };
}

const mode = process.env.PAGELAB_BENCH_SNAPSHOT_CHILD;
if (mode === 'time') await child();
else if (mode === 'memory') await childMemory();
