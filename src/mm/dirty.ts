/**
 * What an operation touched, for the incremental `cheap` invariant check (check/incremental.ts):
 * the kernel's analogue is the VM_BUG_ON at the site, which looks at the object in hand, not a
 * walk of the whole world. The mm layer marks at low cost — a byte per row, deduplicated — and
 * the check drains the marks after each op. Marking starts with the first incremental check
 * (`on`; that check verifies everything), so a machine that never asks for one pays a branch per
 * mark; once on, the lists stay bounded by the rows that exist.
 */
import type { Mm } from './mm_types.js';

/** A deduplicated set of integer rows (descriptor rows, swap slots). */
export class DirtyRows {
  private mark = new Uint8Array(64);
  rows: number[] = [];
  on = false;

  add(row: number): void {
    // Small enough for the compiler to inline at every mark; the rest is out of line.
    if (this.on && !(this.mark[row] === 1)) this.addNew(row);
  }

  private addNew(row: number): void {
    if (row >= this.mark.length) {
      const b = new Uint8Array(Math.max(row + 1, this.mark.length * 2));
      b.set(this.mark);
      this.mark = b;
    }
    if (this.mark[row] === 0) {
      this.mark[row] = 1;
      this.rows.push(row);
    }
  }

  /** The rows marked since the last drain, in marking order; the set is empty afterwards. */
  drain(): number[] {
    const out = this.rows;
    for (const r of out) this.mark[r] = 0;
    this.rows = [];
    return out;
  }
}

/** Above this many range marks between checks, the check re-verifies every table instead. */
const MAX_RANGES = 4096;

/**
 * Address ranges of an mm whose VMAs changed (unmapped, shrunk, flags or anon_vma or pgoff
 * changed) or whose entries were rewritten outside PtdescPool.set (fork's write-protect loop):
 * every page table over such a range is re-verified, since an entry the op did not write may
 * have become wrong against its VMA.
 */
export class DirtyRanges {
  ranges: { mm: Mm; start: number; end: number }[] = [];
  /** Too many ranges piled up (a long run at `check: off`): verify everything. */
  overflow = false;
  on = false;

  add(mm: Mm, start: number, end: number): void {
    if (!this.on || this.overflow) return;
    if (this.ranges.length >= MAX_RANGES) {
      this.overflow = true;
      this.ranges = [];
      return;
    }
    this.ranges.push({ mm, start, end });
  }

  drain(): { ranges: { mm: Mm; start: number; end: number }[]; all: boolean } {
    const out = { ranges: this.ranges, all: this.overflow };
    this.ranges = [];
    this.overflow = false;
    return out;
  }
}
