/**
 * Reading a capture: /proc/kpageflags with its companion /proc/kpagecount, live or from saved
 * files, into typed arrays — the input of every analysis in src/snapshot.
 *
 * Kernel files: fs/proc/page.c (both files hold one u64 per PFN from PFN 0 up to max_pfn rounded
 * up to a memory section; kpagecount holds folio_precise_page_mapcount(), 0 for frames without
 * a memmap). A live read is not atomic: the two files are read one after the other while the
 * machine runs, so a folio may be split or freed between them; the analysis tolerates that.
 */
import fs from 'node:fs';
import path from 'node:path';
import { type Format, openError, probeFile, streamFile } from './decompress.js';
import { SnapshotError } from './errors.js';
import { U64Collector } from './u64_stream.js';

export const PROC_KPAGEFLAGS = '/proc/kpageflags';
export const PROC_KPAGECOUNT = '/proc/kpagecount';

/** The text companions a capture may carry (each optional). */
export interface Companions {
  iomem?: string;
  zoneinfo?: string;
  buddyinfo?: string;
  meminfo?: string;
}
export const COMPANION_NAMES = ['iomem', 'zoneinfo', 'buddyinfo', 'meminfo'] as const;

export interface Snapshot {
  nrPfns: number;
  /** kpageflags bits 0–31 and 32–63 of each PFN. */
  flagsLo: Uint32Array;
  flagsHi: Uint32Array;
  /** kpagecount of each PFN (saturated at 2^32 − 1), or null when no kpagecount was given. */
  mapcount: Uint32Array | null;
  /** PFNs whose kpagecount did not fit 32 bits (a negative mapcount reads as a huge u64). */
  mapcountSaturated: number;
  source: { flags: string; count: string | null; format: Format };
  companions: Companions;
}

/** What is known of a capture besides its per-PFN words (all a streaming analysis keeps). */
export type SnapshotInfo = Omit<Snapshot, 'flagsLo' | 'flagsHi' | 'mapcount'>;

export interface ReadOptions {
  /** Path of the kpageflags capture (raw, gzip or zstd). */
  flags: string;
  /** Path of the kpagecount capture; undefined: look for a sibling; null: none. */
  count?: string | null;
  companions?: Companions;
  /** Read size in bytes (a multiple of 8 for /proc). */
  chunkBytes?: number;
}

/** One u64 file into two columns. */
async function readU64(
  file: string,
  chunkBytes?: number,
  saturate = false,
): Promise<{ lo: Uint32Array; hi: Uint32Array; saturated: number; format: Format }> {
  const probe = probeFile(file);
  const c = new U64Collector(Math.floor(probe.sizeHint / 8), saturate);
  await streamFile(file, probe.format, (chunk) => c.push(chunk), chunkBytes);
  const cols = c.finish(file);
  if (cols.length === 0) throw new SnapshotError(`${file}: empty: no PFNs`);
  return { lo: cols.lo, hi: cols.hi, saturated: c.saturated, format: probe.format };
}

/**
 * The kpagecount file that goes with a kpageflags file saved as `NAME.kpageflags[.gz|.zst]`
 * or `kpageflags[...]`: the same name with `kpagecount`, in any of the three encodings.
 */
export function siblingCountFile(flagsPath: string): string | null {
  const dir = path.dirname(flagsPath);
  const base = path.basename(flagsPath);
  if (!base.includes('kpageflags')) return null;
  const stem = base.replace('kpageflags', 'kpagecount').replace(/\.(gz|zst|zstd)$/, '');
  for (const ext of ['', '.gz', '.zst', '.zstd']) {
    const p = path.join(dir, stem + ext);
    if (fs.existsSync(p)) return p;
  }
  return null;
}

/** Companion text files beside a saved capture: `NAME.iomem.txt` etc. for `NAME.kpageflags*`. */
export function siblingCompanions(flagsPath: string): Companions {
  const dir = path.dirname(flagsPath);
  const base = path.basename(flagsPath);
  const prefix = base.slice(0, Math.max(0, base.indexOf('kpageflags')));
  const out: Companions = {};
  for (const name of COMPANION_NAMES) {
    for (const candidate of [`${prefix}${name}.txt`, `${prefix}${name}`]) {
      const p = path.join(dir, candidate);
      if (fs.existsSync(p) && fs.statSync(p).isFile()) {
        out[name] = fs.readFileSync(p, 'utf8');
        break;
      }
    }
  }
  return out;
}

/** Read a saved capture (or, with the /proc paths, the live machine). */
export async function readSnapshot(o: ReadOptions): Promise<Snapshot> {
  const countPath = o.count === undefined ? siblingCountFile(o.flags) : o.count;
  const flags = await readU64(o.flags, o.chunkBytes);
  let mapcount: Uint32Array | null = null;
  let saturated = 0;
  if (countPath !== null) {
    const count = await readU64(countPath, o.chunkBytes, true);
    if (count.lo.length !== flags.lo.length)
      throw new SnapshotError(
        `${countPath}: ${count.lo.length} entries but ${o.flags} has ${flags.lo.length}: kpagecount and kpageflags must cover the same PFNs`,
      );
    mapcount = count.lo;
    saturated = count.saturated;
  }
  return {
    nrPfns: flags.lo.length,
    flagsLo: flags.lo,
    flagsHi: flags.hi,
    mapcount,
    mapcountSaturated: saturated,
    source: { flags: o.flags, count: countPath, format: flags.format },
    companions: o.companions ?? siblingCompanions(o.flags),
  };
}

/** The running machine: /proc/kpageflags and /proc/kpagecount (root only) and its /proc texts. */
export async function readLiveSnapshot(chunkBytes = 1 << 19): Promise<Snapshot> {
  try {
    fs.closeSync(fs.openSync(PROC_KPAGEFLAGS, 'r'));
  } catch (e) {
    throw openError(PROC_KPAGEFLAGS, e);
  }
  const companions = liveCompanions();
  return readSnapshot({ flags: PROC_KPAGEFLAGS, count: PROC_KPAGECOUNT, companions, chunkBytes });
}

/** The /proc texts of the running machine that a capture carries (each optional). */
export function liveCompanions(proc = '/proc'): Companions {
  const out: Companions = {};
  for (const name of COMPANION_NAMES) {
    try {
      out[name] = fs.readFileSync(`${proc}/${name}`, 'utf8');
    } catch {
      // A companion is optional; the analysis says what it could not tell without it.
    }
  }
  return out;
}
