/**
 * The /proc views of physical memory: meminfo, vmstat, buddyinfo, zoneinfo, and the census the
 * design accounting prices.
 *
 * Models: fs/proc/meminfo.c, mm/vmstat.c (vmstat, buddyinfo, zoneinfo) over the model's counters.
 * Everything is computed on demand from the pools and counters, so the views cost nothing on the
 * hot path. Field names follow Linux where it has the field; `KernelLarge` and `DriverPages` are
 * the model's own (large kmalloc and alloc_pages memory with no owner type).
 */
import {
  accountLayout,
  type Census,
  LAYOUTS,
  type LayoutAccounting,
  type LayoutName,
} from '../designs/layout.js';
import type { Kernel } from '../mm/kernel.js';
import { MT, MT_NAMES } from '../mm/memdesc.js';
import { MIGRATE, MIGRATE_NAMES } from '../mm/page_alloc.js';
import { MAX_PAGE_ORDER, PAGE_SIZE } from '../mm/types.js';
import type { BuddyInfo, Meminfo, ZoneInfo } from './types.js';

const kb = (pages: number) => (pages * PAGE_SIZE) / 1024;

/** /proc/meminfo, in kB like the real file. */
export function meminfo(k: Kernel): Meminfo {
  const t = k.stat.pagesByType;
  let cmaTotal = 0;
  let cmaFree = 0;
  for (const z of k.pa.zones) {
    cmaTotal += z.cmaPages;
    for (let o = 0; o <= MAX_PAGE_ORDER; o++)
      cmaFree += z.nrFree[o * MIGRATE_NAMES.length + MIGRATE.CMA] * (1 << o);
  }
  return {
    MemTotal: kb(k.pa.managedPages),
    MemFree: kb(k.pa.totalFreePages),
    AnonPages: kb(t[MT.ANON]),
    FilePages: kb(t[MT.FILE]),
    Slab: kb(t[MT.SLAB]),
    PageTables: kb(t[MT.PGTABLE]),
    KernelLarge: kb(t[MT.LARGE_KMALLOC]),
    DriverPages: kb(t[MT.UNKNOWN]),
    // The shared zero page sits in the kernel image; the huge zero folio came from the buddy allocator.
    Reserved: kb(t[MT.RESERVED] + 1),
    CmaTotal: kb(cmaTotal),
    CmaFree: kb(cmaFree),
  };
}

/** /proc/vmstat event counters plus page counts per memory type. */
export function vmstat(k: Kernel): Record<string, number> {
  const out: Record<string, number> = { nr_free_pages: k.pa.totalFreePages };
  MT_NAMES.forEach((name, t) => {
    if (t !== MT.NONE) out[`nr_${name}_pages`] = k.stat.pagesByType[t];
  });
  // The KSM counters of /sys/kernel/mm/ksm, here so `expect: { counters }` can check them.
  out.ksm_pages_shared = k.ksm.pagesShared;
  out.ksm_pages_sharing = k.ksm.pagesSharing;
  return { ...out, ...k.stat.events };
}

/** /proc/buddyinfo: free blocks per order for each zone. */
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
    present: z.presentPages,
    managed: z.managedPages,
    free: z.freePages,
    cma: z.cmaPages,
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
    presentPages: k.pa.maxPfn,
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
