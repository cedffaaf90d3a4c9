/**
 * Files and the page cache.
 *
 * Models: struct address_space and the page-cache primitives of mm/filemap.c
 * (filemap_get_folio / __filemap_add_folio / filemap_remove_folio, read-in on a miss),
 * writeback of dirty folios (mm/page-writeback.c: folio_mark_dirty's filemap_dirty_folio path,
 * write_cache_pages), and shmem (mm/shmem.c) for MAP_SHARED|MAP_ANONYMOUS memory, whose pages
 * are the only copy of the data. The page cache of a file is a typed array of folio handles
 * indexed by page offset; a file's on-disk bytes are a ContentStore keyed by page offset.
 * Leaves out: large file folios (every page-cache folio is order 0), readahead, buffer heads;
 * writeback completes at once.
 */
import type { FolioPool } from './folio.js';
import { PG } from './folio.js';
import { ContentStore } from './highmem.js';
import { MT } from './memdesc.js';
import type { Vma } from './mm_types.js';
import { GFP, GFP_HIGHUSER_MOVABLE } from './mmzone.js';
import { grown } from './pool.js';
import { type Errno, PAGE_SIZE } from './types.js';

export interface File {
  readonly id: number;
  readonly name: string;
  /** Size in bytes (i_size). */
  size: number;
  /** shmem: no backing store; the page cache is the data. */
  readonly shmem: boolean;
  /** Page cache: folio handle per page offset, 0 when not cached. */
  pages: Float64Array;
  nrCached: number;
  /** On-disk contents by page offset (unused for shmem). */
  readonly backing: ContentStore;
  /** VMAs mapping the file (i_mmap). */
  readonly mmap: Set<Vma>;
  /** I_DIRTY_PAGES: the inode has dirty page-cache folios. */
  dirty: boolean;
  /** Error recorded on the mapping for the next fsync (mapping_set_error). */
  wbErr: Errno | null;
}

export class PageCache {
  readonly files = new Map<string, File>();
  private readonly byId: File[] = [];

  constructor(
    private readonly folios: FolioPool,
    private readonly frames: ContentStore,
  ) {}

  /** Create a file of `size` bytes whose on-disk content is `content` (repeated) or zeros. */
  create(name: string, size: number, content?: Uint8Array | number, shmem = false): File {
    const id = this.byId.length + 1;
    const f: File = {
      id,
      name,
      size,
      shmem,
      pages: new Float64Array(Math.max(1, Math.ceil(size / PAGE_SIZE))),
      nrCached: 0,
      backing: new ContentStore(this.frames.enabled),
      mmap: new Set(),
      dirty: false,
      wbErr: null,
    };
    if (content !== undefined) writeBacking(f, content);
    this.byId.push(f);
    if (!shmem) this.files.set(name, f);
    return f;
  }

  /**
   * memfd_create() + ftruncate() + write(): a named shmem file. shmem has no backing store, so the
   * written bytes sit in the page cache at once, dirty (shmem_write_end); pages never written stay
   * holes.
   */
  memfdCreate(name: string, size: number, content?: Uint8Array | number): File {
    const f = this.create(name, size, undefined, true);
    this.files.set(name, f);
    if (content === undefined) return f;
    const end = typeof content === 'number' ? size : Math.min(size, content.length);
    try {
      for (let i = 0, off = 0; off < end; i++, off += PAGE_SIZE) {
        const row = this.getFolio(f, i);
        const pfn = this.folios.pfn[row];
        const len = Math.min(PAGE_SIZE, end - off);
        if (typeof content === 'number') this.frames.fillRange(pfn, 0, len, content);
        else this.frames.write(pfn, 0, content.subarray(off, off + len));
        this.folios.setFlag(row, PG.dirty);
      }
    } catch (e) {
      // Out of memory half way: the file never existed (the write's ENOMEM comes back unchanged).
      for (const i of [...this.cachedFrom(f, 0)]) this.removeFolio(f, i, true);
      this.files.delete(name);
      throw e;
    }
    f.dirty = true;
    return f;
  }

  /** Every file, shmem ones included. */
  allFiles(): readonly File[] {
    return this.byId;
  }

  byMappingId(id: number): File | undefined {
    return this.byId[id - 1];
  }

  nrPages(f: File): number {
    return Math.ceil(f.size / PAGE_SIZE);
  }

  /** The cached folio row for a page offset, or -1. */
  lookup(f: File, index: number): number {
    const h = index < f.pages.length ? f.pages[index] : 0;
    return h === 0 ? -1 : this.folios.row(h);
  }

  /**
   * filemap_get_folio with FGP_CREAT: the folio for `index`, read in from the backing store on a
   * miss. The page cache holds one reference.
   */
  getFolio(f: File, index: number, nid = 0): number {
    const cached = this.lookup(f, index);
    if (cached >= 0) return cached;
    const h = this.folios.alloc(GFP_HIGHUSER_MOVABLE | GFP.COMP, 0, MT.FILE, nid);
    const row = h >>> 0;
    const pfn = this.folios.pfn[row];
    this.folios.mapping[row] = f.id;
    this.folios.index[row] = index;
    this.folios.setFlag(row, PG.uptodate | PG.lru | (f.shmem ? PG.swapbacked : 0));
    if (!f.shmem) this.frames.copyFrom(pfn, f.backing, index);
    if (index >= f.pages.length) f.pages = grown(f.pages, Math.max(index + 1, f.pages.length * 2));
    f.pages[index] = h;
    f.nrCached++;
    return row;
  }

  /**
   * filemap_remove_folio + drop the page cache's reference. The caller has unmapped it. A dirty
   * shmem folio's data is simply lost; a dirty file folio is written back first unless `discard`.
   */
  removeFolio(f: File, index: number, discard: boolean): void {
    const row = this.lookup(f, index);
    if (row < 0) return;
    if (!discard && !f.shmem && this.folios.testFlag(row, PG.dirty)) this.writeback(f, row);
    f.pages[index] = 0;
    f.nrCached--;
    this.folios.mapping[row] = 0;
    this.folios.put(this.folios.handleOf(row));
  }

  /** Write one dirty folio to the backing store and clean it. */
  writeback(f: File, row: number): void {
    const index = this.folios.index[row];
    const pfn = this.folios.pfn[row];
    // The page straddling EOF is zeroed past it on every writeback, since a mapping may have
    // stored there (block_write_full_folio: folio_zero_segment): those bytes never reach the disk.
    const eof = f.size - index * PAGE_SIZE;
    if (eof > 0 && eof < PAGE_SIZE) this.frames.fillRange(pfn, eof, PAGE_SIZE - eof, 0);
    if (!f.shmem) f.backing.copyFrom(index, this.frames, pfn);
    this.folios.clearFlag(row, PG.dirty);
  }

  /**
   * fsync(): write back every dirty folio; returns and clears a recorded mapping error.
   * `clearForIo` runs on each dirty folio before its write (folio_clear_dirty_for_io's
   * folio_mkclean, which needs the page tables: page-writeback.ts passes it).
   */
  sync(f: File, clearForIo?: (row: number) => void): Errno | null {
    // shmem's fsync is noop_fsync: no backing store to write to, dirty folios stay dirty.
    if (f.shmem) return null;
    for (let i = 0; i < f.pages.length; i++) {
      if (f.pages[i] === 0) continue;
      const row = this.folios.row(f.pages[i]);
      if (!this.folios.testFlag(row, PG.dirty)) continue;
      clearForIo?.(row);
      this.writeback(f, row);
    }
    f.dirty = false;
    const err = f.wbErr;
    f.wbErr = null;
    return err;
  }

  /** Cached page offsets at or beyond `from`. */
  *cachedFrom(f: File, from: number): Generator<number> {
    for (let i = from; i < f.pages.length; i++) if (f.pages[i] !== 0) yield i;
  }
}

/** Fill a file's backing store: a repeated byte or an exact byte string from offset 0. */
function writeBacking(f: File, content: Uint8Array | number): void {
  const pages = Math.ceil(f.size / PAGE_SIZE);
  if (typeof content === 'number') {
    for (let i = 0; i < pages; i++) {
      const len = Math.min(PAGE_SIZE, f.size - i * PAGE_SIZE);
      f.backing.fillRange(i, 0, len, content);
    }
    return;
  }
  for (let off = 0; off < content.length && off < f.size; off += PAGE_SIZE) {
    f.backing.write(off / PAGE_SIZE, 0, content.subarray(off, Math.min(off + PAGE_SIZE, f.size)));
  }
}
