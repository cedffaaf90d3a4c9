/**
 * Truncation of a file: the new size, the mappings and page-cache folios past it, the zeroed tail.
 *
 * Models: mm/truncate.c (truncate_setsize, truncate_pagecache, truncate_inode_pages_range) over
 * the model's page cache (filemap.ts); the unmapping is unmap_mapping_range with even_cows.
 * Leaves out: partial-folio splitting (page-cache folios are order 0 here), holes (fallocate).
 */
import type { File } from './filemap.js';
import type { Kernel } from './kernel.js';
import { zapRange } from './memory_zap.js';
import { PAGE_SIZE } from './types.js';

/**
 * truncate_setsize() + truncate_pagecache(): the new size takes effect, every mapping of pages
 * past it is zapped (private COW copies too: even_cows), those folios leave the page cache with
 * their data, and the tail of a partial last page reads as zeros. Growing a disk file zeroes what
 * lay past the old end in its page (bytes a shared mapping stored there are not file data: POSIX,
 * and the filesystems' zeroing on extension, fstests generic/363). shmem does not (shmem_setattr
 * only sets the size: measured on Linux 6.18, examples/oracle/past-eof.yaml): a memfd's stray
 * bytes become file data.
 */
export function truncateFile(k: Kernel, f: File, size: number): void {
  const newPages = Math.ceil(size / PAGE_SIZE);
  const shrinking = size < f.size;
  if (size > f.size && !f.shmem) zeroPastEof(k, f, f.size, size);
  f.size = size;
  if (shrinking) {
    for (const vma of [...f.mmap]) {
      const start = Math.max(vma.start, vma.start + (newPages - vma.pgoff) * PAGE_SIZE);
      if (start < vma.end) zapRange(k, vma, start, vma.end);
    }
    for (const index of [...k.pagecache.cachedFrom(f, newPages)]) k.pagecache.removeFolio(f, index, true);
    for (let i = newPages; i < f.pages.length; i++) f.backing.clear(i);
  }
  if (size % PAGE_SIZE !== 0) zeroPastEof(k, f, size, newPages * PAGE_SIZE);
}

/** Zero [from, to) within the page holding `from`, on disk and in its cached folio. */
function zeroPastEof(k: Kernel, f: File, from: number, to: number): void {
  const off = from % PAGE_SIZE;
  if (off === 0) return;
  const index = Math.floor(from / PAGE_SIZE);
  const len = Math.min(to, (index + 1) * PAGE_SIZE) - from;
  f.backing.fillRange(index, off, len, 0);
  const row = k.pagecache.lookup(f, index);
  if (row >= 0) k.frames.fillRange(k.folios.pfn[row], off, len, 0);
}
