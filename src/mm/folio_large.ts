/**
 * What only a large folio has: its extension row and its slice of the per-page arena.
 *
 * Models: the fields struct folio keeps in its first tail pages (include/linux/mm_types.h:
 * _entire_mapcount, _nr_pages_mapped, _pincount, _mm_id[2] and _mm_id_mapcount[2]) and, under
 * memdescs, the per-page state that leaves struct page for the descriptor (each page's _mapcount
 * and PG_anon_exclusive). A small folio has neither: its `large` is NO_LARGE, and its one mapcount
 * and flags live in the folio row itself (folio.ts). Counters are raw, -1 based, as the kernel
 * keeps them.
 */
import { grown, HandlePool } from './pool.js';
import { MAX_PAGE_ORDER } from './types.js';

/** `large[row]` of a small folio. */
export const NO_LARGE = -1;

/** The large-folio half of the folio pool (FolioPool extends it). */
export abstract class LargeFolioRows extends HandlePool {
  /** Each row's extension row, or NO_LARGE. */
  large = new Int32Array(64);
  private lgUsed = 0;
  private lgFree: number[] = [];
  entireMapcount = new Int32Array(16);
  nrPagesMapped = new Int32Array(16);
  pincount = new Int32Array(16);
  /** _mm_id[0..1] and their mapcounts; bit "maybe shared by more than one MM". */
  mmId = new Int32Array(32);
  mmIdMapcount = new Int32Array(32);
  mmShared = new Uint8Array(16);
  /** First arena slot of each extension row's pages. */
  pageBase = new Int32Array(16);
  // The per-page arena: raw per-page _mapcount and PG_anon_exclusive (1 = set).
  pageMapcount = new Int32Array(1024);
  pageFlags = new Uint8Array(1024);
  private arenaUsed = 0;
  private readonly arenaFree: number[][] = Array.from({ length: MAX_PAGE_ORDER + 1 }, () => []);

  protected growFields(n: number): void {
    this.large = grown(this.large, n);
  }

  protected largeHostBytes(): number {
    const perPage = this.pageMapcount.byteLength + this.pageFlags.byteLength + this.mmShared.byteLength;
    return this.large.byteLength + this.entireMapcount.byteLength * 5 + this.mmId.byteLength * 2 + perPage;
  }

  /** An extension row and 2^order arena slots for a new large folio, all counters reset. */
  protected allocLarge(order: number): number {
    const lg = this.lgFree.length > 0 ? this.lgFree.pop()! : this.lgUsed++;
    if (lg >= this.pincount.length) {
      const n = this.pincount.length * 2;
      this.entireMapcount = grown(this.entireMapcount, n);
      this.nrPagesMapped = grown(this.nrPagesMapped, n);
      this.pincount = grown(this.pincount, n);
      this.mmId = grown(this.mmId, n * 2);
      this.mmIdMapcount = grown(this.mmIdMapcount, n * 2);
      this.mmShared = grown(this.mmShared, n);
      this.pageBase = grown(this.pageBase, n);
    }
    this.entireMapcount[lg] = -1;
    this.nrPagesMapped[lg] = 0;
    this.pincount[lg] = 0;
    this.mmId[lg * 2] = 0;
    this.mmId[lg * 2 + 1] = 0;
    this.mmIdMapcount[lg * 2] = -1;
    this.mmIdMapcount[lg * 2 + 1] = -1;
    this.mmShared[lg] = 0;
    const base = this.allocArena(order);
    this.pageBase[lg] = base;
    this.pageMapcount.fill(-1, base, base + (1 << order));
    this.pageFlags.fill(0, base, base + (1 << order));
    return lg;
  }

  private allocArena(order: number): number {
    const free = this.arenaFree[order];
    if (free.length > 0) return free.pop()!;
    const n = 1 << order;
    const base = this.arenaUsed;
    this.arenaUsed += n;
    if (this.arenaUsed > this.pageMapcount.length) {
      const cap = Math.max(this.arenaUsed, this.pageMapcount.length * 2);
      this.pageMapcount = grown(this.pageMapcount, cap);
      this.pageFlags = grown(this.pageFlags, cap);
    }
    return base;
  }

  /** A large folio's extension row and arena slots go back to their free lists. */
  protected releaseLarge(row: number, order: number): void {
    const lg = this.large[row];
    if (lg === NO_LARGE) return;
    this.arenaFree[order].push(this.pageBase[lg]);
    this.lgFree.push(lg);
  }

  /**
   * Migration's transfer of the extension state of a large folio (`from`) to its new one of the
   * same order (`to`); `from` keeps reset counters. Nothing to do for small folios.
   */
  protected moveLarge(from: number, to: number, n: number): void {
    const a = this.large[from];
    const b = this.large[to];
    if (a === NO_LARGE) return;
    this.entireMapcount[b] = this.entireMapcount[a];
    this.nrPagesMapped[b] = this.nrPagesMapped[a];
    this.pincount[b] = this.pincount[a];
    this.mmId.copyWithin(b * 2, a * 2, a * 2 + 2);
    this.mmIdMapcount.copyWithin(b * 2, a * 2, a * 2 + 2);
    this.mmShared[b] = this.mmShared[a];
    this.pageMapcount.copyWithin(this.pageBase[b], this.pageBase[a], this.pageBase[a] + n);
    this.pageFlags.copyWithin(this.pageBase[b], this.pageBase[a], this.pageBase[a] + n);
    this.entireMapcount[a] = -1;
    this.nrPagesMapped[a] = 0;
    this.pincount[a] = 0;
    this.pageMapcount.fill(-1, this.pageBase[a], this.pageBase[a] + n);
  }

  isLarge(row: number): boolean {
    return this.large[row] !== NO_LARGE;
  }

  /** folio_entire_mapcount(): PMD mappings of a large folio (0 for small ones). */
  entireMapcountOf(row: number): number {
    const lg = this.large[row];
    return lg === NO_LARGE ? 0 : this.entireMapcount[lg] + 1;
  }

  /** folio->_pincount (large folios only; small folios have none: 0). */
  pincountOf(row: number): number {
    const lg = this.large[row];
    return lg === NO_LARGE ? 0 : this.pincount[lg];
  }

  /** Index of `pfn` in the per-page arena of a large folio. */
  protected pageSlot(row: number, pfn: number): number {
    return this.pageBase[this.large[row]] + (pfn - this.pfn[row]);
  }

  /** Adjust one page's own (PTE) mapcount of a large folio; small folios use `mapcount`. */
  addPageMapcount(row: number, pfn: number, delta: number): void {
    this.pageMapcount[this.pageSlot(row, pfn)] += delta;
  }
}
