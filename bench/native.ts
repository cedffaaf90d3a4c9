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

/** Per measurement name: median seconds and the page count it covered; or why there is none. */
export type NativeResult =
  | { ok: true; seconds: Map<string, number>; pages: number }
  | { ok: false; reason: string };

export function runNative(program: string, args: string[]): NativeResult {
  const out = join(tmpdir(), 'pagelab-bench');
  mkdirSync(out, { recursive: true });
  const exe = join(out, program);
  try {
    execFileSync(process.env.CC ?? 'cc', ['-O2', '-o', exe, join(SRC_DIR, `${program}.c`)], {
      stdio: 'pipe',
    });
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
  return { ok: true, seconds: new Map([...runs].map(([k, v]) => [k, median(v)])), pages };
}
