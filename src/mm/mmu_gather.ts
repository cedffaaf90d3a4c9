/**
 * The mmu_gather: references a zap drops, gathered and dropped in batches after the TLB flush.
 *
 * Models: mm/mmu_gather.c (tlb_gather_mmu, __tlb_remove_folio_pages, tlb_flush_mmu ->
 * tlb_batch_pages_flush -> free_pages_and_swap_cache) and mm/swap.c folios_put_refs ->
 * free_unref_folios. A zap clears the entries and drops the mappings at once, but the page
 * references only when the batch is flushed, as Linux does so no CPU can still reach a freed page
 * through a stale TLB entry. The order-0 folios whose last reference goes are freed together:
 * a run of consecutive frames goes back to the buddy allocator as the largest aligned blocks it
 * holds, which leaves the same free blocks as freeing page by page (buddy merging is confluent)
 * with a fraction of the merges (only where on its list a block sits can differ). With per-CPU
 * lists on (pcp.ts), each frame goes to them instead (free_unref_folios -> free_unref_page_commit)
 * and they give batches back to the buddy allocator.
 * Leaves out: TLB flush ranges (there is no TLB), the delayed rmap of dirty shared pages.
 */

import type { FolioPool } from './folio.js';
import type { PageAlloc } from './page_alloc.js';
import { freeFrozenPages } from './pcp.js';
import { MAX_PAGE_ORDER, PAGES_PER_SECTION } from './types.js';

/** Folios one batch holds: MAX_GATHER_BATCH on 4 KiB pages (one page of pointers, less a header). */
const GATHER_BATCH = 510;

export class MmuGather {
  private readonly rows = new Int32Array(GATHER_BATCH);
  private readonly freed = new Float64Array(GATHER_BATCH);
  private nr = 0;

  constructor(
    private readonly folios: FolioPool,
    private readonly pa: PageAlloc,
  ) {}

  /**
   * tlb_remove_page(): the caller unmapped `row`; its reference goes at the next flush. Returns
   * true when the batch was full and flushed (frames may have been freed).
   */
  removePage(row: number): boolean {
    this.rows[this.nr++] = row;
    if (this.nr < GATHER_BATCH) return false;
    this.flush();
    return true;
  }

  /**
   * tlb_flush_mmu(): drop every gathered reference, then free the order-0 folios that reached
   * zero in one go. Every caller that zaps flushes before returning, so nothing else ever sees a
   * folio between its unmap and the drop of its reference.
   */
  flush(): void {
    const n = this.nr;
    if (n === 0) return;
    this.nr = 0;
    const f = this.folios;
    // Locals, not property loads after every call: a put frees rows but never grows the pool,
    // so its columns stay the same arrays for the whole loop.
    const { refcount, touched } = f;
    const { rows, freed } = this;
    let nf = 0;
    for (let j = 0; j < n; j++) {
      const row = rows[j];
      // Not the last reference (a fork's other side, the page cache, a pin): only the count drops.
      const ref = refcount[row];
      if (ref > 1) {
        refcount[row] = ref - 1;
        touched.add(row);
      } else {
        const pfn = f.putRowDeferFree(row);
        if (pfn >= 0) freed[nf++] = pfn;
      }
    }
    if (this.pa.pcpEnabled) for (let i = 0; i < nf; i++) freeFrozenPages(this.pa, freed[i], 0);
    else if (nf > 0) freePagesBulk(this.pa, freed, nf);
  }
}

/**
 * free_unref_folios() for order-0 frames whose descriptors are gone: each run of consecutive
 * frames inside one section of one zone is freed as aligned blocks, largest first.
 */
function freePagesBulk(pa: PageAlloc, pfns: Float64Array, n: number): void {
  for (let j = 0; j < n; ) {
    const start = pfns[j];
    const section = Math.floor(start / PAGES_PER_SECTION);
    const sectionEnd = (section + 1) * PAGES_PER_SECTION;
    let end = start + 1;
    j++;
    // A section that straddles zones frees page by page: an aligned block could cross the boundary.
    if (pa.sectionInOneZone(section)) {
      while (j < n && pfns[j] === end && end < sectionEnd) {
        end++;
        j++;
      }
    }
    for (let pfn = start; pfn < end; ) {
      let order = 0;
      for (let s = 2; order < MAX_PAGE_ORDER && Math.floor(pfn / s) * s === pfn && pfn + s <= end; s *= 2)
        order++;
      pa.freeBlock(pfn, order, false);
      pfn += 1 << order;
    }
    pa.maybeDepopulate(section);
  }
}
