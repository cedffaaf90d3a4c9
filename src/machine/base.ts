/**
 * The Machine's core and its kernel-internal surface: configuration and boot, the invariant checks
 * after every operation, the allocators as a module calls them (kapi.ts), and the views of
 * physical memory (dump_page in debug.ts, /proc in procfs.ts), /proc/PID/mem. `Machine` (machine.ts) adds the
 * user-space and driver surfaces on top.
 */

import { type CheckLevel, checkInvariants } from '../check/invariants.js';
import type { Census, LayoutAccounting } from '../designs/layout.js';
import { mmGetHugeZeroFolio } from '../mm/huge_memory.js';
import type { Kernel } from '../mm/kernel.js';
import { ksmScan } from '../mm/ksm.js';
import type { MfOutcome } from '../mm/memory-failure.js';
import { drainAllPages } from '../mm/pcp.js';
import { NULL_HANDLE } from '../mm/pool.js';
import { memRead, memWrite } from '../mm/proc_mem.js';
import type { SlabInfoRow } from '../mm/slab.js';
import type { UserData } from '../mm/uaccess.js';
import type { EventListener, VmStat } from '../mm/vmstat.js';
import * as pfnOwner from './compaction.js';
import { bootKernel, type MachineConfig, type ResolvedConfig, resolveConfig } from './config.js';
import { dumpPage, page, vmallocPage } from './debug.js';
import type { FolioId, PtdescId } from './ids.js';
import * as kapi from './kapi.js';
import * as procfs from './procfs.js';
import { findProcess } from './task_mmu.js';
import type * as T from './types.js';
import * as V from './validate.js';

export class MachineBase {
  readonly config: ResolvedConfig;
  protected readonly k: Kernel;
  checkLevel: CheckLevel;

  constructor(config: MachineConfig = {}) {
    this.config = resolveConfig(config);
    this.k = bootKernel(this.config);
    this.checkLevel = this.config.check;
  }

  /**
   * The model's internals, for the invariant checkers, mechanism tests and benchmarks only: not
   * part of the library's API (left out of the published declarations).
   * @internal
   */
  get kernel(): Kernel {
    return this.k;
  }

  get stat(): VmStat {
    return this.k.stat;
  }

  get totalPages(): number {
    return this.k.pa.maxPfn;
  }

  get zeroPfn(): number {
    return this.k.pa.zeroPfn;
  }

  /** Subscribe to the event stream; returns the unsubscribe function. */
  on(listener: EventListener): () => void {
    return this.stat.listen(listener);
  }

  /** Run the invariant checks at `level` (default: the machine's level, or cheap when it is off). */
  check(level: CheckLevel = this.checkLevel === 'off' ? 'cheap' : this.checkLevel): void {
    checkInvariants(this.k, level);
  }

  protected after<T>(result: T): T {
    if (this.checkLevel !== 'off') checkInvariants(this.k, this.checkLevel);
    return result;
  }

  protected proc(pid: number) {
    return findProcess(this.k, pid);
  }

  // ---------------------------------------------------------------- allocators (kapi.ts)

  /** alloc_pages(gfp, order): 2^order frames with refcount 1 and no owner type. Returns the first pfn. */
  allocPages(order: number, opts?: { gfp?: number; nid?: number }): number {
    // `opts?` and not `= {}`: no object per call on the allocator's hottest entry.
    return this.after(kapi.allocPages(this.k, V.order('order', order), opts?.gfp, opts?.nid));
  }

  /** __free_pages(page, order): drop the allocation's reference; frees at zero. */
  freePages(pfn: number, order: number): void {
    this.after(kapi.freePages(this.k, V.pfn('pfn', pfn), V.order('order', order)));
  }

  /** alloc_contig_range(): these very frames, as one compound allocation (GFP.COMP) or order-0 ones. */
  allocContigRange(startPfn: number, nrPages: number, opts: { gfp?: number } = {}): number {
    return this.after(kapi.allocContigRange(this.k, V.pfn('startPfn', startPfn), nrPages, opts.gfp));
  }

  /** free_contig_range(). */
  freeContigRange(pfn: number, nrPages: number): void {
    this.after(kapi.freeContigRange(this.k, V.pfn('pfn', pfn), V.len('nrPages', nrPages)));
  }

  /** folio_alloc(): an anon or file folio of 2^order pages, refcount 1. Returns its handle. */
  folioAlloc(order: number, opts?: { kind?: 'anon' | 'file'; gfp?: number; nid?: number }): FolioId {
    return this.after(
      kapi.folioAlloc(this.k, V.order('order', order), opts?.kind ?? 'anon', opts?.gfp, opts?.nid),
    ) as FolioId;
  }

  /** folio_get(). */
  folioGet(h: FolioId): void {
    this.after(this.k.folios.get(V.handle('handle', h)));
  }

  /** folio_put(): at refcount 0 the folio goes back to the buddy allocator. */
  folioPut(h: FolioId): void {
    this.after(this.k.folios.put(V.handle('handle', h)));
  }

  /** page_folio(): the folio handle of a frame, or 0. */
  pageFolio(pfn: number): FolioId {
    return (
      this.k.pa.memmap.pfnValid(V.pfn('pfn', pfn)) ? this.k.folios.pageFolio(pfn) : NULL_HANDLE
    ) as FolioId;
  }

  /** The first frame of a folio. */
  folioPfn(h: FolioId): number {
    return this.k.folios.pfn[this.k.folios.row(h)];
  }

  /** kmem_cache_create(). */
  kmemCacheCreate(name: string, objectSize: number, opts: { reclaimable?: boolean } = {}): void {
    kapi.kmemCacheCreate(this.k, name, objectSize, opts.reclaimable);
  }

  /** kmem_cache_alloc(): returns the object's address. */
  kmemCacheAlloc(name: string, opts: { nid?: number } = {}): number {
    return this.after(this.k.slab.alloc(kapi.cacheByName(this.k, name), opts.nid ?? 0));
  }

  /** kmem_cache_free(). */
  kmemCacheFree(name: string, addr: number): void {
    this.after(this.k.slab.free(kapi.cacheByName(this.k, name), V.addr('addr', addr)));
  }

  /** kmalloc(). */
  kmalloc(size: number, opts: { nid?: number } = {}): number {
    return this.after(this.k.slab.kmalloc(size, opts.nid ?? 0));
  }

  /** kfree(). */
  kfree(addr: number): void {
    this.after(this.k.slab.kfree(V.addr('addr', addr)));
  }

  /** /proc/slabinfo. */
  slabinfo(): SlabInfoRow[] {
    return this.k.slab.slabinfo();
  }

  /** pagetable_alloc() for a table of `level` (1 = PTE ... 4 = PGD). Returns the ptdesc handle. */
  pagetableAlloc(level: number, opts: { mm?: number; nid?: number } = {}): PtdescId {
    return this.after(kapi.pagetableAlloc(this.k, level, opts.mm, opts.nid)) as PtdescId;
  }

  /** pagetable_free(). */
  pagetableFree(h: PtdescId): void {
    this.after(this.k.ptdesc.free(h));
  }

  /** The frame of a page-table page (a handle from pagetableAlloc). */
  pagetablePfn(h: PtdescId): number {
    return this.k.ptdesc.pfn[this.k.ptdesc.row(h)];
  }

  // ---------------------------------------------------------------- compaction and memory failure (compaction.ts)

  /** Compaction: /proc/sys/vm/compact_memory for a node (or all), a zone, or until a block of `order` is free. */
  compact(req: pfnOwner.CompactRequest = {}): pfnOwner.CompactReport[] {
    return this.after(pfnOwner.compact(this.k, req));
  }

  /** memory_failure(pfn, flags), by frame or by a process address: result code, page type, signals. */
  memoryFailure(req: pfnOwner.MemoryFailureRequest): MfOutcome {
    if (req.pfn !== undefined) V.pfn('pfn', req.pfn);
    if (req.addr !== undefined) V.addr('addr', req.addr);
    return this.after(pfnOwner.memoryFailure(this.k, req));
  }

  /** unpoison_memory(): a poisoned free frame returns to the allocator (software injections only). */
  unpoisonMemory(pfn: number): void {
    this.after(pfnOwner.unpoisonMemory(this.k, V.pfn('pfn', pfn)));
  }

  /** soft_offline_page(): migrate the page away, then poison the free frame; nobody is killed. */
  softOfflinePage(pfn: number): void {
    this.after(pfnOwner.softOfflinePage(this.k, V.pfn('pfn', pfn)));
  }

  // ---------------------------------------------------------------- views (debug.ts, procfs.ts)

  /** Everything dump_page() would print about one frame. */
  page(pfn: number): T.PageInfo {
    return page(this.k, V.pfn('pfn', pfn));
  }

  /** The kernel's dump_page() text for a frame. */
  dumpPage(pfn: number): string {
    return dumpPage(this.k, V.pfn('pfn', pfn));
  }

  /** /proc/meminfo, in kB. */
  meminfo(): T.Meminfo {
    return procfs.meminfo(this.k);
  }

  /** /proc/vmstat counters plus page counts per memory type. */
  vmstat(): Record<string, number> {
    return procfs.vmstat(this.k);
  }

  /** Each anonymous THP size's counters (hugepages-<size>kB/stats/), by directory name. */
  thpSizeStats(): Record<string, Record<string, number>> {
    return procfs.thpSizeStats(this.k);
  }

  /** /proc/buddyinfo. */
  buddyinfo(): T.BuddyInfo[] {
    return procfs.buddyinfo(this.k);
  }

  /** A /proc/zoneinfo summary. */
  zoneinfo(): T.ZoneInfo[] {
    return procfs.zoneinfo(this.k);
  }

  /**
   * drain_all_pages(NULL): every block on the per-CPU lists back to the buddy lists (with the
   * `pcp` option; without it the lists are always empty). Returns the pages drained.
   */
  drainAllPages(): number {
    const n = this.k.pa.pcpPages;
    this.after(drainAllPages(this.k.pa));
    return n;
  }

  /**
   * page_alloc_init_late(): the deferred struct page init "thread" (deferred_init_memmap) frees
   * all the memory whose struct pages boot left uninitialised; returns the pages it freed.
   */
  pageAllocInitLate(): number {
    return this.k.pa.pageAllocInitLate();
  }

  /** What exists now, counted from the pools (input to the design accounting). */
  census(): Census {
    return procfs.census(this.k);
  }

  /** Metadata bytes under each descriptor layout (the configured design first). */
  accounting(): LayoutAccounting[] {
    return procfs.accounting(this.k, this.config.design);
  }

  /** Host bytes the simulation itself uses (memmap, pools, allocator arrays). */
  hostBytes(): { memmap: number; allocator: number; descriptors: number; total: number } {
    return procfs.hostBytes(this.k);
  }

  /** Sections whose memmap is allocated, and how many there are. */
  sections(): { populated: number; total: number } {
    return { populated: this.k.pa.memmap.populatedSections, total: this.k.pa.memmap.nrSections };
  }

  /** The huge zero folio's first frame (allocated on first use). */
  hugeZeroPfn(): number {
    return mmGetHugeZeroFolio(this.k);
  }

  // ---------------------------------------------------------------- physical memory and vmalloc (vmalloc.ts)

  /** Write bytes into any frame by pfn (a device, firmware, or the kernel's own view of RAM). */
  physWrite(pfn: number, offset: number, data: UserData): void {
    V.userData('data', data);
    this.physRange(pfn, offset, data instanceof Uint8Array ? data.length : data.len);
    if (data instanceof Uint8Array) this.k.frames.write(pfn, offset, data);
    else this.k.frames.fillRange(pfn, offset, data.len, data.byte);
  }

  // ---------------------------------------------------------------- ksmd and /sys/kernel/mm/ksm (ksm.ts)

  /** ksmd runs one full pass (to convergence): identical pages of VM_MERGEABLE VMAs merge. Returns the pages merged. */
  ksmScan(): number {
    return this.after(ksmScan(this.k));
  }

  /** /sys/kernel/mm/ksm: KSM pages in use, the mappings beyond the first sharing them, passes run. */
  ksmStats(): { pagesShared: number; pagesSharing: number; fullScans: number } {
    const s = this.k.ksm;
    return { pagesShared: s.pagesShared, pagesSharing: s.pagesSharing, fullScans: s.fullScans };
  }

  // ---------------------------------------------------------------- /proc/PID/mem (proc_mem.ts)

  /** A write to /proc/PID/mem (ptrace's POKE): FOLL_FORCE, so read-only private memory is COWed and written. */
  memWrite(pid: number, addr: number, data: UserData): number {
    return this.after(memWrite(this.k, this.proc(pid).mm, V.addr('addr', addr), V.userData('data', data)));
  }

  /** A read of /proc/PID/mem (ptrace's PEEK): FOLL_FORCE, so PROT_NONE memory reads too. */
  memRead(pid: number, addr: number, len: number): Uint8Array {
    return this.after(memRead(this.k, this.proc(pid).mm, V.addr('addr', addr), V.len('len', len)));
  }

  /** Read `len` bytes of a frame at `offset`, as the kernel's direct map would. */
  physRead(pfn: number, offset: number, len: number): Uint8Array {
    this.physRange(pfn, offset, len);
    const out = new Uint8Array(len);
    this.k.frames.read(pfn, offset, len, out);
    return out;
  }

  /** A physical access stays inside one frame's worth of offsets from a valid pfn. */
  private physRange(pfn: number, offset: number, len: number): void {
    V.pfn('pfn', pfn);
    V.len('offset', offset);
    V.len('len', len);
  }

  /** vmalloc(): returns the kernel address (low 48 bits). */
  vmalloc(size: number, opts: { nid?: number } = {}): number {
    return this.after(this.k.vmalloc.vmalloc(V.len('size', size), { nid: opts.nid }));
  }

  /** vmalloc_user(): zeroed, VM_USERMAP, so remap_vmalloc_range accepts it. */
  vmallocUser(size: number, opts: { nid?: number } = {}): number {
    return this.after(this.k.vmalloc.vmalloc(V.len('size', size), { user: true, nid: opts.nid }));
  }

  /** vfree(): the area goes; pages a user mapping still holds stay until it lets go. */
  vfree(kaddr: number): void {
    this.after(this.k.vmalloc.vfree(V.addr('kaddr', kaddr)));
  }

  /** vmalloc_to_pfn(). */
  vmallocToPfn(kaddr: number): number {
    return this.k.vmalloc.vmallocToPfn(V.addr('kaddr', kaddr));
  }

  /** A vmalloc page's counts: per-page refcount and mapcount, its scamem's refcount, page_to_nid. */
  vmallocPage(pfn: number): T.VmallocPageInfo {
    return vmallocPage(this.k, V.pfn('pfn', pfn));
  }
}
