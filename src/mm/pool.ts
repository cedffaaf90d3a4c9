/**
 * Struct-of-arrays descriptor pools with generation-checked integer handles.
 *
 * Models: the slab caches the kernel allocates descriptors from (folios, slabs, ptdescs would
 * each come from their own kmem_cache under memdescs). Every descriptor kind in pagelab is a row
 * in such a pool; a handle is `row + generation * 2^32`, so a handle kept after its descriptor
 * was freed is detected instead of silently naming the row's next owner.
 * Leaves out: per-CPU caching; rows are reused lowest-freed-last (a LIFO free stack).
 */
import { DirtyRows } from './dirty.js';
import { KernelBug } from './types.js';

type TypedArray = Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array | Float64Array;

/** Return a copy of `a` with room for `n` elements (the rest zero-filled). */
export function grown<T extends TypedArray>(a: T, n: number): T {
  const ctor = a.constructor as new (len: number) => T;
  const b = new ctor(n);
  b.set(a);
  return b;
}

const GEN_UNIT = 2 ** 32;
/**
 * Generations wrap below 2^21 so `row + gen * 2^32` stays a safe integer (< 2^53): past that a
 * handle loses its low bits and a live descriptor's handle fails its own check. A row must then
 * be reused 2^21 - 1 times between a handle's last valid use and its stale use to go unnoticed.
 */
export const GEN_LIMIT = 2 ** 21;

/**
 * A handle as users read it: `#row.generation` (the number is `row + generation * 2^32`, which
 * prints as an opaque 10-digit value).
 */
export function formatHandle(h: number): string {
  return `#${h >>> 0}.${Math.floor(h / GEN_UNIT)}`;
}

/** Handle value that never names a live descriptor. */
export const NULL_HANDLE = 0;

export abstract class HandlePool {
  /** Generation of each row; bumped on free, so stale handles stop matching. Starts at 1. */
  protected gen: Uint32Array;
  protected liveRow: Uint8Array;
  /** First frame each row described when it was last freed, to name the PFN of a stale use. */
  protected freedPfn: Float64Array;
  protected freeStack: Int32Array;
  protected freeTop = 0;
  /** Rows ever used (the high-water mark). */
  protected highWater = 0;
  protected capacity: number;
  /** Rows currently allocated. */
  live = 0;
  /**
   * Rows allocated, freed or (as the subclass marks them) changed since the incremental check
   * last looked (dirty.ts): a descriptor's life always marks it.
   */
  readonly touched = new DirtyRows();

  /** Rows below this may be live (for a walk over every descriptor: test each with isLive). */
  get rowsUsed(): number {
    return this.highWater;
  }

  constructor(
    readonly poolName: string,
    initialCapacity = 64,
  ) {
    this.capacity = initialCapacity;
    this.gen = new Uint32Array(initialCapacity).fill(1);
    this.liveRow = new Uint8Array(initialCapacity);
    this.freedPfn = new Float64Array(initialCapacity);
    this.freeStack = new Int32Array(initialCapacity);
  }

  /** First frame of each row's descriptor: every pool describes frames starting at a PFN. */
  abstract pfn: Float64Array;

  /** Grow every field array of the subclass to `n` rows. */
  protected abstract growFields(n: number): void;

  /** Take a row; FolioPool.installSmallRow repeats these steps inline (keep the two alike). */
  protected allocRow(): number {
    const row = this.freeTop > 0 ? this.freeStack[--this.freeTop] : this.newRow();
    this.liveRow[row] = 1;
    this.live++;
    this.touched.add(row);
    return row;
  }

  /** Release a row; FolioPool.freeSmall repeats these steps inline (keep the two alike). */
  protected freeRow(row: number): void {
    this.freedPfn[row] = this.pfn[row];
    this.liveRow[row] = 0;
    this.touched.add(row);
    const g = this.gen[row] + 1;
    this.gen[row] = g < GEN_LIMIT ? g : 1;
    this.freeStack[this.freeTop++] = row;
    this.live--;
  }

  /** A row never used before (out of line: the steady state reuses freed rows). */
  private newRow(): number {
    if (this.highWater === this.capacity) this.grow(this.capacity * 2);
    return this.highWater++;
  }

  private grow(n: number): void {
    const old = this.capacity;
    this.gen = grown(this.gen, n);
    this.gen.fill(1, old);
    this.liveRow = grown(this.liveRow, n);
    this.freedPfn = grown(this.freedPfn, n);
    this.freeStack = grown(this.freeStack, n);
    this.growFields(n);
    this.capacity = n;
  }

  handleOf(row: number): number {
    return row + this.gen[row] * GEN_UNIT;
  }

  isLive(row: number): boolean {
    return row < this.highWater && this.liveRow[row] === 1;
  }

  /**
   * Resolve a handle to its row, or throw a KernelBug naming the stale use. The report names the
   * PFN the handle described when its descriptor was freed exactly once since (the usual use
   * after free, whether or not the row has been reused); older or made-up handles name none.
   */
  row(h: number): number {
    const row = h >>> 0;
    const gen = (h - row) / GEN_UNIT;
    if (row >= this.highWater || this.liveRow[row] !== 1 || this.gen[row] !== gen) {
      const freedOnce = row < this.highWater && gen >= 1 && gen + 1 === this.gen[row];
      throw new KernelBug(`stale or invalid ${this.poolName} handle ${formatHandle(h)}`, {
        pfn: freedOnce ? this.freedPfn[row] : undefined,
        rule: `${this.poolName}: use after free`,
      });
    }
    return row;
  }

  /** Rows of every live descriptor, in row order. */
  *liveRows(): Generator<number> {
    for (let r = 0; r < this.highWater; r++) if (this.liveRow[r] === 1) yield r;
  }

  /** Host bytes the pool's arrays take (capacity, not just live rows). */
  abstract hostBytes(): number;

  protected baseHostBytes(): number {
    return (
      this.gen.byteLength + this.liveRow.byteLength + this.freedPfn.byteLength + this.freeStack.byteLength
    );
  }
}
