/**
 * Analysing a capture as a stream: kpageflags is decoded chunk by chunk straight into the
 * classifier and the page-types counter, then kpagecount into the classifier's KSM total, so
 * the only per-PFN state is the classifier's one frame byte — no column of the 64-bit words, no
 * whole-file buffer. This is what `pagelab snapshot` runs; readSnapshot() (read.ts) keeps the
 * words for callers that want them.
 *
 * Kernel files: fs/proc/page.c (both files hold one u64 per PFN from PFN 0; reads must be
 * multiples of 8 bytes). A live read is not atomic; see read.ts.
 */

import fs from 'node:fs';
import { type Classification, Classifier } from './classify.js';
import { type Format, openError, probeFile, streamFile } from './decompress.js';
import { SnapshotError } from './errors.js';
import { PageTypesCounter, type PageTypesSummary } from './page_types.js';
import {
  type Companions,
  liveCompanions,
  PROC_KPAGECOUNT,
  PROC_KPAGEFLAGS,
  type SnapshotInfo,
  siblingCompanions,
  siblingCountFile,
} from './read.js';
import { U64Chunker } from './u64_stream.js';

export interface AnalyseOptions {
  flags: string;
  /** kpagecount path; undefined: look for a sibling; null: none. Not read without `census`. */
  count?: string | null;
  companions?: Companions;
  /** Classify every PFN (the census, price, map and replay need it). Default true. */
  census?: boolean;
  /** Also build the page-types summary, in raw mode or not. */
  pageTypes?: 'normal' | 'raw';
  chunkBytes?: number;
  /** Called after each decompressed chunk with the file and its bytes so far. */
  progress?: (file: string, bytes: number) => void;
}

export interface Analysis {
  info: SnapshotInfo;
  classification: Classification | null;
  pageTypes: PageTypesSummary | null;
}

/** Stream one u64 file; `sink` gets whole entries as in U64Chunker. Returns its format and entry count. */
async function streamU64(
  file: string,
  o: AnalyseOptions,
  sink: (words: Uint32Array, count: number) => void,
): Promise<{ format: Format; entries: number }> {
  const probe = probeFile(file);
  let entries = 0;
  const chunker = new U64Chunker((words, count) => {
    sink(words, count);
    entries += count;
  });
  const progress = o.progress;
  await streamFile(
    file,
    probe.format,
    progress
      ? (chunk) => {
          chunker.push(chunk);
          progress(file, chunker.bytes);
        }
      : (chunk) => chunker.push(chunk),
    o.chunkBytes,
  );
  chunker.finish(file);
  if (entries === 0) throw new SnapshotError(`${file}: empty: no PFNs`);
  return { format: probe.format, entries };
}

/** Classify a saved capture (or, with the /proc paths, the live machine) in one streaming pass per file. */
export async function analyseCapture(o: AnalyseOptions): Promise<Analysis> {
  const census = o.census !== false;
  const companions = o.companions ?? siblingCompanions(o.flags);
  const countPath = !census ? null : o.count === undefined ? siblingCountFile(o.flags) : o.count;
  const hint = Math.floor(probeFile(o.flags).sizeHint / 8);
  const classifier = census ? new Classifier(companions.iomem, hint) : null;
  const counter = o.pageTypes ? new PageTypesCounter(o.pageTypes === 'raw') : null;
  const flags = await streamU64(o.flags, o, (words, count) => {
    classifier?.push(words, words, 0, 1, 2, count);
    counter?.push(words, words, 0, 1, 2, count);
  });
  let saturated = 0;
  if (countPath !== null && classifier !== null) {
    let pfn = 0;
    const count = await streamU64(countPath, o, (words, n) => {
      saturated += classifier.pushCountWords(words, n, pfn);
      pfn += n;
    });
    if (count.entries !== flags.entries)
      throw new SnapshotError(
        `${countPath}: ${count.entries} entries but ${o.flags} has ${flags.entries}: kpagecount and kpageflags must cover the same PFNs`,
      );
  }
  return {
    info: {
      nrPfns: flags.entries,
      mapcountSaturated: saturated,
      source: { flags: o.flags, count: countPath, format: flags.format },
      companions,
    },
    classification: classifier?.finish() ?? null,
    pageTypes: counter?.finish() ?? null,
  };
}

/** The running machine (root only): a clear one-line error when /proc/kpageflags cannot be opened. */
export async function analyseLive(
  o: Omit<AnalyseOptions, 'flags' | 'count' | 'companions'>,
): Promise<Analysis> {
  try {
    fs.closeSync(fs.openSync(PROC_KPAGEFLAGS, 'r'));
  } catch (e) {
    throw openError(PROC_KPAGEFLAGS, e);
  }
  return analyseCapture({
    ...o,
    flags: PROC_KPAGEFLAGS,
    count: PROC_KPAGECOUNT,
    companions: liveCompanions(),
    chunkBytes: o.chunkBytes ?? 1 << 19,
  });
}
