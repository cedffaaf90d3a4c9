/**
 * Files and devices' DMA, as user space and a device see them: create, truncate and fsync a file
 * by name and read what is on its disk; read and write the frames a GUP handle holds, as a device
 * doing DMA would (whoever maps those frames now).
 *
 * Models: the VFS calls the model needs (filemap.ts, truncate in memory.ts, writeback in
 * page-writeback.ts) and a device's view of pinned memory. Arguments are checked here, so the
 * mechanisms below see only valid ones.
 */
import type { File } from '../mm/filemap.js';
import { gupFrames } from '../mm/gup_release.js';
import type { Kernel } from '../mm/kernel.js';
import { truncateFile } from '../mm/truncate.js';
import { mod, PAGE_SIZE } from '../mm/types.js';
import type { UserData } from '../mm/uaccess.js';
import { InputError } from './config.js';

function byteCount(size: number): number {
  if (!Number.isSafeInteger(size) || size < 0) throw new InputError(`file size ${size} is not a byte count`);
  return size;
}

/** The file called `name`. */
export function fileByName(k: Kernel, name: string): File {
  const f = k.pagecache.files.get(name);
  if (!f) throw new InputError(`no file named '${name}'`);
  return f;
}

/** A file on a disk filesystem (content on disk, nothing cached) or a memfd (shmem, content cached). */
export function fileCreate(
  k: Kernel,
  name: string,
  size: number,
  content: number | Uint8Array | undefined,
  memfd: boolean,
): void {
  if (k.pagecache.files.has(name)) throw new InputError(`file '${name}' already exists`);
  if (memfd) k.pagecache.memfdCreate(name, byteCount(size), content);
  else k.pagecache.create(name, byteCount(size), content);
}

/** truncate(): shrink or grow; pages beyond the new end leave every mapping and the cache. */
export function fileTruncate(k: Kernel, name: string, size: number): void {
  truncateFile(k, fileByName(k, name), byteCount(size));
}

/** What the file holds on disk (for checking writeback). */
export function fileContents(k: Kernel, name: string, offset: number, len: number): Uint8Array {
  const f = fileByName(k, name);
  const out = new Uint8Array(len);
  for (let done = 0; done < len; ) {
    const a = offset + done;
    const n = Math.min(len - done, PAGE_SIZE - mod(a, PAGE_SIZE));
    const index = Math.floor(a / PAGE_SIZE);
    // shmem has no disk: its contents are the page cache (a hole reads as zeros).
    const row = f.shmem ? k.pagecache.lookup(f, index) : -1;
    if (row >= 0) k.frames.read(k.folios.pfn[row], mod(a, PAGE_SIZE), n, out, done);
    else if (!f.shmem) f.backing.read(index, mod(a, PAGE_SIZE), n, out, done);
    done += n;
  }
  return out;
}

/** The pinned frames of a GUP handle and the byte range [offset, offset+len) of them, checked. */
function dmaSpan(
  k: Kernel,
  id: number,
  offset: number,
  n: number | undefined,
): { pfns: Float64Array; len: number } {
  const { pfns } = gupFrames(k, id);
  const total = pfns.length * PAGE_SIZE;
  const len = n ?? total - offset;
  if (
    !Number.isSafeInteger(offset) ||
    !Number.isSafeInteger(len) ||
    offset < 0 ||
    len < 0 ||
    offset + len > total
  )
    throw new InputError(`DMA range ${offset}+${len} is outside the ${total} pinned bytes`);
  return { pfns, len };
}

/** Each page-sized piece of [offset, offset+len) of the frames: frame, offset in it, length, bytes done. */
function eachChunk(
  pfns: Float64Array,
  offset: number,
  len: number,
  fn: (pfn: number, off: number, m: number, done: number) => void,
): void {
  for (let done = 0; done < len; ) {
    const a = offset + done;
    const m = Math.min(len - done, PAGE_SIZE - mod(a, PAGE_SIZE));
    fn(pfns[Math.floor(a / PAGE_SIZE)], mod(a, PAGE_SIZE), m, done);
    done += m;
  }
}

/** A device reads `len` bytes through a GUP handle, starting `offset` bytes into it. */
export function dmaRead(k: Kernel, id: number, offset = 0, n?: number): Uint8Array {
  const { pfns, len } = dmaSpan(k, id, offset, n);
  const out = new Uint8Array(len);
  eachChunk(pfns, offset, len, (pfn, off, m, done) => k.frames.read(pfn, off, m, out, done));
  return out;
}

/** A device writes through a GUP handle (what it wrote lands in the pinned frames, whoever maps them now). */
export function dmaWrite(k: Kernel, id: number, data: UserData, offset = 0): void {
  const { pfns, len } = dmaSpan(k, id, offset, data instanceof Uint8Array ? data.length : data.len);
  eachChunk(pfns, offset, len, (pfn, off, m, done) => {
    if (data instanceof Uint8Array) k.frames.write(pfn, off, data.subarray(done, done + m));
    else k.frames.fillRange(pfn, off, m, data.byte);
  });
}
