/**
 * The Machine: one simulated computer and the public operations on it, each a one-line
 * delegation to the file of its kernel surface (task_mmu, driver, files) or of its mechanism in
 * src/mm, followed by the invariant checks the machine was configured with. The core, the
 * allocators and the /proc and dump_page views are in base.ts.
 *
 * This is the library's API (`import { Machine } from 'pagelab'`): the CLI, the scenario runner,
 * the oracle and the web view use it; only checkers, mechanism tests and benchmarks reach past it
 * through `kernel`.
 */
import { doExit, doFork, spawn } from '../mm/fork.js';
import { FOLL, gupCall } from '../mm/gup.js';
import { putUserPages, unpinUserPages } from '../mm/gup_release.js';
import type { MemmapMode } from '../mm/memremap.js';
import { MADV, MAP } from '../mm/mm_types.js';
import { doMadvise, doMmap, doMprotect, doMunmap } from '../mm/mmap.js';
import { doMremap } from '../mm/mremap.js';
import { fileFsync } from '../mm/page-writeback.js';
import type { MmapLock } from '../mm/pfnmap.js';
import type { PinScore } from '../mm/pincount.js';
import { type AccessResult, type UserData, userRead, userTouch, userWrite } from '../mm/uaccess.js';
import {
  userfaultfdApi,
  userfaultfdRead,
  userfaultfdRegister,
  userfaultfdUnregister,
  userfaultfdWake,
  userfaultfdWriteprotect,
} from '../mm/userfaultfd.js';
import { MachineBase } from './base.js';
import type { MachineConfig } from './config.js';
import { devicePage } from './debug.js';
import { DriverHarness, ioRegion, memremapPages, pagemap, pagemapInfo, vmNormalPageAt } from './driver.js';
import { dmaRead, dmaWrite, fileByName, fileContents, fileCreate, fileTruncate } from './files.js';
import type { FolioId, PagemapId, PinHandle } from './ids.js';
import * as taskMmu from './task_mmu.js';
import type * as T from './types.js';
import {
  parseAdvice,
  parseFollFlags,
  parseMapFlags,
  parseMremapFlags,
  parseProt,
  parseUffdFeatures,
  UFFD_FEATURE_NAMES,
} from './uapi.js';
import * as V from './validate.js';

export class Machine extends MachineBase {
  private readonly drivers: DriverHarness;

  constructor(config: MachineConfig = {}) {
    super(config);
    this.drivers = new DriverHarness(this.k, (r) => this.after(r));
  }

  // ---------------------------------------------------------------- processes (fork.ts, mmap.ts, uaccess.ts)

  /** A new process with an empty address space. Returns its pid. */
  spawn(name?: string): number {
    return this.after(spawn(this.k, name ?? `p${this.k.processes.size + 1}`).pid);
  }

  /** fork(): returns the child's pid. ENOMEM leaves no child behind. */
  fork(pid: number, name?: string): number {
    const parent = this.proc(V.handle('pid', pid));
    return this.after(doFork(this.k, parent, name ?? `${parent.name}-child`).pid);
  }

  /** exit(): unmaps everything and frees the page tables. */
  exit(pid: number): void {
    this.after(doExit(this.k, this.proc(V.handle('pid', pid))));
  }

  /** mmap(): returns the start address. */
  mmap(pid: number, a: T.MmapRequest): number {
    const p = this.proc(V.handle('pid', pid));
    checkMmapRequest(a);
    const file = a.file === undefined ? undefined : fileByName(this.k, a.file);
    const flags = parseMapFlags(a.flags) | (file ? 0 : MAP.ANONYMOUS);
    const args = {
      addr: a.addr,
      length: a.length,
      prot: parseProt(a.prot),
      flags,
      file,
      offset: a.offset,
      name: a.name,
    };
    return this.after(doMmap(this.k, p, args));
  }

  /** munmap(): unmaps [addr, addr+length), splitting VMAs; frees page tables no VMA covers. */
  munmap(pid: number, addr: number, length: number): void {
    this.after(doMunmap(this.k, this.proc(pid), V.addr('addr', addr), V.len('length', length)));
  }

  /** mremap(): shrink, grow or move [addr, addr+oldLength) (flags 'maymove', 'fixed', 'dontunmap'); returns where it is now. */
  mremap(pid: number, addr: number, oldLength: number, newLength: number, o: T.MremapOptions = {}): number {
    const [flags, to] = [parseMremapFlags(o.flags ?? []), V.optional(V.addr, 'newAddr', o.newAddr)];
    const [a, from, len] = [
      V.addr('addr', addr),
      V.len('oldLength', oldLength),
      V.len('newLength', newLength),
    ];
    return this.after(doMremap(this.k, this.proc(pid), a, from, len, flags, to));
  }

  /** mprotect(): new protections ('r', 'rw', 'none' or PROT_* bits) for a range. */
  mprotect(pid: number, addr: number, length: number, prot: number | string): void {
    this.after(
      doMprotect(this.k, this.proc(pid), V.addr('addr', addr), V.len('length', length), parseProt(prot)),
    );
  }

  /** madvise(): advice by name ('dontneed', 'MADV_HUGEPAGE') or value, for a range. */
  madvise(pid: number, addr: number, length: number, advice: number | string): void {
    this.after(
      doMadvise(this.k, this.proc(pid), V.addr('addr', addr), V.len('length', length), parseAdvice(advice)),
    );
  }

  /** MADV_PAGEOUT: reclaim what [addr, addr+length) maps now — anon pages to swap, clean file pages dropped. */
  pageout(pid: number, addr: number, length: number): void {
    this.madvise(pid, addr, length, MADV.PAGEOUT);
  }

  /** MADV_COLLAPSE: collapse every PMD-aligned 2 MiB of [addr, addr+length) into a PMD-mapped THP now. */
  collapse(pid: number, addr: number, length: number): void {
    this.madvise(pid, addr, length, MADV.COLLAPSE);
  }

  /** The process reads `len` bytes: the bytes, or the signal that stopped it. */
  read(pid: number, addr: number, len: number): AccessResult & { bytes: Uint8Array } {
    return this.after(userRead(this.k, this.proc(pid), V.addr('addr', addr), V.len('len', len)));
  }

  /** The process writes `data` (or `len` copies of one byte) at `addr`. */
  write(pid: number, addr: number, data: UserData): AccessResult {
    return this.after(userWrite(this.k, this.proc(pid), V.addr('addr', addr), V.userData('data', data)));
  }

  /** One load (or store of `byte`) in every page of [addr, addr+len), as a program faults a buffer in. */
  touch(pid: number, addr: number, len: number, opts: { write?: boolean; byte?: number } = {}): AccessResult {
    const byte = V.byte('byte', opts.byte ?? 1);
    return this.after(
      userTouch(this.k, this.proc(pid), V.addr('addr', addr), V.len('len', len), opts.write ?? false, byte),
    );
  }

  // ---------------------------------------------------------------- userfaultfd, write-protect mode (userfaultfd.ts)

  /** userfaultfd(2) + UFFDIO_API for the process, with features by name ('wp_async', 'event_fork', ...). */
  uffdOpen(pid: number, features: number | string[] = []): void {
    this.after(void userfaultfdApi(this.proc(V.handle('pid', pid)), parseUffdFeatures(features)));
  }

  /** UFFDIO_REGISTER in UFFDIO_REGISTER_MODE_WP: the VMAs of the range become VM_UFFD_WP. */
  uffdRegister(pid: number, addr: number, length: number): void {
    this.after(userfaultfdRegister(this.k, this.proc(pid), V.addr('addr', addr), V.len('length', length)));
  }

  /** UFFDIO_UNREGISTER: the range forgets the registration (its protection is reset first). */
  uffdUnregister(pid: number, addr: number, length: number): void {
    this.after(userfaultfdUnregister(this.k, this.proc(pid), V.addr('addr', addr), V.len('length', length)));
  }

  /** UFFDIO_WRITEPROTECT: protect (`wp: true`) or resolve a range; `dontwake` leaves waiting faults asleep. */
  uffdWriteprotect(
    pid: number,
    addr: number,
    length: number,
    mode: { wp: boolean; dontwake?: boolean },
  ): void {
    const [a, len] = [V.addr('addr', addr), V.len('length', length)];
    this.after(userfaultfdWriteprotect(this.k, this.proc(pid), a, len, mode));
  }

  /** UFFDIO_WAKE: wake the faults waiting in a range. */
  uffdWake(pid: number, addr: number, length: number): void {
    this.after(userfaultfdWake(this.proc(pid), V.addr('addr', addr), V.len('length', length)));
  }

  /** read() on the process's userfaultfd: the queued messages, oldest first (the queue empties). */
  uffdRead(pid: number): T.UffdMessage[] {
    return userfaultfdRead(this.proc(pid)).map((m) => ({
      event: m.event,
      addr: m.addr,
      write: (m.flags & 1) !== 0,
      wp: (m.flags & 2) !== 0,
      ...(m.child === undefined ? {} : { childMm: m.child }),
    }));
  }

  /** The process's userfaultfd: features, unread messages and faults still waiting; undefined if none. */
  uffdState(pid: number): T.UffdInfo | undefined {
    const ctx = this.proc(pid).mm.uffd;
    if (!ctx) return undefined;
    const features = UFFD_FEATURE_NAMES.filter((n) => ctx.features & parseUffdFeatures([n]));
    return { features, pending: ctx.msgs.length, waiting: ctx.waiting.length, lastRead: ctx.lastRead };
  }

  /** pagemap's PM_UFFD_WP (bit 57) at an address, and whether the entry is a uffd-wp PTE marker. */
  uffdWpAt(pid: number, addr: number): { uffdWp: boolean; marker: boolean } {
    return taskMmu.uffdWpAt(this.k, pid, V.addr('addr', addr));
  }

  // ---------------------------------------------------------------- GUP and pins (gup.ts)

  private gup(
    pid: number,
    addr: number,
    nrPages: number,
    flags: number | string[],
    wrapper: number,
    fast: boolean,
  ) {
    const mm = this.proc(pid).mm;
    V.addr('addr', addr);
    V.len('nrPages', nrPages);
    const h = gupCall(this.k, mm, { start: addr, nrPages, flags: parseFollFlags(flags), fast }, wrapper);
    return this.after({ id: h.id, pages: h.pfns.length, pfns: h.pfns });
  }

  /** get_user_pages(_fast)(): FOLL_GET references. Returns the handle and how many pages it holds. */
  getUserPages(
    pid: number,
    addr: number,
    n: number,
    flags: number | string[] = [],
    o: { fast?: boolean } = {},
  ) {
    return this.gup(pid, addr, n, flags, FOLL.GET, o.fast ?? false) as T.GupResult;
  }

  /** pin_user_pages(_fast)(): FOLL_PIN pins. */
  pinUserPages(
    pid: number,
    addr: number,
    n: number,
    flags: number | string[] = [],
    o: { fast?: boolean } = {},
  ) {
    return this.gup(pid, addr, n, flags, FOLL.PIN, o.fast ?? false) as T.GupResult;
  }

  /** unpin_user_pages() or, with `dirty`, unpin_user_pages_dirty_lock(). */
  unpinUserPages(id: PinHandle, opts: { dirty?: boolean } = {}): void {
    this.after(unpinUserPages(this.k, V.handle('id', id), opts.dirty ?? false));
  }

  /** put_page() on every reference of a get_user_pages() result. */
  putUserPages(id: PinHandle): void {
    this.after(putUserPages(this.k, V.handle('id', id)));
  }

  /** A device reads `len` bytes through a GUP handle, starting `offset` bytes into it. */
  dmaRead(id: PinHandle, offset = 0, len?: number): Uint8Array {
    return dmaRead(this.k, V.handle('id', id), V.len('offset', offset), V.optional(V.len, 'len', len));
  }

  /** A device writes through a GUP handle (the bytes land in the pinned frames, whoever maps them now). */
  dmaWrite(id: PinHandle, data: UserData, offset = 0): void {
    this.after(dmaWrite(this.k, V.handle('id', id), V.userData('data', data), V.len('offset', offset)));
  }

  /** How the pin-count design answered folio_maybe_dma_pinned() so far, scored against the truth. */
  pinScore(): PinScore & { design: string; pinsTaken: number; metadataBytes: number } {
    const t = this.k.pins;
    return {
      ...t.score,
      design: t.policy.name,
      pinsTaken: t.pinsTaken,
      metadataBytes: t.policy.metadataBytes(),
    };
  }

  // ---------------------------------------------------------------- files (files.ts)

  /**
   * Create a file of `size` bytes whose content is one repeated byte or exact bytes: on a disk
   * filesystem (on disk, not cached), or with `memfd` a shmem file whose written bytes are cached.
   */
  fileCreate(
    name: string,
    size: number,
    content?: number | Uint8Array,
    opts: { memfd?: boolean } = {},
  ): void {
    V.len('size', size);
    if (typeof content === 'number') V.byte('content', content);
    this.after(fileCreate(this.k, name, size, content, opts.memfd ?? false));
  }

  /** truncate(): shrink or grow; pages beyond the new end leave every mapping and the cache. */
  fileTruncate(name: string, size: number): void {
    this.after(fileTruncate(this.k, name, V.len('size', size)));
  }

  /** fsync(): write back dirty page-cache folios; returns an error recorded on the mapping, or null. */
  fileSync(name: string): string | null {
    return this.after(fileFsync(this.k, fileByName(this.k, name)));
  }

  /** What the file holds: on disk for a disk file (for checking writeback), the page cache for a memfd. */
  fileContents(name: string, offset: number, len: number): Uint8Array {
    return fileContents(this.k, name, V.len('offset', offset), V.len('len', len));
  }

  /** A file's size, how many of its pages are cached, and whether any is dirty. */
  fileInfo(name: string): { size: number; cached: number; dirty: boolean } {
    const f = fileByName(this.k, name);
    return { size: f.size, cached: f.nrCached, dirty: f.dirty };
  }

  // ---------------------------------------------------------------- address spaces (task_mmu.ts)

  /** Every live process, as /proc shows it. */
  processes(): T.ProcessInfo[] {
    return taskMmu.processes(this.k);
  }

  /** One process: its VMAs, RSS and the signals it took. */
  process(pid: number): T.ProcessInfo {
    return taskMmu.process(this.k, pid);
  }

  /** The frame a user address maps (without faulting), with the entry's bits; undefined if none. */
  translate(pid: number, addr: number): T.TranslationInfo | undefined {
    return taskMmu.translateUser(this.k, pid, V.addr('addr', addr));
  }

  /** The page a user address maps, as `page()` describes it, or undefined when nothing is mapped. */
  pageAt(pid: number, addr: number): (T.PageInfo & { pte: string; level: 'pte' | 'pmd' }) | undefined {
    return taskMmu.pageAt(this.k, pid, V.addr('addr', addr));
  }

  /**
   * The first address in [addr, end) that has a page-table entry (a page, a huge page or a swap
   * entry), or `end` when none does; costs the tables that exist, not the range's size.
   */
  nextMapped(pid: number, addr: number, end: number): number {
    return taskMmu.nextMapped(this.k, pid, V.addr('addr', addr), V.addr('end', end));
  }

  /** The swap entry a user address holds instead of a page (pagemap's PM_SWAP), or undefined. */
  swapEntry(pid: number, addr: number): T.SwapEntryInfo | undefined {
    return taskMmu.swapEntryAt(this.k, pid, V.addr('addr', addr));
  }

  /** The page-table walk for an address, level by level (for `pagelab explain`). */
  walk(pid: number, addr: number): T.WalkStep[] {
    return taskMmu.walk(this.k, pid, V.addr('addr', addr));
  }

  /** rmap_walk(): every (pid, address) mapping the folio that holds `pfn`. */
  rmap(pfn: number): { pid: number; addr: number; level: 'pte' | 'pmd' }[] {
    return taskMmu.rmap(this.k, V.pfn('pfn', pfn));
  }

  /** What pagemap and a look at the page show of `addr`, without faulting: frame and first byte. */
  observe(pid: number, addr: number): { pfn: number; byte: number } | undefined {
    return taskMmu.observe(this.k, pid, V.addr('addr', addr));
  }

  // ---------------------------------------------------------------- driver memory (driver.ts)

  /** Declare a device: its mmap handler and fault handler get a DriverContext for the VMA. */
  defineDevice(name: string, driver: T.DeviceDriver): void {
    this.drivers.defineDevice(name, driver);
  }

  /** mmap() of a device file: the driver's mmap handler runs on the new VMA. Returns the address. */
  mmapDevice(pid: number, a: Omit<T.MmapRequest, 'file'> & { device: string }): number {
    checkMmapRequest(a);
    return this.after(this.drivers.mmapDevice(pid, a));
  }

  /** The driver APIs on an existing VMA, as a driver holding the mmap_lock (`lock`) would call them. */
  driverCall(pid: number, addr: number, lock: MmapLock = 'write'): T.DriverContext {
    return this.drivers.driverCall(pid, addr, lock);
  }

  /** vm_normal_page() at `addr`: its frame, null for NULL (special), undefined when nothing is mapped. */
  vmNormalPage(pid: number, addr: number): number | null | undefined {
    return vmNormalPageAt(this.k, pid, V.addr('addr', addr));
  }

  /** Physical memory with no struct page (I/O or flash): a pfn-only range above RAM. Returns its first pfn. */
  ioRegion(size: string | number, opts: { name?: string } = {}): number {
    return this.after(ioRegion(this.k, size, opts.name));
  }

  /** memremap_pages(): ZONE_DEVICE memory above RAM with an eager, lazy or absent memmap. */
  memremapPages(
    size: string | number,
    opts: { mode: MemmapMode; limit?: number; nid?: number; name?: string },
  ) {
    return this.after(memremapPages(this.k, size, opts));
  }

  /** memunmap_pages(): the device memory and its memmap go. */
  memunmapPages(id: PagemapId): void {
    this.after(this.k.devmem.memunmapPages(pagemap(this.k, id)));
  }

  /** A memremap'ed range: its pfns, memmap mode and how much of it is populated. */
  pagemapInfo(id: PagemapId): T.DevicePagemapInfo {
    return pagemapInfo(this.k, id);
  }

  /** The sanctioned accessor of a lazy memmap: populate the pfn's memmap page; returns the folio handle. */
  pfnToPagePopulate(pfn: number): FolioId {
    return this.after(this.k.folios.handleOf(this.k.devmem.pfnToPagePopulate(V.pfn('pfn', pfn)))) as FolioId;
  }

  /** Reclaim idle lazy memmap chunks, least recently allocated first; returns how many went. */
  devmemReclaim(id: PagemapId): number {
    return this.after(this.k.devmem.reclaim(pagemap(this.k, id)));
  }

  /** What an ordinary pfn_to_page() sees for a device pfn. */
  devicePage(pfn: number): T.DevicePageInfo {
    return devicePage(this.k, V.pfn('pfn', pfn));
  }
}

/** The numbers of an mmap request, checked before the kernel sees them. */
function checkMmapRequest(a: { addr?: number; length: number; offset?: number }): void {
  V.optional(V.addr, 'addr', a.addr);
  V.len('length', a.length);
  V.optional(V.len, 'offset', a.offset);
}
