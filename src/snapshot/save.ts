/**
 * `pagelab snapshot --save DIR`: capture the running machine into a directory — kpageflags and
 * kpagecount gzip-compressed as they stream out of /proc, the /proc texts beside them, and a
 * manifest (kernel, time, pagelab version, size and sha256 of every file) written last — and
 * open such a directory again, refusing it when a file does not match its manifest.
 *
 * Kernel files: fs/proc/page.c (the two files; root only, reads in multiples of 8 bytes),
 * kernel/resource.c (iomem), mm/vmstat.c (zoneinfo, buddyinfo), fs/proc/meminfo.c. The read is
 * not atomic: the machine runs while 2 × 8 bytes per PFN are copied out, so the files describe
 * slightly different moments (the manifest records when the read began and ended).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import { parseZoneinfo } from './companions.js';
import { openError } from './decompress.js';
import { SnapshotError } from './errors.js';
import { COMPANION_NAMES, type Companions } from './read.js';

export const MANIFEST = 'manifest.json';
const MANIFEST_FORMAT = 'pagelab-snapshot';
/** The /proc files a capture holds, in the order they are read, with their saved names. */
const U64_FILES = [
  ['kpageflags', 'kpageflags.gz'],
  ['kpagecount', 'kpagecount.gz'],
] as const;

export interface ManifestFile {
  name: string;
  /** Where it was read from. */
  source: string;
  encoding: 'gzip' | 'text';
  /** Bytes as stored, and as read from /proc before compression. */
  bytes: number;
  sourceBytes: number;
  sha256: string;
}

export interface Manifest {
  format: typeof MANIFEST_FORMAT;
  pagelab: string;
  kernel: { release: string; version: string; arch: string };
  host: string;
  pageSize: number;
  started: string;
  finished: string;
  pfns: number;
  files: ManifestFile[];
}

export interface SaveOptions {
  dir: string;
  /** Where the files are read from (tests point it at a fake /proc). */
  proc?: string;
  /** Write into a non-empty directory that no pagelab capture wrote. */
  force?: boolean;
  /** Called with a line of progress now and then during the long reads. */
  progress?: (line: string) => void;
}

/** pagelab's version, from its package.json (beside src/ and dist/ alike). */
export function pagelabVersion(): string {
  try {
    const pkg = JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    return String(pkg.version);
  } catch {
    return 'unknown';
  }
}

/** Refuse a directory that holds something other than an earlier capture, unless forced. */
function checkTarget(dir: string, force: boolean): void {
  let entries: string[];
  try {
    if (!fs.statSync(dir).isDirectory()) throw new SnapshotError(`${dir}: exists and is not a directory`);
    entries = fs.readdirSync(dir);
  } catch (e) {
    if (e instanceof SnapshotError) throw e;
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new SnapshotError(`${dir}: ${(e as Error).message}`);
  }
  if (entries.length === 0 || force) return;
  if (entries.includes(MANIFEST)) {
    try {
      if (JSON.parse(fs.readFileSync(path.join(dir, MANIFEST), 'utf8')).format === MANIFEST_FORMAT) return;
    } catch {
      // Not our manifest: refused below.
    }
  }
  throw new SnapshotError(
    `${dir}: not empty and not a pagelab capture: refusing to write into it (--force to do it anyway)`,
  );
}

/** Expected /proc/kpageflags size for the progress line: 8 bytes up to the end of the highest zone. */
function expectedBytes(zoneinfo: string | undefined): number {
  if (zoneinfo === undefined) return 0;
  return 8 * Math.max(0, ...parseZoneinfo(zoneinfo).map((z) => z.startPfn + z.spanned));
}

/** Stream `source` through gzip into `dest`, hashing what is stored; returns sizes and hash. */
async function saveCompressed(
  source: string,
  dest: string,
  progress: (bytes: number) => void,
): Promise<{ bytes: number; sourceBytes: number; sha256: string }> {
  let sourceBytes = 0;
  let bytes = 0;
  const hash = createHash('sha256');
  const count = new Transform({
    transform(chunk: Buffer, _enc, done) {
      sourceBytes += chunk.length;
      progress(sourceBytes);
      done(null, chunk);
    },
  });
  const digest = new Transform({
    transform(chunk: Buffer, _enc, done) {
      bytes += chunk.length;
      hash.update(chunk);
      done(null, chunk);
    },
  });
  const tmp = `${dest}.partial`;
  try {
    // 512 KiB reads: a multiple of 8, as fs/proc/page.c requires.
    await pipeline(
      fs.createReadStream(source, { highWaterMark: 1 << 19 }),
      count,
      zlib.createGzip({ level: 6 }),
      digest,
      fs.createWriteStream(tmp),
    );
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    const code = (e as NodeJS.ErrnoException).code ?? '';
    if (code === 'EACCES' || code === 'EPERM' || code === 'ENOENT') throw openError(source, e);
    throw new SnapshotError(`${source} → ${dest}: ${(e as Error).message}`);
  }
  if (sourceBytes === 0 || sourceBytes % 8 !== 0) {
    fs.rmSync(tmp, { force: true });
    throw new SnapshotError(`${source}: read ${sourceBytes} bytes, not a positive multiple of 8`);
  }
  fs.renameSync(tmp, dest);
  return { bytes, sourceBytes, sha256: hash.digest('hex') };
}

/** Capture the machine whose /proc is `o.proc` into `o.dir`; returns the manifest written. */
export async function saveCapture(o: SaveOptions): Promise<Manifest> {
  const proc = o.proc ?? '/proc';
  const say = o.progress ?? (() => {});
  const flagsPath = path.join(proc, 'kpageflags');
  try {
    fs.closeSync(fs.openSync(flagsPath, 'r'));
  } catch (e) {
    throw openError(flagsPath, e);
  }
  checkTarget(o.dir, o.force === true);
  try {
    fs.mkdirSync(o.dir, { recursive: true });
  } catch (e) {
    throw new SnapshotError(`${o.dir}: ${(e as Error).message}`);
  }
  const started = new Date().toISOString();
  const companions: Companions = {};
  for (const name of COMPANION_NAMES) {
    try {
      companions[name] = fs.readFileSync(path.join(proc, name), 'utf8');
    } catch {
      // Optional: a capture without it says what it could not tell.
    }
  }
  const expected = expectedBytes(companions.zoneinfo);
  const files: ManifestFile[] = [];
  for (const [name, saved] of U64_FILES) {
    const source = path.join(proc, name);
    let next = 0;
    const r = await saveCompressed(source, path.join(o.dir, saved), (b) => {
      if (b < next) return;
      next = b + 64 * 2 ** 20;
      const pct = expected > 0 ? ` (${Math.min(100, Math.floor((b / expected) * 100))} %)` : '';
      say(`${source}: ${(b / 2 ** 20).toFixed(0)} MiB read${pct}`);
    });
    say(
      `${source}: ${(r.sourceBytes / 2 ** 20).toFixed(1)} MiB → ${saved}, ${(r.bytes / 2 ** 20).toFixed(1)} MiB`,
    );
    files.push({ name: saved, source, encoding: 'gzip', ...r });
  }
  if (files[0].sourceBytes !== files[1].sourceBytes)
    throw new SnapshotError(
      `${files[1].source}: ${files[1].sourceBytes} bytes but ${files[0].source} has ${files[0].sourceBytes}: they must cover the same PFNs`,
    );
  for (const name of COMPANION_NAMES) {
    const text = companions[name];
    if (text === undefined) continue;
    const saved = `${name}.txt`;
    fs.writeFileSync(path.join(o.dir, saved), text);
    const bytes = Buffer.byteLength(text);
    const sha256 = createHash('sha256').update(text).digest('hex');
    files.push({
      name: saved,
      source: path.join(proc, name),
      encoding: 'text',
      bytes,
      sourceBytes: bytes,
      sha256,
    });
  }
  let version = '';
  try {
    version = fs.readFileSync(path.join(proc, 'version'), 'utf8').trim();
  } catch {
    // /proc/version is informational.
  }
  const manifest: Manifest = {
    format: MANIFEST_FORMAT,
    pagelab: pagelabVersion(),
    kernel: { release: os.release(), version, arch: os.arch() },
    host: os.hostname(),
    pageSize: 4096,
    started,
    finished: new Date().toISOString(),
    pfns: files[0].sourceBytes / 8,
    files,
  };
  fs.writeFileSync(path.join(o.dir, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

/** sha256 and size of a file, streamed. */
async function hashFile(file: string): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 1 << 20 })) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { bytes, sha256: hash.digest('hex') };
}

export interface CaptureDir {
  manifest: Manifest;
  flags: string;
  count: string;
  companions: Companions;
}

/**
 * Open a directory `pagelab snapshot --save` wrote: read its manifest and check every file it
 * lists for size and sha256 before anything is analysed; a mismatch names the file.
 */
export async function openCaptureDir(dir: string): Promise<CaptureDir> {
  const mpath = path.join(dir, MANIFEST);
  let manifest: Manifest;
  try {
    manifest = JSON.parse(fs.readFileSync(mpath, 'utf8'));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new SnapshotError(
      code === 'ENOENT'
        ? `${dir}: a directory without ${MANIFEST}: not a capture of pagelab snapshot --save`
        : `${mpath}: not valid JSON (${(e as Error).message})`,
    );
  }
  if (manifest?.format !== MANIFEST_FORMAT || !Array.isArray(manifest.files))
    throw new SnapshotError(`${mpath}: not a pagelab capture manifest`);
  const companions: Companions = {};
  for (const f of manifest.files) {
    const file = path.join(dir, path.basename(String(f.name)));
    let got: { bytes: number; sha256: string };
    try {
      got = await hashFile(file);
    } catch (e) {
      throw openError(file, e);
    }
    if (got.bytes !== f.bytes)
      throw new SnapshotError(
        `${file}: ${got.bytes} bytes but ${MANIFEST} says ${f.bytes}: truncated or changed`,
      );
    if (got.sha256 !== f.sha256)
      throw new SnapshotError(
        `${file}: sha256 does not match ${MANIFEST}: the file is corrupted or was changed`,
      );
    const stem = path.basename(f.name).replace(/\.txt$/, '');
    if ((COMPANION_NAMES as readonly string[]).includes(stem))
      companions[stem as keyof Companions] = fs.readFileSync(file, 'utf8');
  }
  const find = (name: string) => {
    const f = manifest.files.find((x) => x.name.startsWith(name));
    if (!f) throw new SnapshotError(`${mpath}: lists no ${name} file`);
    return path.join(dir, path.basename(f.name));
  };
  return { manifest, flags: find('kpageflags'), count: find('kpagecount'), companions };
}
