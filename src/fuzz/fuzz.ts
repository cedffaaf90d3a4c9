/**
 * `pagelab check`: random operations through the public Machine API, checked after every one —
 * no exception but KernelError, KernelBug or InputError; the invariants at the chosen level (the
 * Machine runs them after each op); a failing op changes nothing (fingerprint.ts); every byte a
 * process or a device reads equals the reference model's (reference.ts). The first failure is
 * shrunk (delta debugging over the op sequence) and written as a scenario that `pagelab run`
 * replays. Seeded: the same options give the same ops and the same output.
 */

import type { CheckLevel } from '../check/invariants.js';
import { InvariantViolation } from '../check/invariants.js';
import type { LayoutName } from '../designs/layout.js';
import { type PinDesign, UNSAFE_PIN_DESIGNS } from '../designs/pincount.js';
import { InputError } from '../machine/config.js';
import { Machine } from '../machine/machine.js';
import type { ThpMode } from '../mm/kernel.js';
import { KernelBug, KernelError } from '../mm/types.js';
import { type Fingerprint, fingerprint, fingerprintDiff, onlyPageTables } from './fingerprint.js';
import { Generator } from './gen.js';
import type { FuzzOp } from './ops.js';
import { Prng } from './prng.js';
import { type Step, World } from './world.js';
import { scenarioYaml } from './yaml.js';

export interface FuzzOptions {
  ops: number;
  seed: number;
  check: CheckLevel;
  design: LayoutName;
  pincount: PinDesign;
  thp: ThpMode;
  /** Share of ops with an invalid argument (0..1). */
  invalid: number;
  memory: string;
  /** Per-CPU page lists on (the machine option `pcp`). */
  pcp?: boolean;
  /** Replays the shrinker may spend (0: do not shrink). */
  shrinkBudget: number;
}

export const DEFAULT_FUZZ: FuzzOptions = {
  ops: 10000,
  seed: 1,
  check: 'cheap',
  design: 'memdesc',
  pincount: 'bias',
  thp: 'madvise',
  invalid: 0.05,
  memory: '512M',
  shrinkBudget: 400,
};

export const FINDING_KINDS = ['crash', 'violation', 'state-changed', 'mismatch', 'accepted'] as const;
export type FindingKind = (typeof FINDING_KINDS)[number];

export interface Finding {
  kind: FindingKind;
  /** Index of the op in the sequence run. */
  at: number;
  op: string;
  message: string;
}

export interface FuzzResult {
  options: FuzzOptions;
  /** Ops run (generated and executed; those whose labels were gone are not counted). */
  ops: number;
  /** Ops that failed with KernelError, KernelBug or InputError — answers, not findings. */
  errors: number;
  counts: Record<FindingKind, number>;
  finding?: Finding;
  /** The shrunk reproducer, when there was a finding. */
  reproducer?: { ops: number; yaml: string };
  ms: number;
}

/**
 * Ops whose failure may legitimately leave partial state, as Linux does (stated in the test that
 * checks it): MADV_PAGEOUT keeps what it paged out before the VMA that refused, MADV_DONTNEED
 * what it zapped (keyed `madvise:<advice>:<errno>`); MADV_POPULATE keeps what it populated before
 * the page that failed; a fixed mremap
 * unmaps its destination before it can fail, a fixed move of several VMAs keeps those it moved,
 * and a move that ran out of memory has broken its KSM pages.
 */
const PARTIAL_ON_ERROR = new Set([
  'mprotect:ENOMEM',
  'madvise:ENOMEM',
  'madvise:dontneed:EINVAL',
  'pageout:ENOMEM',
  'pageout:EINVAL',
  'populate:ENOMEM',
  'populate:EINVAL',
  'populate:EFAULT',
  'populate:EHWPOISON',
  'mremap:EFAULT',
  'mremap:ENOMEM',
  'mremap:EPERM',
]);
/** Ops that never fail with an error (they raise signals) and need no fingerprint. */
const NO_FINGERPRINT = new Set(['spawn', 'read', 'write', 'touch', 'dma_read', 'ksm_scan']);

interface Execution {
  ops: number;
  errors: number;
  finding?: Finding;
  steps: (Step | string)[];
  /** The ops actually run, in order. */
  ran: FuzzOp[];
}

function machineConfig(o: FuzzOptions) {
  // Swap, so that pageout sends anon pages out and later accesses and GUP bring them back.
  return {
    memory: o.memory,
    design: o.design,
    pincount: o.pincount,
    thp: o.thp,
    check: o.check,
    swap: '64M',
    ...(o.pcp ? { pcp: true } : {}),
  };
}

function errorName(e: unknown): string | undefined {
  if (e instanceof KernelError) return e.errno;
  if (e instanceof KernelBug) return 'KernelBug';
  if (e instanceof InputError) return 'InputError';
  return undefined;
}

/**
 * Run ops from `next` (told how many have run) until it returns undefined, `limit` ops have run,
 * or a finding; records the steps when asked.
 */
function execute(
  o: FuzzOptions,
  next: (w: World, ran: number) => FuzzOp[] | undefined,
  record: boolean,
  limit = Number.POSITIVE_INFINITY,
): Execution {
  const m = new Machine(machineConfig(o));
  const w = new World(m, !UNSAFE_PIN_DESIGNS.includes(o.pincount));
  const setup = w.setup();
  const ex: Execution = { ops: 0, errors: 0, steps: record ? setup : [], ran: [] };
  const found = (kind: FindingKind, op: FuzzOp, message: string) => {
    ex.finding = { kind, at: ex.ran.length - 1, op: op.op === 'bad' ? `bad ${op.call}` : op.op, message };
  };
  for (let batch = next(w, 0); batch && ex.ops < limit; batch = next(w, ex.ops)) {
    for (const op of batch) {
      if (ex.ops >= limit) break;
      const p = w.prepare(op);
      if (!p) continue;
      ex.ops++;
      ex.ran.push(op);
      const before: Fingerprint | undefined = NO_FINGERPRINT.has(op.op)
        ? undefined
        : fingerprint(m, p.touched);
      let step = p.step;
      try {
        const r = p.call();
        if (r.mismatch) found('mismatch', op, r.mismatch);
        else if (r.accepted) found('accepted', op, r.accepted);
      } catch (e) {
        const name = errorName(e);
        if (e instanceof InvariantViolation) found('violation', op, e.violations.join('; '));
        else if (name === undefined) {
          found('crash', op, `${(e as Error).name ?? 'throw'}: ${(e as Error).message ?? String(e)}`);
          if (typeof step === 'string') step = `${step} -> ${(e as Error).name}`;
        } else {
          ex.errors++;
          if (typeof step !== 'string') {
            if (name === 'InputError') step = `${op.op} refused as bad input: ${(e as Error).message}`;
            else {
              // A failed step binds nothing (the scenario parser refuses a label there).
              const { as: _unbound, ...rest } = step;
              step = { ...rest, expect_error: name };
            }
          }
          const partial =
            PARTIAL_ON_ERROR.has(`${op.op}:${name}`) ||
            (op.op === 'madvise' && PARTIAL_ON_ERROR.has(`madvise:${op.advice}:${name}`)) ||
            name === 'KernelBug';
          if (before && !partial) {
            const after = fingerprint(m, p.touched);
            const diff = fingerprintDiff(before, after);
            const faultTables = (op.op === 'pin' || op.op === 'get') && onlyPageTables(before, after);
            if (diff.length && !faultTables) {
              found(
                'state-changed',
                op,
                `failed with ${(e as Error).message} but changed ${diff.join('; ')}`,
              );
              if (record) ex.steps.push(step, ...stateExpectation(before, after, w));
              return ex;
            }
          }
        }
      }
      if (record) ex.steps.push(step);
      if (ex.finding) return ex;
    }
  }
  return ex;
}

/** Expect steps that fail in `pagelab run` as the fuzzer's fingerprint did: the counters as they were. */
function stateExpectation(before: Fingerprint, after: Fingerprint, w: World): (Step | string)[] {
  const keys = Object.keys(before.counters).filter((k) => before.counters[k] !== after.counters[k]);
  const out: (Step | string)[] = ['the failed step must leave the machine as it was:'];
  if (keys.length)
    out.push({ op: 'expect', counters: Object.fromEntries(keys.map((k) => [k, before.counters[k]])) });
  if (before.procs !== after.procs) {
    const was = (JSON.parse(before.procs) as unknown[]).slice(1) as [
      number,
      boolean,
      { anon: number; file: number },
      unknown[],
    ][];
    for (const [label, p] of w.procs) {
      const b = was.find((x) => x[0] === p.pid);
      if (b)
        out.push({
          op: 'expect',
          process: label,
          vmas: b[3].length,
          rss: { anon: b[2].anon, file: b[2].file },
        });
    }
  }
  if (before.buddy !== after.buddy) out.push('(the buddy lists changed too)');
  if (before.frames !== after.frames) out.push('(and the descriptors of the frames it touched)');
  return out;
}

/** Replay a fixed op list. */
function replay(o: FuzzOptions, ops: FuzzOp[], record: boolean): Execution {
  let done = false;
  return execute(
    o,
    () => {
      if (done) return undefined;
      done = true;
      return ops;
    },
    record,
  );
}

/** ddmin over the op list: drop chunks while the same kind of finding still happens. */
function shrink(o: FuzzOptions, ops: FuzzOp[], kind: FindingKind): FuzzOp[] {
  let budget = o.shrinkBudget;
  const fails = (xs: FuzzOp[]) => {
    budget--;
    const f = replay(o, xs, false).finding;
    return f?.kind === kind;
  };
  let cur = ops;
  let n = 2;
  while (cur.length >= 2 && budget > 0) {
    const chunk = Math.ceil(cur.length / n);
    let reduced = false;
    for (let i = 0; i < cur.length && budget > 0; i += chunk) {
      const cand = [...cur.slice(0, i), ...cur.slice(i + chunk)];
      if (cand.length && fails(cand)) {
        cur = cand;
        n = Math.max(n - 1, 2);
        reduced = true;
        break;
      }
    }
    if (!reduced) {
      if (n >= cur.length) break;
      n = Math.min(n * 2, cur.length);
    }
  }
  return cur;
}

export function fuzz(opts: Partial<FuzzOptions> = {}): FuzzResult {
  const o: FuzzOptions = { ...DEFAULT_FUZZ, ...opts };
  const t0 = performance.now();
  const prng = new Prng(o.seed);
  let gen: Generator | undefined;
  let made = 0;
  const ex = execute(
    o,
    (w, ran) => {
      gen ??= new Generator(prng, w, o.invalid);
      // --ops N runs N ops: a batch may bring a prerequisite along, a skipped op runs nothing. The
      // bound on batches only guards against a generator that offers nothing runnable.
      if (ran >= o.ops || made >= 4 * o.ops + 100) return undefined;
      made++;
      return gen.next();
    },
    false,
    o.ops,
  );
  const counts = Object.fromEntries(FINDING_KINDS.map((k) => [k, 0])) as Record<FindingKind, number>;
  const result: FuzzResult = { options: o, ops: ex.ops, errors: ex.errors, counts, ms: 0 };
  if (ex.finding) {
    counts[ex.finding.kind]++;
    result.finding = ex.finding;
    const small = o.shrinkBudget > 0 ? shrink(o, ex.ran, ex.finding.kind) : ex.ran;
    const last = replay(o, small, true);
    const f = last.finding ?? ex.finding;
    const yaml = scenarioYaml(
      `pagelab check --seed ${o.seed}: ${f.kind} in ${f.op}`,
      [
        `Found by: pagelab check ${checkArgs(o)}`,
        `${f.kind} at op ${ex.finding.at + 1} of ${ex.ops} (${ex.finding.op}): ${oneLine(ex.finding.message)}`,
        `Shrunk to ${small.length} op(s); after shrinking: ${oneLine(f.message)}`,
        '`pagelab run` on this file shows it.',
      ],
      { ...machineConfig(o) },
      last.steps,
    );
    result.reproducer = { ops: small.length, yaml };
  }
  result.ms = performance.now() - t0;
  return result;
}

const oneLine = (s: string) => s.replace(/\s*\n\s*/g, ' ').slice(0, 300);

export function checkArgs(o: FuzzOptions): string {
  return `--ops ${o.ops} --seed ${o.seed} --check ${o.check} --design ${o.design} --pincount ${o.pincount} --thp ${o.thp} --invalid ${o.invalid}`;
}

/** The report `pagelab check` prints (no timings: the same seed prints the same bytes). */
export function fuzzText(r: FuzzResult): string {
  const c = r.counts;
  const lines = [
    `pagelab check ${checkArgs(r.options)}`,
    `${r.ops} ops run, ${r.errors} refused with an error (KernelError, KernelBug or InputError)`,
    `crashes ${c.crash}, invariant violations ${c.violation}, failed ops that changed state ${c['state-changed']}, reference mismatches ${c.mismatch}, invalid arguments accepted ${c.accepted}`,
  ];
  if (r.finding) {
    lines.push(`FAILED at op ${r.finding.at + 1} (${r.finding.op}): ${oneLine(r.finding.message)}`);
    if (r.reproducer) lines.push(`shrunk to ${r.reproducer.ops} op(s)`);
  } else lines.push('clean');
  return lines.join('\n');
}
