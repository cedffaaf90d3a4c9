/**
 * Issue #14: a generated 1,000,000-step scenario (spawn/mmap/write/fork/exit/munmap) run through
 * the scenario runner (src/scenario/run.ts) at `check: cheap`, with the per-step time at 10k,
 * 100k and 1M steps. Two shapes: growing (processes and their VMAs accumulate, the bound on live
 * processes rising linearly to GROW_PROCS at the last step) and steady (as many made as destroyed
 * once STEADY_PROCS are live). Per-step time at N is the mean over the WINDOW steps ending at N.
 *
 * The steps are built as parsed objects (clones of a parsed template with their labels changed),
 * so YAML parsing is not part of the timing. Run alone:
 * `node --expose-gc dist-bench/bench/steps.js [steps]` after `tsc -p tsconfig.bench.json`.
 */
import { pathToFileURL } from 'node:url';
import { parseScenario, type Scenario, type Step } from '../src/scenario/parse.js';
import { runScenario } from '../src/scenario/run.js';
import { fmtMs, fmtRatio, printTable, prng, progress, QUICK, type SuiteResult } from './util.js';

const GROW_PROCS = 1000;
const STEADY_PROCS = 64;
/** VMAs a process keeps at most (mmap past it unmaps one first). */
const MAX_REGIONS = 6;
const WINDOW = 5000;

const TEMPLATE = `name: generated steps
machine: { memory: 4G, check: cheap }
steps:
  - { op: spawn, name: P }
  - { op: mmap, proc: P, name: R, size: 16K, prot: rw, flags: [private, anonymous] }
  - { op: write, proc: P, addr: R, len: 16K, byte: 0x5a }
  - { op: fork, proc: P, child: C }
  - { op: munmap, proc: P, addr: R, len: 16K }
  - { op: exit, proc: C }
`;

interface Slot {
  live: boolean;
  /** Region labels mapped in the process (a child inherits its parent's, at the same addresses). */
  regions: string[];
}

/** The steps: `total` of them; `bound(n)` is how many processes may be live at step n. */
function generate(total: number, bound: (n: number) => number, seed: number): Scenario {
  const parsed = parseScenario(TEMPLATE, 'steps.yaml');
  if (!parsed.ok) throw new Error('steps template does not parse');
  const t = parsed.scenario;
  const [spawnT, mmapT, writeT, forkT, munmapT, exitT] = t.steps;
  const rnd = prng(seed);
  const pick = <T>(xs: T[]) => xs[Math.floor(rnd() * xs.length)];
  const slots: Slot[] = [];
  const live: number[] = [];
  let regions = 0;
  const steps: Step[] = [];
  const add = (tpl: Step, args: Record<string, unknown>) =>
    steps.push({ ...tpl, n: steps.length + 1, args: { ...tpl.args, ...args } });
  const free = () => {
    const i = slots.findIndex((s) => !s.live);
    if (i >= 0) return i;
    slots.push({ live: false, regions: [] });
    return slots.length - 1;
  };
  const kill = (s: number) => {
    slots[s].live = false;
    live.splice(live.indexOf(s), 1);
  };
  while (steps.length < total) {
    const cap = bound(steps.length);
    if (live.length === 0 || (live.length < cap && rnd() < 0.05)) {
      const s = free();
      slots[s] = { live: true, regions: [] };
      live.push(s);
      add(spawnT, { name: `p${s}` });
      continue;
    }
    const s = pick(live);
    const slot = slots[s];
    const r = rnd();
    if (slot.regions.length === 0 || (r < 0.25 && slot.regions.length < MAX_REGIONS)) {
      const name = `r${regions++}`;
      slot.regions.push(name);
      add(mmapT, { proc: `p${s}`, name });
    } else if (r < 0.55) add(writeT, { proc: `p${s}`, addr: pick(slot.regions) });
    else if (r < 0.7 || (r < 0.8 && slot.regions.length >= MAX_REGIONS)) {
      const name = pick(slot.regions);
      slot.regions.splice(slot.regions.indexOf(name), 1);
      add(munmapT, { proc: `p${s}`, addr: name });
    } else if (r < 0.85 && live.length < cap) {
      const c = free();
      slots[c] = { live: true, regions: [...slot.regions] };
      live.push(c);
      add(forkT, { proc: `p${s}`, child: `p${c}` });
    } else if (r < 0.85 + 0.15 * (live.length / Math.max(cap, 1)) ** 4) {
      // Exits become likelier as the live processes near the bound: steady state there.
      kill(s);
      add(exitT, { proc: `p${s}` });
    } else add(writeT, { proc: `p${s}`, addr: pick(slot.regions) });
  }
  return { ...t, steps };
}

interface Curve {
  name: string;
  /** ms per step at each point. */
  at: Map<number, number>;
  liveProcs: number;
  vmas: number;
  failures: number;
  totalMs: number;
}

function run(name: string, total: number, bound: (n: number) => number, points: number[]): Curve {
  const s = generate(total, bound, 14);
  // CPU time, not wall time: the machines here are shared, and a window of wall time absorbs
  // whatever else ran. Read only at the window edges (a syscall each).
  const edges = new Set(points.flatMap((p) => [p - WINDOW, p]));
  const cpu = new Map<number, number>();
  const t0 = performance.now();
  const r = runScenario(s, {
    onStep: (done) => {
      if (edges.has(done)) {
        const u = process.cpuUsage();
        cpu.set(done, (u.user + u.system) / 1000);
      }
      if (done % 100000 === 0) progress(`steps ${name}: ${done}/${total}`);
    },
  });
  const at = new Map<number, number>();
  for (const p of points) at.set(p, ((cpu.get(p) ?? 0) - (cpu.get(p - WINDOW) ?? 0)) / WINDOW);
  const k = r.machine?.kernel;
  return {
    name,
    at,
    liveProcs: k ? k.mms.size : 0,
    vmas: k ? [...k.mms].reduce((n, mm) => n + mm.vmas.length, 0) : 0,
    failures: r.failures.length + (r.stoppedAt !== undefined ? 1 : 0),
    totalMs: performance.now() - t0,
  };
}

export function runSteps(total = QUICK ? 20000 : 1000000): SuiteResult {
  const points = [10000, 100000, 1000000].filter((p) => p <= total && p > WINDOW);
  const curves = [
    run('growing', total, (n) => 16 + Math.floor(((GROW_PROCS - 16) * n) / total), points),
    run('steady', total, () => STEADY_PROCS, points),
  ];
  const first = points[0];
  const last = points[points.length - 1];
  const ratio = (c: Curve) => (c.at.get(last) ?? 0) / (c.at.get(first) ?? 1);
  return {
    tables: [
      {
        title: `Generated scenario at check: cheap through the runner: CPU time per step (mean of the ${WINDOW} steps ending there)`,
        columns: [
          'state',
          ...points.map((p) => `at ${p / 1000}k`),
          `${last / 1000}k / ${first / 1000}k`,
          'live mms',
          'VMAs',
          'total',
          'failures',
        ],
        rows: curves.map((c) => [
          c.name,
          ...points.map((p) => `${((c.at.get(p) ?? 0) * 1000).toFixed(1)} µs`),
          fmtRatio(ratio(c)),
          String(c.liveProcs),
          String(c.vmas),
          fmtMs(c.totalMs),
          String(c.failures),
        ]),
        notes: [
          `growing: up to ${GROW_PROCS} live processes at the last step; steady: ${STEADY_PROCS}; at most ${MAX_REGIONS} VMAs of 16K each`,
        ],
      },
    ],
    targets: curves.map((c) => ({
      name: `#14 ${total / 1e6}M steps (${c.name}) at check: cheap: per-step time at ${last / 1000}k within 1.5x of at ${first / 1000}k, no failures`,
      want: '<= 1.5x',
      got: `${fmtRatio(ratio(c))}${c.failures ? `, ${c.failures} failures` : ''}`,
      pass: ratio(c) <= 1.5 && c.failures === 0,
    })),
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const total = Number(process.argv[2]) || undefined;
  const r = runSteps(total);
  for (const t of r.tables) printTable(t);
  for (const t of r.targets) process.stdout.write(`${t.pass ? 'PASS' : 'MISS'}  ${t.name}: ${t.got}\n`);
}
