/**
 * The kernel's side: compile src/oracle/probe.c with the system C compiler into a cache directory
 * (once per version of the source), feed it a plan's commands and read back, per step, what each
 * command answered and what the pages looked like afterwards.
 *
 * The whole plan goes in at once: no command depends on a reply (the probe resolves region names
 * itself), so a synchronous run with a timeout is enough and leaves nothing running.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OracleUnavailable } from './errors.js';
import type { OraclePlan, PlannedStep } from './translate.js';
import type { Counters, PageObs, RegionObs } from './types.js';

const SOURCE = resolve(dirname(fileURLToPath(import.meta.url)), '../../src/oracle/probe.c');
const TIMEOUT_MS = 60_000;

export { OracleBusy, OracleUnavailable } from './errors.js';

const AS_ROOT = 'run it as root (sudo where you have it)';

/**
 * Why the oracle cannot run on this host, in one line, or undefined when it can: it reads
 * /proc/kpageflags and writes sysfs knobs, so it needs Linux and root. Checked before anything
 * is touched.
 */
export function oracleUnavailableReason(kpageflags = '/proc/kpageflags'): string | undefined {
  if (process.platform !== 'linux') return `the oracle runs on Linux only (this is ${process.platform})`;
  try {
    const fd = openSync(kpageflags, 'r');
    try {
      readSync(fd, Buffer.alloc(8), 0, 8, 0);
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT')
      return `${kpageflags} does not exist: this kernel was built without CONFIG_PROC_PAGE_MONITOR`;
    return `${kpageflags} is not readable (${code}): ${AS_ROOT}`;
  }
  if (typeof process.geteuid === 'function' && process.geteuid() !== 0)
    return `the oracle sets THP and KSM knobs in /sys/kernel/mm: ${AS_ROOT}`;
  return undefined;
}

/**
 * -z now binds every libc symbol at load: lazily, a function's first call writes its GOT entry,
 * which turns a file page of libc into an anonymous copy inside a step and moves that step's
 * RssAnon (the oracle compares it).
 */
const CFLAGS = ['-O2', '-Wall', '-Wl,-z,now'];

/** The compiled probe's file name in the cache: one per source text and compiler flags. */
export function probeFileName(source: Buffer): string {
  return `probe-${createHash('sha256').update(source).update(CFLAGS.join(' ')).digest('hex').slice(0, 16)}`;
}

/** The probe's path, compiled on first use; OracleUnavailable when there is no source or compiler. */
export function probeBinary(): string {
  let src: Buffer;
  try {
    src = readFileSync(SOURCE);
  } catch (e) {
    throw new OracleUnavailable(
      `the probe's source ${SOURCE} is missing (${(e as NodeJS.ErrnoException).code}): reinstall pagelab`,
    );
  }
  const dir = join(process.env.PAGELAB_CACHE ?? join(tmpdir(), 'pagelab-oracle'));
  const exe = join(dir, probeFileName(src));
  if (existsSync(exe)) return exe;
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new OracleUnavailable(
      `cannot create the probe's cache ${dir} (${(e as NodeJS.ErrnoException).code}): set PAGELAB_CACHE`,
    );
  }
  const cc = process.env.CC ?? 'cc';
  // Compile to a private name and rename, so parallel runs never execute a half-written file.
  const tmp = `${exe}.${process.pid}`;
  try {
    execFileSync(cc, [...CFLAGS, '-o', tmp, SOURCE], { stdio: 'pipe' });
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: Buffer };
    if (err.code === 'ENOENT')
      throw new OracleUnavailable(`no C compiler: '${cc}' was not found (set CC to one) to build ${SOURCE}`);
    const why = String(err.stderr ?? err.message)
      .trim()
      .split('\n')[0];
    throw new OracleUnavailable(`cannot compile ${SOURCE} with '${cc}': ${why}`);
  }
  renameSync(tmp, exe);
  return exe;
}

/** What the kernel did in one step: the replies of its commands and the pages afterwards. */
export interface KernelStep {
  replies: string[];
  regions: RegionObs[];
  counters?: Counters;
}

export interface KernelRun {
  steps: KernelStep[];
  /** Set when the probe stopped early (a worker died or hung); later steps have no record. */
  fatal?: string;
}

function parsePage(line: string): PageObs {
  const [, , present, byte, excl, pfn, count, flags, folio] = line.split(' ');
  const [sub, nr] = folio && folio !== '-' ? folio.split('/').map(Number) : [];
  return {
    ...(nr ? { folio: { sub, nr } } : {}),
    present: present === '1',
    byte: byte === '-' ? undefined : Number.parseInt(byte, 16),
    excl: excl === '1',
    pfn: Number.parseInt(pfn, 16),
    count: Number(count),
    flags: flags === '-' ? [] : flags.split(','),
  };
}

/** The per-process counters `ctr` answers with, in its order (kB). */
export const PROC_COUNTERS = ['Anonymous', 'AnonHugePages'] as const;

/** The processes a step observes, once each, in observation order. */
export function observedProcs(s: PlannedStep): string[] {
  return [...new Set(s.observe.map((o) => o.proc))];
}

/** Run the plan on the real kernel. */
export function runProbe(plan: OraclePlan): KernelRun {
  const script: string[] = [];
  for (const s of plan.steps) {
    script.push(...s.commands);
    for (const o of s.observe) script.push(`obs ${plan.slots.get(o.proc)} ${o.region}`);
    for (const proc of observedProcs(s)) script.push(`ctr ${plan.slots.get(proc)}`);
    script.push('gstat');
  }
  script.push('quit');
  const exe = probeBinary();
  let out: string;
  try {
    out = execFileSync(exe, [], {
      input: `${script.join('\n')}\n`,
      encoding: 'utf8',
      timeout: TIMEOUT_MS,
      killSignal: 'SIGTERM',
      maxBuffer: 1 << 28,
    });
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { signal?: string; status?: number };
    const how =
      err.code === 'ETIMEDOUT'
        ? `timed out after ${TIMEOUT_MS / 1000} s`
        : `failed (${err.signal ?? err.code ?? `exit ${err.status}`})`;
    throw new OracleUnavailable(`the probe ${exe} ${how}`);
  }
  const lines = out.split('\n');
  let i = 0;
  const first = lines[i++] ?? '';
  if (first.startsWith('unsupported')) throw new OracleUnavailable(first.slice('unsupported '.length));
  const steps: KernelStep[] = [];
  const next = (): string => {
    const l = lines[i++];
    if (l === undefined || l.startsWith('fatal')) throw new Error(l ?? 'the probe stopped without a reply');
    return l;
  };
  try {
    for (const s of plan.steps) {
      const replies = s.commands.map(() => next());
      const regions = s.observe.map((o) => {
        const pages: PageObs[] = [];
        for (let l = next(); l !== 'end'; l = next()) {
          if (!l.startsWith('p ')) throw new Error(`unexpected probe output '${l}'`);
          pages.push(parsePage(l));
        }
        return { proc: o.proc, region: o.region, pages };
      });
      const procs: Counters['procs'] = {};
      for (const proc of observedProcs(s)) {
        const [ok, ...v] = next().split(' ');
        if (ok !== 'ok') throw new Error(`counters of ${proc}: ${ok} ${v.join(' ')}`);
        procs[proc] = Object.fromEntries(PROC_COUNTERS.map((name, j) => [name, Number(v[j])]));
      }
      const [ok, ...pairs] = next().split(' ');
      if (ok !== 'ok') throw new Error(`machine counters: ${ok}`);
      const global = Object.fromEntries(pairs.map((kv) => [kv.split('=')[0], Number(kv.split('=')[1])]));
      steps.push({ replies, regions, counters: { procs, global } });
    }
  } catch (e) {
    return { steps, fatal: (e as Error).message };
  }
  return { steps };
}
