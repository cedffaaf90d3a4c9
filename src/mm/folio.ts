/**
 * Folio descriptors: refcount, mapcounts, pincount, flags, mapping/index, per-page exclusivity.
 *
 * Models: struct folio (include/linux/mm_types.h), its flags (page-flags.ts),
 * folio_get/folio_put and the refcount rules (include/linux/mm.h, page_ref.h), folio_alloc /
 * alloc_pages / __free_pages (mm/page_alloc.c, mm/mempolicy.c), folio_maybe_dma_pinned.
 *
 * Counters are stored raw as the kernel keeps them (_mapcount, _large_mapcount and
 * _entire_mapcount start at -1) and read through helpers that return the logical value. Large
 * folios also get an extension row and a per-page slice of an arena (folio_large.ts), because
 * under memdescs per-page state lives in the descriptor, not in a per-page struct. Leaves out:
 * memcg charging, LRU lists (PG_lru is a flag only), the deferred-split queue.
 */

import { LargeFolioRows, NO_LARGE } from './folio_large.js';
import {
  FOLIO_TYPES as FOLIO_TYPES_IMPORT,
  INT32_FRAMES as INT32_FRAMES_IMPORT,
  isFolioType as isFolioType_IMPORT,
  type MemType,
  MT as MT_IMPORT,
  mdType as mdType_IMPORT,
  mdWord as mdWord_IMPORT,
} from './memdesc.js';
import type { PageAlloc } from './page_alloc.js';
import { PG as PG_IMPORT } from './page-flags.js';
import {
  freeFrozenPage0 as freeFrozenPage0_IMPORT,
  freeFrozenPages as freeFrozenPages_IMPORT,
  rmqueuePcpOrder0 as rmqueuePcpOrder0_IMPORT,
} from './pcp.js';
import { GEN_LIMIT, grown, NULL_HANDLE } from './pool.js';
import { KernelBug, KernelError } from './types.js';
import type { VmStat } from './vmstat.js';

// Imports the hot paths read, as this module's own consts (why: docs/architecture.md).
const FOLIO_TYPES = FOLIO_TYPES_IMPORT;
const isFolioType = isFolioType_IMPORT;
const INT32_FRAMES = INT32_FRAMES_IMPORT;
const MT = MT_IMPORT;
const mdType = mdType_IMPORT;
const mdWord = mdWord_IMPORT;
const PG = PG_IMPORT;
const freeFrozenPages = freeFrozenPages_IMPORT;
const rmqueuePcpOrder0 = rmqueuePcpOrder0_IMPORT;
const freeFrozenPage0 = freeFrozenPage0_IMPORT;

export { type PageFlag, PG } from './page-flags.js';

/** GUP_PIN_COUNTING_BIAS (include/linux/mm.h): small folios count a pin as 1024 references. */
export const GUP_PIN_COUNTING_BIAS = 1024;

/** Out of line, so folio_alloc's path stays small enough to inline. */
function notFolioType(kind: number): never {
  throw new KernelBug(`memory type ${kind} is not a folio type`, { rule: 'folio_alloc' });
}

/** The pool of folio descriptors: generation-checked handles; `row` is what each frame's memdesc word holds. */
export class FolioPool extends LargeFolioRows {
  pfn = new Float64Array(64);
  order = new Uint8Array(64);
  kind = new Uint8Array(64);
  /** _refcount. */
  refcount = new Int32Array(64);
  /** Small folios: _mapcount; large folios: _large_mapcount. Raw, -1 based. */
  mapcount = new Int32Array(64);
  flags = new Uint32Array(64);
  /** address_space or anon_vma id (0 = NULL), resolved by the owning subsystem. */
  mapping = new Int32Array(64);
  index = new Float64Array(64);
  /** Called with the frames of every freed folio (the content store forgets them). */
  onFree: ((pfn: number, order: number) => void) | null = null;
  /** Frees a folio holding a poisoned page its own way (memory-failure.ts); true when it did. */
  onPoisonedFree: ((row: number) => boolean) | null = null;

  constructor(
    private readonly pa: PageAlloc,
    private readonly stat: VmStat,
  ) {
    super('folio');
  }

  protected override growFields(n: number): void {
    this.pfn = grown(this.pfn, n);
    this.order = grown(this.order, n);
    this.kind = grown(this.kind, n);
    this.refcount = grown(this.refcount, n);
    this.mapcount = grown(this.mapcount, n);
    this.flags = grown(this.flags, n);
    this.mapping = grown(this.mapping, n);
    this.index = grown(this.index, n);
    super.growFields(n);
  }

  hostBytes(): number {
    const rows = [this.pfn, this.order, this.kind, this.refcount, this.mapcount, this.flags, this.mapping];
    const own = [...rows, this.index].reduce((n, a) => n + a.byteLength, 0);
    return this.baseHostBytes() + own + this.largeHostBytes();
  }

  // ---------------------------------------------------------------- allocation

  /**
   * folio_alloc() / alloc_pages(): take 2^order frames and describe them with one descriptor of
   * the given kind. Throws ENOMEM (KernelError) when memory is exhausted; nothing changes then.
   */
  alloc(gfp: number, order: number, kind: MemType, nid = 0): number {
    return this.handleOf(this.allocRowOf(gfp, order, kind, nid));
  }

  /**
   * alloc() returning the descriptor's row, not a handle: for alloc_pages(), whose caller wants
   * the frame (a handle is a double beyond int32, which costs a heap number to return).
   */
  allocRowOf(gfp: number, order: number, kind: MemType, nid = 0): number {
    if (!isFolioType(kind)) notFolioType(kind);
    if (order === 0) {
      const pfn = rmqueuePcpOrder0(this.pa, gfp, nid);
      if (pfn >= 0) return this.installSmallRow(pfn, kind);
    }
    return this.installRow(this.pa.rmqueue(order, gfp, nid), order, kind);
  }

  /** Describe 2^order frames the caller took off the free lists (compaction's target, migrate.ts). */
  install(pfn: number, order: number, kind: MemType): number {
    return this.handleOf(this.installRow(pfn, order, kind));
  }

  /** installRow() of an order-0 folio, in one piece (the allocation fast path). */
  private installSmallRow(pfn: number, kind: MemType): number {
    // allocRow(), inline when a freed row is there to reuse (the steady state).
    let row: number;
    if (this.freeTop > 0) {
      row = this.freeStack[--this.freeTop];
      this.liveRow[row] = 1;
      this.live++;
      this.touched.add(row);
    } else row = this.allocRow();
    this.pfn[row] = pfn;
    this.order[row] = 0;
    this.kind[row] = kind;
    this.refcount[row] = 1;
    this.mapcount[row] = -1;
    this.flags[row] = 0;
    this.mapping[row] = 0;
    this.index[row] = 0;
    this.large[row] = NO_LARGE;
    // mdWord(kind, 0, 0) is the type alone.
    if (pfn < INT32_FRAMES) this.pa.memmap.setInt(pfn | 0, kind, row);
    else this.pa.memmap.set(pfn, kind, row);
    const byType = this.stat.pagesByType;
    byType[MT.BUDDY]--;
    byType[kind]++;
    this.stat.events.folio_alloc++;
    if (this.stat.tracing) this.stat.traceAlloc(pfn, 0, kind);
    return row;
  }

  private installRow(pfn: number, order: number, kind: MemType): number {
    const row = this.allocRow();
    this.pfn[row] = pfn;
    this.order[row] = order;
    this.kind[row] = kind;
    this.refcount[row] = 1;
    this.mapcount[row] = -1;
    this.flags[row] = order > 0 ? PG.head : 0;
    this.mapping[row] = 0;
    this.index[row] = 0;
    this.large[row] = order > 0 ? this.allocLarge(order) : NO_LARGE;
    this.pa.memmap.setRange(pfn, 1 << order, mdWord(kind, order), row);
    this.stat.retype(MT.BUDDY, kind, 1 << order);
    this.stat.events.folio_alloc++;
    if (this.stat.tracing) this.stat.traceAlloc(pfn, order, kind);
    return row;
  }

  /**
   * A descriptor for a frame the buddy allocator does not own: one page of ZONE_DEVICE memory
   * (memmap_init_zone_device, mm/mm_init.c). Its memdesc lives with the device's pagemap
   * (src/mm/memremap.ts), not in the RAM memmap, and the page counters do not change: device
   * frames are not RAM. Starts with refcount 1, the pagemap's own reference.
   */
  adopt(pfn: number, kind: MemType): number {
    const row = this.allocRow();
    this.pfn[row] = pfn;
    this.order[row] = 0;
    this.kind[row] = kind;
    this.refcount[row] = 1;
    this.mapcount[row] = -1;
    this.flags[row] = 0;
    this.mapping[row] = 0;
    this.index[row] = 0;
    this.large[row] = NO_LARGE;
    return row;
  }

  /** Drop an adopted descriptor again (its pagemap reclaims or unplugs it); the frame stays put. */
  release(row: number): void {
    this.refcount[row] = 0;
    this.freeRow(row);
  }

  /**
   * free() of an order-0 folio: the fast path, a function of its own so that what the compiler
   * learns from large folios' frees does not weigh on it.
   */
  private freeSmall(row: number): void {
    const pfn = this.pfn[row];
    if (this.flags[row] & (PG.hwpoison | PG.has_hwpoisoned) || this.onFree !== null) {
      this.free(row);
      return;
    }
    const byType = this.stat.pagesByType;
    byType[this.kind[row]]--;
    byType[MT.BUDDY]++;
    // freeRow(), inline.
    this.freedPfn[row] = pfn;
    this.liveRow[row] = 0;
    this.touched.add(row);
    const g = this.gen[row] + 1;
    this.gen[row] = g < GEN_LIMIT ? g : 1;
    this.freeStack[this.freeTop++] = row;
    this.live--;
    freeFrozenPage0(this.pa, pfn);
    this.stat.events.folio_free++;
    if (this.stat.tracing) this.stat.traceFree(pfn, 0);
  }

  /** Release the descriptor and give the frames back to the buddy allocator (free_frozen_pages). */
  private free(row: number): void {
    const pfn = this.pfn[row];
    const order = this.order[row];
    // free_pages_prepare(): a poisoned page never goes back to the buddy allocator.
    if (this.flags[row] & (PG.hwpoison | PG.has_hwpoisoned) && this.onPoisonedFree?.(row)) return;
    if (this.large[row] !== NO_LARGE) this.releaseLarge(row, order);
    this.stat.retype(this.kind[row], MT.BUDDY, 1 << order);
    this.freeRow(row);
    if (this.onFree !== null) this.onFree(pfn, order);
    freeFrozenPages(this.pa, pfn, order);
    this.stat.events.folio_free++;
    if (this.stat.tracing) this.stat.traceFree(pfn, order);
  }

  /**
   * Free a folio one of whose pages is poisoned: the descriptor goes, each poisoned frame is typed
   * HWPOISON and kept out of the allocator for good, the others go back page by page.
   */
  freePoisoned(row: number, poisoned: (pfn: number) => boolean): void {
    const pfn = this.pfn[row];
    const order = this.order[row];
    this.releaseLarge(row, order);
    const kind = this.kind[row];
    this.freeRow(row);
    this.onFree?.(pfn, order);
    for (let p = pfn; p < pfn + (1 << order); p++) {
      if (poisoned(p)) {
        this.pa.memmap.set(p, mdWord(MT.HWPOISON), 0);
        this.stat.retype(kind, MT.HWPOISON, 1);
      } else {
        this.stat.retype(kind, MT.BUDDY, 1);
        this.pa.freeBlock(p, 0);
      }
    }
    this.stat.events.folio_free++;
  }

  /**
   * __split_folio_to_order() down to order 0: each page of a large folio gets a descriptor of its
   * own (page 0 keeps `row`), carrying its own mapcount, anon-exclusive bit, flags, mapping and
   * index; the extension row and per-page arena go back. Refcounts are left at 0 for the caller
   * (split_folio) to set. Returns the rows in page order.
   */
  splitToSmall(row: number): number[] {
    const pfn = this.pfn[row];
    const n = this.nrPages(row);
    const base = this.pageBase[this.large[row]];
    const largeOnly = PG.head | PG.anon_exclusive | PG.has_hwpoisoned | PG.large_rmappable;
    const keep = this.flags[row] & ~(largeOnly | PG.partially_mapped);
    const rows: number[] = [];
    for (let i = 0; i < n; i++) {
      const r = i === 0 ? row : this.allocRow();
      this.pfn[r] = pfn + i;
      this.kind[r] = this.kind[row];
      this.refcount[r] = 0;
      this.mapcount[r] = this.pageMapcount[base + i];
      this.flags[r] = keep | (this.pageFlags[base + i] ? PG.anon_exclusive : 0);
      this.mapping[r] = this.mapping[row];
      this.index[r] = this.index[row] + i;
      rows.push(r);
    }
    this.releaseLarge(row, this.order[row]);
    for (const r of rows) {
      this.order[r] = 0;
      this.large[r] = NO_LARGE;
      this.pa.memmap.set(this.pfn[r], mdWord(this.kind[r] as MemType, 0), r);
    }
    return rows;
  }

  // ---------------------------------------------------------------- references

  /** folio_get(): take a reference. A folio with no references cannot be revived. */
  get(h: number): void {
    const row = this.row(h);
    if (this.refcount[row] <= 0) {
      throw new KernelBug('folio_get on a folio with refcount 0', {
        pfn: this.pfn[row],
        rule: 'folio_get: refcount > 0',
      });
    }
    this.refcount[row]++;
  }

  /** folio_ref_add(): take `n` references at once (GUP pins on small folios add 1024). */
  refAdd(h: number, n: number): void {
    const row = this.row(h);
    const pfn = this.pfn[row];
    if (!Number.isInteger(n) || n <= 0)
      throw new KernelBug(`folio_ref_add of ${n} references`, {
        pfn,
        rule: 'folio_ref_add: a positive count',
      });
    if (this.refcount[row] <= 0) {
      throw new KernelBug('reference taken on a free folio', { pfn, rule: 'try_grab_folio: refcount > 0' });
    }
    // The refcount is a signed 32-bit counter: the kernel refuses a grab that would overflow it.
    if (this.refcount[row] + n > 0x7fffffff)
      throw new KernelError('ENOMEM', `refcount of folio 0x${pfn.toString(16)} would overflow`);
    this.refcount[row] += n;
  }

  /**
   * folio_put() / folio_put_refs(): drop `n` references; at zero the folio is freed. Dropping more
   * references than are held is a KernelBug and changes nothing. A folio still mapped or pinned
   * when its last reference goes is "Bad page state" (free_page_is_bad) and is refused too.
   */
  put(h: number, n = 1): void {
    this.putRow(this.row(h), n);
  }

  /** folio_put() on a row the caller knows is live (a mapping or the page cache holds it). */
  putRow(row: number, n = 1): void {
    this.touched.add(row);
    const left = this.refcount[row] - n;
    if (left > 0 && n > 0 && Number.isInteger(n)) {
      this.refcount[row] = left;
      return;
    }
    // The last reference of a small unmapped folio needs no more looking at; anything else (a bad
    // count, a large, mapped or device folio) is checked out of line, which keeps this path small
    // enough for the compiler to inline into its callers.
    if (
      left !== 0 ||
      this.mapcount[row] !== -1 ||
      this.large[row] !== NO_LARGE ||
      this.kind[row] === MT.DEVICE ||
      !(n > 0 && Number.isInteger(n))
    )
      this.checkPut(row, n);
    this.refcount[row] = 0;
    if (this.order[row] === 0) this.freeSmall(row);
    else this.free(row);
  }

  /**
   * Throws if dropping `n` references of `row` is a bad put; returns when it frees a folio that may
   * be freed (a large one with no pins, say).
   */
  private checkPut(row: number, n: number): void {
    const ref = this.refcount[row];
    const pfn = this.pfn[row];
    if (!Number.isInteger(n) || n <= 0)
      throw new KernelBug(`folio_put of ${n} references`, { pfn, rule: 'folio_put_refs: a positive count' });
    if (ref - n < 0)
      throw new KernelBug(`folio_put: refcount ${ref} would go negative`, {
        pfn,
        rule: 'put_page on a zero refcount',
      });
    if (this.mapcountOf(row) > 0)
      throw new KernelBug('freeing a mapped folio', { pfn, rule: 'free_page_is_bad: page still mapped' });
    const lg = this.large[row];
    if (lg !== NO_LARGE && this.pincount[lg] !== 0) {
      throw new KernelBug('freeing a pinned folio', {
        pfn,
        rule: 'free_tail_page_prepare: nonzero pincount',
      });
    }
    if (this.kind[row] === MT.DEVICE)
      throw new KernelBug('device page lost the reference its pagemap holds', {
        pfn,
        rule: 'free_zone_device_folio: pgmap reference',
      });
  }

  /**
   * folio_put() for an mmu_gather batch (mmu_gather.ts): an order-0 folio whose last reference
   * this is loses its descriptor here, and its frame, returned, is left for the caller to free
   * with the rest of the batch. Every other folio is put as putRow() does; -1 is returned then.
   */
  putRowDeferFree(row: number): number {
    if (
      this.refcount[row] !== 1 ||
      this.large[row] !== NO_LARGE ||
      this.mapcount[row] !== -1 ||
      this.kind[row] === MT.DEVICE ||
      this.flags[row] & PG.hwpoison
    ) {
      this.putRow(row);
      return -1;
    }
    const pfn = this.pfn[row];
    this.refcount[row] = 0;
    this.stat.retype(this.kind[row], MT.BUDDY, 1);
    this.freeRow(row);
    this.onFree?.(pfn, 0);
    this.stat.events.folio_free++;
    if (this.stat.tracing) this.stat.traceFree(pfn, 0);
    return pfn;
  }

  // ---------------------------------------------------------------- lookups

  /** page_folio(): the folio a frame belongs to, or NULL_HANDLE if the frame is not in a folio. */
  pageFolio(pfn: number): number {
    const lo = this.pa.memmap.lo(pfn);
    if (!FOLIO_TYPES.has(mdType(lo))) return NULL_HANDLE;
    return this.handleOf(this.pa.memmap.hi(pfn));
  }

  /** The folio row of a frame; -1 when the frame is not in a folio. */
  pageRow(pfn: number): number {
    return this.pa.memmap.folioRow(pfn);
  }

  nrPages(row: number): number {
    return 1 << this.order[row];
  }

  /** folio_mapcount(): logical mappings of the whole folio. */
  mapcountOf(row: number): number {
    return this.mapcount[row] + 1;
  }

  /** page_mapcount(): mappings of one page (its own PTEs plus PMD mappings of its folio). */
  pageMapcountOf(row: number, pfn: number): number {
    if (!this.isLarge(row)) return this.mapcount[row] + 1;
    return this.pageMapcount[this.pageSlot(row, pfn)] + 1 + this.entireMapcountOf(row);
  }

  /** PageAnonExclusive(). */
  pageAnonExclusive(row: number, pfn: number): boolean {
    if (!this.isLarge(row)) return (this.flags[row] & PG.anon_exclusive) !== 0;
    return this.pageFlags[this.pageSlot(row, pfn)] !== 0;
  }

  setPageAnonExclusive(row: number, pfn: number, on: boolean): void {
    if (!this.isLarge(row)) {
      if (on) this.flags[row] |= PG.anon_exclusive;
      else this.flags[row] &= ~PG.anon_exclusive;
      return;
    }
    this.pageFlags[this.pageSlot(row, pfn)] = on ? 1 : 0;
  }

  testFlag(row: number, flag: number): boolean {
    return (this.flags[row] & flag) !== 0;
  }

  setFlag(row: number, flag: number): void {
    this.flags[row] |= flag;
  }

  clearFlag(row: number, flag: number): void {
    this.flags[row] &= ~flag;
  }

  /**
   * Move every count, flag and per-page bit of folio `from` to the fresh folio `to` of the same
   * order and kind (folio_migrate_flags + the rmap/refcount transfer of migration). `from` is left
   * unmapped and unowned, holding only its references for the caller to drop.
   */
  moveState(from: number, to: number): void {
    this.refcount[to] = this.refcount[from];
    this.mapcount[to] = this.mapcount[from];
    this.flags[to] = this.flags[from];
    this.mapping[to] = this.mapping[from];
    this.index[to] = this.index[from];
    this.mapcount[from] = -1;
    this.flags[from] &= PG.head;
    this.mapping[from] = 0;
    this.moveLarge(from, to, this.nrPages(from));
  }
}
