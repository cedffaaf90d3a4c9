/**
 * The sysfs knobs a run depends on, set for the run and put back afterwards (also when the run
 * fails, and when the process exits while they are set). Every anonymous THP size's
 * hugepages-<size>kB/enabled is set to what the machine configuration says for it (by default 2M
 * inherits the top-level mode and every smaller size is off, as a fresh kernel boots). ksmd is stopped (run = 0) so that pages merge only at a
 * scenario's `ksm_scan`, where the probe runs it for a few passes and stops it again; the other KSM
 * knobs make those passes quick and plain: a large pages_to_scan, a short sleep, no smart_scan
 * (which skips pages that failed to merge before), no use_zero_pages (the model merges
 * all-zero pages with each other, not with the zero page), and max_page_sharing at its default.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ResolvedConfig } from '../machine/config.js';
import { OracleUnavailable } from './errors.js';
import { onHostRestore } from './host_restore.js';
import type { Knob } from './types.js';

const THP = '/sys/kernel/mm/transparent_hugepage';
const KSM = '/sys/kernel/mm/ksm';
const KSM_RUN = join(KSM, 'run');

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
    ...sizes.map((d): [string, string] => [join(THP, d, 'enabled'), sizeKnob(config, d)]),
  ];
  if (existsSync(KSM_RUN)) {
    want.push([KSM_RUN, '0']);
    for (const [name, value] of [
      ['pages_to_scan', '1000'],
      ['sleep_millisecs', '5'],
      ['smart_scan', '0'],
      ['use_zero_pages', '0'],
      // The model's KSM_MAX_PAGE_SHARING (ksm.ts); the kernel refuses a change while KSM pages exist.
      ['max_page_sharing', '256'],
    ])
      if (existsSync(join(KSM, name))) want.push([join(KSM, name), value]);
  }
  return want;
}

/** The configured mode of one hugepages-<size>kB directory; a size the model has no order for is off. */
function sizeKnob(config: ResolvedConfig, dir: string): string {
  const kb = Number(/^hugepages-(\d+)kB$/.exec(dir)![1]);
  const order = Math.log2(kb / 4);
  return (Number.isInteger(order) && config.thpOrders[order]) || 'never';
}

let active: Knob[] = [];
let hooked = false;

/**
 * Set the knobs; returns each with its previous value. Throws (having restored any set) if one
 * cannot be written. Until restoreKnobs, an exit or a SIGINT/SIGTERM puts them back (host_restore.ts).
 */
export function applyKnobs(want: [string, string][]): Knob[] {
  if (!hooked) {
    onHostRestore(() => restoreKnobs(active));
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
    throw new OracleUnavailable(
      `cannot set ${want[knobs.length][0]} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): run it as root (sudo where you have it)`,
    );
  }
  return knobs;
}

/**
 * Put every knob back, last set first. Compared with what the file holds now, not with what was set:
 * the probe itself turns ksm/run on during a `ksmscan`, and may have died before turning it off.
 */
export function restoreKnobs(knobs: Knob[]): void {
  for (const k of [...knobs].reverse()) if (current(k.path) !== k.before) writeFileSync(k.path, k.before);
  if (knobs === active) active = [];
}
