/**
 * Pinning against the real kernel, in one run: pin 256 MiB of present pages (65,536 pins) and
 * unpin them, next to io_uring buffer registration and unregistration of the same amount
 * (GUP issue, Benchmark). Target (Performance issue): at most half the kernel's time, with the
 * time per page next to the floor of bench/floor.ts.
 */
import { floorNs } from './floor.js';
import { runNative } from './native.js';
import { benchMachine, fmtMs, fmtRatio, gc, median, progress, QUICK, type SuiteResult } from './util.js';
import { KERNEL_RATIO_TARGET } from './vm.js';

const MIB = 256;
const RUNS = QUICK ? 3 : 9;

export function runGup(): SuiteResult {
  progress(`gup: kernel io_uring registration, ${MIB} MiB x ${RUNS}`);
  const kernel = runNative('pinbench', [String(MIB), String(RUNS)]);
  progress('gup: pagelab');
  const len = MIB << 20;
  const m = benchMachine('2G');
  const p = m.spawn('bench');
  const buf = m.mmap(p, { length: len, prot: 'rw', flags: ['private', 'anonymous'] });
  m.touch(p, buf, len, { write: true });
  // Start from a collected heap: the VM suite before this one leaves gigabytes of garbage.
  gc();
  const pin: number[] = [];
  const unpin: number[] = [];
  // The JIT tiers the walk up over tens of calls: warm it as pinbench.c warms the kernel's side.
  const WARMUP = 30;
  for (let r = 0; r < WARMUP + RUNS; r++) {
    let t = performance.now();
    const h = m.pinUserPages(p, buf, len / 4096, ['write', 'longterm']);
    const a = performance.now() - t;
    t = performance.now();
    m.unpinUserPages(h.id);
    const b = performance.now() - t;
    if (r < WARMUP) continue;
    pin.push(a / 1000);
    unpin.push(b / 1000);
  }
  const floor = floorNs();
  const rows: string[][] = [];
  const targets = [];
  for (const [op, mine, name] of [
    ['pin', median(pin), 'register'],
    ['unpin', median(unpin), 'unregister'],
  ] as const) {
    const theirs = kernel.ok ? kernel.seconds.get(name) : undefined;
    rows.push([
      `${op} ${len / 4096} pages`,
      theirs === undefined ? 'n/a' : fmtMs(theirs * 1000),
      fmtMs(mine * 1000),
      theirs === undefined ? 'n/a' : fmtRatio(mine / theirs),
      ((mine * 1e9 * 4096) / len).toFixed(1),
      floor[op].toFixed(1),
    ]);
    if (theirs !== undefined)
      targets.push({
        name: `gup ${op} ${MIB} MiB`,
        want: `<= ${fmtRatio(KERNEL_RATIO_TARGET)} kernel`,
        got: fmtRatio(mine / theirs),
        pass: mine <= KERNEL_RATIO_TARGET * theirs,
      });
  }
  return {
    tables: [
      {
        title: `Pinning versus io_uring buffer registration (${MIB} MiB, median of ${RUNS})`,
        columns: ['operation', 'kernel', 'pagelab', 'pagelab/kernel', 'pagelab ns/page', 'floor ns/page'],
        rows,
        notes: [
          kernel.ok
            ? 'kernel: IORING_REGISTER_BUFFERS / IORING_UNREGISTER_BUFFERS (bench/native/pinbench.c)'
            : `kernel: ${kernel.reason}`,
        ],
      },
    ],
    targets,
  };
}
