/**
 * The shapes the Machine facade returns and takes: what `page()` says about a frame, /proc views,
 * GUP results, mmap requests, process and VMA summaries, and the driver harness's interfaces.
 * Plain data, so a caller can keep, compare or serialise them.
 */
import type { MemmapMode } from '../mm/memremap.js';
import type { VmFaultResult } from '../mm/mm_types.js';
import type { InsertPagesResult } from '../mm/pfnmap.js';
import type { PagemapId, PinHandle } from './ids.js';

/** What `page(pfn)` tells about one frame (the fields of dump_page()). */
export interface PageInfo {
  pfn: number;
  type: string;
  /** Order of the object the frame belongs to (free block, folio, slab). */
  order: number;
  /** First frame of that object. */
  head: number;
  nid: number;
  zone: string;
  migratetype: string;
  refcount: number;
  /** page_mapcount(): this page's mappings (its PTEs plus PMD mappings of its folio). */
  mapcount: number;
  /** folio_mapcount(): mappings of any page of the folio (0 outside folios). */
  folioMapcount: number;
  pincount: number;
  flags: number;
  flagNames: string;
  /** Folio handle when the frame is in a folio, else 0. */
  folio: number;
  anonExclusive: boolean;
  /** folio_maybe_dma_pinned() as the pin-count design answers it. */
  maybeDmaPinned: boolean;
  /** Exact pins on this page (the model's ground truth, whatever the design records). */
  pins: number;
}

/**
 * /proc/meminfo in kB. Fields Linux has carry its names and meanings; the `pagelab_` ones are the
 * model's own (Linux has no such line).
 */
export interface Meminfo {
  MemTotal: number;
  MemFree: number;
  /** Page cache, shmem included (NR_FILE_PAGES; no swap cache or buffers here). */
  Cached: number;
  /** Mapped anonymous pages (NR_ANON_MAPPED): an anon folio nobody maps is not counted. */
  AnonPages: number;
  /** Anonymous pages mapped by a PMD (NR_ANON_THPS). */
  AnonHugePages: number;
  /** shmem and shared anonymous pages in the page cache (NR_SHMEM). */
  Shmem: number;
  /** SReclaimable + SUnreclaim: slab pages and large kmalloc pages (kmalloc_large accounts there). */
  Slab: number;
  SReclaimable: number;
  SUnreclaim: number;
  PageTables: number;
  CmaTotal: number;
  CmaFree: number;
  /** Pages in the swap cache (total_swapcache_pages), in memory and on the swap device both. */
  SwapCached: number;
  /** The swap device's usable size, its header page left out. */
  SwapTotal: number;
  /** Swap slots nobody holds. */
  SwapFree: number;
  /** Model-only: anon-typed folios nobody maps (pinned after munmap, allocated by folio_alloc). */
  pagelab_AnonUnmapped: number;
  /** Model-only: pages of allocations by driver code (alloc_pages, no folio type). */
  pagelab_DriverPages: number;
  /** Model-only: reserved frames (memblock reservations, the zero pages). */
  pagelab_Reserved: number;
  [k: string]: number;
}

/** A swap entry in a PTE, as pagemap and the swap device describe it. */
export interface SwapEntryInfo {
  /** The swap slot (pagemap's offset field, the type being 0). */
  offset: number;
  /** pte_swp_exclusive(): the page was exclusive to this mapping when it went out. */
  exclusive: boolean;
  /** swap_map's count: swap entries naming the slot. */
  count: number;
  /** Whether the swap cache still holds the page in memory. */
  cached: boolean;
}

/** One zone of /proc/zoneinfo, summarised. */
export interface ZoneInfo {
  nid: number;
  zone: string;
  startPfn: number;
  endPfn: number;
  /** spanned_pages: endPfn − startPfn, holes included. */
  spanned: number;
  /** present_pages: the RAM in the span (spanned − absent). */
  present: number;
  /** managed_pages: present pages the buddy allocator was given (not reserved, initialised). */
  managed: number;
  /** Present pages whose struct pages the deferred init has not reached (neither managed nor free). */
  deferred: number;
  /** nr_free_pages: the free lists only (MemFree); pages on the per-CPU lists are not in it. */
  free: number;
  cma: number;
  /** The `pagesets` entry of the one CPU: pages on its lists, and its current high and batch. */
  pcp: { count: number; high: number; batch: number };
}

/** One row of /proc/buddyinfo: free blocks per order. */
export interface BuddyInfo {
  nid: number;
  zone: string;
  free: number[];
}

/** What a get_user_pages / pin_user_pages call returns. */
export interface GupResult {
  /** The handle to unpin, put, or DMA through. */
  id: PinHandle;
  /** Pages grabbed (fewer than asked when a later page failed). */
  pages: number;
  /** The frame of each page grabbed, in address order. */
  pfns: Float64Array;
}

/** What `mmap()` takes: names or numbers for prot and flags. */
export interface MmapRequest {
  addr?: number;
  length: number;
  /** PROT_* bits, or letters such as 'rw', 'r', 'rwx', 'none'. */
  prot: number | string;
  /** MAP_* bits, or names such as ['private', 'anonymous', 'fixed', 'populate']. */
  flags: number | string[];
  /** A file created with fileCreate(); absent for anonymous memory. */
  file?: string;
  offset?: number;
  name?: string;
}

/** A message read() returns from a userfaultfd (struct uffd_msg, reduced). */
export interface UffdMessage {
  /** UFFD_EVENT_PAGEFAULT or UFFD_EVENT_FORK. */
  event: 'pagefault' | 'fork';
  /** The faulting address (page aligned); 0 for a fork. */
  addr: number;
  /** UFFD_PAGEFAULT_FLAG_WRITE / _WP of a page fault. */
  write: boolean;
  wp: boolean;
  /** The child's address space (mm id) for a fork event. */
  childMm?: number;
}

/** A process's userfaultfd context. */
export interface UffdInfo {
  /** The features enabled, after the ones UFFDIO_API implies (WP_ASYNC brings WP_UNPOPULATED). */
  features: string[];
  /** Messages not read yet. */
  pending: number;
  /** Faults waiting for the monitor (a resolve without DONTWAKE, or UFFDIO_WAKE, wakes them). */
  waiting: number;
  /** What the last read() returned: how many messages, of which fork events. */
  lastRead?: { messages: number; forks: number };
}

/** What `mremap()` takes besides the range and the new length. */
export interface MremapOptions {
  /** MREMAP_* bits, or names: 'maymove', 'fixed', 'dontunmap'. */
  flags?: number | string[];
  /** Where to move for MREMAP_FIXED; a hint for MREMAP_DONTUNMAP. */
  newAddr?: number;
}

export interface VmaInfo {
  start: number;
  end: number;
  flags: string;
  name: string;
  file?: string;
  pgoff: number;
}

export interface ProcessInfo {
  pid: number;
  name: string;
  alive: boolean;
  parent: number;
  rss: { file: number; anon: number; swap: number; shmem: number };
  signals: { signal: string; addr: number }[];
  hasPinned: boolean;
  vmas: VmaInfo[];
}

/** One level of a page-table walk. */
export interface WalkStep {
  level: string;
  tablePfn: number;
  index: number;
  entry: number;
  present: boolean;
  leaf: boolean;
  pfn: number | undefined;
  flags: string;
}

/** The leaf entry mapping a user address. */
export interface TranslationInfo {
  pfn: number;
  level: 'pte' | 'pmd';
  bits: number;
  flags: string;
}

/** What a driver's handlers can do with the VMA they were handed (pfnmap.ts, vmalloc.ts). */
export interface DriverContext {
  readonly start: number;
  readonly end: number;
  readonly pgoff: number;
  /** The VMA's VM_* flags as names. */
  readonly flags: string;
  /** vm_flags_set() with flag names ('mixedmap', 'io', ...). */
  setFlags(names: string[]): void;
  remapPfnRange(addr: number, pfn: number, size: number): void;
  vmInsertPage(addr: number, pfn: number): void;
  vmInsertPages(addr: number, pfns: ArrayLike<number>): InsertPagesResult;
  vmfInsertPfn(addr: number, pfn: number): VmFaultResult;
  vmfInsertMixed(addr: number, pfn: number, mkwrite?: boolean): VmFaultResult;
  /** remap_vmalloc_range (whole VMA) or, with uaddr and size, remap_vmalloc_range_partial. */
  remapVmallocRange(kaddr: number, pgoff: number, uaddr?: number, size?: number): void;
}

/** The fault a driver handler is asked to resolve (struct vm_fault). */
export interface DeviceFault {
  addr: number;
  pgoff: number;
  write: boolean;
}

/** A device: file_operations->mmap and vm_operations_struct, written against a DriverContext. */
export interface DeviceDriver {
  mmap?(ctx: DriverContext): void;
  fault?(ctx: DriverContext, vmf: DeviceFault): VmFaultResult;
  pfnMkwrite?(ctx: DriverContext, vmf: DeviceFault): VmFaultResult | 'ok';
  pageMkwrite?(ctx: DriverContext, vmf: DeviceFault): VmFaultResult | 'ok';
}

export interface DevicePagemapInfo {
  id: PagemapId;
  name: string;
  startPfn: number;
  nrPages: number;
  mode: MemmapMode;
  /** Populated memmap chunks (64 pfns each), oldest first. */
  chunks: number[];
  populated: number;
  reclaimed: number;
}

export interface DevicePageInfo {
  pfn: number;
  /** real: a populated descriptor; invalid: the shared lazy one; none: pfn-only. */
  descriptor: 'real' | 'invalid' | 'none';
  refcount: number;
  mapcount: number;
  pins: number;
  folio?: number;
}

export interface VmallocPageInfo {
  pfn: number;
  refcount: number;
  mapcount: number;
  scamemRefcount: number;
  scamemPages: number;
  vfreed: boolean;
  nid: number;
}
