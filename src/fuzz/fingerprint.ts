/**
 * The state fingerprint compared around an op that failed: what a failing op must leave as it
 * was. Counters (meminfo, the nr_ page counts of vmstat, KSM), the buddy lists, every process's
 * VMAs and rss, and the descriptors of the frames the op was about (the pages of its range, or of
 * its GUP handle). Event counters (pgfault, pgalloc...) are not state and are left out.
 */
import type { Machine } from '../machine/machine.js';
import { MT, MT_NAMES } from '../mm/memdesc.js';
import { PAGE } from './reference.js';
import type { Prepared } from './world.js';

export interface Fingerprint {
  counters: Record<string, number>;
  buddy: string;
  procs: string;
  frames: string;
}

const MAX_FRAMES = 4;

export function fingerprint(m: Machine, touched: Prepared['touched']): Fingerprint {
  // What vmstat's nr_ counts and buddyinfo show, read from the counters they are computed from.
  const k = m.kernel;
  const counters: Record<string, number> = { ...m.meminfo(), nr_free_pages: k.pa.totalFreePages };
  // With per-CPU lists, a failed op that allocated and freed may leave a refill's batch on a list
  // (Linux too): what must not change is the free memory, lists included, not where it sits.
  if (k.pa.pcpEnabled) {
    counters.MemFree += k.pa.pcpPages * (PAGE / 1024);
    counters.nr_free_pages += k.pa.pcpPages;
  }
  MT_NAMES.forEach((name, t) => {
    if (t !== MT.NONE) counters[`pagelab_nr_${name}_pages`] = k.stat.pagesByType[t];
  });
  counters.ksm_pages_shared = k.ksm.pagesShared;
  counters.ksm_pages_sharing = k.ksm.pagesSharing;
  const buddy = k.pa.pcpEnabled ? '' : k.pa.zones.map((z) => z.nrFree.join(',')).join(';');
  // The process the op acts in (a failing op elsewhere changes no process but by fork or exit,
  // which the counters and the process count show).
  const list = touched && 'pid' in touched ? [safe(() => m.process(touched.pid))] : [];
  const procs = JSON.stringify([
    m.kernel.processes.size,
    ...list.map((p) => (typeof p === 'string' ? p : [p.pid, p.alive, p.rss, p.vmas])),
  ]);
  const frames: unknown[] = [];
  if (touched && 'pid' in touched) {
    for (let i = 0; i < Math.min(touched.pages, MAX_FRAMES); i++) {
      const t = safe(() => m.translate(touched.pid, touched.addr + i * PAGE));
      frames.push(t && typeof t !== 'string' ? [t.pfn, t.flags, safe(() => m.page(t.pfn))] : (t ?? null));
    }
  } else if (touched) {
    for (let i = 0; i < Math.min(touched.handle.pfns.length, MAX_FRAMES); i++)
      frames.push(safe(() => m.page(touched.handle.pfns[i])));
  }
  return { counters, buddy, procs, frames: JSON.stringify(frames) };
}

function safe<T>(f: () => T): T | string {
  try {
    return f();
  } catch (e) {
    return (e as Error).name;
  }
}

/** Which parts differ, one phrase each (empty: the same). */
export function fingerprintDiff(a: Fingerprint, b: Fingerprint): string[] {
  const out: string[] = [];
  const keys = Object.keys(a.counters).filter((k) => a.counters[k] !== b.counters[k]);
  if (keys.length)
    out.push(`counters ${keys.map((k) => `${k} ${a.counters[k]} -> ${b.counters[k]}`).join(', ')}`);
  if (a.buddy !== b.buddy) out.push('buddy lists');
  if (a.procs !== b.procs) out.push('processes (VMAs or rss)');
  if (a.frames !== b.frames) out.push('descriptors of the frames it touched');
  return out;
}

const PAGE_TABLE_KEYS = new Set([
  'MemFree',
  'PageTables',
  'nr_free_pages',
  'pagelab_nr_buddy_pages',
  'pagelab_nr_pgtable_pages',
]);

/**
 * Whether the only change is page tables allocated on the way to a fault that failed: Linux's
 * __handle_mm_fault allocates the levels before the fault handler says SIGBUS or the VMA check
 * says EFAULT, and leaves them (free_pgtables reclaims them at munmap or exit). A failed GUP does
 * the same — a side effect of a failed pin that Linux has too.
 */
export function onlyPageTables(a: Fingerprint, b: Fingerprint): boolean {
  if (a.procs !== b.procs) return false;
  const d = b.counters.pagelab_nr_pgtable_pages - a.counters.pagelab_nr_pgtable_pages;
  if (d <= 0) return false;
  for (const k of Object.keys(a.counters))
    if (a.counters[k] !== b.counters[k] && !PAGE_TABLE_KEYS.has(k)) return false;
  return b.counters.nr_free_pages - a.counters.nr_free_pages === -d;
}
