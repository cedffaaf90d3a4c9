/**
 * Typed ids: the integer handles the Machine hands out, branded by what they name, so a folio
 * handle cannot be passed where a page-table handle or a pfn is meant without the compiler
 * noticing. Types only: at run time each is the plain number the model uses (`row + generation
 * * 2^32` for pooled descriptors, a sequence number for GUP handles), so no hot path pays.
 * In text they read `folio#row.generation` (formatId), not as the 10-digit number.
 */
import { formatHandle } from '../mm/pool.js';

declare const brand: unique symbol;
export type Branded<K extends string> = number & { readonly [brand]: K };

/** A folio handle (folio_alloc, page_folio); 0 is "no folio". */
export type FolioId = Branded<'FolioId'>;
/** A page-table page's ptdesc handle (pagetable_alloc). */
export type PtdescId = Branded<'PtdescId'>;
/** What get_user_pages()/pin_user_pages() returned: the handle to unpin, put or DMA through. */
export type PinHandle = Branded<'PinHandle'>;
/** A memremap_pages() range of device memory (its dev_pagemap). */
export type PagemapId = Branded<'PagemapId'>;

/** `folio#3.1`: a pooled handle as users read it (the pool's name, row and generation). */
export function formatId(kind: 'folio' | 'ptdesc', h: FolioId | PtdescId | number): string {
  return `${kind}${formatHandle(h)}`;
}
