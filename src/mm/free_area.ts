/**
 * The buddy allocator's free lists: doubly linked lists per (zone, order, migratetype) whose links
 * live in a typed-array pool of "buddy block" rows — the memdesc plan's inline `struct buddy`.
 *
 * Models: mm/page_alloc.c add_to_free_list / add_to_free_list_tail / del_page_from_free_list and
 * set_buddy_order / __ClearPageBuddy, over include/linux/mmzone.h's free_area.
 *
 * A free block's head frame carries type BUDDY, its order, its migratetype and its row. Max-order
 * blocks always use the row equal to their block index, so a section that is entirely free needs
 * no memmap at all: it is linked at boot by index and its memmap is populated only when something
 * is carved from it. Smaller blocks take a dynamic row, recycled through a free stack.
 */
import { type MemMap, MT as MT_IMPORT, mdWord as mdWord_IMPORT } from './memdesc.js';
import {
  listIndex as listIndex_IMPORT,
  MAX_BLOCK as MAX_BLOCK_IMPORT,
  NIL as NIL_IMPORT,
  type Zone,
} from './mmzone.js';
import { grown } from './pool.js';
import { MAX_PAGE_ORDER as MAX_PAGE_ORDER_IMPORT } from './types.js';

// Imports the hot paths read, as this module's own consts (why: docs/architecture.md).
const MT = MT_IMPORT;
const mdWord = mdWord_IMPORT;
const listIndex = listIndex_IMPORT;
const MAX_BLOCK = MAX_BLOCK_IMPORT;
const NIL = NIL_IMPORT;
const MAX_PAGE_ORDER = MAX_PAGE_ORDER_IMPORT;

export class FreeArea {
  /** Rows [0, nrMaxBlocks) belong to max-order blocks by index; the rest are dynamic. */
  readonly nrMaxBlocks: number;
  /** The row links, and the list index each row is on (-1: on none). */
  next: Int32Array;
  prev: Int32Array;
  private rowList: Int16Array;
  private dynPfn: Float64Array;
  private dynFree: Int32Array;
  private dynFreeTop = 0;
  private dynUsed = 0;

  constructor(
    private readonly memmap: MemMap,
    maxPfn: number,
  ) {
    this.nrMaxBlocks = maxPfn / MAX_BLOCK;
    const cap = this.nrMaxBlocks + 1024;
    this.next = new Int32Array(cap);
    this.prev = new Int32Array(cap);
    this.rowList = new Int16Array(cap).fill(-1);
    this.dynPfn = new Float64Array(1024);
    this.dynFree = new Int32Array(1024);
  }

  /** The row of the free block of `order` whose head is `pfn` (read from its memdesc word). */
  rowOf(pfn: number, order: number): number {
    return order === MAX_PAGE_ORDER ? pfn / MAX_BLOCK : this.memmap.hi(pfn);
  }

  /** The head pfn of the free block on `row`. */
  rowPfn(row: number): number {
    return row < this.nrMaxBlocks ? row * MAX_BLOCK : this.dynPfn[row - this.nrMaxBlocks];
  }

  private allocDynRow(pfn: number): number {
    let d: number;
    if (this.dynFreeTop > 0) d = this.dynFree[--this.dynFreeTop];
    else {
      d = this.dynUsed++;
      if (d >= this.dynPfn.length) {
        const n = this.dynPfn.length * 2;
        this.dynPfn = grown(this.dynPfn, n);
        this.dynFree = grown(this.dynFree, n);
      }
      if (this.nrMaxBlocks + d >= this.next.length) {
        const n = this.nrMaxBlocks + this.dynPfn.length;
        this.next = grown(this.next, n);
        this.prev = grown(this.prev, n);
        this.rowList = grown(this.rowList, n);
      }
    }
    this.dynPfn[d] = pfn;
    return this.nrMaxBlocks + d;
  }

  /** Give a dynamic row back (max-order rows are fixed). */
  freeDynRow(row: number): void {
    if (row >= this.nrMaxBlocks) this.dynFree[this.dynFreeTop++] = row - this.nrMaxBlocks;
  }

  listAddHead(z: Zone, row: number, li: number): void {
    const h = z.head[li];
    this.next[row] = h;
    this.prev[row] = NIL;
    if (h === NIL) z.tail[li] = row;
    else this.prev[h] = row;
    z.head[li] = row;
    this.rowList[row] = li;
    z.nrFree[li]++;
  }

  listAddTail(z: Zone, row: number, li: number): void {
    const t = z.tail[li];
    this.prev[row] = t;
    this.next[row] = NIL;
    if (t === NIL) z.head[li] = row;
    else this.next[t] = row;
    z.tail[li] = row;
    this.rowList[row] = li;
    z.nrFree[li]++;
  }

  listDel(z: Zone, row: number): void {
    const li = this.rowList[row];
    const n = this.next[row];
    const p = this.prev[row];
    if (p === NIL) z.head[li] = n;
    else this.next[p] = n;
    if (n === NIL) z.tail[li] = p;
    else this.prev[n] = p;
    this.rowList[row] = -1;
    z.nrFree[li]--;
  }

  /** Put a free block on its list and mark its head frame (set_buddy_order + add_to_free_list). */
  insertFree(z: Zone, pfn: number, order: number, mt: number, tail: boolean): void {
    const row = order === MAX_PAGE_ORDER ? pfn / MAX_BLOCK : this.allocDynRow(pfn);
    this.memmap.set(pfn, mdWord(MT.BUDDY, order, mt), row);
    if (tail) this.listAddTail(z, row, listIndex(order, mt));
    else this.listAddHead(z, row, listIndex(order, mt));
  }

  /** Take a free block off its list; its head frame stops being PageBuddy. */
  removeFree(z: Zone, pfn: number, order: number): void {
    const row = this.rowOf(pfn, order);
    this.listDel(z, row);
    this.freeDynRow(row);
    this.memmap.setIfPopulated(pfn, MT.NONE, 0);
  }

  /** Walk one free list (for invariants and /proc/pagetypeinfo): yields head pfns. */
  *freeList(z: Zone, order: number, mt: number): Generator<number> {
    for (let row = z.head[listIndex(order, mt)]; row !== NIL; row = this.next[row]) yield this.rowPfn(row);
  }

  /** Host bytes of the row pool. */
  hostBytes(): number {
    return (
      this.next.byteLength +
      this.prev.byteLength +
      this.rowList.byteLength +
      this.dynPfn.byteLength +
      this.dynFree.byteLength
    );
  }
}
