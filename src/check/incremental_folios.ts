/**
 * The incremental `cheap` check's folios (check/incremental.ts): the rows the pool marked
 * (allocated, freed, put, re-mapped — mm/dirty.ts) and those named by the entries of the tables
 * verified, each against the rules of the walk's checkFolios; and running sums of the pages per
 * folio kind and of the device descriptors, so the counters are compared at O(1) a check.
 */
import type { Kernel } from '../mm/kernel.js';
import { MT, MT_NAMES, mdOrder, mdType } from '../mm/memdesc.js';
import { hex, type Violations } from './violation.js';

const COUNTED = [MT.ANON, MT.FILE, MT.UNKNOWN, MT.LARGE_KMALLOC, MT.DEVICE];

export class FolioTally {
  /** Kind and pages each row was counted with (pages 0: not counted). */
  private kind = new Uint8Array(0);
  private pages = new Float64Array(0);
  /** Rows counted as device descriptors (above RAM). */
  private device = new Uint8Array(0);
  private readonly byKind = new Float64Array(32);
  private devices = 0;

  private ensure(n: number): void {
    if (this.kind.length >= n) return;
    const m = Math.max(n, this.kind.length * 2);
    const kind = new Uint8Array(m);
    kind.set(this.kind);
    const pages = new Float64Array(m);
    pages.set(this.pages);
    const device = new Uint8Array(m);
    device.set(this.device);
    this.kind = kind;
    this.pages = pages;
    this.device = device;
  }

  /** The baseline: every row is looked at once. */
  markAll(k: Kernel): void {
    const f = k.folios;
    for (let r = 0; r < f.rowsUsed; r++) f.touched.add(r);
  }

  check(k: Kernel, v: Violations): void {
    const f = k.folios;
    const pa = k.pa;
    this.ensure(f.rowsUsed);
    const recheck: number[] = [];
    for (const row of f.touched.drain()) {
      this.byKind[this.kind[row]] -= this.pages[row];
      this.pages[row] = 0;
      this.devices -= this.device[row];
      this.device[row] = 0;
      if (!f.isLive(row)) continue;
      const pfn = f.pfn[row];
      // Device descriptors describe frames above RAM; their memmap is the pagemap's (check/vm.ts).
      if (pfn >= pa.maxPfn) {
        this.device[row] = 1;
        this.devices++;
        continue;
      }
      const kind = f.kind[row];
      this.kind[row] = kind;
      this.pages[row] = f.nrPages(row);
      this.byKind[kind] += this.pages[row];
      const before = v.list.length;
      if (f.refcount[row] <= 0) v.push(`folio ${hex(pfn)}: live with refcount ${f.refcount[row]}`, { pfn });
      if (f.mapcountOf(row) < 0) v.push(`folio ${hex(pfn)}: negative mapcount`, { pfn });
      if (f.pincountOf(row) < 0) v.push(`folio ${hex(pfn)}: negative pincount`, { pfn });
      if (f.refcount[row] < f.mapcountOf(row))
        v.push(`folio ${hex(pfn)}: refcount ${f.refcount[row]} below mapcount ${f.mapcountOf(row)}`, { pfn });
      const lo = pa.memmap.lo(pfn);
      if (mdType(lo) !== kind || pa.memmap.hi(pfn) !== row || mdOrder(lo) !== f.order[row]) {
        v.push(
          `folio ${hex(pfn)}: memdesc says ${MT_NAMES[mdType(lo)]}/order ${mdOrder(lo)}/row ${pa.memmap.hi(pfn)}, descriptor says ${MT_NAMES[kind]}/order ${f.order[row]}/row ${row}`,
          { pfn },
        );
      }
      if (v.list.length > before) recheck.push(row);
    }
    for (const r of recheck) f.touched.add(r);
    for (const kind of COUNTED) {
      if (this.byKind[kind] !== k.stat.pagesByType[kind])
        v.push(
          `${MT_NAMES[kind]} folios cover ${this.byKind[kind]} pages, counters say ${k.stat.pagesByType[kind]}`,
        );
    }
  }

  /** Live descriptors above RAM, for checkDevmem. */
  get liveDevice(): number {
    return this.devices;
  }
}
