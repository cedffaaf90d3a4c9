/**
 * The real kernel's side of a benchmark: compile a C program of bench/native/ with the system C
 * compiler and run it. Each program prints "name seconds pages" lines; their medians per name are
 * returned. When there is no compiler, or the kernel refuses what a program needs, the suite says
 * so instead of inventing a number.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median } from './util.js';

const SRC_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../bench/native');

/**
 * Per measurement name: median seconds, every run's seconds, and the page count it covered; or
 * why there is none.
 */
export type NativeResult =
  | { ok: true; seconds: Map<string, number>; samples: Map<string, number[]>; pages: number }
  | { ok: false; reason: string };

/**
 * `rounds` runs of `program`, `args(round)` each, into one result whose medians are over every
 * run: a suite interleaves its own rounds between them, so both sides see the same machine (a
 * shared host's speed drifts by tens of percent over a minute).
 */
export function runNativeRounds(
  program: string,
  rounds: number,
  args: string[],
  between: (round: number) => void,
): NativeResult {
  const all = new Map<string, number[]>();
  let pages = 0;
  for (let r = 0; r < rounds; r++) {
    const one = runNative(program, args);
    if (!one.ok) return one;
    for (const [k, v] of one.samples) all.set(k, [...(all.get(k) ?? []), ...v]);
    pages = one.pages;
    between(r);
  }
  return { ok: true, seconds: new Map([...all].map(([k, v]) => [k, median(v)])), samples: all, pages };
}

/** Programs compiled by this process (each once). */
const compiled = new Set<string>();

export function runNative(program: string, args: string[]): NativeResult {
  const out = join(tmpdir(), 'pagelab-bench');
  mkdirSync(out, { recursive: true });
  const exe = join(out, program);
  if (!compiled.has(program))
    try {
      execFileSync(process.env.CC ?? 'cc', ['-O2', '-o', exe, join(SRC_DIR, `${program}.c`)], {
        stdio: 'pipe',
      });
      compiled.add(program);
    } catch (e) {
      return { ok: false, reason: `cannot compile ${program}.c: ${(e as Error).message.split('\n')[0]}` };
    }
  const text = execFileSync(exe, args, { encoding: 'utf8', maxBuffer: 1 << 20 });
  const unsupported = /^unsupported (.*)$/m.exec(text);
  if (unsupported) return { ok: false, reason: `the kernel refused: ${unsupported[1]}` };
  const runs = new Map<string, number[]>();
  let pages = 0;
  for (const line of text.trim().split('\n')) {
    const [name, secs, n] = line.split(' ');
    runs.set(name, [...(runs.get(name) ?? []), Number(secs)]);
    pages = Number(n);
  }
  return { ok: true, seconds: new Map([...runs].map(([k, v]) => [k, median(v)])), samples: runs, pages };
}
