/**
 * Page contents: what a frame holds, so COW, DMA and page-cache behaviour can be checked by value.
 *
 * Models: clear_page / copy_highpage / memcpy_to_page (include/linux/highmem.h). A frame reads as
 * zeros until written. A frame filled with one byte value is kept as that byte alone; any other
 * content lives in a 4 KiB slot of a chunked arena. The index is a Map from frame number to a
 * small integer — numbers only, no object per page. With `enabled = false` (benchmarks) nothing
 * is stored and every frame reads as zeros.
 */
import { PAGE_SIZE } from './types.js';

const SLOTS_PER_CHUNK = 256;

/** Encoding of a Map value: >= 0 is an arena slot; -1 - b means "every byte is b" (b > 0). */
const uniform = (b: number): number => -1 - b;

/** Contents of one page-sized buffer somewhere else (a file's backing store), same encoding. */
export class ContentStore {
  private readonly index = new Map<number, number>();
  private readonly chunks: Uint8Array[] = [];
  private readonly freeSlots: number[] = [];
  private nextSlot = 0;

  constructor(public enabled = true) {}

  private slotView(slot: number): Uint8Array {
    const chunk = this.chunks[Math.floor(slot / SLOTS_PER_CHUNK)];
    const off = (slot % SLOTS_PER_CHUNK) * PAGE_SIZE;
    return chunk.subarray(off, off + PAGE_SIZE);
  }

  private allocSlot(): number {
    if (this.freeSlots.length > 0) return this.freeSlots.pop()!;
    const slot = this.nextSlot++;
    if (slot % SLOTS_PER_CHUNK === 0) this.chunks.push(new Uint8Array(SLOTS_PER_CHUNK * PAGE_SIZE));
    return slot;
  }

  private release(key: number): void {
    const v = this.index.get(key);
    if (v !== undefined && v >= 0) this.freeSlots.push(v);
    this.index.delete(key);
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
    let slot: number;
    if (v !== undefined && v >= 0) slot = v;
    else {
      slot = this.allocSlot();
      this.slotView(slot).fill(v === undefined ? 0 : -1 - v);
      this.index.set(key, slot);
    }
    this.slotView(slot).set(data, off);
  }

  /** Fill `len` bytes from `off` with one value. */
  fillRange(key: number, off: number, len: number, byte: number): void {
    if (off === 0 && len === PAGE_SIZE) this.fill(key, byte);
    else this.write(key, off, new Uint8Array(len).fill(byte));
  }

  /** Read `len` bytes from `off` into `out` at `outOff`. */
  read(key: number, off: number, len: number, out: Uint8Array, outOff = 0): void {
    const v = this.enabled ? this.index.get(key) : undefined;
    if (v === undefined) out.fill(0, outOff, outOff + len);
    else if (v < 0) out.fill(-1 - v, outOff, outOff + len);
    else out.set(this.slotView(v).subarray(off, off + len), outOff);
  }

  /** The byte at `off`. */
  byteAt(key: number, off: number): number {
    const v = this.enabled ? this.index.get(key) : undefined;
    if (v === undefined) return 0;
    return v < 0 ? -1 - v : this.slotView(v)[off];
  }

  /** copy_highpage(): `to` gets the contents of `from` (in this or another store). */
  copyFrom(to: number, src: ContentStore, from: number): void {
    if (!this.enabled) return;
    const v = src.enabled ? src.index.get(from) : undefined;
    this.release(to);
    if (v === undefined) return;
    if (v < 0) {
      this.index.set(to, v);
      return;
    }
    const slot = this.allocSlot();
    this.slotView(slot).set(src.slotView(v));
    this.index.set(to, slot);
  }

  /** Pages with non-zero contents. */
  get size(): number {
    return this.index.size;
  }

  hostBytes(): number {
    return this.chunks.length * SLOTS_PER_CHUNK * PAGE_SIZE + this.index.size * 16;
  }
}
