/**
 * Processes and their address spaces as /proc/<pid> shows them: the process list, VMAs (maps),
 * rss (status), the frame and entry bits behind an address (pagemap), the page-table walk, and
 * the reverse map from a frame to the (pid, address) pairs that map it.
 *
 * Models: fs/proc/task_mmu.c (maps, pagemap, smaps' rss) and fs/proc/array.c, read without
 * faulting or changing anything; rmap_walk() (mm/rmap.c) for the reverse direction.
 */
import type { Kernel } from '../mm/kernel.js';
import { findVma, MMF, type Process, VM_NAMES, type Vma } from '../mm/mm_types.js';
import {
  entryBits,
  entryPfn,
  entryUffdWp,
  isPteMarker,
  isSwapEntry,
  PT_LEVEL_NAMES,
  PTE,
  swapOffset,
  swpExclusive,
} from '../mm/pgtable.js';
import { rmapWalk } from '../mm/rmap.js';
import { formatFlags, PAGE_SIZE } from '../mm/types.js';
import { translate } from '../mm/uaccess.js';
import { InputError } from './config.js';
import { page } from './debug.js';
import type { PageInfo, ProcessInfo, SwapEntryInfo, TranslationInfo, VmaInfo, WalkStep } from './types.js';

/** A live process by pid, or an InputError naming what is wrong. */
export function findProcess(k: Kernel, pid: number): Process {
  const p = k.processes.get(pid);
  if (!p) throw new InputError(`no process with pid ${pid}`);
  if (!p.alive) throw new InputError(`process ${pid} (${p.name}) has exited`);
  return p;
}

/** find_vma() that must succeed: the VMA of a live process containing `addr`. */
export function findVmaOf(p: Process, addr: number): Vma {
  const vma = findVma(p.mm, addr);
  if (!vma) throw new InputError(`process ${p.pid} has no mapping at 0x${addr.toString(16)}`);
  return vma;
}

function vmaInfo(v: Vma): VmaInfo {
  return {
    start: v.start,
    end: v.end,
    flags: formatFlags(v.flags, VM_NAMES),
    name: v.name,
    file: v.file && !v.file.shmem ? v.file.name : undefined,
    pgoff: v.pgoff,
  };
}

function processInfo(p: Process): ProcessInfo {
  return {
    pid: p.pid,
    name: p.name,
    alive: p.alive,
    parent: p.parent,
    rss: { file: p.mm.rss[0], anon: p.mm.rss[1], swap: p.mm.rss[2], shmem: p.mm.rss[3] },
    signals: p.signals.map((s) => ({ ...s })),
    hasPinned: (p.mm.flags & MMF.HAS_PINNED) !== 0,
    vmas: p.alive ? p.mm.vmas.map(vmaInfo) : [],
  };
}

/** Every process, exited ones included (their VMAs are gone). */
export function processes(k: Kernel): ProcessInfo[] {
  return [...k.processes.values()].map(processInfo);
}

export function process(k: Kernel, pid: number): ProcessInfo {
  const p = k.processes.get(pid);
  if (!p) throw new InputError(`no process with pid ${pid}`);
  return processInfo(p);
}

const PTE_FLAG_NAMES: Readonly<Record<string, number>> = Object.fromEntries(
  Object.entries(PTE).map(([name, bit]) => [name.toLowerCase(), bit]),
);

/** The frame a user address maps (without faulting), with the entry's bits; undefined if none. */
export function translateUser(k: Kernel, pid: number, addr: number): TranslationInfo | undefined {
  const t = translate(k, findProcess(k, pid).mm, addr);
  return t && { ...t, flags: formatFlags(t.bits, PTE_FLAG_NAMES) };
}

/** The page a user address maps, as `page()` describes it, or undefined when nothing is mapped. */
export function pageAt(
  k: Kernel,
  pid: number,
  addr: number,
): (PageInfo & { pte: string; level: 'pte' | 'pmd' }) | undefined {
  const t = translateUser(k, pid, addr);
  if (!t) return undefined;
  const info = { ...page(k, t.pfn), pte: t.flags, level: t.level };
  // A PMD mapping is exclusive or not as a whole: only the head page's bit counts.
  if (t.level === 'pmd' && info.folio)
    info.anonExclusive = k.folios.pageAnonExclusive(info.folio >>> 0, info.head);
  return info;
}

/**
 * The first address in [addr, end) of a process that has an entry (present, swap or huge), or
 * `end`: for views that walk a VMA (the report's process map), so they cost what is mapped, not
 * the size of the virtual range (walk_page_range's pte_hole skipping).
 */
export function nextMapped(k: Kernel, pid: number, addr: number, end: number): number {
  return k.ptdesc.nextPopulated(findProcess(k, pid).mm.pgd, addr, end);
}

/** The swap entry at a user address (without faulting), or undefined when the PTE holds none. */
export function swapEntryAt(k: Kernel, pid: number, addr: number): SwapEntryInfo | undefined {
  const levels = k.ptdesc.walk(findProcess(k, pid).mm.pgd, addr);
  const last = levels[levels.length - 1];
  if (last.level !== 1 || !isSwapEntry(last.entry) || !k.swap) return undefined;
  const offset = swapOffset(last.entry);
  return {
    offset,
    exclusive: swpExclusive(last.entry),
    count: k.swap.count(offset),
    cached: k.swap.cache.has(offset),
  };
}

/**
 * pagemap's PM_UFFD_WP (bit 57) for a user address — a write-protected present entry (PTE or PMD
 * leaf), swap entry or uffd-wp marker (pte_to_pagemap_entry, pmd's too) — and whether the entry is
 * a PTE marker (pagemap reports it as a swap entry of the marker type).
 */
export function uffdWpAt(k: Kernel, pid: number, addr: number): { uffdWp: boolean; marker: boolean } {
  const levels = k.ptdesc.walk(findProcess(k, pid).mm.pgd, addr);
  const e = levels[levels.length - 1].entry;
  return { uffdWp: entryUffdWp(e), marker: isPteMarker(e) };
}

/** The page-table walk for an address, level by level (for `pagelab explain`). */
export function walk(k: Kernel, pid: number, addr: number): WalkStep[] {
  const pd = k.ptdesc;
  return pd.walk(findProcess(k, pid).mm.pgd, addr).map((l) => {
    const bits = entryBits(l.entry);
    const leaf = l.level === 1 || (bits & PTE.HUGE) !== 0;
    const next = entryPfn(l.entry);
    return {
      level: PT_LEVEL_NAMES[l.level],
      tablePfn: pd.pfn[l.table],
      index: l.index,
      entry: l.entry,
      present: (bits & PTE.PRESENT) !== 0,
      leaf,
      // A leaf holds a frame; a table entry holds the ptdesc row of the next table.
      pfn: l.entry === 0 ? undefined : leaf ? next : pd.pfn[next],
      flags: formatFlags(bits, PTE_FLAG_NAMES),
    };
  });
}

/** rmap_walk(): every (pid, address) mapping the folio that holds `pfn`. */
export function rmap(k: Kernel, pfn: number): { pid: number; addr: number; level: 'pte' | 'pmd' }[] {
  const row = k.pa.memmap.pfnValid(pfn) ? k.folios.pageRow(pfn) : -1;
  if (row < 0) return [];
  const byMm = new Map([...k.processes.values()].filter((p) => p.alive).map((p) => [p.mm, p.pid]));
  return rmapWalk(k, row)
    .filter((h) => h.pfn === pfn || h.level === 'pmd')
    .map((h) => ({
      pid: byMm.get(h.mm) ?? 0,
      addr: h.level === 'pmd' ? h.addr + (pfn - h.pfn) * PAGE_SIZE : h.addr,
      level: h.level,
    }));
}

/**
 * What /proc/<pid>/pagemap and a look at the page show, without faulting or changing anything:
 * the frame mapped at `addr` and the first byte of its page; undefined when nothing is mapped.
 */
export function observe(k: Kernel, pid: number, addr: number): { pfn: number; byte: number } | undefined {
  const t = translate(k, findProcess(k, pid).mm, addr);
  return t && { pfn: t.pfn, byte: k.frames.byteAt(t.pfn, 0) };
}
