/**
 * The kernel's state in one place: every subsystem of the model, wired together.
 *
 * The mechanisms (memory.ts, mmap.ts, fork.ts, ...) are functions over this object, the way the
 * kernel's are functions over global state; the Machine facade owns one and exposes the public
 * operations. Nothing here is per page.
 */

import { CompactionState, directCompact } from './compaction.js';
import { DirtyRanges } from './dirty.js';
import { PageCache } from './filemap.js';
import { FolioPool } from './folio.js';
import type { GupHandle } from './gup.js';
import { ContentStore } from './highmem.js';
import type { ThpSizeMode } from './huge_mm.js';
import { HwpoisonState, poisonedFree } from './memory-failure.js';
import { DevMem } from './memremap.js';
import type { AnonVma, Mm, Process } from './mm_types.js';
import { MmuGather } from './mmu_gather.js';
import type { MemoryLayout } from './mmzone.js';
import { PageAlloc } from './page_alloc.js';
import { pcpUpdate } from './pcp.js';
import { MemmapLookup, type PfnLookup } from './pfn_lookup.js';
import { PtdescPool } from './pgtable.js';
import { BiasPinPolicy, type PinPolicy, type PinSite, PinTracker } from './pincount.js';
import { KsmState } from './rmap.js';
import { SlabAllocator } from './slab.js';
import { SwapInfo } from './swapfile.js';
import { HPAGE_PMD_ORDER } from './types.js';
import { VmallocSpace } from './vmalloc.js';
import { VmStat } from './vmstat.js';

/** THP policies (/sys/kernel/mm/transparent_hugepage/enabled). */
export const THP_MODES = ['always', 'madvise', 'never'] as const;
export type ThpMode = (typeof THP_MODES)[number];

export interface KernelOptions {
  /** Keep page contents (off for benchmarks: every page reads as zeros). */
  contents: boolean;
  thp: ThpMode;
  /**
   * The per-size knobs (hugepages-<size>kB/enabled), indexed by order; default: the PMD order
   * inherits `thp`, every smaller size is off (huge_mm.ts).
   */
  thpOrders?: readonly ThpSizeMode[];
  /** use_zero_page for THP read faults. */
  thpZeroPage: boolean;
  /**
   * CONFIG_ARCH_HAS_PTE_SPECIAL (default true, as x86-64). Without it vm_normal_page() falls back
   * to the VMA flags and the linear rule of VM_PFNMAP.
   */
  pteSpecial?: boolean;
  /** The pin-count design, built over this kernel at boot (default: Linux's bias). */
  pinPolicy?: (k: Kernel) => PinPolicy;
  /** Page-sized slots of the swap device, its header included (0: no swap). */
  swapSlots?: number;
  /** How code starting from a frame finds its owner, built at boot (default: the memmap). */
  pfnLookup?: (k: Kernel) => PfnLookup;
}

/** The live address spaces, findable by id too (a ptdesc names its mm by id: pt_mm). */
export class MmSet extends Set<Mm> {
  private readonly ids = new Map<number, Mm>();

  override add(mm: Mm): this {
    this.ids.set(mm.id, mm);
    return super.add(mm);
  }

  override delete(mm: Mm): boolean {
    this.ids.delete(mm.id);
    return super.delete(mm);
  }

  byId(id: number): Mm | undefined {
    return this.ids.get(id);
  }
}

export class Kernel {
  readonly stat = new VmStat();
  readonly pa: PageAlloc;
  readonly folios: FolioPool;
  readonly slab: SlabAllocator;
  readonly ptdesc: PtdescPool;
  /** The references zaps drop, in batches (mmu_gather.ts); flushed before every zap returns. */
  readonly tlb: MmuGather;
  /** Contents of every frame, keyed by pfn. */
  readonly frames: ContentStore;
  readonly pagecache: PageCache;
  readonly processes = new Map<number, Process>();
  readonly mms = new MmSet();
  readonly anonVmas = new Map<number, AnonVma>();
  /** Address ranges whose VMAs changed under their page tables, for the incremental check (dirty.ts). */
  readonly vmaTouched = new DirtyRanges();
  /** KSM's stable nodes (ksm.ts). */
  readonly ksm = new KsmState();
  private nextPid = 1;
  private nextMmId = 1;
  private nextAnonVmaId = 1;

  constructor(
    layout: MemoryLayout,
    readonly opts: KernelOptions,
  ) {
    this.pteSpecial = opts.pteSpecial ?? true;
    this.pa = new PageAlloc(layout, this.stat);
    // hugepage_pmd_enabled() at boot: khugepaged starts and raises min_free_kbytes (pcp sizes follow).
    const pmdKnob = opts.thpOrders?.[HPAGE_PMD_ORDER] ?? 'inherit';
    this.pa.thpEnabled = pmdKnob === 'always' || pmdKnob === 'madvise' || opts.thp !== 'never';
    pcpUpdate(this.pa);
    this.folios = new FolioPool(this.pa, this.stat);
    this.slab = new SlabAllocator(this.pa, this.folios, this.stat);
    this.ptdesc = new PtdescPool(this.pa, this.stat);
    this.tlb = new MmuGather(this.folios, this.pa);
    this.frames = new ContentStore(opts.contents);
    this.pagecache = new PageCache(this.folios, this.frames);
    this.devmem = new DevMem(this);
    this.vmalloc = new VmallocSpace(this);
    this.pins = new PinTracker(opts.pinPolicy ? opts.pinPolicy(this) : new BiasPinPolicy(this.folios));
    this.compaction = new CompactionState(this.pa.maxPfn);
    this.pfnLookup = opts.pfnLookup ? opts.pfnLookup(this) : new MemmapLookup();
    this.swap = opts.swapSlots ? new SwapInfo(opts.swapSlots, opts.contents) : null;
    this.pa.directCompact = (order, gfp, nid) => directCompact(this, order, gfp, nid);
    this.folios.onPoisonedFree = (row) => poisonedFree(this, row);
    // Freed frames forget their contents, so every new allocation reads as zeros (__GFP_ZERO), and
    // a pin design that keeps per-frame state forgets theirs. With neither there is no hook: a free
    // then makes no call for it.
    if (opts.contents || this.pins.policy.freed !== undefined)
      this.folios.onFree = (pfn, order) => {
        this.pins.freed(pfn, 1 << order);
        if (opts.contents) for (let i = 0; i < 1 << order; i++) this.frames.clear(pfn + i);
      };
  }

  /** pte_special() exists on this architecture (read on every entry vm_normal_page looks at). */
  readonly pteSpecial: boolean;
  /** The swap device and the swap cache (swapfile.ts, swap_state.ts), or null without swap. */
  readonly swap: SwapInfo | null;
  /** How compaction, memory failure and GUP dirtying learn what a frame is (pfn_lookup.ts). */
  readonly pfnLookup: PfnLookup;
  /** Pageblock skip hints of compaction (compaction.ts). */
  readonly compaction: CompactionState;
  /** Poisoned frames and the signals memory failure sent (memory-failure.ts). */
  readonly hwpoison = new HwpoisonState();

  /** Device memory ranges above RAM (ZONE_DEVICE). */
  readonly devmem: DevMem;
  /** The vmalloc address space and its scamem descriptors. */
  readonly vmalloc: VmallocSpace;

  /** Pins as the configured pin-count design counts them (Linux's bias by default), with the truth. */
  readonly pins: PinTracker;
  /** Live get_user_pages / pin_user_pages results, by id. */
  readonly gup = new Map<number, GupHandle>();
  nextGupId = 1;
  /** FOLL_GET references held on the shared zero page (pins never touch it). */
  zeroPageRefs = 0;

  /**
   * folio_maybe_dma_pinned() for page `pfn` as the configured pin-count design answers it,
   * scored against the truth. `site` is the mapping being asked about, when there is one.
   */
  maybeDmaPinned(row: number, pfn: number, site?: PinSite): boolean {
    return this.pins.maybePinned(row, pfn, site);
  }

  /**
   * folio_maybe_dma_pinned() of the whole folio `row` (fork of a PMD, reclaim, migration): under
   * a design that answers per page, yes if any of its pages would be. `site`: where the folio's
   * first page is mapped.
   */
  folioMaybeDmaPinned(row: number, site?: PinSite): boolean {
    return this.pins.maybePinnedFolio(row, this.folios.pfn[row], this.folios.nrPages(row), site);
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
