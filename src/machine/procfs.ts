/**
 * The /proc views of physical memory: meminfo, vmstat, buddyinfo, zoneinfo, and the census the
 * design accounting prices.
 *
 * Models: fs/proc/meminfo.c, mm/vmstat.c (vmstat, buddyinfo, zoneinfo) over the model's counters.
 * Everything is computed on demand from the pools and counters, so the views cost nothing on the
 * hot path. Field names and meanings follow Linux where it has the field (AnonPages is mapped anon
 * memory, NR_ANON_MAPPED; Slab includes kmalloc_large pages); the model's own fields and counters
 * carry a `pagelab_` prefix.
 */
import {
  accountLayout,
  type Census,
  LAYOUTS,
  type LayoutAccounting,
  type LayoutName,
} from '../designs/layout.js';
import { PG } from '../mm/folio.js';
import { MTHP_MIN_ORDER, mthpStats, orderKb } from '../mm/huge_mm.js';
import type { Kernel } from '../mm/kernel.js';
import { MT, MT_NAMES } from '../mm/memdesc.js';
import { MIGRATE, MIGRATE_NAMES, ZONE_NAMES } from '../mm/mmzone.js';
import { totalSwapcachePages } from '../mm/swap_state.js';
import { HPAGE_PMD_ORDER, MAX_PAGE_ORDER, PAGE_SIZE } from '../mm/types.js';
import { type MthpStat, VM_EVENTS, type VmEvent } from '../mm/vmstat.js';
import type { BuddyInfo, Meminfo, ZoneInfo } from './types.js';

const kb = (pages: number) => (pages * PAGE_SIZE) / 1024;

/** Anon, shmem and PMD-mapped anon pages, from a walk over every folio (meminfo is not a hot path). */
function mappedCounts(k: Kernel): { anonMapped: number; anonThp: number; shmem: number } {
  const f = k.folios;
  let anonMapped = 0;
  let anonThp = 0;
  let shmem = 0;
  for (let row = 0; row < f.rowsUsed; row++) {
    if (!f.isLive(row)) continue;
    const kind = f.kind[row];
    if (kind === MT.FILE && f.testFlag(row, PG.swapbacked)) shmem += f.nrPages(row);
    if (kind !== MT.ANON) continue;
    if (!f.isLarge(row)) {
      if (f.mapcountOf(row) > 0) anonMapped++;
      continue;
    }
    const n = f.nrPages(row);
    if (f.entireMapcountOf(row) > 0) {
      // __folio_add_rmap(RMAP_LEVEL_PMD): every page counts once, and in NR_ANON_THPS.
      anonMapped += n;
      anonThp += n;
      continue;
    }
    const pfn = f.pfn[row];
    for (let i = 0; i < n; i++) if (f.pageMapcountOf(row, pfn + i) > 0) anonMapped++;
  }
  return { anonMapped, anonThp, shmem };
}

/** /proc/meminfo, in kB like the real file (fs/proc/meminfo.c: meminfo_proc_show). */
export function meminfo(k: Kernel): Meminfo {
  const t = k.stat.pagesByType;
  let cmaTotal = 0;
  let cmaFree = 0;
  for (const z of k.pa.zones) {
    cmaTotal += z.cmaPages;
    for (let o = 0; o <= MAX_PAGE_ORDER; o++)
      cmaFree += z.nrFree[o * MIGRATE_NAMES.length + MIGRATE.CMA] * (1 << o);
  }
  const c = mappedCounts(k);
  // No reclaimable slab caches here: every slab page and every kmalloc_large page is SUnreclaim.
  const unreclaim = t[MT.SLAB] + t[MT.LARGE_KMALLOC];
  return {
    MemTotal: kb(k.pa.managedPages),
    MemFree: kb(k.pa.totalFreePages),
    Cached: kb(t[MT.FILE]),
    AnonPages: kb(c.anonMapped),
    AnonHugePages: kb(c.anonThp),
    Shmem: kb(c.shmem),
    Slab: kb(unreclaim),
    SReclaimable: 0,
    SUnreclaim: kb(unreclaim),
    PageTables: kb(t[MT.PGTABLE]),
    CmaTotal: kb(cmaTotal),
    CmaFree: kb(cmaFree),
    SwapCached: kb(totalSwapcachePages(k)),
    SwapTotal: kb(k.swap?.pages ?? 0),
    SwapFree: kb(k.swap?.free ?? 0),
    pagelab_AnonUnmapped: kb(t[MT.ANON] - c.anonMapped),
    pagelab_DriverPages: kb(t[MT.UNKNOWN]),
    // The shared zero page sits in the kernel image; the huge zero folio came from the buddy allocator.
    pagelab_Reserved: kb(t[MT.RESERVED] + 1),
  };
}

/**
 * The model's event counters under /proc/vmstat's names, where Linux counts the same event;
 * the others are the model's own and carry the `pagelab_` prefix.
 */
const LINUX_EVENTS: Partial<Record<VmEvent, string>> = {
  pgfree: 'pgfree',
  pgfault: 'pgfault',
  cow_reuse: 'pgreuse',
  thp_fault_alloc: 'thp_fault_alloc',
  thp_fault_fallback: 'thp_fault_fallback',
  thp_split_pmd: 'thp_split_pmd',
  thp_collapse_alloc: 'thp_collapse_alloc',
  thp_collapse_alloc_failed: 'thp_collapse_alloc_failed',
  foll_pin_acquired: 'nr_foll_pin_acquired',
  foll_pin_released: 'nr_foll_pin_released',
  pgmigrate_success: 'pgmigrate_success',
  pgmigrate_fail: 'pgmigrate_fail',
  compact_migrate_scanned: 'compact_migrate_scanned',
  compact_free_scanned: 'compact_free_scanned',
  compact_isolated: 'compact_isolated',
  compact_stall: 'compact_stall',
  compact_fail: 'compact_fail',
  compact_success: 'compact_success',
  // Linux keeps these per node in /sys/devices/system/node/node*/memory_failure/ (6.9+).
  memory_failure_total: 'memory_failure_total',
  memory_failure_recovered: 'memory_failure_recovered',
  memory_failure_delayed: 'memory_failure_delayed',
  memory_failure_failed: 'memory_failure_failed',
  memory_failure_ignored: 'memory_failure_ignored',
  pswpin: 'pswpin',
  pswpout: 'pswpout',
  pgmajfault: 'pgmajfault',
  thp_swpout: 'thp_swpout',
  thp_swpout_fallback: 'thp_swpout_fallback',
  thp_split_page: 'thp_split_page',
  pglazyfree: 'pglazyfree',
  pglazyfreed: 'pglazyfreed',
};

/** The /proc/vmstat name of a model event counter. */
export const vmstatName = (e: VmEvent): string => LINUX_EVENTS[e] ?? `pagelab_${e}`;

/**
 * /proc/vmstat: Linux's page counts and events where the model keeps them, the KSM sysfs counters
 * (so `expect: { counters }` can check them), and the model-only counters, prefixed `pagelab_`.
 */
export function vmstat(k: Kernel): Record<string, number> {
  const c = mappedCounts(k);
  const t = k.stat.pagesByType;
  const out: Record<string, number> = {
    nr_free_pages: k.pa.totalFreePages,
    nr_anon_pages: c.anonMapped,
    // NR_FILE_PAGES counts the swap cache too (meminfo's Cached takes it out again).
    nr_file_pages: t[MT.FILE] + totalSwapcachePages(k),
    nr_swapcached: totalSwapcachePages(k),
    nr_shmem: c.shmem,
    nr_anon_transparent_hugepages: c.anonThp / 512,
    nr_slab_unreclaimable: t[MT.SLAB] + t[MT.LARGE_KMALLOC],
    nr_page_table_pages: t[MT.PGTABLE],
  };
  // Every zone type has its line, as in Linux, whether or not this machine has such a zone.
  for (const name of ZONE_NAMES) out[`pgalloc_${name.toLowerCase()}`] = 0;
  for (const z of k.pa.zones) out[`pgalloc_${z.name.toLowerCase()}`] += z.pgalloc;
  MT_NAMES.forEach((name, type) => {
    if (type !== MT.NONE) out[`pagelab_nr_${name}_pages`] = t[type];
  });
  out.ksm_pages_shared = k.ksm.pagesShared;
  out.ksm_pages_sharing = k.ksm.pagesSharing;
  for (const e of VM_EVENTS) out[vmstatName(e)] = k.stat.events[e];
  return out;
}

export function buddyinfo(k: Kernel): BuddyInfo[] {
  return k.pa.zones.map((z) => ({
    nid: z.nid,
    zone: z.name,
    free: Array.from({ length: MAX_PAGE_ORDER + 1 }, (_, o) => z.freeBlocks(o)),
  }));
}

/** The zones of every node with their spans and counts (a /proc/zoneinfo summary). */
export function zoneinfo(k: Kernel): ZoneInfo[] {
  return k.pa.zones.map((z) => ({
    nid: z.nid,
    zone: z.name,
    startPfn: z.startPfn,
    endPfn: z.endPfn,
    spanned: z.spannedPages,
    present: z.presentPages,
    managed: z.managedPages,
    deferred: z.deferredPages,
    free: z.freePages,
    cma: z.cmaPages,
    pcp: { count: z.pcp.count, high: z.pcp.high, batch: z.pcp.batch },
  }));
}

/** What exists now, counted from the pools (input to the design accounting). */
export function census(k: Kernel): Census {
  const folios = new Map<string, number>();
  const f = k.folios;
  for (const row of f.liveRows()) {
    const key = `${f.kind[row]}:${f.order[row]}`;
    folios.set(key, (folios.get(key) ?? 0) + 1);
  }
  return {
    presentPages: k.pa.memmap.memmapPages,
    pagesByType: k.stat.pagesByType,
    folios,
    slabs: k.slab.live,
    ptdescs: k.ptdesc.live,
  };
}

/** Metadata bytes under each descriptor layout, `first` first. */
export function accounting(k: Kernel, first: LayoutName): LayoutAccounting[] {
  const c = census(k);
  return [first, ...LAYOUTS.filter((l) => l !== first)].map((l) => accountLayout(l, c));
}

/** Host bytes the simulation itself uses (memmap, pools, allocator arrays). */
export function hostBytes(k: Kernel): {
  memmap: number;
  allocator: number;
  descriptors: number;
  total: number;
} {
  const memmap = k.pa.memmap.hostBytes();
  const allocator = k.pa.hostBytes();
  const descriptors = k.folios.hostBytes() + k.slab.hostBytes() + k.ptdesc.hostBytes();
  return { memmap, allocator, descriptors, total: memmap + allocator + descriptors };
}

/**
 * /sys/kernel/mm/transparent_hugepage/hugepages-<size>kB/stats/ for every anonymous THP size: the
 * counters the model keeps (huge_mm.ts count_mthp_stat), keyed by the directory's name.
 */
export function thpSizeStats(k: Kernel): Record<string, Record<MthpStat, number>> {
  const out: Record<string, Record<MthpStat, number>> = {};
  for (let o = MTHP_MIN_ORDER; o <= HPAGE_PMD_ORDER; o++) out[`hugepages-${orderKb(o)}kB`] = mthpStats(k, o);
  return out;
}
