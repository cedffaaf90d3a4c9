/**
 * Event counters and the event stream.
 *
 * Models: /proc/vmstat (mm/vmstat.c, include/linux/vm_event_item.h) — monotonic event counters
 * such as pgalloc and pgfault — and the per-type page counts /proc/meminfo derives from. Counters
 * are plain numbers in one object; the hot paths bump them directly. The event stream is off
 * unless somebody listens, so it costs one boolean test per event when nobody does.
 * Leaves out: per-CPU counter batching (our counts are exact at every moment).
 */
import { NR_MEM_TYPES } from './memdesc.js';
import { HPAGE_PMD_ORDER } from './types.js';

/** The per-size counters under hugepages-<size>kB/stats/ that the model keeps. */
export const MTHP_STATS = ['anon_fault_alloc', 'anon_fault_fallback', 'split', 'split_deferred'] as const;
export type MthpStat = (typeof MTHP_STATS)[number];

/** Monotonic event counters, named as in /proc/vmstat. */
export const VM_EVENTS = [
  'pgalloc',
  'pgfree',
  'pgalloc_fail',
  'folio_alloc',
  'folio_free',
  'slab_alloc',
  'slab_free',
  'kmalloc',
  'kfree',
  'pgtable_alloc',
  'pgtable_free',
  'buddy_split',
  'buddy_merge',
  'pageblock_steal',
  'section_populate',
  'section_depopulate',
  'pgfault',
  'cow_copy',
  'cow_reuse',
  'thp_fault_alloc',
  'thp_fault_fallback',
  'thp_split_pmd',
  'thp_collapse_alloc',
  'thp_collapse_alloc_failed',
  'fork_copy',
  'foll_pin_acquired',
  'foll_pin_released',
  'pgmigrate_success',
  'pgmigrate_fail',
  'compact_migrate_scanned',
  'compact_free_scanned',
  'compact_isolated',
  'compact_stall',
  'compact_fail',
  'compact_success',
  'memory_failure_total',
  'memory_failure_recovered',
  'memory_failure_delayed',
  'memory_failure_failed',
  'memory_failure_ignored',
  'pswpin',
  'pswpout',
  'pgmajfault',
  'thp_swpout',
  'thp_swpout_fallback',
  'thp_split_page',
  // MADV_FREE: pages marked lazyfree (folio_mark_lazyfree), pages reclaim then discarded.
  'pglazyfree',
  'pglazyfreed',
  // The pfn_lookup design's work (pfn_lookup.ts): entries visited, frames not handled.
  'lookup_gup_visited',
  'lookup_gup_unhandled',
  'lookup_compact_visited',
  'lookup_compact_unhandled',
  'lookup_mf_visited',
  'lookup_mf_unhandled',
] as const;
export type VmEvent = (typeof VM_EVENTS)[number];

/** One event of the stream (`pagelab run --json` writes them as JSONL). */
export interface MmEvent {
  type: string;
  pfn?: number;
  order?: number;
  [key: string]: unknown;
}

export type EventListener = (ev: MmEvent) => void;

export class VmStat {
  readonly events: Record<VmEvent, number>;
  /** Pages per memory type (index: MT value); kept exact by every path that changes a type. */
  readonly pagesByType = new Float64Array(NR_MEM_TYPES);
  /**
   * The per-size THP counters (hugepages-<size>kB/stats/), one row of MTHP_STATS per order up to
   * PMD order (huge_mm.ts names the columns and counts them: count_mthp_stat).
   */
  readonly mthp = new Float64Array((HPAGE_PMD_ORDER + 1) * MTHP_STATS.length);
  private listeners: EventListener[] = [];
  /** True when someone listens; callers test it before building an event object. */
  tracing = false;

  constructor() {
    this.events = Object.fromEntries(VM_EVENTS.map((e) => [e, 0])) as Record<VmEvent, number>;
  }

  listen(fn: EventListener): () => void {
    this.listeners.push(fn);
    this.tracing = true;
    return () => {
      this.listeners = this.listeners.filter((l) => l !== fn);
      this.tracing = this.listeners.length > 0;
    };
  }

  emit(ev: MmEvent): void {
    for (const l of this.listeners) l(ev);
  }

  // The allocator's records, built here and not at the call: its fast paths stay small to inline.
  traceAlloc(pfn: number, order: number, kind: number): void {
    this.emit({ type: 'alloc', pfn, order, kind });
  }

  traceFree(pfn: number, order: number): void {
    this.emit({ type: 'free', pfn, order });
  }

  /** Move `pages` frames from one memory type to another in the per-type counts. */
  retype(from: number, to: number, pages: number): void {
    this.pagesByType[from] -= pages;
    this.pagesByType[to] += pages;
  }
}
