/**
 * What `run --json` adds to the machine's event stream so a trace reads on its own: names where
 * the stream has numbers (a folio's memory type; the process, by name and pid, an `mm` id belongs
 * to), and after each step a `counters` record with every /proc/vmstat-style counter it moved.
 *
 * The event stream itemises what a user action does to pages (faults, COW, reuse, zero page,
 * fork copies, GUP get/pin/unpin/put, pfn insertions, vmalloc, migration, memory failure, KSM,
 * folio alloc/free). Buddy splits and merges, page-table page allocation and freeing, pageblock
 * steals and memmap section (de)population happen inside the allocators on their hottest paths,
 * so they are not itemised: the `counters` record gives their exact number per step
 * (`pagelab_buddy_split`, `pagelab_buddy_merge`, `pagelab_pgtable_alloc`, `pagelab_pgtable_free`,
 * `pagelab_pageblock_steal`, `pagelab_section_populate`, ...), so every counter's value after a
 * step is its value at boot plus the trace's deltas up to that step.
 */
import type { Machine } from '../machine/machine.js';
import { MT_NAMES } from '../mm/memdesc.js';
import type { MmEvent } from '../mm/vmstat.js';

/** The counters that moved since the last call, with how much; undefined when none did. */
export class CounterDelta {
  private last: Record<string, number>;

  constructor(private readonly m: Machine) {
    this.last = m.vmstat();
  }

  take(): Record<string, number> | undefined {
    const now = this.m.vmstat();
    const moved: Record<string, number> = {};
    let any = false;
    for (const [name, v] of Object.entries(now)) {
      const d = v - (this.last[name] ?? 0);
      if (d !== 0) {
        moved[name] = d;
        any = true;
      }
    }
    this.last = now;
    return any ? moved : undefined;
  }
}

/**
 * The event as a trace reader wants it: a folio allocation's memory type by name (the stream
 * carries the number), and the process an `mm` id belongs to named beside the id.
 */
export function namedEvent(m: Machine, ev: MmEvent): MmEvent {
  let out = ev;
  if (ev.type === 'alloc' && typeof ev.kind === 'number') out = { ...out, kind: MT_NAMES[ev.kind] };
  if (typeof ev.mm === 'number')
    for (const p of m.kernel.processes.values())
      if (p.mm.id === ev.mm) return { ...out, proc: p.name, pid: p.pid };
  return out;
}
