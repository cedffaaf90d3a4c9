/**
 * Truncation of a file: the new size, the mappings and page-cache folios past it, the zeroed tail.
 *
 * Models: mm/truncate.c (truncate_setsize, truncate_pagecache, truncate_inode_pages_range) over
 * the model's page cache (filemap.ts); the unmapping is unmap_mapping_range with even_cows.
 * Leaves out: partial-folio splitting (page-cache folios are order 0 here), holes (fallocate).
 */
import type { File } from './filemap.js';
import type { Kernel } from './kernel.js';
import { zapRange } from './memory.js';
import { PAGE_SIZE } from './types.js';

/**
 * truncate_setsize() + truncate_pagecache(): the new size takes effect, every mapping of pages
 * past it is zapped (private COW copies too: even_cows), those folios leave the page cache with
 * their data, and the tail of a partial last page reads as zeros.
 */
export function truncateFile(k: Kernel, f: File, size: number): void {
  const newPages = Math.ceil(size / PAGE_SIZE);
  const shrinking = size < f.size;
  f.size = size;
  if (shrinking) {
    for (const vma of [...f.mmap]) {
      const start = Math.max(vma.start, vma.start + (newPages - vma.pgoff) * PAGE_SIZE);
      if (start < vma.end) zapRange(k, vma, start, vma.end);
    }
    for (const index of [...k.pagecache.cachedFrom(f, newPages)]) k.pagecache.removeFolio(f, index, true);
    for (let i = newPages; i < f.pages.length; i++) f.backing.clear(i);
  }
  const tail = size % PAGE_SIZE;
  if (tail !== 0) {
    const index = newPages - 1;
    f.backing.fillRange(index, tail, PAGE_SIZE - tail, 0);
    const row = k.pagecache.lookup(f, index);
    if (row >= 0) k.frames.fillRange(k.folios.pfn[row], tail, PAGE_SIZE - tail, 0);
  }
}
