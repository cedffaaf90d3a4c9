/**
 * Memory failure: a frame reported bad (a machine check, or an injection), dispatched by what
 * the frame is, its users unmapped and signalled, the frame kept out of use for good.
 *
 * Models: mm/memory-failure.c — memory_failure()'s dispatch order (no
 * struct page: memory_failure_pfn and ZONE_DEVICE; already poisoned; get_hwpoison_page taking a
 * free page off the buddy lists or refusing what is not LRU; large folios; the error_states
 * table and its me_* handlers; has_extra_refcount), hwpoison_user_mappings (PTEs become
 * hwpoison entries, SIGBUS BUS_MCEERR_AR to the accessing task, BUS_MCEERR_AO to early-kill
 * tasks), mapping_set_error for dirty page cache, action_result's counters, unpoison_memory and
 * soft_offline_page.
 *
 * The hwpoison PTE is a non-present entry naming no frame (the kernel's keeps the pfn in a swap
 * entry); a later access to it is SIGBUS (do_swap_page's VM_FAULT_HWPOISON). A poisoned frame of
 * a freed folio is typed HWPOISON in the memdesc and never reused; a poisoned page still in use
 * carries PG_hwpoison until its last reference goes. A THP is split first (try_to_split_thp_page,
 * an anon folio down to order 0; a pinned or extra-referenced one cannot split and is UNSPLIT_THP,
 * FAILED, its mappers killed). Leaves out: splitting a large page-cache folio (the model splits
 * anon folios only, so a file THP is UNSPLIT_THP), hugetlb, swap cache, shmem keeping the
 * poisoned folio in its cache (it is removed like a file's), hwpoison_filter, the retry loops.
 */

import { PG } from './folio.js';
import { splitFolio } from './huge_memory.js';
import type { Kernel } from './kernel.js';
import { MT, mdWord } from './memdesc.js';
import { migrateFolio } from './migrate.js';
import { findVma, MM_ANONPAGES, type Mm, type Vma } from './mm_types.js';
import { GFP } from './mmzone.js';
import { findFreeBlock, takeFreeRange } from './page_isolation.js';
import { drainAllPages, freeFrozenPages } from './pcp.js';
import { entryBits, entryPfn, mkEntry, PT_LEVEL, PTE, PTRS_PER_TABLE } from './pgtable.js';
import { ksmRemoveMapping, mmCounter, removeRmapPtes, rmapWalk } from './rmap.js';
import { KernelError, PAGE_SIZE } from './types.js';

/** MF_* flags of memory_failure() (include/linux/mm.h). */
export const MF = {
  ACTION_REQUIRED: 1 << 1,
  MUST_KILL: 1 << 2,
  SOFT_OFFLINE: 1 << 3,
  SW_SIMULATED: 1 << 5,
} as const;
export const MF_NAMES = ['action_required', 'must_kill', 'sw_simulated'] as const;
export type MfFlagName = (typeof MF_NAMES)[number];

/** enum mf_result. */
export type MfResult = 'MF_IGNORED' | 'MF_FAILED' | 'MF_DELAYED' | 'MF_RECOVERED';

/** enum mf_action_page_type, as action_result prints them. */
export type MfPageType =
  | 'kernel'
  | 'kernel_high_order'
  | 'get_hwpoison'
  | 'unmap_failed'
  | 'dirty_lru'
  | 'clean_lru'
  | 'truncated_lru'
  | 'buddy'
  | 'dax'
  | 'unsplit_thp'
  | 'already_poisoned'
  | 'pfn_map'
  | 'unknown';

export interface MfSignal {
  pid: number;
  addr: number;
  code: 'BUS_MCEERR_AR' | 'BUS_MCEERR_AO';
}

/** What memory_failure() did. */
export interface MfOutcome {
  pfn: number;
  type: MfPageType;
  result: MfResult;
  /** The return value: null for 0, else the errno (-EBUSY, -EHWPOISON, -ENXIO). */
  errno: 'EBUSY' | 'EHWPOISON' | 'ENXIO' | null;
  signals: MfSignal[];
  /** PTEs turned into hwpoison entries. */
  unmapped: number;
  /** Page-table entries visited to find mappers where no rmap exists (pfn maps, device memory). */
  walked: number;
  /** Entries the pfn_lookup design visited to learn what the frame is (memmap: its one word). */
  lookupVisited: number;
}

/** The kernel's hwpoison state. */
export class HwpoisonState {
  /** Frames with PG_hwpoison (num_poisoned_pages). */
  readonly pfns = new Set<number>();
  /** Every SIGBUS memory failure sent, in order. */
  readonly signals: MfSignal[] = [];
  /** A failure not injected by software happened: unpoison_memory is refused from now on. */
  hwFailure = false;
  /** vm.memory_failure_early_kill. */
  earlyKill = false;
}

/** The non-present PTE left where a poisoned page was mapped (make_hwpoison_entry). */
export const hwpoisonEntry = (k: Kernel): number => mkEntry(k.pa.zeroPfn, PTE.USER | PTE.SW3);
export const isHwpoisonEntry = (e: number): boolean =>
  e !== 0 && (entryBits(e) & (PTE.PRESENT | PTE.SW2 | PTE.SW3)) === PTE.SW3;

/** The folio-free hook: a folio holding a poisoned page keeps that frame (free_pages_prepare). */
export function poisonedFree(k: Kernel, row: number): boolean {
  k.folios.freePoisoned(row, (pfn) => k.hwpoison.pfns.has(pfn));
  return true;
}

function pidOf(k: Kernel, mm: Mm): number {
  for (const p of k.processes.values()) if (p.mm === mm) return p.pid;
  return 0;
}

/** action_result(): count the outcome (not for ALREADY_POISONED and PFN_MAP), return it. */
function done(
  k: Kernel,
  o: Omit<MfOutcome, 'errno' | 'signals' | 'unmapped' | 'walked' | 'lookupVisited'> & Partial<MfOutcome>,
): MfOutcome {
  const ok = o.result === 'MF_RECOVERED' || o.result === 'MF_DELAYED';
  const out: MfOutcome = {
    errno: ok ? null : 'EBUSY',
    signals: [],
    unmapped: 0,
    walked: 0,
    lookupVisited: 0,
    ...o,
  };
  if (o.type !== 'already_poisoned' && o.type !== 'pfn_map') {
    const e = k.stat.events;
    e.memory_failure_total++;
    if (o.result === 'MF_RECOVERED') e.memory_failure_recovered++;
    else if (o.result === 'MF_DELAYED') e.memory_failure_delayed++;
    else if (o.result === 'MF_FAILED') e.memory_failure_failed++;
    else e.memory_failure_ignored++;
  }
  k.hwpoison.signals.push(...out.signals);
  if (k.stat.tracing) k.stat.emit({ type: 'memory_failure', pfn: o.pfn, page: o.type, result: o.result });
  return out;
}

/** The processes to signal (collect_procs + task_early_kill): the accessor with AR, early-kill tasks. */
function kills(
  k: Kernel,
  mappers: { mm: Mm; addr: number }[],
  flags: number,
  accessor: number | undefined,
  force: boolean,
): MfSignal[] {
  const out: MfSignal[] = [];
  for (const h of mappers) {
    const pid = pidOf(k, h.mm);
    const ar = (flags & MF.ACTION_REQUIRED) !== 0 && pid === accessor;
    if (ar || k.hwpoison.earlyKill || force)
      out.push({ pid, addr: h.addr, code: ar ? 'BUS_MCEERR_AR' : 'BUS_MCEERR_AO' });
  }
  return out;
}

/**
 * Mappers of a frame nothing reverse-maps (a pfnmap, device memory): every process's page
 * tables searched, as memory_failure_pfn's registered address spaces stand in for. Returns the
 * hits and the entries visited.
 */
export function walkForPfn(
  k: Kernel,
  pfn: number,
): { hits: { mm: Mm; vma: Vma; addr: number }[]; walked: number } {
  const hits: { mm: Mm; vma: Vma; addr: number }[] = [];
  let walked = 0;
  for (const p of k.processes.values()) {
    if (!p.alive) continue;
    for (const vma of p.mm.vmas) {
      for (let a = vma.start; a < vma.end; a += PAGE_SIZE) {
        walked++;
        const slot = k.ptdesc.leafSlot(p.mm.pgd, a);
        if (slot < 0) continue;
        const e = k.ptdesc.entries[slot];
        if (!(entryBits(e) & PTE.PRESENT)) continue;
        const base = entryPfn(e);
        const at = k.ptdesc.leafLevel === PT_LEVEL.PMD ? base + Math.floor((a % 2 ** 21) / PAGE_SIZE) : base;
        if (at === pfn) hits.push({ mm: p.mm, vma, addr: a });
      }
    }
  }
  return { hits, walked };
}

/**
 * memory_failure(pfn, flags): `accessor` is the pid of the task whose access raised it (the
 * "current" of an action-required machine check).
 */
export function memoryFailure(k: Kernel, pfn: number, flags: number, accessor?: number): MfOutcome {
  const before = k.stat.events.lookup_mf_visited;
  const out = dispatch(k, pfn, flags, accessor);
  out.lookupVisited = k.stat.events.lookup_mf_visited - before;
  return out;
}

function dispatch(k: Kernel, pfn: number, flags: number, accessor?: number): MfOutcome {
  const hp = k.hwpoison;
  if (!(flags & MF.SW_SIMULATED)) hp.hwFailure = true;
  const { pa, folios: f } = k;
  // 1. No online struct page: device memory, a pfn map, or outside the kernel's control.
  if (!pa.memmap.pfnValid(pfn)) return noStructPage(k, pfn, flags, accessor);
  // 3. Already poisoned.
  if (hp.pfns.has(pfn)) {
    const signals =
      flags & MF.ACTION_REQUIRED && accessor !== undefined
        ? [{ pid: accessor, addr: 0, code: 'BUS_MCEERR_AR' as const }]
        : [];
    return done(k, { pfn, type: 'already_poisoned', result: 'MF_FAILED', errno: 'EHWPOISON', signals });
  }
  // 4. PG_hwpoison, then get_hwpoison_page(), which runs with the zone's per-CPU lists disabled
  // (zone_pcp_disable drains them), so a free page parked on one is seen as free.
  hp.pfns.add(pfn);
  drainAllPages(pa, pa.zoneOf(pfn));
  // What the frame is: the memmap says, or (pfn_lookup: vma) a search of every map may find it.
  // Unfound, the frame stays recorded as poisoned (retired when freed) and nothing else is done.
  if (k.pfnLookup.mfOwner(k, pfn) === 'none') {
    k.stat.events.lookup_mf_unhandled++;
    // free_pages_prepare() checking the poisoned-pfn list when its last user lets go: the model
    // keeps that check on the folio's flag (this design has no per-frame flag of its own).
    const held = f.pageRow(pfn);
    if (held >= 0) f.setFlag(held, PG.hwpoison);
    return done(k, { pfn, type: 'unknown', result: 'MF_IGNORED' });
  }
  const free = findFreeBlock(pa, pfn);
  if (free) {
    takeFreeRange(pa, pfn, 0);
    pa.memmap.set(pfn, mdWord(MT.HWPOISON), 0);
    k.stat.retype(MT.BUDDY, MT.HWPOISON, 1);
    return done(k, { pfn, type: 'buddy', result: 'MF_RECOVERED' });
  }
  let row = f.pageRow(pfn);
  // Slab, page tables, vmalloc, reserved and zero pages, driver and large kmalloc pages: not LRU.
  if (row < 0 || !f.testFlag(row, PG.lru))
    return done(k, { pfn, type: 'get_hwpoison', result: 'MF_IGNORED' });
  // 6. A large folio is split first (try_to_split_thp_page); only the poisoned page is handled.
  if (f.isLarge(row)) {
    f.setFlag(row, PG.has_hwpoisoned);
    if (!splitFolio(k, row, pfn)) {
      // kill_procs_now(): every mapper of the unsplit folio, forced.
      const signals = kills(k, rmapWalk(k, row), flags, accessor, true);
      return done(k, { pfn, type: 'unsplit_thp', result: 'MF_FAILED', errno: 'EHWPOISON', signals });
    }
    // The split left the reference get_hwpoison_page took on the poisoned page's own folio.
    row = f.pageRow(pfn);
  } else {
    // Hold the reference memory_failure's get_hwpoison_page takes while unmapping.
    f.refcount[row]++;
  }
  f.setFlag(row, PG.hwpoison);
  const um = unmapPoisoned(k, row, flags, accessor);
  const dirty = f.testFlag(row, PG.dirty) || um.dirtyPte;
  const type: MfPageType = dirty ? 'dirty_lru' : 'clean_lru';
  let result: MfResult = 'MF_RECOVERED';
  // me_pagecache_*: anon pages are RECOVERED once unmapped (no has_extra_refcount test there).
  if (f.kind[row] === MT.FILE) result = truncateErrorFolio(k, row, dirty);
  f.putRow(row);
  return done(k, { pfn, type, result, signals: um.signals, unmapped: um.unmapped });
}

/**
 * hwpoison_user_mappings(): unmap every PTE of the folio. Anon and dirty pages leave hwpoison
 * entries and kill; a clean file page is simply dropped (it can be read again).
 */
function unmapPoisoned(
  k: Kernel,
  row: number,
  flags: number,
  accessor: number | undefined,
): { signals: MfSignal[]; unmapped: number; dirtyPte: boolean } {
  const f = k.folios;
  const hits = rmapWalk(k, row);
  let dirtyPte = false;
  for (const h of hits) {
    const slot = k.ptdesc.leafSlot(h.mm.pgd, h.addr);
    if (entryBits(k.ptdesc.entries[slot]) & PTE.DIRTY) dirtyPte = true;
  }
  const dirty = f.testFlag(row, PG.dirty) || dirtyPte;
  const poisonEntry = f.kind[row] === MT.ANON || dirty;
  for (const h of hits) {
    const slot = k.ptdesc.leafSlot(h.mm.pgd, h.addr);
    const table = Math.floor(slot / PTRS_PER_TABLE);
    k.ptdesc.set(table, slot - table * PTRS_PER_TABLE, poisonEntry ? hwpoisonEntry(k) : 0);
    h.mm.rss[f.kind[row] === MT.ANON ? MM_ANONPAGES : mmCounter(f, row)]--;
    removeRmapPtes(k, row, h.pfn, 1, h.mm);
    if (f.testFlag(row, PG.ksm)) ksmRemoveMapping(k, row, h.mm, h.addr);
    f.putRow(row);
  }
  const kill = dirty || (flags & MF.MUST_KILL) !== 0;
  const signals = kill ? kills(k, hits, flags, accessor, (flags & MF.MUST_KILL) !== 0) : [];
  return { signals, unmapped: poisonEntry ? hits.length : 0, dirtyPte };
}

/**
 * me_pagecache_dirty / me_pagecache_clean for a file folio: a dirty one records -EIO on the
 * mapping (reported by the next fsync); truncate_error_folio removes it from the page cache;
 * references beyond memory_failure's own mean FAILED.
 */
function truncateErrorFolio(k: Kernel, row: number, dirty: boolean): MfResult {
  const f = k.folios;
  const file = k.pagecache.byMappingId(f.mapping[row]);
  if (!file) return 'MF_FAILED';
  if (dirty) file.wbErr = 'EIO';
  f.clearFlag(row, PG.dirty | PG.lru);
  k.pagecache.removeFolio(file, f.index[row], true);
  return f.refcount[row] - 1 > 0 ? 'MF_FAILED' : 'MF_RECOVERED';
}

/** Step 1: a pfn without an online memmap (device memory, pfn maps, holes). */
function noStructPage(k: Kernel, pfn: number, flags: number, accessor: number | undefined): MfOutcome {
  const map = k.devmem.pagemapOf(pfn);
  const { hits, walked } = walkForPfn(k, pfn);
  if (map && map.mode !== 'none') {
    const row = k.devmem.pfnToPage(pfn);
    // An unpopulated lazy memmap pfn reads as the shared invalid descriptor: no owner to find.
    if (row < 0) return done(k, { pfn, type: 'pfn_map', result: 'MF_IGNORED', walked });
    // fsdax/devdax: mark poisoned, forced kill of every mapper (mf_generic_kill_procs).
    k.hwpoison.pfns.add(pfn);
    k.folios.setFlag(row, PG.hwpoison);
    const signals = kills(k, hits, flags, accessor, true);
    return done(k, { pfn, type: 'dax', result: 'MF_RECOVERED', signals, walked });
  }
  if (hits.length > 0) {
    // memory_failure_pfn: a mapped pfn range; its mappers are killed.
    const signals = kills(k, hits, flags, accessor, true);
    return done(k, { pfn, type: 'pfn_map', result: 'MF_RECOVERED', signals, walked });
  }
  if (map) return done(k, { pfn, type: 'pfn_map', result: 'MF_IGNORED', walked });
  throw new KernelError('ENXIO', `pfn 0x${pfn.toString(16)} is outside kernel control`);
}

/**
 * unpoison_memory() (software injection only): a poisoned free frame goes back to the allocator.
 * EOPNOTSUPP after a real failure; EBUSY while the page is still in use (mapped, referenced,
 * slab, page table, reserved) or not poisoned at all.
 */
export function unpoisonMemory(k: Kernel, pfn: number): void {
  const hp = k.hwpoison;
  if (hp.hwFailure) throw new KernelError('EOPNOTSUPP', 'a real memory failure happened: unpoison is off');
  if (!hp.pfns.has(pfn)) throw new KernelError('EBUSY', `pfn 0x${pfn.toString(16)} is not poisoned`);
  if (!k.pa.memmap.pfnValid(pfn) || k.pa.memmap.type(pfn) !== MT.HWPOISON)
    throw new KernelError('EBUSY', `pfn 0x${pfn.toString(16)} is still in use`);
  hp.pfns.delete(pfn);
  k.stat.retype(MT.HWPOISON, MT.BUDDY, 1);
  freeFrozenPages(k.pa, pfn, 0);
}

/**
 * soft_offline_page(): a frame about to fail is emptied without killing anyone — a free frame
 * is taken off the buddy lists, an LRU page migrated away first; then the frame is poisoned.
 * EBUSY for what cannot move (not LRU, large, pinned or referenced).
 */
export function softOfflinePage(k: Kernel, pfn: number): void {
  const { pa, folios: f } = k;
  if (!pa.memmap.pfnValid(pfn))
    throw new KernelError('ENXIO', `pfn 0x${pfn.toString(16)} has no struct page`);
  if (k.hwpoison.pfns.has(pfn)) return;
  // get_hwpoison_page() with the zone's per-CPU lists disabled, as memory_failure does.
  const z = pa.zoneOf(pfn);
  drainAllPages(pa, z);
  if (!findFreeBlock(pa, pfn)) {
    const row = f.pageRow(pfn);
    if (row < 0 || !f.testFlag(row, PG.lru) || f.isLarge(row) || k.maybeDmaPinned(row, pfn))
      throw new KernelError('EBUSY', `pfn 0x${pfn.toString(16)} cannot be migrated`);
    try {
      migrateFolio(k, row, GFP.MOVABLE);
    } catch (e) {
      if (e instanceof KernelError) throw new KernelError('EBUSY', `soft offline: ${e.message}`);
      throw e;
    }
    // page_handle_poison() -> __page_handle_poison(): the old page went to a per-CPU list.
    drainAllPages(pa, z);
  }
  k.hwpoison.pfns.add(pfn);
  takeFreeRange(pa, pfn, 0);
  pa.memmap.set(pfn, mdWord(MT.HWPOISON), 0);
  k.stat.retype(MT.BUDDY, MT.HWPOISON, 1);
}

/** The {proc, addr} form: the frame a user address maps now (the virtual address of an AR error). */
export function pfnAt(k: Kernel, mm: Mm, addr: number): number {
  if (!findVma(mm, addr)) throw new KernelError('EFAULT', `0x${addr.toString(16)} is not mapped`);
  const slot = k.ptdesc.leafSlot(mm.pgd, addr);
  const e = slot < 0 ? 0 : k.ptdesc.entries[slot];
  if (!(entryBits(e) & PTE.PRESENT)) throw new KernelError('EFAULT', `0x${addr.toString(16)} maps no frame`);
  const base = entryPfn(e);
  return k.ptdesc.leafLevel === PT_LEVEL.PMD ? base + Math.floor((addr % 2 ** 21) / PAGE_SIZE) : base;
}
