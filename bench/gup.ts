/**
 * Pinning against the real kernel, in one run: pin 256 MiB of present pages (65,536 pins) and
 * unpin them, next to io_uring buffer registration and unregistration of the same amount
 * (GUP issue, Benchmark). Target (Performance issue): at most half the kernel's time, with the
 * time per page next to the floor of bench/floor.ts.
 */
import { floorNs } from './floor.js';
import { runNativeRounds } from './native.js';
import { benchMachine, fmtMs, fmtRatio, gc, median, progress, QUICK, type SuiteResult } from './util.js';
import { KERNEL_RATIO_TARGET } from './vm.js';

const MIB = 256;
const RUNS = QUICK ? 3 : 9;
/** Turns of the two sides. */
const ROUNDS = 3;

export function runGup(): SuiteResult {
  progress(`gup: kernel io_uring registration and pagelab in turn, ${MIB} MiB x ${RUNS}`);
  const len = MIB << 20;
  const m = benchMachine('2G');
  const p = m.spawn('bench');
  const buf = m.mmap(p, { length: len, prot: 'rw', flags: ['private', 'anonymous'] });
  m.touch(p, buf, len, { write: true });
  // Start from a collected heap: the VM suite before this one leaves gigabytes of garbage.
  gc();
  const pin: number[] = [];
  const unpin: number[] = [];
  const once = (keep: boolean) => {
    let t = performance.now();
    const h = m.pinUserPages(p, buf, len / 4096, ['write', 'longterm']);
    const a = performance.now() - t;
    t = performance.now();
    m.unpinUserPages(h.id);
    const b = performance.now() - t;
    if (!keep) return;
    pin.push(a / 1000);
    unpin.push(b / 1000);
  };
  // The JIT tiers the walk up over tens of calls: warm it as pinbench.c warms the kernel's side.
  for (let r = 0; r < 30; r++) once(false);
  // The kernel's runs and pagelab's take turns (ROUNDS of RUNS / ROUNDS each), so a drift of the
  // host's speed hits both; pinbench.c's first run of each call warms and is not counted.
  const per = RUNS / ROUNDS;
  const kernel = runNativeRounds('pinbench', ROUNDS, [String(MIB), String(per + 1)], () => {
    for (let i = 0; i < per; i++) once(true);
  });
  while (pin.length < RUNS) once(true);
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
