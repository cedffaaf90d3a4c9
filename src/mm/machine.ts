/**
 * The Machine: configuration, boot, the public operations, counters and events.
 *
 * Models: what a running kernel exposes of its physical memory — /proc/meminfo, /proc/vmstat,
 * /proc/buddyinfo, /proc/zoneinfo, /proc/slabinfo and dump_page() — over the mechanisms in the
 * other files of src/mm/. This is the public API the CLI, the scenario runner and the web
 * visualiser use; nothing outside src/mm reaches into the pools directly except the checkers.
 */
import { CHECK_LEVELS, type CheckLevel, checkInvariants } from '../check/invariants.js';
import {
  accountLayout,
  type Census,
  LAYOUTS,
  type LayoutAccounting,
  type LayoutName,
} from '../designs/layout.js';
import { makePinPolicy, PIN_DESIGNS, type PinDesign } from '../designs/pincount.js';
import type { File } from './filemap.js';
import { PG } from './folio.js';
import { doExit, doFork, spawn } from './fork.js';
import { FOLL, gupCall, gupFrames, putUserPages, unpinUserPages } from './gup.js';
import { Kernel, type ThpMode } from './kernel.js';
import { ksmScan } from './ksm.js';
import { FOLIO_TYPES, type MemType, MT, MT_NAMES, mdMigratetype, mdOrder, mdType } from './memdesc.js';
import { truncateFile, VMALLOC_PAGE, vmNormalPage } from './memory.js';
import { INVALID_PAGE, type MemmapMode } from './memremap.js';
import { MADV, MAP, MMF, PROT, type Process, VM_NAMES, type Vma, type VmFaultResult } from './mm_types.js';
import { doMadvise, doMmap, doMprotect, doMunmap } from './mmap.js';
import { GFP, GFP_HIGHUSER_MOVABLE, GFP_KERNEL, MIGRATE_NAMES } from './page_alloc.js';
import { fileFsync } from './page-writeback.js';
import {
  type InsertPagesResult,
  type MmapLock,
  remapPfnRange,
  vmfInsertMixed,
  vmfInsertPfn,
  vmInsertPage,
  vmInsertPages,
} from './pfnmap.js';
import { PT_LEVEL_NAMES, PTE } from './pgtable.js';
import type { PinScore } from './pincount.js';
import { NULL_HANDLE } from './pool.js';
import { rmapWalk } from './rmap.js';
import type { SlabInfoRow } from './slab.js';
import { formatFlags, KernelBug, MiB, PAGE_SIZE, PAGES_PER_SECTION, parseSize } from './types.js';
import { type AccessResult, translate, userAccess } from './uaccess.js';
import { remapVmallocRangePartial } from './vmalloc.js';
import type { EventListener, VmStat } from './vmstat.js';

const THP_MODES: readonly ThpMode[] = ['always', 'madvise', 'never'];

/** Bad input to the model: an unknown process, file or cache, a malformed argument. */
export class InputError extends Error {
  override readonly name: string = 'InputError';
}

/** Bad machine configuration (a user error, reported without a stack trace). */
export class ConfigError extends InputError {
  override readonly name = 'ConfigError';
}

export interface MachineConfig {
  /** RAM size, e.g. '4G' or a byte count; a multiple of 128 MiB. Default 4G. */
  memory?: string | number;
  /** NUMA nodes; memory is split evenly. Default 1. */
  nodes?: number;
  /** The descriptor layout whose accounting is reported first. Default memdesc. */
  design?: LayoutName;
  /** Bytes of ZONE_MOVABLE (movablecore=), split over the nodes. Default 0. */
  movable?: string | number;
  /** Bytes of CMA in the first node. Default 0. */
  cma?: string | number;
  /** Boot-reserved ranges; default: the first MiB (firmware) and 16 MiB of kernel image at 16 MiB. */
  reserved?: { start: string | number; size: string | number }[];
  /** Invariant checks after every mutating operation. Default off. */
  check?: CheckLevel;
  /** Keep page contents (default true; benchmarks turn it off and every page reads as zeros). */
  contents?: boolean;
  /** THP policy, as /sys/kernel/mm/transparent_hugepage/enabled. Default madvise. */
  thp?: ThpMode;
  /** Map the huge zero folio on THP read faults (use_zero_page). Default true. */
  thpZeroPage?: boolean;
  /** How pins are counted and folio_maybe_dma_pinned() answers (src/designs/pincount.ts). Default bias (Linux). */
  pincount?: PinDesign;
  /** CONFIG_ARCH_HAS_PTE_SPECIAL; false models an architecture using vm_normal_page's linear rule. Default true. */
  pteSpecial?: boolean;
}

export interface ResolvedConfig {
  memory: number;
  nodes: number;
  design: LayoutName;
  movable: number;
  cma: number;
  reserved: { start: number; size: number }[];
  check: CheckLevel;
  contents: boolean;
  thp: ThpMode;
  thpZeroPage: boolean;
  pincount: PinDesign;
}

const KERNEL_START = 16 * MiB;
const KERNEL_SIZE = 16 * MiB;

function size(value: string | number | undefined, what: string, dflt: number): number {
  if (value === undefined) return dflt;
  try {
    return parseSize(value);
  } catch (e) {
    throw new ConfigError(`${what}: ${(e as Error).message}`);
  }
}

/** Validate and default a configuration; throws ConfigError with one readable line. */
export function resolveConfig(c: MachineConfig = {}): ResolvedConfig {
  const memory = size(c.memory, 'memory', 4 * 1024 * MiB);
  const section = PAGES_PER_SECTION * PAGE_SIZE;
  if (memory < section || memory % section !== 0) {
    throw new ConfigError(`memory: ${c.memory} is not a positive multiple of the 128M section size`);
  }
  if (memory / PAGE_SIZE > 2 ** 36)
    throw new ConfigError(`memory: ${c.memory} is larger than the 256T pagelab supports`);
  const nodes = c.nodes ?? 1;
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > 64)
    throw new ConfigError(`nodes: ${nodes} is not a whole number from 1 to 64`);
  const design = c.design ?? 'memdesc';
  if (!LAYOUTS.includes(design))
    throw new ConfigError(`design: '${design}' is not one of ${LAYOUTS.join(', ')}`);
  const check = c.check ?? 'off';
  if (!CHECK_LEVELS.includes(check))
    throw new ConfigError(`check: '${check}' is not one of ${CHECK_LEVELS.join(', ')}`);
  const reserved = (
    c.reserved ?? [
      { start: 0, size: MiB },
      { start: KERNEL_START, size: KERNEL_SIZE },
    ]
  ).map((r, i) => ({
    start: size(r.start, `reserved[${i}].start`, 0),
    size: size(r.size, `reserved[${i}].size`, 0),
  }));
  const pincount = c.pincount ?? 'bias';
  if (!PIN_DESIGNS.includes(pincount))
    throw new ConfigError(`pincount: '${pincount}' is not one of ${PIN_DESIGNS.join(', ')}`);
  const thp = c.thp ?? 'madvise';
  if (!THP_MODES.includes(thp)) throw new ConfigError(`thp: '${thp}' is not one of ${THP_MODES.join(', ')}`);
  return {
    memory,
    nodes,
    design,
    movable: size(c.movable, 'movable', 0),
    cma: size(c.cma, 'cma', 0),
    reserved,
    check,
    contents: c.contents ?? true,
    thp,
    thpZeroPage: c.thpZeroPage ?? true,
    pincount,
  };
}

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

export interface Meminfo {
  MemTotal: number;
  MemFree: number;
  AnonPages: number;
  FilePages: number;
  Slab: number;
  PageTables: number;
  KernelLarge: number;
  DriverPages: number;
  Reserved: number;
  CmaTotal: number;
  CmaFree: number;
  [k: string]: number;
}

export class Machine {
  readonly config: ResolvedConfig;
  private readonly k: Kernel;
  checkLevel: CheckLevel;

  constructor(config: MachineConfig = {}) {
    this.config = resolveConfig(config);
    const c = this.config;
    try {
      this.k = new Kernel(
        {
          memory: c.memory,
          nodes: c.nodes,
          movable: c.movable,
          cma: c.cma,
          reserved: c.reserved,
          zeroPage: KERNEL_START + KERNEL_SIZE - PAGE_SIZE,
        },
        {
          contents: c.contents,
          thp: c.thp,
          thpZeroPage: c.thpZeroPage,
          pteSpecial: config.pteSpecial ?? true,
        },
      );
    } catch (e) {
      if (e instanceof RangeError) throw new ConfigError(e.message);
      throw e;
    }
    this.k.pins.policy = makePinPolicy(c.pincount, this.k, c.design);
    this.checkLevel = c.check;
  }

  /** The model's internals, for the invariant checkers, mechanism tests and benchmarks only. */
  get kernel(): Kernel {
    return this.k;
  }

  get stat(): VmStat {
    return this.k.stat;
  }

  private get pa() {
    return this.k.pa;
  }

  private get folios() {
    return this.k.folios;
  }

  private get slab() {
    return this.k.slab;
  }

  private get ptdesc() {
    return this.k.ptdesc;
  }

  get totalPages(): number {
    return this.pa.maxPfn;
  }

  get zeroPfn(): number {
    return this.pa.zeroPfn;
  }

  /** Subscribe to the event stream; returns the unsubscribe function. */
  on(listener: EventListener): () => void {
    return this.stat.listen(listener);
  }

  /** Run the invariant checks at `level` (default: the machine's level). */
  check(level: CheckLevel = this.checkLevel === 'off' ? 'cheap' : this.checkLevel): void {
    checkInvariants(this.kernel, level);
  }

  private after<T>(result: T): T {
    if (this.checkLevel !== 'off') checkInvariants(this.kernel, this.checkLevel);
    return result;
  }

  // ---------------------------------------------------------------- page allocator

  /** alloc_pages(gfp, order): 2^order frames with refcount 1 and no owner type. Returns the first pfn. */
  allocPages(order: number, opts: { gfp?: number; nid?: number } = {}): number {
    const h = this.folios.alloc((opts.gfp ?? GFP_KERNEL) | GFP.COMP, order, MT.UNKNOWN, opts.nid ?? 0);
    return this.after(this.folios.pfn[h >>> 0]);
  }

  /** __free_pages(page, order): drop the allocation's reference; frees at zero. */
  freePages(pfn: number, order: number): void {
    const row = this.folios.pageRow(pfn);
    if (!this.pa.memmap.pfnValid(pfn) || row < 0 || this.folios.kind[row] !== MT.UNKNOWN) {
      const what = this.pa.memmap.pfnValid(pfn) ? MT_NAMES[this.pa.memmap.type(pfn)] : 'not RAM';
      throw new KernelBug(`__free_pages of a frame that alloc_pages did not return (it is ${what})`, {
        pfn,
        rule: '__free_pages: page not allocated',
      });
    }
    if (this.folios.pfn[row] !== pfn || this.folios.order[row] !== order) {
      throw new KernelBug(
        `__free_pages order ${order} does not match the allocation (head 0x${this.folios.pfn[row].toString(16)}, order ${this.folios.order[row]})`,
        {
          pfn,
          rule: '__free_pages: wrong page or order',
        },
      );
    }
    this.folios.put(this.folios.handleOf(row));
    this.after(undefined);
  }

  /** folio_alloc(): an anon or file folio of 2^order pages, refcount 1. Returns its handle. */
  folioAlloc(order: number, opts: { kind?: 'anon' | 'file'; gfp?: number; nid?: number } = {}): number {
    const kind = opts.kind === 'file' ? MT.FILE : MT.ANON;
    const h = this.folios.alloc((opts.gfp ?? GFP_HIGHUSER_MOVABLE) | GFP.COMP, order, kind, opts.nid ?? 0);
    const row = h >>> 0;
    if (order > 0) this.folios.setFlag(row, PG.large_rmappable);
    if (kind === MT.ANON) this.folios.setFlag(row, PG.swapbacked);
    return this.after(h);
  }

  /** folio_get(). */
  folioGet(h: number): void {
    this.folios.get(h);
    this.after(undefined);
  }

  /** folio_put(): the folio goes back to the buddy allocator at refcount 0. */
  folioPut(h: number): void {
    this.folios.put(h);
    this.after(undefined);
  }

  /** The folio handle of a frame (page_folio), or 0. */
  pageFolio(pfn: number): number {
    return this.pa.memmap.pfnValid(pfn) ? this.folios.pageFolio(pfn) : NULL_HANDLE;
  }

  /** The first frame of a folio. */
  folioPfn(h: number): number {
    return this.folios.pfn[this.folios.row(h)];
  }

  // ---------------------------------------------------------------- slab

  /** kmem_cache_create(). */
  kmemCacheCreate(name: string, objectSize: number, opts: { reclaimable?: boolean } = {}): void {
    if (this.slab.cacheByName(name)) throw new ConfigError(`slab cache '${name}' already exists`);
    this.slab.create(name, objectSize, opts);
  }

  private cache(name: string) {
    const c = this.slab.cacheByName(name);
    if (!c) throw new ConfigError(`no slab cache named '${name}'`);
    return c;
  }

  /** kmem_cache_alloc(): returns the object's address. */
  kmemCacheAlloc(name: string, opts: { nid?: number } = {}): number {
    return this.after(this.slab.alloc(this.cache(name), opts.nid ?? 0));
  }

  /** kmem_cache_free(). */
  kmemCacheFree(name: string, addr: number): void {
    this.slab.free(this.cache(name), addr);
    this.after(undefined);
  }

  /** kmalloc(). */
  kmalloc(size: number, opts: { nid?: number } = {}): number {
    return this.after(this.slab.kmalloc(size, opts.nid ?? 0));
  }

  /** kfree(). */
  kfree(addr: number): void {
    this.slab.kfree(addr);
    this.after(undefined);
  }

  slabinfo(): SlabInfoRow[] {
    return this.slab.slabinfo();
  }

  // ---------------------------------------------------------------- page tables

  /** pagetable_alloc() for a table of `level` (1 = PTE ... 4 = PGD). Returns the ptdesc handle. */
  pagetableAlloc(level: number, opts: { mm?: number; nid?: number } = {}): number {
    if (!Number.isInteger(level) || level < 1 || level > 4)
      throw new ConfigError(`page-table level ${level} is not 1..4`);
    return this.after(this.ptdesc.alloc(level, opts.mm ?? 0, opts.nid ?? 0));
  }

  /** pagetable_free(). */
  pagetableFree(h: number): void {
    this.ptdesc.free(h);
    this.after(undefined);
  }

  pagetablePfn(h: number): number {
    return this.ptdesc.pfn[this.ptdesc.row(h)];
  }

  // ---------------------------------------------------------------- introspection

  /** Everything dump_page() would print about one frame. */
  page(pfn: number): PageInfo {
    const pa = this.pa;
    if (Number.isSafeInteger(pfn) && !pa.memmap.pfnValid(pfn) && this.k.devmem.pagemapOf(pfn))
      return this.devicePageInfo(pfn);
    if (!Number.isSafeInteger(pfn) || !pa.memmap.pfnValid(pfn))
      throw new ConfigError(`pfn ${pfn} is not RAM on this machine`);
    const lo = pa.memmap.lo(pfn);
    let type = mdType(lo) as MemType;
    let order = mdOrder(lo);
    let head = pfn;
    const zone = pa.zoneOf(pfn);
    const info: PageInfo = {
      pfn,
      type: MT_NAMES[type],
      order,
      head,
      nid: zone.nid,
      zone: zone.name,
      migratetype: MIGRATE_NAMES[pa.pageblockMigratetype(pfn)],
      refcount: 0,
      mapcount: 0,
      folioMapcount: 0,
      pincount: 0,
      flags: 0,
      flagNames: '',
      folio: 0,
      anonExclusive: false,
      maybeDmaPinned: false,
      pins: 0,
    };
    if (type === MT.NONE) {
      const blk = pa.findFreeBlock(pfn);
      if (blk) {
        type = MT.BUDDY;
        order = blk.order;
        head = blk.pfn;
      }
    }
    if (type === MT.BUDDY) {
      const headLo = pa.memmap.lo(head);
      Object.assign(info, { type: 'buddy', order, head, migratetype: MIGRATE_NAMES[mdMigratetype(headLo)] });
      return info;
    }
    if (FOLIO_TYPES.has(type)) {
      const f = this.folios;
      const row = pa.memmap.hi(pfn);
      Object.assign(info, {
        order: f.order[row],
        head: f.pfn[row],
        refcount: f.refcount[row],
        mapcount: f.pageMapcountOf(row, pfn),
        folioMapcount: f.mapcountOf(row),
        pincount: f.pincountOf(row),
        flags: f.flags[row],
        flagNames: formatFlags(f.flags[row], PG),
        folio: f.handleOf(row),
        anonExclusive: f.pageAnonExclusive(row, pfn),
        maybeDmaPinned: this.k.pins.policy.maybePinned(row, pfn),
        pins: this.k.pins.pinsOn(pfn),
      });
    } else if (type === MT.SLAB) {
      const s = this.slab.slabInuse(pa.memmap.hi(pfn));
      Object.assign(info, {
        head: s.pfn,
        order: s.cache.order,
        refcount: 1,
        flagNames: `slab:${s.cache.name}`,
      });
    } else if (type === MT.PGTABLE) {
      const row = pa.memmap.hi(pfn);
      Object.assign(info, { refcount: 1, flagNames: `table:${PT_LEVEL_NAMES[this.ptdesc.level[row]]}` });
    } else if (type === MT.ZERO || type === MT.RESERVED) {
      Object.assign(info, {
        refcount: pfn === this.pa.zeroPfn ? 1 + this.k.zeroPageRefs : 1,
        flags: PG.reserved,
        flagNames: 'reserved',
        head: type === MT.ZERO && order > 0 ? this.pa.hugeZeroPfn() : pfn,
      });
    }
    return info;
  }

  /** The kernel's dump_page() text for a frame. */
  dumpPage(pfn: number): string {
    const p = this.page(pfn);
    const lines = [
      `page: refcount:${p.refcount} mapcount:${p.mapcount} mapping:${p.type === 'anon' ? 'anon' : '0'} index:0x0 pfn:0x${pfn.toString(16)}`,
    ];
    if (p.head !== pfn || p.order > 0)
      lines.push(`head: order:${p.order} pincount:${p.pincount} pfn:0x${p.head.toString(16)}`);
    lines.push(`memdesc: ${p.type} node:${p.nid} zone:${p.zone} migratetype:${p.migratetype}`);
    lines.push(`flags: 0x${p.flags.toString(16)}(${p.flagNames})`);
    return lines.join('\n');
  }

  /** /proc/meminfo, in kB like the real file. */
  meminfo(): Meminfo {
    const kb = (pages: number) => (pages * PAGE_SIZE) / 1024;
    const t = this.stat.pagesByType;
    let cmaTotal = 0;
    let cmaFree = 0;
    for (const z of this.pa.zones) {
      cmaTotal += z.cmaPages;
      for (let o = 0; o < 11; o++) cmaFree += z.nrFree[o * MIGRATE_NAMES.length + 3] * (1 << o);
    }
    return {
      MemTotal: kb(this.pa.managedPages),
      MemFree: kb(this.pa.totalFreePages),
      AnonPages: kb(t[MT.ANON]),
      FilePages: kb(t[MT.FILE]),
      Slab: kb(t[MT.SLAB]),
      PageTables: kb(t[MT.PGTABLE]),
      KernelLarge: kb(t[MT.LARGE_KMALLOC]),
      DriverPages: kb(t[MT.UNKNOWN]),
      // The shared zero page sits in the kernel image; the huge zero folio came from the buddy allocator.
      Reserved: kb(t[MT.RESERVED] + 1),
      CmaTotal: kb(cmaTotal),
      CmaFree: kb(cmaFree),
    };
  }

  /** /proc/vmstat event counters plus page counts per memory type. */
  vmstat(): Record<string, number> {
    const out: Record<string, number> = { nr_free_pages: this.pa.totalFreePages };
    MT_NAMES.forEach((name, t) => {
      if (t !== MT.NONE) out[`nr_${name}_pages`] = this.stat.pagesByType[t];
    });
    // The KSM counters of /sys/kernel/mm/ksm, here so `expect: { counters }` can check them.
    out.ksm_pages_shared = this.k.ksm.pagesShared;
    out.ksm_pages_sharing = this.k.ksm.pagesSharing;
    return { ...out, ...this.stat.events };
  }

  /** /proc/buddyinfo: free blocks per order for each zone. */
  buddyinfo(): { nid: number; zone: string; free: number[] }[] {
    return this.pa.zones.map((z) => ({
      nid: z.nid,
      zone: z.name,
      free: Array.from({ length: 11 }, (_, o) => z.freeBlocks(o)),
    }));
  }

  /** The zones of every node with their spans and counts (a /proc/zoneinfo summary). */
  zoneinfo(): {
    nid: number;
    zone: string;
    startPfn: number;
    endPfn: number;
    present: number;
    managed: number;
    free: number;
    cma: number;
  }[] {
    return this.pa.zones.map((z) => ({
      nid: z.nid,
      zone: z.name,
      startPfn: z.startPfn,
      endPfn: z.endPfn,
      present: z.presentPages,
      managed: z.managedPages,
      free: z.freePages,
      cma: z.cmaPages,
    }));
  }

  /** What exists now, counted from the pools (input to the design accounting). */
  census(): Census {
    const folios = new Map<string, number>();
    const f = this.folios;
    for (const row of f.liveRows()) {
      const key = `${f.kind[row]}:${f.order[row]}`;
      folios.set(key, (folios.get(key) ?? 0) + 1);
    }
    return {
      presentPages: this.pa.maxPfn,
      pagesByType: this.stat.pagesByType,
      folios,
      slabs: this.slab.live,
      ptdescs: this.ptdesc.live,
    };
  }

  /** Metadata bytes under each descriptor layout (the configured design first). */
  accounting(): LayoutAccounting[] {
    const c = this.census();
    const order = [this.config.design, ...LAYOUTS.filter((l) => l !== this.config.design)];
    return order.map((l) => accountLayout(l, c));
  }

  /** Host bytes the simulation itself uses (memmap, pools, allocator arrays). */
  hostBytes(): { memmap: number; allocator: number; descriptors: number; total: number } {
    const memmap = this.pa.memmap.hostBytes();
    const allocator = this.pa.hostBytes();
    const descriptors = this.folios.hostBytes() + this.slab.hostBytes() + this.ptdesc.hostBytes();
    return { memmap, allocator, descriptors, total: memmap + allocator + descriptors };
  }

  /** Sections whose memmap is allocated, and how many there are. */
  sections(): { populated: number; total: number } {
    return { populated: this.pa.memmap.populatedSections, total: this.pa.memmap.nrSections };
  }

  /** The huge zero folio's first frame (allocated on first use). */
  hugeZeroPfn(): number {
    return this.pa.hugeZeroPfn();
  }

  // ---------------------------------------------------------------- processes and address spaces

  private proc(pid: number): Process {
    const p = this.k.processes.get(pid);
    if (!p) throw new InputError(`no process with pid ${pid}`);
    if (!p.alive) throw new InputError(`process ${pid} (${p.name}) has exited`);
    return p;
  }

  /** A new process with an empty address space. Returns its pid. */
  spawn(name?: string): number {
    const p = spawn(this.k, name ?? `p${this.k.processes.size + 1}`);
    return this.after(p.pid);
  }

  /** fork(): returns the child's pid. ENOMEM leaves no child behind. */
  fork(pid: number, name?: string): number {
    const parent = this.proc(pid);
    const child = doFork(this.k, parent, name ?? `${parent.name}-child`);
    return this.after(child.pid);
  }

  /** exit(): unmaps everything and frees the page tables. */
  exit(pid: number): void {
    doExit(this.k, this.proc(pid));
    this.after(undefined);
  }

  /** mmap(): returns the start address. */
  mmap(pid: number, a: MmapRequest): number {
    const p = this.proc(pid);
    let file: File | undefined;
    if (a.file !== undefined) {
      file = this.k.pagecache.files.get(a.file);
      if (!file) throw new InputError(`no file named '${a.file}'`);
    }
    const flags = parseMapFlags(a.flags);
    return this.after(
      doMmap(this.k, p, {
        addr: a.addr,
        length: a.length,
        prot: parseProt(a.prot),
        flags: file ? flags : flags | MAP.ANONYMOUS,
        file,
        offset: a.offset,
        name: a.name,
      }),
    );
  }

  munmap(pid: number, addr: number, length: number): void {
    doMunmap(this.k, this.proc(pid), addr, length);
    this.after(undefined);
  }

  mprotect(pid: number, addr: number, length: number, prot: number | string): void {
    doMprotect(this.k, this.proc(pid), addr, length, parseProt(prot));
    this.after(undefined);
  }

  madvise(pid: number, addr: number, length: number, advice: number | string): void {
    doMadvise(this.k, this.proc(pid), addr, length, parseAdvice(advice));
    this.after(undefined);
  }

  /** The process reads `len` bytes: the bytes, or the signal that stopped it. */
  read(pid: number, addr: number, len: number): AccessResult & { bytes: Uint8Array } {
    const bytes = new Uint8Array(len);
    const r = userAccess(this.k, this.proc(pid), addr, len, false, (pfn, off, n, done) =>
      this.k.frames.read(pfn, off, n, bytes, done),
    );
    return this.after({ ...r, bytes: bytes.subarray(0, r.done) });
  }

  /** The process writes `data` (or `len` copies of one byte) at `addr`. */
  write(pid: number, addr: number, data: Uint8Array | { byte: number; len: number }): AccessResult {
    const len = data instanceof Uint8Array ? data.length : data.len;
    const r = userAccess(this.k, this.proc(pid), addr, len, true, (pfn, off, n, done) => {
      if (data instanceof Uint8Array) this.k.frames.write(pfn, off, data.subarray(done, done + n));
      else this.k.frames.fillRange(pfn, off, n, data.byte);
    });
    return this.after(r);
  }

  /**
   * Touch one byte in every page of [addr, addr+len) — a loop of loads, or of stores of `byte` —
   * the way a program faults a buffer in. Stops at the first signal.
   */
  touch(pid: number, addr: number, len: number, opts: { write?: boolean; byte?: number } = {}): AccessResult {
    const p = this.proc(pid);
    const write = opts.write ?? false;
    const byte = opts.byte ?? 1;
    const frames = this.k.frames;
    const store = (pfn: number, off: number) => frames.fillRange(pfn, off, 1, byte);
    const load = () => {};
    let done = 0;
    for (let a = addr; a < addr + len; a += PAGE_SIZE - (a % PAGE_SIZE)) {
      const r = userAccess(this.k, p, a, 1, write, write ? store : load);
      if (r.signal) return this.after({ done, signal: r.signal, addr: r.addr });
      done++;
    }
    return this.after({ done });
  }

  // ---------------------------------------------------------------- GUP and pins

  private gupCall(
    pid: number,
    addr: number,
    nrPages: number,
    flags: number | string[],
    wrapper: number,
    fast: boolean,
  ): GupResult {
    const mm = this.proc(pid).mm;
    const h = gupCall(this.k, mm, { start: addr, nrPages, flags: parseFollFlags(flags), fast }, wrapper);
    return this.after({ id: h.id, pages: h.pfns.length, pfns: h.pfns });
  }

  /** get_user_pages(_fast)(): FOLL_GET references. Returns the handle and how many pages it holds. */
  getUserPages(
    pid: number,
    addr: number,
    nrPages: number,
    flags: number | string[] = [],
    opts: { fast?: boolean } = {},
  ): GupResult {
    return this.gupCall(pid, addr, nrPages, flags, FOLL.GET, opts.fast ?? false);
  }

  /** pin_user_pages(_fast)(): FOLL_PIN pins. */
  pinUserPages(
    pid: number,
    addr: number,
    nrPages: number,
    flags: number | string[] = [],
    opts: { fast?: boolean } = {},
  ): GupResult {
    return this.gupCall(pid, addr, nrPages, flags, FOLL.PIN, opts.fast ?? false);
  }

  /** unpin_user_pages() or, with `dirty`, unpin_user_pages_dirty_lock(). */
  unpinUserPages(id: number, opts: { dirty?: boolean } = {}): void {
    unpinUserPages(this.k, id, opts.dirty ?? false);
    this.after(undefined);
  }

  /** put_page() on every reference of a get_user_pages() result. */
  putUserPages(id: number): void {
    putUserPages(this.k, id);
    this.after(undefined);
  }

  /** A device reads `len` bytes through a GUP handle, starting `offset` bytes into it. */
  dmaRead(id: number, offset = 0, len?: number): Uint8Array {
    const h = gupFrames(this.k, id);
    const total = h.pfns.length * PAGE_SIZE;
    const n = len ?? total - offset;
    if (offset < 0 || offset + n > total)
      throw new InputError(`DMA range ${offset}+${n} is outside the ${total} pinned bytes`);
    const out = new Uint8Array(n);
    for (let done = 0; done < n; ) {
      const a = offset + done;
      const m = Math.min(n - done, PAGE_SIZE - (a % PAGE_SIZE));
      this.k.frames.read(h.pfns[Math.floor(a / PAGE_SIZE)], a % PAGE_SIZE, m, out, done);
      done += m;
    }
    return out;
  }

  /** A device writes through a GUP handle (what it wrote lands in the pinned frames, whoever maps them now). */
  dmaWrite(id: number, data: Uint8Array | { byte: number; len: number }, offset = 0): void {
    const h = gupFrames(this.k, id);
    const n = data instanceof Uint8Array ? data.length : data.len;
    const total = h.pfns.length * PAGE_SIZE;
    if (offset < 0 || offset + n > total)
      throw new InputError(`DMA range ${offset}+${n} is outside the ${total} pinned bytes`);
    for (let done = 0; done < n; ) {
      const a = offset + done;
      const m = Math.min(n - done, PAGE_SIZE - (a % PAGE_SIZE));
      const pfn = h.pfns[Math.floor(a / PAGE_SIZE)];
      if (data instanceof Uint8Array) this.k.frames.write(pfn, a % PAGE_SIZE, data.subarray(done, done + m));
      else this.k.frames.fillRange(pfn, a % PAGE_SIZE, m, data.byte);
      done += m;
    }
    this.after(undefined);
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

  // ---------------------------------------------------------------- files

  /** Create a file of `size` bytes whose content is one repeated byte or exact bytes. */
  fileCreate(name: string, size: number, content?: number | Uint8Array): void {
    if (this.k.pagecache.files.has(name)) throw new InputError(`file '${name}' already exists`);
    if (!Number.isSafeInteger(size) || size < 0)
      throw new InputError(`file size ${size} is not a byte count`);
    this.k.pagecache.create(name, size, content);
  }

  private file(name: string): File {
    const f = this.k.pagecache.files.get(name);
    if (!f) throw new InputError(`no file named '${name}'`);
    return f;
  }

  /** truncate(): shrink or grow; pages beyond the new end leave every mapping and the cache. */
  fileTruncate(name: string, size: number): void {
    if (!Number.isSafeInteger(size) || size < 0)
      throw new InputError(`file size ${size} is not a byte count`);
    truncateFile(this.k, this.file(name), size);
    this.after(undefined);
  }

  /** fsync(): write back dirty page-cache folios; returns an error recorded on the mapping, or null. */
  fileSync(name: string): string | null {
    return this.after(fileFsync(this.k, this.file(name)));
  }

  /** What the file holds on disk (for checking writeback). */
  fileContents(name: string, offset: number, len: number): Uint8Array {
    const f = this.file(name);
    const out = new Uint8Array(len);
    for (let done = 0; done < len; ) {
      const a = offset + done;
      const n = Math.min(len - done, PAGE_SIZE - (a % PAGE_SIZE));
      f.backing.read(Math.floor(a / PAGE_SIZE), a % PAGE_SIZE, n, out, done);
      done += n;
    }
    return out;
  }

  fileInfo(name: string): { size: number; cached: number; dirty: boolean } {
    const f = this.file(name);
    return { size: f.size, cached: f.nrCached, dirty: f.dirty };
  }

  // ---------------------------------------------------------------- inspection of address spaces

  processes(): ProcessInfo[] {
    return [...this.k.processes.values()].map((p) => ({
      pid: p.pid,
      name: p.name,
      alive: p.alive,
      parent: p.parent,
      rss: { file: p.mm.rss[0], anon: p.mm.rss[1], swap: p.mm.rss[2], shmem: p.mm.rss[3] },
      signals: p.signals.map((s) => ({ ...s })),
      hasPinned: (p.mm.flags & MMF.HAS_PINNED) !== 0,
      vmas: p.alive ? p.mm.vmas.map(vmaInfo) : [],
    }));
  }

  process(pid: number): ProcessInfo {
    const p = this.processes().find((x) => x.pid === pid);
    if (!p) throw new InputError(`no process with pid ${pid}`);
    return p;
  }

  /** The frame a user address maps (without faulting), with the entry's bits; undefined if none. */
  translate(
    pid: number,
    addr: number,
  ): { pfn: number; level: 'pte' | 'pmd'; bits: number; flags: string } | undefined {
    const t = translate(this.k, this.proc(pid).mm, addr);
    return t && { ...t, flags: formatFlags(t.bits, PTE_FLAG_NAMES) };
  }

  /** The page a user address maps, as `page()` describes it, or undefined when nothing is mapped. */
  pageAt(pid: number, addr: number): (PageInfo & { pte: string; level: 'pte' | 'pmd' }) | undefined {
    const t = this.translate(pid, addr);
    if (!t) return undefined;
    const info = { ...this.page(t.pfn), pte: t.flags, level: t.level };
    // A PMD mapping is exclusive or not as a whole: only the head page's bit counts (R1.5).
    if (t.level === 'pmd' && info.folio)
      info.anonExclusive = this.folios.pageAnonExclusive(info.folio >>> 0, info.head);
    return info;
  }

  /** The page-table walk for an address, level by level (for `pagelab explain`). */
  walk(pid: number, addr: number): WalkStep[] {
    const mm = this.proc(pid).mm;
    return this.ptdesc.walk(mm.pgd, addr).map((l) => {
      const bits = l.entry % 4096;
      const leaf = l.level === 1 || (bits & PTE.HUGE) !== 0;
      return {
        level: PT_LEVEL_NAMES[l.level],
        tablePfn: this.ptdesc.pfn[l.table],
        index: l.index,
        entry: l.entry,
        present: (bits & PTE.PRESENT) !== 0,
        leaf,
        pfn:
          l.entry === 0
            ? undefined
            : leaf
              ? Math.floor(l.entry / 4096)
              : this.ptdesc.pfn[Math.floor(l.entry / 4096)],
        flags: formatFlags(bits, PTE_FLAG_NAMES),
      };
    });
  }

  /** rmap_walk(): every (pid, address) mapping the folio that holds `pfn`. */
  rmap(pfn: number): { pid: number; addr: number; level: 'pte' | 'pmd' }[] {
    const row = this.pa.memmap.pfnValid(pfn) ? this.folios.pageRow(pfn) : -1;
    if (row < 0) return [];
    const byMm = new Map([...this.k.processes.values()].filter((p) => p.alive).map((p) => [p.mm, p.pid]));
    return rmapWalk(this.k, row)
      .filter((h) => h.pfn === pfn || h.level === 'pmd')
      .map((h) => ({
        pid: byMm.get(h.mm) ?? 0,
        addr: h.level === 'pmd' ? h.addr + (pfn - h.pfn) * PAGE_SIZE : h.addr,
        level: h.level,
      }));
  }

  // ---------------------------------------------------------------- driver memory (issue 6)
  // Devices whose mmap handlers map memory, pfn-only I/O ranges, ZONE_DEVICE memory with an eager,
  // lazy or absent memmap, and vmalloc memory (scamem) mapped to user space. src/mm/pfnmap.ts,
  // memremap.ts and vmalloc.ts hold the mechanisms; these methods name things by pid and address.

  private readonly drivers = new Map<string, DeviceDriver>();

  /** Declare a device: its mmap handler and fault handler get a DriverContext for the VMA. */
  defineDevice(name: string, driver: DeviceDriver): void {
    if (this.drivers.has(name)) throw new InputError(`device '${name}' is already defined`);
    this.drivers.set(name, driver);
  }

  /** mmap() of a device file: the driver's mmap handler runs on the new VMA. Returns the address. */
  mmapDevice(pid: number, a: Omit<MmapRequest, 'file'> & { device: string }): number {
    const d = this.drivers.get(a.device);
    if (!d) throw new InputError(`no device named '${a.device}'`);
    const ctx = (vma: Vma, lock: MmapLock) => this.driverContext(vma, lock);
    const vmf = (f: { vma: Vma; addr: number; pgoff: number; write: boolean }) => ({
      addr: f.addr,
      pgoff: f.pgoff,
      write: f.write,
    });
    const flags = parseMapFlags(a.flags) & ~MAP.ANONYMOUS;
    return this.after(
      doMmap(this.k, this.proc(pid), {
        addr: a.addr,
        length: a.length,
        prot: parseProt(a.prot),
        flags,
        offset: a.offset,
        name: a.name,
        driver: {
          name: a.device,
          mmap: d.mmap && ((vma) => d.mmap!(ctx(vma, 'write'))),
          ops: {
            name: a.device,
            fault: d.fault && ((f) => d.fault!(ctx(f.vma, 'read'), vmf(f))),
            pfnMkwrite: d.pfnMkwrite && ((f) => d.pfnMkwrite!(ctx(f.vma, 'read'), vmf(f))),
            pageMkwrite: d.pageMkwrite && ((f) => d.pageMkwrite!(ctx(f.vma, 'read'), vmf(f))),
          },
        },
      }),
    );
  }

  /** What a driver's handlers may do to the VMA they were given, with the mmap_lock they hold. */
  private driverContext(vma: Vma, lock: MmapLock): DriverContext {
    const k = this.k;
    return {
      start: vma.start,
      end: vma.end,
      get pgoff() {
        return vma.pgoff;
      },
      get flags() {
        return formatFlags(vma.flags, VM_NAMES);
      },
      setFlags: (names) => {
        for (const n of names) {
          const bit = VM_NAMES[n];
          if (bit === undefined) throw new InputError(`unknown VM flag '${n}'`);
          vma.flags |= bit;
        }
      },
      remapPfnRange: (addr, pfn, size) => remapPfnRange(k, vma, addr, pfn, size),
      vmInsertPage: (addr, pfn) => vmInsertPage(k, vma, addr, pfn, lock),
      vmInsertPages: (addr, pfns) => vmInsertPages(k, vma, addr, pfns, lock),
      vmfInsertPfn: (addr, pfn) => vmfInsertPfn(k, vma, addr, pfn),
      vmfInsertMixed: (addr, pfn, mkwrite) => vmfInsertMixed(k, vma, addr, pfn, mkwrite),
      remapVmallocRange: (kaddr, pgoff, uaddr = vma.start, size = vma.end - uaddr) =>
        remapVmallocRangePartial(k, vma, uaddr, kaddr, pgoff, size),
    };
  }

  /**
   * The driver calls of DriverContext on an existing VMA of a process, as a driver would make them
   * (mmap_lock held for write unless `lock` says read): for tests of every errno and BUG.
   */
  driverCall(pid: number, addr: number, lock: MmapLock = 'write'): DriverContext {
    const vma = findVmaOf(this.proc(pid), addr);
    const ctx = this.driverContext(vma, lock);
    const wrap =
      <A extends unknown[], R>(fn: (...args: A) => R) =>
      (...args: A): R =>
        this.after(fn(...args));
    return {
      ...ctx,
      remapPfnRange: wrap(ctx.remapPfnRange),
      vmInsertPage: wrap(ctx.vmInsertPage),
      vmInsertPages: wrap(ctx.vmInsertPages),
      vmfInsertPfn: wrap(ctx.vmfInsertPfn),
      vmfInsertMixed: wrap(ctx.vmfInsertMixed),
      remapVmallocRange: wrap(ctx.remapVmallocRange),
    };
  }

  /**
   * vm_normal_page() for the entry mapping `addr`: the frame of the page it returns, null when it
   * returns NULL (a special mapping), undefined when nothing is mapped.
   */
  vmNormalPage(pid: number, addr: number): number | null | undefined {
    const p = this.proc(pid);
    const slot = this.ptdesc.leafSlot(p.mm.pgd, addr);
    const e = slot >= 0 ? this.ptdesc.entries[slot] : 0;
    if (e === 0) return undefined;
    const row = vmNormalPage(this.k, findVmaOf(p, addr), addr, e);
    if (row === VMALLOC_PAGE) return Math.floor(e / 4096);
    return row < 0 ? null : Math.floor(e / 4096);
  }

  /** Physical memory with no struct page (I/O or flash): a pfn-only range above RAM. Returns its first pfn. */
  ioRegion(size: string | number, opts: { name?: string } = {}): number {
    const m = this.k.devmem.memremapPages({ size: parseSize(size), mode: 'none', name: opts.name });
    return this.after(m.startPfn);
  }

  /** memremap_pages(): ZONE_DEVICE memory above RAM with an eager, lazy or absent memmap. */
  memremapPages(
    size: string | number,
    opts: { mode: MemmapMode; limit?: number; nid?: number; name?: string },
  ): DevicePagemapInfo {
    const m = this.k.devmem.memremapPages({ size: parseSize(size), ...opts });
    return this.after(this.pagemapInfo(m.id));
  }

  memunmapPages(id: number): void {
    this.k.devmem.memunmapPages(this.pagemap(id));
    this.after(undefined);
  }

  private pagemap(id: number) {
    const m = this.k.devmem.maps.find((x) => x.id === id);
    if (!m) throw new InputError(`no device pagemap ${id}`);
    return m;
  }

  pagemapInfo(id: number): DevicePagemapInfo {
    const m = this.pagemap(id);
    return {
      id: m.id,
      name: m.name,
      startPfn: m.startPfn,
      nrPages: m.nrPages,
      mode: m.mode,
      chunks: [...m.chunks.keys()],
      populated: m.populated,
      reclaimed: m.reclaimed,
    };
  }

  /** The sanctioned accessor of a lazy memmap: populate the pfn's memmap page; returns the folio handle. */
  pfnToPagePopulate(pfn: number): number {
    const row = this.k.devmem.pfnToPagePopulate(pfn);
    return this.after(this.folios.handleOf(row));
  }

  /** Reclaim idle lazy memmap chunks, least recently allocated first; returns how many went. */
  devmemReclaim(id: number): number {
    return this.after(this.k.devmem.reclaim(this.pagemap(id)));
  }

  /** What an ordinary pfn_to_page() sees for a device pfn. */
  /** page() for a frame of device memory: `device` with a real descriptor, `none` without one. */
  private devicePageInfo(pfn: number): PageInfo {
    const d = this.devicePage(pfn);
    const real = d.descriptor === 'real';
    return {
      pfn,
      type: real ? 'device' : 'none',
      order: 0,
      head: pfn,
      nid: 0,
      zone: 'Device',
      migratetype: 'none',
      refcount: d.refcount,
      mapcount: d.mapcount,
      folioMapcount: d.mapcount,
      pincount: 0,
      flags: 0,
      flagNames: real ? '' : d.descriptor === 'invalid' ? 'invalid (lazy memmap)' : 'no struct page',
      folio: d.folio ?? 0,
      anonExclusive: false,
      maybeDmaPinned: real && d.refcount >= 1024,
      pins: d.pins,
    };
  }

  devicePage(pfn: number): DevicePageInfo {
    const r = this.k.devmem.pfnToPage(pfn);
    const m = this.k.devmem.pagemapOf(pfn);
    if (!m) throw new InputError(`pfn ${pfn} is not device memory`);
    if (r < 0)
      return { pfn, descriptor: r === INVALID_PAGE ? 'invalid' : 'none', refcount: 0, mapcount: 0, pins: 0 };
    const f = this.folios;
    return {
      pfn,
      descriptor: 'real',
      refcount: f.refcount[r],
      mapcount: f.mapcountOf(r),
      pins: this.k.pins.pinsOn(pfn),
      folio: f.handleOf(r),
    };
  }

  /** Write bytes into any frame by pfn (a device, firmware, or the kernel's own view of RAM). */
  physWrite(pfn: number, offset: number, data: Uint8Array | { byte: number; len: number }): void {
    if (data instanceof Uint8Array) this.k.frames.write(pfn, offset, data);
    else this.k.frames.fillRange(pfn, offset, data.len, data.byte);
  }

  physRead(pfn: number, offset: number, len: number): Uint8Array {
    const out = new Uint8Array(len);
    this.k.frames.read(pfn, offset, len, out);
    return out;
  }

  /** vmalloc(): returns the kernel address (low 48 bits). */
  vmalloc(size: number, opts: { nid?: number } = {}): number {
    return this.after(this.k.vmalloc.vmalloc(size, { nid: opts.nid }));
  }

  /** vmalloc_user(): zeroed, VM_USERMAP, so remap_vmalloc_range accepts it. */
  vmallocUser(size: number, opts: { nid?: number } = {}): number {
    return this.after(this.k.vmalloc.vmalloc(size, { user: true, nid: opts.nid }));
  }

  vfree(kaddr: number): void {
    this.k.vmalloc.vfree(kaddr);
    this.after(undefined);
  }

  /** vmalloc_to_pfn(). */
  vmallocToPfn(kaddr: number): number {
    return this.k.vmalloc.vmallocToPfn(kaddr);
  }

  /** A vmalloc page's counts: R9's per-page refcount and mapcount, its scamem's refcount, page_to_nid. */
  vmallocPage(pfn: number): VmallocPageInfo {
    const v = this.k.vmalloc;
    if (!v.isPage(pfn)) throw new InputError(`pfn ${pfn} is not a vmalloc page`);
    const row = this.pa.memmap.hi(pfn);
    return {
      pfn,
      refcount: v.pageRefcount(pfn),
      mapcount: v.pageMapcount(pfn),
      scamemRefcount: v.scamem.refcount[row],
      scamemPages: v.scamem.nrPages[row],
      vfreed: v.scamem.owned[row] === 0,
      nid: v.pageToNid(pfn),
    };
  }

  // ---------------------------------------------------------------- KSM (src/mm/ksm.ts)

  /** ksmd runs one full pass (to convergence): identical pages of VM_MERGEABLE VMAs merge. Returns the pages merged. */
  ksmScan(): number {
    return this.after(ksmScan(this.k));
  }

  /** /sys/kernel/mm/ksm: KSM pages in use, the mappings beyond the first sharing them, passes run. */
  ksmStats(): { pagesShared: number; pagesSharing: number; fullScans: number } {
    const s = this.k.ksm;
    return { pagesShared: s.pagesShared, pagesSharing: s.pagesSharing, fullScans: s.fullScans };
  }

  // ---------------------------------------------------------------- observation (src/oracle)

  /**
   * What /proc/<pid>/pagemap and a look at the page show, without faulting or changing anything:
   * the frame mapped at `addr` and the first byte of its page; undefined when nothing is mapped.
   */
  observe(pid: number, addr: number): { pfn: number; byte: number } | undefined {
    const t = translate(this.k, this.proc(pid).mm, addr);
    return t && { pfn: t.pfn, byte: this.k.frames.byteAt(t.pfn, 0) };
  }
}

function findVmaOf(p: Process, addr: number): Vma {
  const vma = p.mm.vmas.find((v) => addr >= v.start && addr < v.end);
  if (!vma) throw new InputError(`process ${p.pid} has no mapping at 0x${addr.toString(16)}`);
  return vma;
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
  id: number;
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

/** What a get_user_pages / pin_user_pages call returns. */
export interface GupResult {
  /** The handle to unpin, put, or DMA through. */
  id: number;
  /** Pages grabbed (fewer than asked when a later page failed). */
  pages: number;
  /** The frame of each page grabbed, in address order. */
  pfns: Float64Array;
}

/** FOLL_* from bits or names ('write', 'force', 'longterm', 'nofault', ...). */
export function parseFollFlags(flags: number | string[]): number {
  if (typeof flags === 'number') return flags;
  let f = 0;
  for (const name of flags) {
    const bit = (FOLL as Record<string, number>)[name.toUpperCase()];
    if (bit === undefined)
      throw new InputError(
        `unknown FOLL flag '${name}' (known: ${Object.keys(FOLL)
          .map((x) => x.toLowerCase())
          .join(', ')})`,
      );
    f |= bit;
  }
  return f;
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

const PTE_FLAG_NAMES: Readonly<Record<string, number>> = Object.fromEntries(
  Object.entries(PTE).map(([k, v]) => [k.toLowerCase(), v]),
);

function vmaInfo(v: Vma): VmaInfo {
  return {
    start: v.start,
    end: v.end,
    flags: formatFlags(v.flags, VM_NAMES),
    name: v.name,
    file: v.file && !v.file.shmem ? v.file.name : undefined,
    pgoff: v.pgoff,
  };
}

/** PROT_* from bits or letters ('r', 'w', 'x'; 'none' or '' for PROT_NONE). */
export function parseProt(prot: number | string): number {
  if (typeof prot === 'number') return prot;
  if (prot === 'none' || prot === '---') return PROT.NONE;
  let p = 0;
  for (const ch of prot) {
    if (ch === 'r') p |= PROT.READ;
    else if (ch === 'w') p |= PROT.WRITE;
    else if (ch === 'x') p |= PROT.EXEC;
    else if (ch !== '-') throw new InputError(`bad prot '${prot}': use letters r, w, x or 'none'`);
  }
  return p;
}

const MAP_NAMES: Record<string, number> = {
  shared: MAP.SHARED,
  private: MAP.PRIVATE,
  fixed: MAP.FIXED,
  anonymous: MAP.ANONYMOUS,
  populate: MAP.POPULATE,
  fixed_noreplace: MAP.FIXED_NOREPLACE,
};

export function parseMapFlags(flags: number | string[]): number {
  if (typeof flags === 'number') return flags;
  let f = 0;
  for (const name of flags) {
    const bit = MAP_NAMES[name];
    if (bit === undefined)
      throw new InputError(`unknown mmap flag '${name}' (known: ${Object.keys(MAP_NAMES).join(', ')})`);
    f |= bit;
  }
  return f;
}

export function parseAdvice(advice: number | string): number {
  if (typeof advice === 'number') return advice;
  const v = (MADV as Record<string, number>)[advice.toUpperCase()];
  if (v === undefined)
    throw new InputError(
      `unknown madvise advice '${advice}' (known: ${Object.keys(MADV)
        .map((a) => a.toLowerCase())
        .join(', ')})`,
    );
  return v;
}
