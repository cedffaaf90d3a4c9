/**
 * The release half of GUP: unpin_user_pages(), unpin_user_pages_dirty_lock() and put_page() on
 * what get_user_pages() took, and the frames a live handle holds for DMA.
 *
 * Models: mm/gup.c — gup_put_folio() / unpin_user_pages() / unpin_user_pages_dirty_lock() (the
 * dirtying dispatched by what owns each folio, page-writeback.ts). Split out of gup.ts, which
 * keeps the walk, the grab and the long-term checks.
 */
import type { Grabbed, GupHandle } from './gup.js';
import type { Kernel } from './kernel.js';
import type { Mm } from './mm_types.js';
import { folioMarkDirty } from './page-writeback.js';
import { KernelBug, PAGE_SIZE } from './types.js';

/** The frames of a GUP result and their folio rows. */
type Frames = Pick<Grabbed, 'pfns' | 'rows'>;

/**
 * gup_put_folio() on every page of a GUP result: the one path unpin, put and the long-term retry
 * share. Returns how many were the shared zero page, which NR_FOLL_PIN_RELEASED does not count
 * (gup_put_folio returns early for is_zero_folio). The folio rows were kept at the grab, so a
 * folio's page needs no memmap lookup (unpinning is benchmarked against io_uring's
 * unregistration); the pages that are not folios, if any, follow in a pass of their own.
 */
export function releaseAll(k: Kernel, mm: Mm, start: number, got: Frames, pin: boolean): number {
  const { pfns, rows } = got;
  let folios = 0;
  if (pin) folios = k.pins.unpinAll(k.folios, rows, pfns, mm, start);
  else {
    const { putRow } = k.folios;
    for (let i = 0; i < rows.length; i++)
      if (rows[i] >= 0) {
        putRow.call(k.folios, rows[i]);
        folios++;
      }
  }
  return folios === rows.length ? 0 : releaseNonFolios(k, got, pin);
}

/** The pages of a GUP result that are not folios: vmalloc pages, and the zero pages. */
function releaseNonFolios(k: Kernel, { pfns, rows }: Frames, pin: boolean): number {
  const { zeroPfn } = k.pa;
  let zero = 0;
  for (let i = 0; i < rows.length; i++) {
    if (rows[i] >= 0) continue;
    const pfn = pfns[i];
    if (k.vmalloc.isPage(pfn)) {
      if (pin) k.vmalloc.unpin(pfn);
      else k.vmalloc.put(pfn);
    } else {
      // Pins and references on the zero pages were never taken as folio references.
      if (pfn === zeroPfn) zero++;
      if (!pin) k.zeroPageRefs--;
    }
  }
  return zero;
}

function liveHandle(k: Kernel, id: number, pin: boolean): GupHandle {
  const h = k.gup.get(id);
  if (!h || h.released)
    throw new KernelBug(`GUP handle ${id} was already released or never existed`, {
      rule: 'unpin_user_pages: double release',
    });
  if (h.pin !== pin) {
    const pfn = h.pfns[0];
    throw new KernelBug(
      pin
        ? 'unpin_user_page on a FOLL_GET reference'
        : 'put_page on a FOLL_PIN pin (1 versus 1024: the accounting breaks)',
      {
        pfn,
        rule: pin
          ? 'unpin_user_pages: page was not pinned'
          : 'unpin_user_page: pins must not be released with put_page',
      },
    );
  }
  return h;
}

/**
 * unpin_user_pages() / unpin_user_pages_dirty_lock(): with `dirty`, each folio not already
 * dirty is marked dirty first, dispatched by what owns it; then every pin is dropped.
 */
export function unpinUserPages(k: Kernel, id: number, dirty: boolean): void {
  const h = liveHandle(k, id, true);
  if (dirty) dirtyPinned(k, h);
  const zero = releaseAll(k, h.mm, h.start, h, true);
  k.stat.events.foll_pin_released += h.pfns.length - zero;
  h.released = true;
  k.gup.delete(id);
  if (k.stat.tracing) k.stat.emit({ type: 'unpin', mm: h.mm.id, addr: h.start, pages: h.pfns.length, dirty });
}

/**
 * The set_page_dirty_lock() half of unpin_user_pages_dirty_lock(): each page's folio as the
 * pfn_lookup design finds it (the memmap, or the VMA the walk kept); a page it cannot place is
 * left clean (counted in lookup_gup_unhandled by the design). Zero pages and vmalloc pages have
 * no folio to dirty.
 */
function dirtyPinned(k: Kernel, h: GupHandle): void {
  const { pa } = k;
  for (let i = 0; i < h.pfns.length; i++) {
    const pfn = h.pfns[i];
    if (pa.isZeroPfn(pfn) || k.vmalloc.isPage(pfn)) continue;
    const row = k.pfnLookup.gupDirtyFolio(k, h.mm, h.vmas, h.start + i * PAGE_SIZE, pfn);
    if (row >= 0) folioMarkDirty(k, row);
  }
}

/** put_page() on every reference a FOLL_GET call took. */
export function putUserPages(k: Kernel, id: number): void {
  const h = liveHandle(k, id, false);
  releaseAll(k, h.mm, h.start, h, false);
  h.released = true;
  k.gup.delete(id);
  if (k.stat.tracing) k.stat.emit({ type: 'put', mm: h.mm.id, addr: h.start, pages: h.pfns.length });
}

/** The frames a live handle holds (for DMA). */
export function gupFrames(k: Kernel, id: number): GupHandle {
  const h = k.gup.get(id);
  if (!h || h.released)
    throw new KernelBug(`DMA through GUP handle ${id}, which was released`, {
      rule: 'DMA after unpin: use after free',
    });
  return h;
}
