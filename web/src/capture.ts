/**
 * A /proc/kpageflags capture read in the browser: the file streamed (raw, gzip through the
 * browser's DecompressionStream, zstd through fzstd as `pagelab snapshot` does) into two
 * Uint32Array columns, then classified and priced by src/snapshot's own portable code. src/snapshot's
 * reader uses node:fs and node:os, so this file does its part with the web's streams; the byte
 * format (one little-endian u64 per PFN) is the kernel's, fs/proc/page.c.
 */
import { Decompress } from 'fzstd';
import {
  type Classification,
  classify,
  FRAME,
  FRAME_NAMES,
  type Frame,
  NR_FRAMES,
  objectCount,
} from '../../src/snapshot/classify.js';
import { formatPageTypes, pageTypes } from '../../src/snapshot/page_types.js';
import { type Price, priceMemdesc } from '../../src/snapshot/price.js';
import type { Snapshot } from '../../src/snapshot/read.js';

export type CaptureFormat = Snapshot['source']['format'];

/** The format a capture's first bytes name (the magic numbers of gzip and zstd). */
export function captureFormat(head: Uint8Array): CaptureFormat {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd)
    return 'zstd';
  return 'raw';
}

// The aligned fast path reads words in the host's order; captures are little-endian.
if (new Uint8Array(Uint32Array.of(1).buffer)[0] !== 1)
  throw new Error('pagelab reads captures on a little-endian host');

/** Little-endian u64 entries into lo/hi columns, a chunk at a time; an entry may span chunks. */
export class U64Columns {
  lo: Uint32Array;
  hi: Uint32Array;
  length = 0;
  private readonly carry = new Uint8Array(8);
  private carryLen = 0;

  constructor(hint: number) {
    const cap = Math.max(1 << 16, hint);
    this.lo = new Uint32Array(cap);
    this.hi = new Uint32Array(cap);
  }

  private room(n: number): void {
    if (this.length + n <= this.lo.length) return;
    let cap = this.lo.length * 2;
    while (cap < this.length + n) cap *= 2;
    const lo = new Uint32Array(cap);
    const hi = new Uint32Array(cap);
    lo.set(this.lo.subarray(0, this.length));
    hi.set(this.hi.subarray(0, this.length));
    this.lo = lo;
    this.hi = hi;
  }

  push(chunk: Uint8Array): void {
    let off = 0;
    if (this.carryLen > 0) {
      const take = Math.min(8 - this.carryLen, chunk.length);
      this.carry.set(chunk.subarray(0, take), this.carryLen);
      this.carryLen += take;
      off = take;
      if (this.carryLen < 8) return;
      this.words(this.carry, 0, 1);
      this.carryLen = 0;
    }
    const whole = (chunk.length - off) >>> 3;
    this.words(chunk, off, whole);
    off += whole * 8;
    if (off < chunk.length) {
      this.carry.set(chunk.subarray(off));
      this.carryLen = chunk.length - off;
    }
  }

  private words(bytes: Uint8Array, off: number, n: number): void {
    this.room(n);
    const { lo, hi } = this;
    let j = this.length;
    const at = bytes.byteOffset + off;
    if (at % 4 === 0) {
      // Aligned (the usual case): read the words directly, little-endian like the host.
      const w = new Uint32Array(bytes.buffer, at, n * 2);
      for (let i = 0; i < n; i++, j++) {
        lo[j] = w[2 * i];
        hi[j] = w[2 * i + 1];
      }
    } else {
      const v = new DataView(bytes.buffer, at, n * 8);
      for (let i = 0; i < n; i++, j++) {
        lo[j] = v.getUint32(i * 8, true);
        hi[j] = v.getUint32(i * 8 + 4, true);
      }
    }
    this.length = j;
  }

  /** The trailing bytes that did not make a whole entry (a truncated file), if any. */
  get leftover(): number {
    return this.carryLen;
  }
}

/** Stream `file` through its decoder into `sink`. */
async function decode(file: Blob, format: CaptureFormat, sink: (c: Uint8Array) => void): Promise<void> {
  if (format === 'zstd') {
    // fzstd may hand out views of its window: copy before it moves on.
    const d = new Decompress((chunk) => sink(chunk.slice()));
    const reader = file.stream().getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      d.push(value);
    }
    d.push(new Uint8Array(0), true);
    return;
  }
  const stream =
    format === 'gzip'
      ? file
          .stream()
          .pipeThrough(new DecompressionStream('gzip') as unknown as TransformStream<Uint8Array, Uint8Array>)
      : file.stream();
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    sink(value);
  }
}

/** What the Snapshot view shows of a capture: plain data, no per-PFN array. */
export interface CaptureSummary {
  name: string;
  format: CaptureFormat;
  bytes: number;
  nrPfns: number;
  memmapPfns: number;
  usedIomem: boolean;
  /** Per frame type with any page: pages and objects (free: buddy blocks). */
  census: { type: string; frame: number; pages: number; objects: number }[];
  freeBlocks: number[];
  torn: number;
  irregular: number;
  price: Price;
  readMs: number;
  classifyMs: number;
}

export interface Capture {
  snapshot: Snapshot;
  classification: Classification;
  summary: CaptureSummary;
}

/** Read, classify and price one capture; `iomem` (its /proc/iomem) tells holes from RAM. */
export async function readCapture(file: File, iomem?: string): Promise<Capture> {
  const t0 = performance.now();
  const head = new Uint8Array(await file.slice(0, 8).arrayBuffer());
  const format = captureFormat(head);
  // A size hint saves the columns' doubling: raw is the file size; gzip's trailer (ISIZE) holds
  // the decompressed size mod 2^32; zstd's frame header may omit it, so zstd starts small.
  let hint = format === 'raw' ? file.size / 8 : 0;
  if (format === 'gzip' && file.size >= 18)
    hint = new DataView(await file.slice(file.size - 4).arrayBuffer()).getUint32(0, true) / 8;
  const cols = new U64Columns(Math.ceil(hint));
  try {
    await decode(file, format, (c) => cols.push(c));
  } catch (e) {
    throw new Error(`${file.name}: corrupt or truncated ${format} data (${(e as Error).message})`);
  }
  if (cols.leftover !== 0)
    throw new Error(
      `${file.name}: ${cols.length} whole entries and ${cols.leftover} bytes more: a kpageflags capture holds 8 bytes a PFN`,
    );
  if (cols.length === 0) throw new Error(`${file.name}: empty: no PFNs`);
  const snapshot: Snapshot = {
    nrPfns: cols.length,
    flagsLo: cols.lo.subarray(0, cols.length),
    flagsHi: cols.hi.subarray(0, cols.length),
    mapcount: null,
    mapcountSaturated: 0,
    source: { flags: file.name, count: null, format },
    companions: iomem ? { iomem } : {},
  };
  const t1 = performance.now();
  const c = classify(snapshot);
  const census: CaptureSummary['census'] = [];
  for (let f = 0; f < NR_FRAMES; f++) {
    if (c.pages[f] === 0) continue;
    const objects = f === FRAME.FREE ? c.freeBlocks.reduce((a, b) => a + b, 0) : objectCount(c, f as Frame);
    census.push({ type: FRAME_NAMES[f], frame: f, pages: c.pages[f], objects });
  }
  const summary: CaptureSummary = {
    name: file.name,
    format,
    bytes: file.size,
    nrPfns: c.nrPfns,
    memmapPfns: c.memmapPfns,
    usedIomem: c.usedIomem,
    census,
    freeBlocks: c.freeBlocks,
    torn: c.torn,
    irregular: c.irregular,
    price: priceMemdesc(c),
    readMs: t1 - t0,
    classifyMs: performance.now() - t1,
  };
  return { snapshot, classification: c, summary };
}

/** The `page-types -F` summary of a capture, as `pagelab snapshot --page-types` prints it. */
export const pageTypesText = (c: Capture): string => formatPageTypes(pageTypes(c.snapshot, false));
