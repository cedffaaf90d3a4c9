/**
 * Shared helpers for the benchmark suites: host-memory snapshots, statistics, formatting and the
 * plain-text tables every suite prints. Suites return tables and targets; run.ts prints them.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Task } from 'tinybench';
import { Machine } from '../src/index.js';

/** One line of the final summary: a number the Foundation issue promises. */
export interface Target {
  name: string;
  want: string;
  got: string;
  pass: boolean;
}

export interface Table {
  title: string;
  columns: string[];
  rows: string[][];
  notes?: string[];
}

export interface SuiteResult {
  tables: Table[];
  targets: Target[];
}

/** `BENCH_QUICK=1 npm run bench`: fewer runs and shorter time budgets, for a smoke test. */
export const QUICK = process.env.BENCH_QUICK === '1';

/**
 * Run bench/run.js again in a fresh Node process with `env` added, and return the JSON its last
 * stdout line holds (stderr, its progress, passes through). A fresh process starts with no JIT
 * state: no other workload's type feedback shapes the code under measurement.
 */
export function inFreshProcess<T>(what: string, env: Record<string, string>): T {
  const runJs = fileURLToPath(new URL('./run.js', import.meta.url));
  const r = spawnSync(process.execPath, [...process.execArgv, runJs], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  if (r.status !== 0) throw new Error(`${what} failed (exit ${r.status ?? r.signal})`);
  const last = r.stdout.trimEnd().split('\n').pop() ?? '';
  return JSON.parse(last) as T;
}

/**
 * A short progress line on stderr (stdout carries only the tables) when stderr is a terminal:
 * a bench run into a pipe or a log stays silent but for its tables (BENCH_PROGRESS=1 forces it).
 */
export function progress(msg: string): void {
  if (!process.stderr.isTTY && process.env.BENCH_PROGRESS !== '1') return;
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

const gcFn = (globalThis as { gc?: () => void }).gc;
let warnedGc = false;

/** A full collection (twice, so finalised ArrayBuffers are released too). */
export function gc(): void {
  if (!gcFn) {
    if (!warnedGc) progress('warning: run with node --expose-gc; memory deltas will be noisy');
    warnedGc = true;
    return;
  }
  gcFn();
  gcFn();
}

export interface HostMem {
  rss: number;
  arrayBuffers: number;
  heapUsed: number;
}

/** process.memoryUsage() after a full GC. */
export function hostMem(): HostMem {
  gc();
  const u = process.memoryUsage();
  return { rss: u.rss, arrayBuffers: u.arrayBuffers, heapUsed: u.heapUsed };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** Median latency of a tinybench task, in milliseconds. */
export function p50(task: Task | undefined): number {
  const r = task?.result;
  if (!r || (r.state !== 'completed' && r.state !== 'aborted-with-statistics')) {
    const err = r && r.state === 'errored' ? r.error : undefined;
    throw new Error(`benchmark task '${task?.name}' did not complete${err ? `: ${err.message}` : ''}`);
  }
  return r.latency.p50;
}

/** Median absolute deviation of a task's samples, relative to the median (a noise gauge). */
export function spread(task: Task | undefined): string {
  const r = task?.result;
  if (!r || (r.state !== 'completed' && r.state !== 'aborted-with-statistics')) return '?';
  return `±${((100 * r.latency.mad) / r.latency.p50).toFixed(1)}%`;
}

/** Number of samples tinybench took for a task. */
export function samples(task: Task | undefined): number {
  return task?.runs ?? 0;
}

export function fmtBytes(n: number): string {
  const a = Math.abs(n);
  if (a >= 2 ** 30) return `${(n / 2 ** 30).toFixed(2)} GiB`;
  if (a >= 2 ** 20) return `${(n / 2 ** 20).toFixed(1)} MiB`;
  if (a >= 2 ** 10) return `${(n / 2 ** 10).toFixed(1)} KiB`;
  return `${n} B`;
}

export function fmtMs(ms: number): string {
  if (ms >= 100) return `${ms.toFixed(0)} ms`;
  if (ms >= 1) return `${ms.toFixed(1)} ms`;
  return `${(ms * 1000).toFixed(0)} µs`;
}

/** Operations per second, e.g. `5.23 M/s`. */
export function fmtRate(perSec: number): string {
  if (perSec >= 1e6) return `${(perSec / 1e6).toFixed(2)} M/s`;
  if (perSec >= 1e3) return `${(perSec / 1e3).toFixed(1)} k/s`;
  return `${perSec.toFixed(0)} /s`;
}

export function fmtRatio(x: number): string {
  return `${x >= 10 ? x.toFixed(0) : x.toFixed(2)}x`;
}

/** Print a table with aligned columns; numeric-looking cells are right-aligned. */
export function printTable(t: Table): void {
  const widths = t.columns.map((c, i) => Math.max(c.length, ...t.rows.map((r) => (r[i] ?? '').length)));
  const numeric = (s: string) => /^[-+]?[\d.]/.test(s);
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i > 0 && numeric(c) ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  const out = [`## ${t.title}`, '', line(t.columns), widths.map((w) => '-'.repeat(w)).join('  ')];
  for (const r of t.rows) out.push(line(r));
  for (const n of t.notes ?? []) out.push(`  ${n}`);
  out.push('');
  process.stdout.write(`${out.join('\n')}\n`);
}

/**
 * The machine every suite measures: invariant checks off and page contents off (DESIGN.md §3:
 * "benchmarks can run with contents off"), so a freed page costs no content bookkeeping.
 */
export function benchMachine(memory: string, contents = false): Machine {
  return new Machine({ memory, check: 'off', contents });
}

/** A small deterministic PRNG (mulberry32), so every run fragments memory the same way. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}
