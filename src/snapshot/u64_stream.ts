/**
 * Turning a byte stream of little-endian u64 entries (/proc/kpageflags, /proc/kpagecount) into
 * two Uint32Array columns, one chunk at a time.
 *
 * Kernel file: fs/proc/page.c (kpageflags_read() and kpagecount_read() emit one u64 per PFN and
 * refuse reads that are not a multiple of 8 bytes). A chunk boundary may fall anywhere — inside
 * an entry too — so up to 7 bytes are carried over to the next chunk. The columns grow by
 * doubling from a size hint, so a 1 TiB machine (2^28 PFNs) costs 2 GiB of typed arrays and no
 * JavaScript object per PFN.
 */
import { SnapshotError } from './errors.js';

// Words are read in the host's order (no node:os, so the browser's worker streams with it too).
if (new Uint8Array(Uint32Array.of(1).buffer)[0] !== 1)
  throw new Error('src/snapshot reads little-endian captures on a little-endian host');

/** The decoded entries: word i is `hi[i] * 2^32 + lo[i]` (`hi` is empty in saturate mode). */
export interface U64Columns {
  lo: Uint32Array;
  hi: Uint32Array;
  length: number;
}

const MIN_CAPACITY = 1 << 16;

/**
 * Whole u64 entries out of arbitrary byte chunks: each call of `sink` gets a Uint32Array of
 * 2 × `count` words (entry i is words[2i] low, words[2i + 1] high), valid only during the call.
 */
export class U64Chunker {
  private readonly carry = new Uint8Array(8);
  private carryLen = 0;
  /** Bytes taken in so far (for error messages). */
  bytes = 0;

  constructor(private readonly sink: (words: Uint32Array, count: number) => void) {}

  /** Take the next bytes of the stream; the chunk may be reused by the caller afterwards. */
  push(chunk: Uint8Array): void {
    this.bytes += chunk.length;
    let off = 0;
    if (this.carryLen > 0) {
      const take = Math.min(8 - this.carryLen, chunk.length);
      this.carry.set(chunk.subarray(0, take), this.carryLen);
      this.carryLen += take;
      off = take;
      if (this.carryLen < 8) return;
      this.sink(new Uint32Array(this.carry.buffer, 0, 2), 1);
      this.carryLen = 0;
    }
    const whole = (chunk.length - off) & ~7;
    if (whole > 0) {
      const start = chunk.byteOffset + off;
      // A Uint32Array view needs 4-byte alignment; pooled Buffers are not always aligned, so
      // copy those (Buffer#slice would be a view, hence the explicit copy).
      let words: Uint32Array;
      if (start % 4 === 0) words = new Uint32Array(chunk.buffer, start, whole >>> 2);
      else {
        const copy = new Uint8Array(whole);
        copy.set(chunk.subarray(off, off + whole));
        words = new Uint32Array(copy.buffer);
      }
      this.sink(words, whole >>> 3);
    }
    const rest = chunk.length - off - whole;
    if (rest > 0) {
      this.carry.set(chunk.subarray(chunk.length - rest), 0);
      this.carryLen = rest;
    }
  }

  /** Throw unless the stream ended on an entry boundary; `name` is the file. */
  finish(name: string): void {
    if (this.carryLen !== 0)
      throw new SnapshotError(
        `${name}: ${this.bytes} bytes is not a multiple of 8 (one u64 per PFN): truncated or not a kpageflags/kpagecount capture`,
      );
  }
}

export class U64Collector {
  private lo: Uint32Array;
  /** Null in `saturate` mode: a word ≥ 2^32 is stored as 2^32 − 1 and counted instead. */
  private hi: Uint32Array | null;
  /** Entries that did not fit 32 bits (saturate mode). */
  saturated = 0;
  private n = 0;
  private readonly chunker = new U64Chunker((words, count) => this.append(words, 0, count));

  /**
   * `saturate`: keep only the low half, clamped — kpagecount's mapcount is an int in the kernel,
   * so the high half is only ever set by a negative (buggy) count; this halves its memory.
   */
  constructor(expectedEntries = 0, saturate = false) {
    const cap = Math.max(MIN_CAPACITY, expectedEntries);
    this.lo = new Uint32Array(cap);
    this.hi = saturate ? null : new Uint32Array(cap);
  }

  /** Bytes taken in so far. */
  get bytes(): number {
    return this.chunker.bytes;
  }

  /** Take the next bytes of the stream; the chunk may be reused by the caller afterwards. */
  push(chunk: Uint8Array): void {
    this.chunker.push(chunk);
  }

  /** The columns, trimmed to length; `name` is the file, for the error of a partial entry. */
  finish(name: string): U64Columns {
    this.chunker.finish(name);
    const lo = this.lo.subarray(0, this.n);
    return { lo, hi: this.hi ? this.hi.subarray(0, this.n) : new Uint32Array(0), length: this.n };
  }

  private append(words: Uint32Array, first: number, count: number): void {
    this.reserve(this.n + count);
    const lo = this.lo;
    const hi = this.hi;
    let n = this.n;
    const end = first + 2 * count;
    if (hi !== null) {
      for (let i = first; i < end; i += 2) {
        lo[n] = words[i];
        hi[n] = words[i + 1];
        n++;
      }
    } else {
      for (let i = first; i < end; i += 2) {
        if (words[i + 1] === 0) lo[n] = words[i];
        else {
          lo[n] = 0xffffffff;
          this.saturated++;
        }
        n++;
      }
    }
    this.n = n;
  }

  private reserve(want: number): void {
    if (want <= this.lo.length) return;
    let cap = this.lo.length * 2;
    while (cap < want) cap *= 2;
    const lo = new Uint32Array(cap);
    lo.set(this.lo.subarray(0, this.n));
    this.lo = lo;
    if (this.hi !== null) {
      const hi = new Uint32Array(cap);
      hi.set(this.hi.subarray(0, this.n));
      this.hi = hi;
    }
  }
}
