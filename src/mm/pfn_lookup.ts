/**
 * How code that starts from a page frame learns what the frame is: the seam of the `pfn_lookup`
 * design axis (DESIGN.md §5). Three consumers ask: unpin_user_pages_dirty_lock (which dirty
 * path), compaction (may this frame move) and memory_failure (who owns this frame).
 *
 * `memmap` (Linux, and the memdesc plan): the type is in the frame's own descriptor — one memmap
 * read per frame. The other strategy, `vma` (src/designs/pfnlookup.ts), keeps no type per frame
 * and must find the owner through the maps that point at it; it is built over the kernel at boot
 * like the pin-count design. Each strategy bumps the `lookup_*` counters (vmstat
 * pagelab_lookup_*): entries visited and frames it could not handle, per consumer.
 */
import type { Kernel } from './kernel.js';
import type { Mm, Vma } from './mm_types.js';
import type { Zone } from './mmzone.js';

/** What a search of the kernel's maps found a frame to be. */
export type PfnOwner = 'user' | 'pagecache' | 'vmalloc' | 'slab' | 'pgtable' | 'free' | 'none';

export interface PfnLookup {
  readonly name: string;
  /**
   * The folio unpin_user_pages_dirty_lock() marks dirty for the page GUP took at `addr` (the VMAs
   * the walk found are `vmas`), or -1 when this strategy cannot tell which dirty path applies.
   */
  gupDirtyFolio(k: Kernel, mm: Mm, vmas: readonly Vma[], addr: number, pfn: number): number;
  /**
   * compact_zone(): the frames of `zone` the migrate scanner can classify (a bit per frame from
   * zone.startPfn), or null when every frame can be (the memmap says what each one is).
   */
  compactReach(k: Kernel, zone: Zone): Uint8Array | null;
  /** memory_failure(): what the frame is, found by this strategy ('none': no owner found). */
  mfOwner(k: Kernel, pfn: number): PfnOwner | 'memmap';
}

/** The type is in the memmap: one read per frame, nothing unhandled. */
export class MemmapLookup implements PfnLookup {
  readonly name = 'memmap';

  gupDirtyFolio(k: Kernel, _mm: Mm, _vmas: readonly Vma[], _addr: number, pfn: number): number {
    k.stat.events.lookup_gup_visited++;
    return k.pa.memmap.folioRow(pfn);
  }

  compactReach(): null {
    return null;
  }

  mfOwner(k: Kernel): 'memmap' {
    k.stat.events.lookup_mf_visited++;
    return 'memmap';
  }
}
