/**
 * Page-table pages: ptdesc descriptors and their 512-entry tables.
 *
 * Models: struct ptdesc (include/linux/mm_types.h), pagetable_alloc / pagetable_free and the
 * pagetable_*_ctor/dtor accounting (include/linux/mm.h, NR_PAGETABLE). Each ptdesc row owns one
 * 512-entry block of a shared Float64Array: the table's entries are exactly what the hardware
 * page would hold (8 bytes each), so a table costs 4 KiB of host memory like the page it models.
 * The walk, PTE encoding and the levels' use come with the virtual-memory layer.
 * Leaves out: split page-table locks (the model is single-threaded), PMD sharing for hugetlb.
 */
import { MT, mdWord } from './memdesc.js';
import { GFP_KERNEL, type PageAlloc } from './page_alloc.js';
import { grown, HandlePool } from './pool.js';
import { KernelBug } from './types.js';
import type { VmStat } from './vmstat.js';

export const PTRS_PER_TABLE = 512;

/** Page-table levels, leaf first (as pte, pmd, pud, p4d/pgd on 4-level x86-64). */
export const PT_LEVEL = { PTE: 1, PMD: 2, PUD: 3, PGD: 4 } as const;
export const PT_LEVEL_NAMES = ['', 'pte', 'pmd', 'pud', 'pgd'] as const;

export class PtdescPool extends HandlePool {
  pfn = new Float64Array(64);
  level = new Uint8Array(64);
  /** Owning address space (pt_mm), 0 if none. */
  mm = new Int32Array(64);
  /** Entries in use (non-zero) in this table. */
  used = new Int32Array(64);
  /** The tables themselves: row r owns entries [r*512, r*512+512). */
  entries = new Float64Array(64 * PTRS_PER_TABLE);

  constructor(
    private readonly pa: PageAlloc,
    private readonly stat: VmStat,
  ) {
    super('ptdesc');
  }

  protected growFields(n: number): void {
    this.pfn = grown(this.pfn, n);
    this.level = grown(this.level, n);
    this.mm = grown(this.mm, n);
    this.used = grown(this.used, n);
    this.entries = grown(this.entries, n * PTRS_PER_TABLE);
  }

  hostBytes(): number {
    return (
      this.baseHostBytes() +
      this.pfn.byteLength +
      this.level.byteLength +
      this.mm.byteLength +
      this.used.byteLength +
      this.entries.byteLength
    );
  }

  /** pagetable_alloc() + ctor: a zeroed table page for `level`, owned by `mm`. ENOMEM if none. */
  alloc(level: number, mm: number, nid = 0): number {
    const pfn = this.pa.rmqueue(0, GFP_KERNEL, nid);
    const row = this.allocRow();
    this.pfn[row] = pfn;
    this.level[row] = level;
    this.mm[row] = mm;
    this.used[row] = 0;
    this.entries.fill(0, row * PTRS_PER_TABLE, (row + 1) * PTRS_PER_TABLE);
    this.pa.memmap.set(pfn, mdWord(MT.PGTABLE), row);
    this.stat.retype(MT.BUDDY, MT.PGTABLE, 1);
    this.stat.events.pgtable_alloc++;
    return this.handleOf(row);
  }

  /** pagetable_dtor() + pagetable_free(). The caller has emptied the table. */
  free(h: number): void {
    const row = this.row(h);
    const pfn = this.pfn[row];
    if (this.used[row] !== 0) {
      throw new KernelBug(`freeing a page table with ${this.used[row]} entries in use`, {
        pfn,
        rule: 'pagetable_free: table not empty',
      });
    }
    this.stat.retype(MT.PGTABLE, MT.BUDDY, 1);
    this.freeRow(row);
    this.pa.freeBlock(pfn, 0);
    this.stat.events.pgtable_free++;
  }

  /** Live page-table pages per level (index = level). */
  countByLevel(): number[] {
    const n = [0, 0, 0, 0, 0];
    for (const r of this.liveRows()) n[this.level[r]]++;
    return n;
  }
}
