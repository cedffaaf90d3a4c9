/**
 * Kernel samepage merging.
 *
 * Models: mm/ksm.c — ksm_madvise (MADV_MERGEABLE / MADV_UNMERGEABLE set and clear VM_MERGEABLE on
 * compatible VMAs; anything else is left alone and the call still returns 0), ksmd's scan
 * (ksm_do_scan over every VM_MERGEABLE VMA of every mm: identical anonymous pages are merged into
 * one write-protected KSM folio — try_to_merge_two_pages, write_protect_page, replace_page, and
 * the stable tree that later identical pages merge into), break_ksm / unmerge_ksm_pages (an
 * UNSHARE fault gives each mapping a private exclusive copy), /sys/kernel/mm/ksm/pages_shared and
 * pages_sharing (moved only by a scan: KsmState in rmap.ts), and rmap_walk_ksm.
 *
 * KSM rmap: a KSM folio is mapped from many anon_vmas, so the anon_vma + index walk cannot find
 * its mappings. As the kernel's stable_node keeps a list of rmap_items, each KSM folio here keeps
 * its (mm, address) mappings in a small array (`stable`), the one place the model has an object
 * per physical page: KSM pages are few relative to memory, and the kernel pays the same. Unlike the
 * kernel, whose rmap_items go stale and are pruned lazily (and which finds a forked child's
 * mappings through the rmap_item's anon_vma), the list is kept exact: fork adds the child's
 * mapping, zap and COW remove theirs, so check/vm.ts can require it to equal the PTEs found.
 *
 * max_page_sharing (stable_node chains): a KSM page takes at most KSM_MAX_PAGE_SHARING mappings by
 * merging; a page of the same contents met after that goes to the unstable tree and, with the
 * next such page, becomes another KSM page of those contents (a chain's next dup). The kernel
 * counts the rmap_items merged into a node; here the node's mapping list, which also holds
 * mappings fork added.
 *
 * Leaves out: the unstable tree's "unchanged for one full scan" rule (one `ksmScan` is ksmd run
 * until it settles: every mergeable pair is merged, as two or three real passes do), checksums,
 * pages_to_scan batching, use_zero_pages (off, as by
 * default: all-zero pages merge with each other like any identical pages — so with contents off,
 * where every page reads as zeros, every candidate page merges), THPs (the kernel splits them
 * first; here PMD-mapped and large folios are skipped), swap, NUMA (merge_across_nodes), the
 * advisor and smart_scan, and PR_SET_MEMORY_MERGE.
 */
import { PG } from './folio.js';
import { FAULT } from './internal.js';
import type { Kernel } from './kernel.js';
import { MT } from './memdesc.js';
import { handleMmFault, vmNormalPage } from './memory.js';
import type { Vma } from './mm_types.js';
import { VM } from './mm_types.js';
import { entryBits, entryPfn, mkEntry, PTE, PTRS_PER_TABLE, withBits } from './pgtable.js';
import { addRmapPtes, type KsmMapping, removeRmapPtes, rmapWalk } from './rmap.js';
import { PAGE_SIZE } from './types.js';

/** /sys/kernel/mm/ksm/max_page_sharing at its default (ksm_max_page_sharing). */
export const KSM_MAX_PAGE_SHARING = 256;

/** vma_ksm_compatible(): the VMAs whose anonymous pages KSM may merge. */
export function ksmCompatible(vma: Vma): boolean {
  const bad = VM.SHARED | VM.MAYSHARE | VM.PFNMAP | VM.IO | VM.DONTEXPAND | VM.HUGETLB | VM.MIXEDMAP;
  return (vma.flags & bad) === 0 && !vma.ops;
}

/**
 * unmerge_ksm_pages(): break every KSM mapping in [start, end) of VMA `v` (MADV_UNMERGEABLE,
 * before ksm_madvise clears VM_MERGEABLE). 'oom' when a break could not copy a page: the pages
 * before it stay broken, the flag stays set.
 */
export function unmergeKsmPages(k: Kernel, v: Vma, start: number, end: number): 'ok' | 'oom' {
  for (let a = start; a < end; a += PAGE_SIZE) if (breakKsm(k, v, a) === 'oom') return 'oom';
  return 'ok';
}

/** The row of the KSM folio a present PTE at `addr` maps, or -1. */
function ksmRowAt(k: Kernel, vma: Vma, addr: number): number {
  const slot = k.ptdesc.leafSlot(vma.mm.pgd, addr);
  if (slot < 0 || k.ptdesc.leafLevel !== 1) return -1;
  const pte = k.ptdesc.entries[slot];
  if (pte === 0 || !(entryBits(pte) & PTE.PRESENT)) return -1;
  const row = vmNormalPage(k, vma, addr, pte);
  return row >= 0 && k.folios.testFlag(row, PG.ksm) ? row : -1;
}

/**
 * break_ksm(): an unshare fault (FAULT_FLAG_UNSHARE, since 6.1) replaces a KSM mapping by a private
 * exclusive copy that stays read-only until written — do_wp_page never reuses a KSM folio.
 */
export function breakKsm(k: Kernel, vma: Vma, addr: number): 'ok' | 'oom' {
  if (ksmRowAt(k, vma, addr) < 0) return 'ok';
  const r = handleMmFault(k, vma, addr, FAULT.UNSHARE | FAULT.REMOTE);
  return r === 'oom' ? 'oom' : 'ok';
}

/** One page ksmd looked at: a present PTE of a VM_MERGEABLE VMA mapping a small anon folio. */
interface Candidate {
  vma: Vma;
  addr: number;
  slot: number;
  row: number;
}

/** The page's contents as a map key (all-zero pages, and every page with contents off, share ''). */
function contentKey(k: Kernel, pfn: number, buf: Uint8Array): string {
  if (!k.frames.enabled) return '';
  k.frames.read(pfn, 0, PAGE_SIZE, buf);
  if (buf.every((b) => b === 0)) return '';
  let s = '';
  for (let i = 0; i < PAGE_SIZE; i += 1024)
    s += String.fromCharCode(...(buf.subarray(i, i + 1024) as unknown as number[]));
  return s;
}

/**
 * May ksmd merge this folio? A small anon folio that is not KSM yet, with no reference beyond its
 * mappings (write_protect_page: mapcount + 1 == refcount, counting ksmd's own) and not maybe
 * DMA-pinned (folio_try_share_anon_rmap refuses: the device could write behind the merge).
 */
function mergeable(k: Kernel, row: number): boolean {
  const f = k.folios;
  if (f.kind[row] !== MT.ANON || f.isLarge(row) || f.testFlag(row, PG.ksm)) return false;
  if (f.refcount[row] !== f.mapcountOf(row)) return false;
  return !k.maybeDmaPinned(row, f.pfn[row]);
}

/** Every candidate page, in ksmd's scan order: mm by mm, VMA by VMA, address by address. */
function scanCandidates(k: Kernel): Candidate[] {
  const out: Candidate[] = [];
  const pd = k.ptdesc;
  for (const mm of k.mms) {
    for (const vma of mm.vmas) {
      if (!(vma.flags & VM.MERGEABLE)) continue;
      for (let addr = vma.start; addr < vma.end; addr += PAGE_SIZE) {
        const slot = pd.leafSlot(mm.pgd, addr);
        if (slot < 0 || pd.leafLevel !== 1) continue;
        const pte = pd.entries[slot];
        if (pte === 0 || !(entryBits(pte) & PTE.PRESENT) || entryBits(pte) & PTE.SPECIAL) continue;
        const row = vmNormalPage(k, vma, addr, pte);
        if (row < 0 || k.folios.kind[row] !== MT.ANON) continue;
        out.push({ vma, addr, slot, row });
      }
    }
  }
  return out;
}

/**
 * A folio becomes the KSM folio of its contents: every mapping it has is write-protected (the
 * write fault that follows copies), PG_anon_exclusive is cleared (folio_try_share_anon_rmap) and
 * the stable node lists those mappings.
 */
function stabilise(k: Kernel, row: number): void {
  const f = k.folios;
  const maps: KsmMapping[] = [];
  for (const h of rmapWalk(k, row)) {
    const slot = k.ptdesc.leafSlot(h.mm.pgd, h.addr);
    const pte = k.ptdesc.entries[slot];
    const table = Math.floor(slot / PTRS_PER_TABLE);
    k.ptdesc.set(table, slot - table * PTRS_PER_TABLE, withBits(pte, 0, PTE.WRITE | PTE.DIRTY));
    maps.push({ mm: h.mm, addr: h.addr });
  }
  f.setPageAnonExclusive(row, f.pfn[row], false);
  f.setFlag(row, PG.ksm);
  k.ksm.stable.set(row, maps);
}

/** replace_page(): the PTE at `c` now maps KSM folio `ksm` read-only; the old page loses it. rss is unchanged. */
function replacePage(k: Kernel, c: Candidate, ksm: number): void {
  const f = k.folios;
  const pfn = f.pfn[ksm];
  const old = c.row;
  const table = Math.floor(c.slot / PTRS_PER_TABLE);
  const mm = c.vma.mm;
  f.refcount[ksm]++;
  addRmapPtes(k, ksm, pfn, 1, mm);
  k.ptdesc.set(table, c.slot - table * PTRS_PER_TABLE, mkEntry(pfn, PTE.PRESENT | PTE.USER));
  removeRmapPtes(k, old, f.pfn[old], 1, mm);
  f.putRow(old);
  k.ksm.stable.get(ksm)!.push({ mm, addr: c.addr });
}

/**
 * One ksmd pass to convergence. Each candidate page is looked up first among the KSM pages of its
 * contents (the stable tree), then among the earlier pages of this pass (the unstable tree); a
 * match with another folio merges them. As try_to_merge_two_pages does, the page being scanned
 * becomes the KSM folio and the earlier one (the unstable tree's) is replaced by it. Two mappings
 * of one folio (shared by fork) are one page to KSM: nothing to merge. Returns the pages merged.
 */
export function ksmScan(k: Kernel): number {
  const f = k.folios;
  const buf = new Uint8Array(PAGE_SIZE);
  // Contents -> the KSM folios of those contents (a stable_node chain's dups).
  const stableTree = new Map<string, number[]>();
  const addStable = (key: string, row: number) => {
    const dups = stableTree.get(key);
    if (dups) dups.push(row);
    else stableTree.set(key, [row]);
  };
  for (const row of k.ksm.stable.keys()) addStable(contentKey(k, f.pfn[row], buf), row);
  const unstableTree = new Map<string, Candidate[]>();
  let merged = 0;
  for (const c of scanCandidates(k)) {
    // An earlier replacement of this folio's other mapping may have freed or changed it.
    if (!f.isLive(c.row) || f.pfn[c.row] !== entryPfn(k.ptdesc.entries[c.slot])) continue;
    if (f.testFlag(c.row, PG.ksm)) continue;
    if (!mergeable(k, c.row)) continue;
    const key = contentKey(k, f.pfn[c.row], buf);
    // stable_node_dup(): a dup still below max_page_sharing (is_page_sharing_candidate).
    const ksm = stableTree
      .get(key)
      ?.find((row) => (k.ksm.stable.get(row)?.length ?? 0) < KSM_MAX_PAGE_SHARING);
    if (ksm !== undefined) {
      replacePage(k, c, ksm);
      merged++;
      continue;
    }
    const earlier = unstableTree.get(key);
    const other = earlier?.find((e) => e.row !== c.row && f.isLive(e.row) && mergeable(k, e.row));
    if (!other) {
      if (earlier) earlier.push(c);
      else unstableTree.set(key, [c]);
      continue;
    }
    stabilise(k, c.row);
    addStable(key, c.row);
    unstableTree.delete(key);
    // Every earlier mapping of this contents joins: each was a page of the unstable tree.
    for (const e of earlier!) {
      if (k.ksm.stable.get(c.row)!.length >= KSM_MAX_PAGE_SHARING) break;
      if (e.row === c.row || !f.isLive(e.row) || f.testFlag(e.row, PG.ksm)) continue;
      if (f.pfn[e.row] !== entryPfn(k.ptdesc.entries[e.slot])) continue;
      replacePage(k, e, c.row);
      merged++;
    }
  }
  k.ksm.fullScans++;
  k.ksm.recount();
  if (k.stat.tracing) k.stat.emit({ type: 'ksm_scan', merged });
  return merged;
}
