/**
 * Virtual memory against the real kernel, in one run: 1 GiB of 4 KiB write faults, zero-page read
 * faults, fork of the process with 1 GiB touched, that child's exit, COW copy faults, reuse faults,
 * MADV_DONTNEED and munmap of 1 GiB (Virtual-memory issue, Benchmarks). Page contents off.
 * The two sides take turns, one run each, several times; medians are compared. Target (Performance
 * issue): pagelab at most half the kernel's time on every operation. Each row also gives the
 * time per page next to the floor of bench/floor.ts for the loop the operation is.
 */
import { floorNs } from './floor.js';
import { runNativeRounds } from './native.js';
import { benchMachine, fmtMs, fmtRatio, median, progress, QUICK, type SuiteResult } from './util.js';

const MIB = QUICK ? 256 : 1024;
const RUNS = QUICK ? 2 : 5;
const OPS = [
  'write_fault',
  'zero_read_fault',
  'fork',
  'child_exit',
  'cow_copy_fault',
  'reuse_fault',
  'dontneed',
  'munmap',
] as const;
/** Operations whose cost is per page; the others are quoted as a total for the whole region. */
const PER_PAGE = new Set<string>(['write_fault', 'zero_read_fault', 'cow_copy_fault', 'reuse_fault']);
/** The floor loop (bench/floor.ts) each whole-region operation is. */
const FLOOR: Record<string, 'fork' | 'zap'> = {
  fork: 'fork',
  child_exit: 'zap',
  dontneed: 'zap',
  munmap: 'zap',
};
/** The Performance issue's bar: pagelab in at most this fraction of the kernel's time. */
export const KERNEL_RATIO_TARGET = 0.5;

/**
 * pagelab's side of bench/native/vmbench.c: a machine, warmed once; `run()` does the sequence once
 * more, adding seconds per op to `times`.
 */
function pagelabSide(): { times: Map<string, number[]>; run: () => void } {
  const len = MIB << 20;
  const m = benchMachine(`${MIB * 4}M`);
  const p = m.spawn('bench');
  const times = new Map<string, number[]>(OPS.map((o) => [o, []]));
  const time = (name: string, fn: () => void) => {
    const t = performance.now();
    fn();
    times.get(name)!.push((performance.now() - t) / 1000);
  };
  // Warm-up: the same work once, untimed (JIT and typed-array growth).
  const w = m.mmap(p, { length: len, prot: 'rw', flags: ['private', 'anonymous'] });
  m.touch(p, w, len, { write: true });
  m.munmap(p, w, len);
  const run = () => {
    const a = m.mmap(p, { length: len, prot: 'rw', flags: ['private', 'anonymous'] });
    time('write_fault', () => m.touch(p, a, len, { write: true }));
    const z = m.mmap(p, { length: len, prot: 'rw', flags: ['private', 'anonymous'] });
    time('zero_read_fault', () => m.touch(p, z, len));
    m.munmap(p, z, len);
    let c = 0;
    time('fork', () => {
      c = m.fork(p);
    });
    time('child_exit', () => m.exit(c));
    c = m.fork(p);
    time('cow_copy_fault', () => m.touch(p, a, len, { write: true }));
    m.exit(c);
    m.exit(m.fork(p));
    time('reuse_fault', () => m.touch(p, a, len, { write: true }));
    time('dontneed', () => m.madvise(p, a, len, 'dontneed'));
    m.touch(p, a, len, { write: true });
    time('munmap', () => m.munmap(p, a, len));
  };
  return { times, run };
}

export function runVm(): SuiteResult {
  progress(`vm: kernel and pagelab in turn, ${MIB} MiB x ${RUNS}`);
  const side = pagelabSide();
  // One kernel run, then one pagelab run, RUNS times: a drift of the host's speed hits both.
  const kernel = runNativeRounds('vmbench', RUNS, [String(MIB), '1'], () => side.run());
  while (side.times.get('fork')!.length < RUNS) side.run();
  const ours = side.times;
  const floor = floorNs();
  const pages = (MIB << 20) / 4096;
  const fmt = (op: string, s: number) =>
    PER_PAGE.has(op) ? `${((s * 1e6) / pages).toFixed(3)} µs/page` : fmtMs(s * 1000);
  const rows: string[][] = [];
  const targets = [];
  for (const op of OPS) {
    const mine = median(ours.get(op)!);
    const theirs = kernel.ok ? kernel.seconds.get(op) : undefined;
    rows.push([
      op,
      theirs === undefined ? 'n/a' : fmt(op, theirs),
      fmt(op, mine),
      theirs === undefined ? 'n/a' : fmtRatio(mine / theirs),
      ((mine * 1e9) / pages).toFixed(1),
      FLOOR[op] ? floor[FLOOR[op]].toFixed(1) : '',
    ]);
    if (theirs !== undefined)
      targets.push({
        name: `vm ${op} (${MIB} MiB)`,
        want: `<= ${fmtRatio(KERNEL_RATIO_TARGET)} kernel`,
        got: fmtRatio(mine / theirs),
        pass: mine <= KERNEL_RATIO_TARGET * theirs,
      });
  }
  return {
    tables: [
      {
        title: `Virtual memory versus the real kernel (${MIB} MiB, median of ${RUNS})`,
        columns: ['operation', 'kernel', 'pagelab', 'pagelab/kernel', 'pagelab ns/page', 'floor ns/page'],
        rows,
        notes: [
          kernel.ok
            ? "kernel: bench/native/vmbench.c in this run, frames warmed first, its runs taking turns with pagelab's"
            : `kernel: ${kernel.reason}`,
          "floor: the least typed-array work per page over the model's layout (bench/floor.ts), in this run",
        ],
      },
    ],
    targets,
  };
}
