/**
 * The `cheap` check, incremental: what the op touched, not the whole world — the analogue of the
 * kernel's VM_BUG_ON at the site rather than a walk. The mm layer marks (mm/dirty.ts) the page
 * tables it wrote, allocated or freed (PtdescPool.set, the pool's row life), the folio rows whose
 * life, refcount or mapcount changed, the swap slots whose count changed, and the address ranges
 * whose VMAs changed under their tables (munmap, mprotect, a dropped anon_vma, a pfn map's pgoff,
 * fork's in-place write-protect). Each check drains the marks and verifies exactly those, with
 * the rules of the walk (check/vm.ts checkLeaf for every entry of a touched table), and keeps
 * running tallies so the whole-world sums stay exact at O(1) a check: each mm's rss and its
 * number of page tables against those reachable from its PGD, each swap slot's named count, the
 * pages per folio kind. A table's entries are re-verified whole, so a folio an op changed while
 * leaving its PTE alone is caught when a neighbour is written — and fork, which does so on
 * purpose, marks its ranges. State lives in typed arrays beside the pools (a shadow of each
 * walked table's entries: the tallies are undone from it), none of it per page in JS objects.
 */
import type { Kernel } from '../mm/kernel.js';
import { MT } from '../mm/memdesc.js';
import type { Mm } from '../mm/mm_types.js';
import {
  entryBits,
  entryPfn,
  isSwapEntry,
  LEVEL_SIZE,
  levelIndex,
  PT_LEVEL,
  PTE,
  PTRS_PER_TABLE,
  swapOffset,
} from '../mm/pgtable.js';
import { FolioTally } from './incremental_folios.js';
import { hex, type Violations } from './violation.js';
import { checkLeaf, checkSlotRefs, newTally } from './vm.js';

const N = PTRS_PER_TABLE;
const isLeaf = (e: number, level: number) => level === PT_LEVEL.PTE || (entryBits(e) & PTE.HUGE) !== 0;

interface MmTally {
  /** Live tables owned by the mm (pt_mm), reachable or not. */
  owned: number;
  /** Table entries of its reachable tables that point at a lower table. */
  links: number;
  rss: [number, number, number, number];
}

function grownTo<T extends Float64Array | Int32Array | Uint8Array>(a: T, n: number): T {
  if (a.length >= n) return a;
  const b = new (a.constructor as new (len: number) => T)(Math.max(n, a.length * 2));
  b.set(a);
  return b;
}

/** The incremental check's memory of one kernel: what it verified last, per table row. */
export class IncrementalState {
  /** Entries of each table as last verified (zero for a table not reachable then). */
  private shadow = new Float64Array(0);
  /** Address the table maps from, as the verified parent that links it says. */
  private base = new Float64Array(0);
  /** Flat entry index of the entry linking the table (-1: none seen). */
  private parent = new Float64Array(0);
  /** Base the table's entries were verified at. */
  private vbase = new Float64Array(0);
  /** mm id the table was counted under (0: none). */
  private owner = new Int32Array(0);
  /** Reachable (entries counted) at the last verify. */
  private walked = new Uint8Array(0);
  private vlevel = new Uint8Array(0);
  private rss = new Float64Array(0);
  private children = new Int32Array(0);
  /** Entries in use the last verify saw. */
  private count = new Int32Array(0);
  private readonly scratch = newTally();
  private readonly rssScratch = [0, 0, 0, 0];
  private queued = new Uint8Array(0);
  private readonly mms = new Map<number, MmTally>();
  /** mm ids whose tallies changed, or whose ranges were marked, since the last check. */
  private readonly dirtyMms = new Set<number>();
  /** Swap slot -> swap entries naming it (as the walk's swapRefs). */
  private readonly slotRefs = new Map<number, number>();
  private swapEntries = 0;
  readonly folios = new FolioTally();
  /** No baseline yet: the first check verifies every table and folio. */
  private fresh = true;

  private ensure(n: number): void {
    if (this.owner.length >= n) return;
    this.shadow = grownTo(this.shadow, n * N);
    this.base = grownTo(this.base, n);
    const old = this.parent.length;
    this.parent = grownTo(this.parent, n);
    this.parent.fill(-1, old);
    this.vbase = grownTo(this.vbase, n);
    this.owner = grownTo(this.owner, n);
    this.walked = grownTo(this.walked, n);
    this.vlevel = grownTo(this.vlevel, n);
    this.rss = grownTo(this.rss, n * 4);
    this.children = grownTo(this.children, n);
    this.count = grownTo(this.count, n);
    this.queued = grownTo(this.queued, n);
  }

  private tally(id: number): MmTally {
    let m = this.mms.get(id);
    if (!m) {
      m = { owned: 0, links: 0, rss: [0, 0, 0, 0] };
      this.mms.set(id, m);
    }
    return m;
  }

  /** Drain the marks and verify what they name, filing under the walk's rule names. */
  check(k: Kernel, v: Violations, vf: Violations, vp: Violations): void {
    const pd = k.ptdesc;
    this.ensure(pd.rowsUsed);
    const byId = (id: number) => k.mms.byId(id);
    const buckets: number[][] = [[], [], [], [], []];
    const enqueue = (row: number) => {
      if (this.queued[row]) return;
      const level = pd.isLive(row) ? pd.level[row] : this.vlevel[row];
      if (level === 0) return; // never verified and gone: nothing to undo
      this.queued[row] = 1;
      buckets[level].push(row);
    };
    const touched = pd.touched.drain();
    const ranges = k.vmaTouched.drain();
    if (this.fresh) {
      pd.touched.on = true;
      k.folios.touched.on = true;
      if (k.swap) k.swap.touched.on = true;
      k.vmaTouched.on = true;
    }
    if (this.fresh || ranges.all) {
      for (let r = 0; r < pd.rowsUsed; r++) if (pd.isLive(r) || this.vlevel[r]) enqueue(r);
      for (const mm of k.mms) this.dirtyMms.add(mm.id);
      if (this.fresh) this.folios.markAll(k);
      this.fresh = false;
    } else {
      for (const r of touched) enqueue(r);
      for (const { mm, start, end } of ranges.ranges)
        if (k.mms.has(mm)) {
          this.dirtyMms.add(mm.id);
          if (end > start) this.enqueueRange(k, mm.pgd, PT_LEVEL.PGD, 0, start, end, enqueue);
        }
    }
    const slots = k.swap?.touched.drain() ?? [];
    const before = v.list.length;
    const recheck: number[] = [];
    for (let level = PT_LEVEL.PGD; level >= PT_LEVEL.PTE; level--) {
      for (const row of buckets[level]) {
        this.queued[row] = 0;
        const before = v.list.length;
        this.verify(k, row, byId, v, enqueue, slots);
        if (
          pd.isLive(row) &&
          (k.pa.memmap.type(pd.pfn[row]) !== MT.PGTABLE || k.pa.memmap.hi(pd.pfn[row]) !== row)
        )
          vp.push(`page table ${hex(pd.pfn[row])}: memdesc does not point at its ptdesc`, {
            pfn: pd.pfn[row],
          });
        if (v.list.length > before) recheck.push(row);
      }
    }
    // A table found broken stays marked, so the next check reports it again (as the walk would).
    for (const r of recheck) pd.touched.add(r);
    for (const off of slots) {
      const refs = this.slotRefs.get(off) ?? 0;
      const n = v.list.length;
      if (refs > 0) checkSlotRefs(k, off, refs, v);
      if (v.list.length > n && k.swap && off > 0 && off < k.swap.slots) k.swap.touched.add(off);
    }
    if (!k.swap && this.swapEntries > 0) v.push(`${this.swapEntries} swap entries on a machine without swap`);
    this.checkMms(k, v);
    // An mm found broken stays marked, as a broken table does.
    const broken = v.list.length > before ? [...this.dirtyMms] : [];
    this.dirtyMms.clear();
    for (const id of broken) this.dirtyMms.add(id);
    if (pd.live !== k.stat.pagesByType[MT.PGTABLE])
      vp.push(`${pd.live} ptdescs, counters say ${k.stat.pagesByType[MT.PGTABLE]} page-table pages`);
    this.folios.check(k, vf);
  }

  /** Every table of `mm` over [start, end): the VMAs there changed under their entries. */
  private enqueueRange(
    k: Kernel,
    row: number,
    level: number,
    base: number,
    start: number,
    end: number,
    enqueue: (row: number) => void,
  ): void {
    enqueue(row);
    if (level === PT_LEVEL.PTE) return;
    const size = LEVEL_SIZE[level];
    const first = start <= base ? 0 : levelIndex(start, level);
    const last = end >= base + size * N ? N - 1 : levelIndex(end - 1, level);
    for (let i = first; i <= last; i++) {
      const e = k.ptdesc.get(row, i);
      if (e === 0 || isLeaf(e, level)) continue;
      const child = entryPfn(e);
      if (k.ptdesc.isLive(child))
        this.enqueueRange(k, child, level - 1, base + i * size, start, end, enqueue);
    }
  }

  private verify(
    k: Kernel,
    row: number,
    byId: (id: number) => Mm | undefined,
    v: Violations,
    enqueue: (row: number) => void,
    slots: number[],
  ): void {
    const pd = k.ptdesc;
    const at = row * N;
    const oldLevel = this.vlevel[row];
    const wasWalked = this.walked[row] === 1;
    // Undo what the last verify counted.
    if (this.owner[row] !== 0) {
      this.dirtyMms.add(this.owner[row]);
      const m = this.tally(this.owner[row]);
      m.owned--;
      if (wasWalked) {
        m.links -= this.children[row];
        for (let i = 0; i < 4; i++) m.rss[i] -= this.rss[row * 4 + i];
      }
    }
    const live = pd.isLive(row);
    const id = live ? pd.mm[row] : 0;
    const mm = id !== 0 ? byId(id) : undefined;
    const reach = mm !== undefined && (row === mm.pgd || this.linked(k, row, id));
    if (id !== 0) {
      this.tally(id).owned++;
      this.dirtyMms.add(id);
    }
    this.owner[row] = id;
    this.vlevel[row] = live ? pd.level[row] : 0;
    if (wasWalked) {
      // Downwards, and no further than the entries counted: user mappings sit high in each table.
      for (let i = N - 1, seen = 0; i >= 0 && seen < this.count[row]; i--) {
        const old = this.shadow[at + i];
        if (old === 0) continue;
        seen++;
        if (!isLeaf(old, oldLevel)) {
          // Its old children move, go or stay; those whose entry changed are looked at again.
          if (!reach || old !== pd.entries[at + i]) enqueue(entryPfn(old));
        } else if (isSwapEntry(old)) this.refSlot(swapOffset(old), -1, slots);
        else this.touchFolio(k, entryPfn(old));
      }
    }
    if (!mm || !reach) {
      this.walked[row] = 0;
      this.count[row] = 0;
      if (wasWalked) this.shadow.fill(0, at, at + N);
      return;
    }
    const level = pd.level[row];
    const base = row === mm.pgd ? 0 : this.base[row];
    const moved = !wasWalked || this.vbase[row] !== base;
    const rss = this.rssScratch.fill(0);
    let links = 0;
    let present = 0;
    // As above; `used` is the table's own count of entries in use (exact, or the full check says so).
    for (let i = N - 1; i >= 0 && present < pd.used[row]; i--) {
      const e = pd.entries[at + i];
      if (e === 0) continue;
      present++;
      const addr = base + i * LEVEL_SIZE[level];
      if (!isLeaf(e, level)) {
        links++;
        const child = entryPfn(e);
        if (!pd.isLive(child)) {
          v.push(`mm ${mm.id}: ${hex(addr)} points at a freed page table`, { addr });
          continue;
        }
        if (
          moved ||
          e !== this.shadow[at + i] ||
          this.parent[child] !== at + i ||
          this.base[child] !== addr
        ) {
          this.parent[child] = at + i;
          this.base[child] = addr;
          enqueue(child);
        }
        continue;
      }
      checkLeaf(k, mm, addr, e, level, this.scratch, rss, v);
      if (isSwapEntry(e)) this.refSlot(swapOffset(e), 1, slots);
      else this.touchFolio(k, entryPfn(e));
    }
    this.shadow.set(pd.entries.subarray(at, at + N), at);
    this.scratch.swapRefs.clear();
    this.walked[row] = 1;
    this.count[row] = present;
    this.vbase[row] = base;
    this.children[row] = links;
    const m = this.tally(id);
    m.links += links;
    for (let i = 0; i < 4; i++) {
      this.rss[row * 4 + i] = rss[i];
      m.rss[i] += rss[i];
    }
  }

  /** Is `row` linked from a reachable table of mm `id`, at the entry its verified parent named? */
  private linked(k: Kernel, row: number, id: number): boolean {
    const slot = this.parent[row];
    if (slot < 0) return false;
    const p = Math.floor(slot / N);
    const pd = k.ptdesc;
    const e = pd.entries[slot];
    return (
      pd.isLive(p) &&
      this.walked[p] === 1 &&
      this.owner[p] === id &&
      e !== 0 &&
      !isLeaf(e, pd.level[p]) &&
      entryPfn(e) === row
    );
  }

  private refSlot(off: number, delta: number, slots: number[]): void {
    const n = (this.slotRefs.get(off) ?? 0) + delta;
    if (n === 0) this.slotRefs.delete(off);
    else this.slotRefs.set(off, n);
    this.swapEntries += delta;
    slots.push(off);
  }

  /** The folio an entry maps (or mapped) is looked at too: its counts moved with the entry. */
  private touchFolio(k: Kernel, pfn: number): void {
    if (!k.pa.memmap.pfnValid(pfn) && !(pfn >= k.pa.maxPfn && k.devmem.pfnValid(pfn))) return;
    const row = k.folios.pageRow(pfn);
    if (row >= 0) k.folios.touched.add(row);
  }

  /**
   * Each mm the op touched (its tables, or a range of it): rss against the tables' tallies, and
   * every table it owns reachable from its PGD or deposited. An mm gone must own no table.
   */
  private checkMms(k: Kernel, v: Violations): void {
    for (const id of this.dirtyMms) {
      const mm = k.mms.byId(id);
      const m = this.mms.get(id);
      if (!mm) {
        if (m && m.owned > 0)
          v.push(`${m.owned} page tables of mm ${id} are reachable from no mm (the mm is gone)`);
        else this.mms.delete(id);
        continue;
      }
      for (let i = 0; i < 4; i++) {
        const held = m ? m.rss[i] : 0;
        if (held !== mm.rss[i]) v.push(`mm ${mm.id}: rss[${i}] is ${mm.rss[i]}, page tables hold ${held}`);
      }
      const owned = m ? m.owned : 0;
      const reachable = 1 + (m ? m.links : 0) + mm.deposited.size;
      if (owned !== reachable)
        v.push(
          `mm ${mm.id}: ${owned} page tables, but ${reachable} reachable from its PGD or deposited: a table is reachable from no mm, or linked twice`,
        );
    }
  }
}

const states = new WeakMap<Kernel, IncrementalState>();

/** The incremental state of `k`, made on the first cheap check (which verifies everything). */
export function incrementalState(k: Kernel): IncrementalState {
  let s = states.get(k);
  if (!s) {
    s = new IncrementalState();
    states.set(k, s);
  }
  return s;
}
