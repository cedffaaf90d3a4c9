/**
 * Reading a capture file in chunks, raw, gzip or zstd, told apart by their magic bytes (a file
 * name can lie; `.gz` renamed or a raw dump with no suffix both happen). gzip goes through
 * node:zlib, zstd through fzstd (pure JavaScript, streaming). Every decompressed chunk is handed
 * to `sink` synchronously, before the decoder may reuse its buffer.
 *
 * Kernel side: none; this is the transport for what fs/proc/page.c wrote.
 */
import fs from 'node:fs';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import { Decompress } from 'fzstd';
import { SnapshotError } from './errors.js';

export const FORMATS = ['raw', 'gzip', 'zstd'] as const;
export type Format = (typeof FORMATS)[number];

/** The format a file's first bytes announce (gzip 1f 8b, zstd frame 28 b5 2f fd, else raw). */
export function detectFormat(head: Uint8Array): Format {
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd)
    return 'zstd';
  return 'raw';
}

export interface FileProbe {
  format: Format;
  /** Decompressed size when the container says it cheaply (raw: file size; gzip: ISIZE mod 2^32). */
  sizeHint: number;
}

/** Open `path`, read its magic and a size hint; a missing or unreadable file is a SnapshotError. */
export function probeFile(path: string): FileProbe {
  let fd: number;
  try {
    fd = fs.openSync(path, 'r');
  } catch (e) {
    throw openError(path, e);
  }
  try {
    const size = fs.fstatSync(fd).size;
    // 8 bytes, not 4: /proc/kpageflags refuses reads that are not a multiple of 8.
    const head = new Uint8Array(8);
    const got = fs.readSync(fd, head, 0, 8, 0);
    const format = detectFormat(head.subarray(0, got));
    let sizeHint = format === 'raw' ? size : 0;
    if (format === 'gzip' && size >= 18) {
      const tail = new Uint8Array(4);
      fs.readSync(fd, tail, 0, 4, size - 4);
      sizeHint = new DataView(tail.buffer).getUint32(0, true);
    }
    return { format, sizeHint };
  } finally {
    fs.closeSync(fd);
  }
}

/** A one-line reason an open failed, with the fix for the usual one (not root for /proc). */
export function openError(path: string, e: unknown): SnapshotError {
  const code = (e as NodeJS.ErrnoException).code;
  if ((code === 'EACCES' || code === 'EPERM') && path.startsWith('/proc/'))
    return new SnapshotError(`${path}: permission denied: reading it needs root (CAP_SYS_ADMIN)`);
  if (code === 'ENOENT') return new SnapshotError(`${path}: no such file`);
  return new SnapshotError(`${path}: ${(e as Error).message}`);
}

/**
 * Stream `path` through the decoder its magic asks for, calling `sink` with each decompressed
 * chunk. `chunkBytes` sets the read size (the kernel files need a multiple of 8).
 */
export async function streamFile(
  path: string,
  format: Format,
  sink: (chunk: Uint8Array) => void,
  chunkBytes = 1 << 20,
): Promise<void> {
  const source = fs.createReadStream(path, { highWaterMark: chunkBytes });
  const collect = new Writable({
    write(chunk: Uint8Array, _enc, done) {
      sink(chunk);
      done();
    },
  });
  try {
    if (format === 'raw') await pipeline(source, collect);
    else if (format === 'gzip')
      await pipeline(source, zlib.createGunzip({ chunkSize: Math.max(64, chunkBytes) }), collect);
    else await pipeline(source, zstdDecoder(path), collect);
  } catch (e) {
    if (e instanceof SnapshotError) throw e;
    const code = (e as NodeJS.ErrnoException).code ?? '';
    if (code === 'EACCES' || code === 'EPERM' || code === 'ENOENT') throw openError(path, e);
    if (format === 'gzip' && code.startsWith('Z_'))
      throw new SnapshotError(`${path}: corrupt or truncated gzip data (${(e as Error).message})`);
    throw new SnapshotError(`${path}: ${(e as Error).message}`);
  }
}

/** fzstd's push decoder wrapped as an async transform; its errors become one-line SnapshotErrors. */
function zstdDecoder(path: string): (source: AsyncIterable<Uint8Array>) => AsyncGenerator<Uint8Array> {
  return async function* (source) {
    const out: Uint8Array[] = [];
    // fzstd may hand out views of its window; copy before it moves on.
    const d = new Decompress((chunk) => out.push(chunk.slice()));
    try {
      for await (const chunk of source) {
        d.push(chunk);
        yield* out.splice(0);
      }
      d.push(new Uint8Array(0), true);
    } catch (e) {
      throw new SnapshotError(`${path}: corrupt or truncated zstd data (${(e as Error).message})`);
    }
    yield* out.splice(0);
  };
}
