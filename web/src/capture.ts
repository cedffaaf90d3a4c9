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
import { U64Collector } from '../../src/snapshot/u64_stream.js';

export type CaptureFormat = Snapshot['source']['format'];

/** The format a capture's first bytes name (the magic numbers of gzip and zstd). */
export function captureFormat(head: Uint8Array): CaptureFormat {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd)
    return 'zstd';
  return 'raw';
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
  // The CLI's own collector: the carry across chunk boundaries and the partial-entry refusal.
  const collector = new U64Collector(Math.ceil(hint));
  try {
    await decode(file, format, (c) => collector.push(c));
  } catch (e) {
    throw new Error(`${file.name}: corrupt or truncated ${format} data (${(e as Error).message})`);
  }
  const cols = collector.finish(file.name);
  if (cols.length === 0) throw new Error(`${file.name}: empty: no PFNs`);
  const snapshot: Snapshot = {
    nrPfns: cols.length,
    flagsLo: cols.lo,
    flagsHi: cols.hi,
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
