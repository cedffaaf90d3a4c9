/**
 * PFN-lookup strategies: how code that starts from a frame learns what it is (DESIGN.md §5,
 * issue 15's fifth seed: "GUP could walk the VMA tree to find a refcountable object").
 *
 * `memmap` (src/mm/pfn_lookup.ts): Linux and the memdesc plan — the frame's own word says.
 * `vma`: no type per frame anywhere. Each consumer finds the owner through the maps that point
 * at frames, and counts what it visited and what it could not place (vmstat pagelab_lookup_*):
 * - GUP dirtying (unpin_user_pages_dirty_lock) goes through the VMA the walk kept: a file VMA's
 *   page cache at the page's index (a different frame there means a private COW copy: the anon
 *   path), an anonymous VMA's anon path (PG_dirty only). It cannot place a page whose VMA is gone
 *   (munmap while pinned), a driver mapping's page (vm_ops, no page cache) or a page truncated
 *   out of a shared file mapping: those stay clean.
 * - Compaction can classify only what it reaches: every process's page tables (user-mapped anon,
 *   file, KSM pages) and the page cache (unmapped file pages). It must skip, frame by frame, what
 *   no such map reaches — free blocks (it cannot skip them by order), slab, page tables, vmalloc,
 *   reserved and driver memory, anon pages no longer mapped — all `unreachable`. The free scanner
 *   keeps using the buddy free lists: those are the allocator's own map.
 * - Memory failure searches, in order: every process's page tables, the page cache, vmalloc
 *   areas, then the kernel's maps (slab caches, page-table pages, the free lists). A frame none of
 *   them holds (a page only a pin or a pipe still references, a raw driver page, large kmalloc,
 *   reserved memory) has no owner to find: `unknown`, MF_IGNORED, while memmap would know.
 * Model choice: once a map names the frame, the consumer uses the frame's folio row as the
 * object that map holds (the model's pools stand for the descriptor the map points at).
 */
import type { Kernel } from '../mm/kernel.js';
import { type Mm, VM, type Vma } from '../mm/mm_types.js';
import { NR_MIGRATETYPES, type Zone } from '../mm/mmzone.js';
import { MemmapLookup, type PfnLookup, type PfnOwner } from '../mm/pfn_lookup.js';
import { entryBits, entryPfn, PT_LEVEL, PTE } from '../mm/pgtable.js';
import { MAX_PAGE_ORDER, PAGE_SIZE } from '../mm/types.js';

export const PFN_LOOKUPS = ['memmap', 'vma'] as const;
export type PfnLookupName = (typeof PFN_LOOKUPS)[number];

const HPAGE_PAGES = 512;

/**
 * Every present leaf entry of every live process, as (first pfn, pages): a PTE maps one frame, a
 * PMD leaf 512. Returns the entries visited (present or not: a walk reads them all).
 */
function walkUserTables(k: Kernel, each: (pfn: number, n: number) => void): number {
  const pd = k.ptdesc;
  let visited = 0;
  for (const p of k.processes.values()) {
    if (!p.alive) continue;
    for (const vma of p.mm.vmas) {
      for (let a = vma.start; a < vma.end; ) {
        visited++;
        const slot = pd.leafSlot(p.mm.pgd, a);
        const huge = slot >= 0 && pd.leafLevel === PT_LEVEL.PMD;
        if (slot >= 0) {
          const e = pd.entries[slot];
          if (entryBits(e) & PTE.PRESENT) each(entryPfn(e), huge ? HPAGE_PAGES : 1);
        }
        a = huge ? a - (a % (HPAGE_PAGES * PAGE_SIZE)) + HPAGE_PAGES * PAGE_SIZE : a + PAGE_SIZE;
      }
    }
  }
  return visited;
}

/** Every cached folio of every file (the page cache's xarrays): returns the entries visited. */
function walkPageCache(k: Kernel, each: (row: number) => void): number {
  let visited = 0;
  for (const file of k.pagecache.allFiles()) {
    for (let i = 0; i < file.pages.length; i++) {
      if (file.pages[i] === 0) continue;
      visited++;
      each(k.folios.row(file.pages[i]));
    }
  }
  return visited;
}

export class VmaLookup implements PfnLookup {
  readonly name = 'vma';

  gupDirtyFolio(k: Kernel, mm: Mm, vmas: readonly Vma[], addr: number, pfn: number): number {
    const e = k.stat.events;
    e.lookup_gup_visited++;
    const vma = vmas.find((v) => addr >= v.start && addr < v.end);
    // The VMA the walk kept is gone (munmap, exit), or it is a driver's: nothing says what the page is.
    if (!vma || !mm.vmas.includes(vma) || vma.ops !== undefined) {
      e.lookup_gup_unhandled++;
      return -1;
    }
    const f = k.folios;
    // No vm_file: the anon path (the folio the walk grabbed; PG_dirty only).
    if (!vma.file) return f.pageRow(pfn);
    // vma->vm_file: the page cache at the page's index.
    e.lookup_gup_visited++;
    const row = k.pagecache.lookup(vma.file, vma.pgoff + Math.floor((addr - vma.start) / PAGE_SIZE));
    if (row >= 0 && pfn >= f.pfn[row] && pfn < f.pfn[row] + f.nrPages(row)) return row;
    // Another frame (or none) at that index: in a private mapping the page is a COW copy, anon.
    if (!(vma.flags & VM.SHARED)) return f.pageRow(pfn);
    // A shared mapping's page no longer in the page cache (truncated): which path is unknown.
    e.lookup_gup_unhandled++;
    return -1;
  }

  compactReach(k: Kernel, zone: Zone): Uint8Array {
    const reach = new Uint8Array(zone.endPfn - zone.startPfn);
    const mark = (pfn: number, n: number) => {
      const lo = Math.max(pfn, zone.startPfn);
      const hi = Math.min(pfn + n, zone.endPfn);
      if (lo < hi) reach.fill(1, lo - zone.startPfn, hi - zone.startPfn);
    };
    const f = k.folios;
    let visited = walkUserTables(k, (pfn, n) => {
      // A mapped page leads to its whole folio (the rmap covers every page of it).
      const row = f.pageRow(pfn);
      if (row >= 0) mark(f.pfn[row], f.nrPages(row));
      else mark(pfn, n);
    });
    visited += walkPageCache(k, (row) => mark(f.pfn[row], f.nrPages(row)));
    k.stat.events.lookup_compact_visited += visited;
    return reach;
  }

  mfOwner(k: Kernel, pfn: number): PfnOwner {
    const e = k.stat.events;
    const f = k.folios;
    const covers = (start: number, n: number) => pfn >= start && pfn < start + n;
    let owner: PfnOwner = 'none';
    e.lookup_mf_visited += walkUserTables(k, (p, n) => {
      if (covers(p, n)) owner = 'user';
    });
    if (owner !== 'none') return owner;
    e.lookup_mf_visited += walkPageCache(k, (row) => {
      if (covers(f.pfn[row], f.nrPages(row))) owner = 'pagecache';
    });
    if (owner !== 'none') return owner;
    const s = k.vmalloc.scamem;
    for (const row of k.vmalloc.areas.values()) {
      const pages = s.pages[row];
      for (let i = 0; i < pages.length; i++) {
        e.lookup_mf_visited++;
        if (pages[i] === pfn) return 'vmalloc';
      }
    }
    const slab = k.slab;
    for (let row = 0; row < slab.rowsUsed; row++) {
      if (!slab.isLive(row)) continue;
      e.lookup_mf_visited++;
      if (covers(slab.pfn[row], 1 << slab.caches[slab.cache[row]].order)) return 'slab';
    }
    const pd = k.ptdesc;
    for (let row = 0; row < pd.rowsUsed; row++) {
      if (!pd.isLive(row)) continue;
      e.lookup_mf_visited++;
      if (pd.pfn[row] === pfn) return 'pgtable';
    }
    for (const z of k.pa.zones)
      for (let order = 0; order <= MAX_PAGE_ORDER; order++)
        for (let mt = 0; mt < NR_MIGRATETYPES; mt++)
          for (const head of k.pa.area.freeList(z, order, mt)) {
            e.lookup_mf_visited++;
            if (covers(head, 1 << order)) return 'free';
          }
    return 'none';
  }
}

/** The strategy for a configuration name. */
export function makePfnLookup(name: PfnLookupName): PfnLookup {
  return name === 'vma' ? new VmaLookup() : new MemmapLookup();
}
