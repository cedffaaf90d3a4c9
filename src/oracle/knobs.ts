/**
 * The sysfs knobs a run depends on, set for the run and put back afterwards (also when the run
 * fails, and when the process exits while they are set). The model knows THP only at PMD size, so
 * every other mTHP size is turned off; it has no KSM, so ksmd is stopped.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ResolvedConfig } from '../index.js';
import type { Knob } from './types.js';

const THP = '/sys/kernel/mm/transparent_hugepage';
const KSM_RUN = '/sys/kernel/mm/ksm/run';

/** The value a knob file holds: the bracketed choice of "always [madvise] never", or the text. */
function current(path: string): string {
  const text = readFileSync(path, 'utf8').trim();
  return /\[([^\]]+)\]/.exec(text)?.[1] ?? text;
}

/** What the run needs under a machine configuration, as [path, value]. */
export function wantedKnobs(config: ResolvedConfig): [string, string][] {
  if (!existsSync(THP)) return [];
  // Sizes without an anon `enabled` file (order 1: 8 kB) cannot be used for anonymous memory at all.
  const sizes = readdirSync(THP).filter(
    (d) => /^hugepages-\d+kB$/.test(d) && existsSync(join(THP, d, 'enabled')),
  );
  const want: [string, string][] = [
    [join(THP, 'enabled'), config.thp],
    [join(THP, 'use_zero_page'), config.thpZeroPage ? '1' : '0'],
    ...sizes.map((d): [string, string] => [
      join(THP, d, 'enabled'),
      d === 'hugepages-2048kB' ? 'inherit' : 'never',
    ]),
  ];
  if (existsSync(KSM_RUN)) want.push([KSM_RUN, '0']);
  return want;
}

let active: Knob[] = [];
let hooked = false;

/** Set the knobs; returns each with its previous value. Throws (having restored any set) if one cannot be written. */
export function applyKnobs(want: [string, string][]): Knob[] {
  if (!hooked) {
    process.on('exit', () => restoreKnobs(active));
    hooked = true;
  }
  const knobs: Knob[] = [];
  try {
    for (const [path, set] of want) {
      const before = current(path);
      if (before !== set) writeFileSync(path, set);
      knobs.push({ path, before, set });
      active = knobs;
    }
  } catch (e) {
    restoreKnobs(knobs);
    throw new Error(
      `cannot set ${want[knobs.length][0]}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
  return knobs;
}

/** Put every knob back, last set first. */
export function restoreKnobs(knobs: Knob[]): void {
  for (const k of [...knobs].reverse()) if (k.before !== k.set) writeFileSync(k.path, k.before);
  if (knobs === active) active = [];
}
