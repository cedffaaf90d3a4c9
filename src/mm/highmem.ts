/**
 * Page contents: what a frame holds, so COW, DMA and page-cache behaviour can be checked by value.
 *
 * Models: clear_page / copy_highpage / memcpy_to_page (include/linux/highmem.h). A frame reads as
 * zeros until written. Host memory follows what was written, not how many pages were:
 * - a page filled with one byte value is that byte alone (no slot);
 * - a page that is one byte value except a few short runs (a touch, a counter, a header) lives in
 *   a 64-byte sparse slot: the base byte and the runs, applied in order;
 * - anything else takes a 4 KiB slot, and copy_highpage() shares it (a slot refcount) until one
 *   side writes: a fork followed by COW faults copies no bytes for pages nobody changes.
 * The index is a Map from frame number to a small integer — numbers only, no object per page.
 * With `enabled = false` (benchmarks) nothing is stored and every frame reads as zeros.
 */
import { PAGE_SIZE } from './types.js';

const SLOTS_PER_CHUNK = 256;
/** A sparse slot: [base, runs, then per run: offset (2 bytes), length, the bytes]. */
const SPARSE = 64;
const SPARSE_PER_CHUNK = 4096;
/** Map values from here up are sparse slots; below are 4 KiB slots; negative is a uniform page. */
const SPARSE_BASE = 2 ** 30;

/** Encoding of a Map value: -1 - b means "every byte is b" (b > 0). */
const uniform = (b: number): number => -1 - b;

/** A growable pool of fixed-size slots in chunked arenas, with a free list. */
class SlotArena {
  readonly chunks: Uint8Array[] = [];
  private readonly free: number[] = [];
  private next = 0;

  constructor(
    private readonly size: number,
    private readonly perChunk: number,
  ) {}

  view(slot: number): Uint8Array {
    const chunk = this.chunks[Math.floor(slot / this.perChunk)];
    const off = (slot % this.perChunk) * this.size;
    return chunk.subarray(off, off + this.size);
  }

  alloc(): number {
    if (this.free.length > 0) return this.free.pop()!;
    const slot = this.next++;
    if (slot % this.perChunk === 0) this.chunks.push(new Uint8Array(this.perChunk * this.size));
    return slot;
  }

  release(slot: number): void {
    this.free.push(slot);
  }

  get bytes(): number {
    return this.chunks.length * this.perChunk * this.size;
  }
}

/** Contents of page-sized buffers keyed by a number (frames, a file's blocks, swap slots). */
export class ContentStore {
  private readonly index = new Map<number, number>();
  private readonly full = new SlotArena(PAGE_SIZE, SLOTS_PER_CHUNK);
  private readonly sparse = new SlotArena(SPARSE, SPARSE_PER_CHUNK);
  /** How many index entries share each 4 KiB slot. */
  private refs = new Int32Array(SLOTS_PER_CHUNK);

  constructor(public enabled = true) {}

  private release(key: number): void {
    const v = this.index.get(key);
    if (v === undefined) return;
    this.index.delete(key);
    if (v >= SPARSE_BASE) this.sparse.release(v - SPARSE_BASE);
    else if (v >= 0 && --this.refs[v] === 0) this.full.release(v);
  }

  private newFull(): number {
    const slot = this.full.alloc();
    if (slot >= this.refs.length) {
      const grown = new Int32Array(this.refs.length * 2);
      grown.set(this.refs);
      this.refs = grown;
    }
    this.refs[slot] = 1;
    return slot;
  }

  /** The page as a private 4 KiB slot, materialised from whatever it is now (copy on write). */
  private ownFull(key: number): Uint8Array {
    const v = this.index.get(key);
    if (v !== undefined && v >= 0 && v < SPARSE_BASE && this.refs[v] === 1) return this.full.view(v);
    const slot = this.newFull();
    const page = this.full.view(slot);
    this.readValue(v, 0, PAGE_SIZE, page, 0);
    this.release(key);
    this.index.set(key, slot);
    return page;
  }

  /** Append a run to a sparse page (or start one over a uniform page); false when it does not fit. */
  private writeSparse(key: number, v: number | undefined, off: number, data: Uint8Array): boolean {
    let s: Uint8Array;
    let used: number;
    if (v === undefined || v < 0) {
      // The header (base, count) and the run's own header (offset, length) come first.
      if (2 + 3 + data.length > SPARSE) return false;
      const slot = this.sparse.alloc();
      s = this.sparse.view(slot);
      s[0] = v === undefined ? 0 : -1 - v;
      s[1] = 0;
      used = 2;
      this.index.set(key, SPARSE_BASE + slot);
    } else if (v >= SPARSE_BASE) {
      s = this.sparse.view(v - SPARSE_BASE);
      const last = lastRun(s);
      // The same bytes written again (a counter, a flag): overwrite the last run in place.
      if (last >= 0 && ((s[last] << 8) | s[last + 1]) === off && s[last + 2] === data.length) {
        s.set(data, last + 3);
        return true;
      }
      used = last < 0 ? 2 : last + 3 + s[last + 2];
      if (used + 3 + data.length > SPARSE) return false;
    } else return false;
    s[used] = off >>> 8;
    s[used + 1] = off & 0xff;
    s[used + 2] = data.length;
    s.set(data, used + 3);
    s[1]++;
    return true;
  }

  /** clear_page(): the page reads as zeros again. */
  clear(key: number): void {
    if (this.enabled) this.release(key);
  }

  /** Fill a whole page with one byte. */
  fill(key: number, byte: number): void {
    if (!this.enabled) return;
    this.release(key);
    if (byte !== 0) this.index.set(key, uniform(byte));
  }

  /** Write `data` at byte offset `off` inside the page. */
  write(key: number, off: number, data: Uint8Array): void {
    if (!this.enabled || data.length === 0) return;
    if (off === 0 && data.length === PAGE_SIZE && data.every((b) => b === data[0])) {
      this.fill(key, data[0]);
      return;
    }
    const v = this.index.get(key);
    if (!this.writeSparse(key, v, off, data)) this.ownFull(key).set(data, off);
  }

  /** Fill `len` bytes from `off` with one value. */
  fillRange(key: number, off: number, len: number, byte: number): void {
    // Contents off: not even the bytes to write are built (a touch stores one per page).
    if (!this.enabled) return;
    if (off === 0 && len === PAGE_SIZE) this.fill(key, byte);
    else this.write(key, off, new Uint8Array(len).fill(byte));
  }

  private readValue(v: number | undefined, off: number, len: number, out: Uint8Array, outOff: number): void {
    if (v === undefined) out.fill(0, outOff, outOff + len);
    else if (v < 0) out.fill(-1 - v, outOff, outOff + len);
    else if (v < SPARSE_BASE) out.set(this.full.view(v).subarray(off, off + len), outOff);
    else {
      const s = this.sparse.view(v - SPARSE_BASE);
      out.fill(s[0], outOff, outOff + len);
      // Runs apply in the order written: a later one overwrites an earlier one where they overlap.
      for (let i = 0, at = 2; i < s[1]; i++) {
        const rOff = (s[at] << 8) | s[at + 1];
        const rLen = s[at + 2];
        const lo = Math.max(off, rOff);
        const hi = Math.min(off + len, rOff + rLen);
        if (lo < hi) out.set(s.subarray(at + 3 + lo - rOff, at + 3 + hi - rOff), outOff + lo - off);
        at += 3 + rLen;
      }
    }
  }

  /** Read `len` bytes from `off` into `out` at `outOff`. */
  read(key: number, off: number, len: number, out: Uint8Array, outOff = 0): void {
    this.readValue(this.enabled ? this.index.get(key) : undefined, off, len, out, outOff);
  }

  /** The byte at `off`. */
  byteAt(key: number, off: number): number {
    const v = this.enabled ? this.index.get(key) : undefined;
    if (v === undefined) return 0;
    if (v < 0) return -1 - v;
    if (v < SPARSE_BASE) return this.full.view(v)[off];
    const s = this.sparse.view(v - SPARSE_BASE);
    let b = s[0];
    for (let i = 0, at = 2; i < s[1]; i++) {
      const rOff = (s[at] << 8) | s[at + 1];
      if (off >= rOff && off < rOff + s[at + 2]) b = s[at + 3 + off - rOff];
      at += 3 + s[at + 2];
    }
    return b;
  }

  /** copy_highpage(): `to` gets the contents of `from` (in this or another store). */
  copyFrom(to: number, src: ContentStore, from: number): void {
    if (!this.enabled) return;
    const v = src.enabled ? src.index.get(from) : undefined;
    if (v !== undefined && v >= 0 && v < SPARSE_BASE && src === this) {
      // A 4 KiB page is shared until one side writes (ownFull copies it then).
      this.refs[v]++;
      this.release(to);
      this.index.set(to, v);
      return;
    }
    if (v === undefined || v < 0) {
      this.release(to);
      if (v !== undefined) this.index.set(to, v);
      return;
    }
    this.release(to);
    if (v >= SPARSE_BASE) {
      const slot = this.sparse.alloc();
      this.sparse.view(slot).set(src.sparse.view(v - SPARSE_BASE));
      this.index.set(to, SPARSE_BASE + slot);
    } else {
      const slot = this.newFull();
      this.full.view(slot).set(src.full.view(v));
      this.index.set(to, slot);
    }
  }

  /** Pages with non-zero contents. */
  get size(): number {
    return this.index.size;
  }

  /** Host bytes: both arenas, the slot refcounts and the index (about 16 bytes an entry). */
  hostBytes(): number {
    return this.full.bytes + this.sparse.bytes + this.refs.byteLength + this.index.size * 16;
  }
}

/** Where a sparse slot's last run starts, or -1 for none. */
function lastRun(s: Uint8Array): number {
  let at = 2;
  let last = -1;
  for (let i = 0; i < s[1]; i++) {
    last = at;
    at += 3 + s[at + 2];
  }
  return last;
}
