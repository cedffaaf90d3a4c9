/**
 * The kernel's state in one place: every subsystem of the model, wired together.
 *
 * The mechanisms (memory.ts, mmap.ts, fork.ts, ...) are functions over this object, the way the
 * kernel's are functions over global state; the Machine facade owns one and exposes the public
 * operations. Nothing here is per page.
 */

import { PageCache } from './filemap.js';
import { FolioPool } from './folio.js';
import { ContentStore } from './highmem.js';
import type { AnonVma, Mm, Process } from './mm_types.js';
import { type MemoryLayout, PageAlloc } from './page_alloc.js';
import { PtdescPool } from './pgtable.js';
import { SlabAllocator } from './slab.js';
import { VmStat } from './vmstat.js';

/** THP policy (/sys/kernel/mm/transparent_hugepage/enabled). */
export type ThpMode = 'always' | 'madvise' | 'never';

export interface KernelOptions {
  /** Keep page contents (off for benchmarks: every page reads as zeros). */
  contents: boolean;
  thp: ThpMode;
  /** use_zero_page for THP read faults. */
  thpZeroPage: boolean;
}

export class Kernel {
  readonly stat = new VmStat();
  readonly pa: PageAlloc;
  readonly folios: FolioPool;
  readonly slab: SlabAllocator;
  readonly ptdesc: PtdescPool;
  /** Contents of every frame, keyed by pfn. */
  readonly frames: ContentStore;
  readonly pagecache: PageCache;
  readonly processes = new Map<number, Process>();
  readonly mms = new Set<Mm>();
  readonly anonVmas = new Map<number, AnonVma>();
  private nextPid = 1;
  private nextMmId = 1;
  private nextAnonVmaId = 1;

  constructor(
    layout: MemoryLayout,
    readonly opts: KernelOptions,
  ) {
    this.pa = new PageAlloc(layout, this.stat);
    this.folios = new FolioPool(this.pa, this.stat);
    this.slab = new SlabAllocator(this.pa, this.folios, this.stat);
    this.ptdesc = new PtdescPool(this.pa, this.stat);
    this.frames = new ContentStore(opts.contents);
    this.pagecache = new PageCache(this.folios, this.frames);
    // Freed frames forget their contents, so every new allocation reads as zeros (__GFP_ZERO).
    if (opts.contents) {
      this.folios.onFree = (pfn, order) => {
        for (let i = 0; i < 1 << order; i++) this.frames.clear(pfn + i);
      };
    }
  }

  /**
   * folio_maybe_dma_pinned() as the configured pin-count design answers it; Linux's answer
   * (bias for small folios, exact _pincount for large ones) unless a design replaces it.
   */
  maybeDmaPinned(row: number): boolean {
    return this.folios.maybeDmaPinnedLinux(row);
  }

  allocPid(): number {
    return this.nextPid++;
  }

  allocMmId(): number {
    return this.nextMmId++;
  }

  /** anon_vma_alloc(). */
  newAnonVma(): AnonVma {
    const av: AnonVma = { id: this.nextAnonVmaId++, vmas: new Set() };
    this.anonVmas.set(av.id, av);
    return av;
  }
}
