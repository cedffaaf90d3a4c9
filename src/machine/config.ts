/**
 * Machine configuration: what the user may say (MachineConfig), what it resolves to, and the boot
 * that turns it into a Kernel — the kernel command line and Kconfig of the model.
 *
 * Unknown keys are not checked here (the scenario schema refuses them); every known key is
 * validated with one readable line, so a bad configuration is a user error, never a stack trace.
 */
import { CHECK_LEVELS, type CheckLevel } from '../check/invariants.js';
import { LAYOUTS, type LayoutName } from '../designs/layout.js';
import { makePfnLookup, PFN_LOOKUPS, type PfnLookupName } from '../designs/pfnlookup.js';
import { makePinPolicy, PIN_DESIGNS, type PinDesign } from '../designs/pincount.js';
import { defaultThpOrders, MTHP_MIN_ORDER, THP_SIZE_MODES, type ThpSizeMode } from '../mm/huge_mm.js';
import { Kernel, THP_MODES, type ThpMode } from '../mm/kernel.js';
import { HPAGE_PMD_ORDER, MiB, PAGE_SIZE, PAGES_PER_SECTION, parseSize } from '../mm/types.js';
import { suggestion } from './suggest.js';

/** Bad input to the model: an unknown process, file or cache, a malformed argument. */
export class InputError extends Error {
  override readonly name: string = 'InputError';
}

/** Bad machine configuration (a user error, reported without a stack trace). */
export class ConfigError extends InputError {
  override readonly name = 'ConfigError';
}

/** One range of RAM in a memory map (an e820 "usable" entry, a memblock.memory region). */
export interface RamRange {
  start: string | number;
  size: string | number;
}

export interface MachineConfig {
  /**
   * RAM size, e.g. '4G' or a byte count, a multiple of 128 MiB (RAM from 0, no holes, no DMA
   * zone); or a memory map: RAM ranges in ascending order with holes between them, e.g.
   * `[{ start: 4K, size: 636K }, { start: 1M, size: 3071M }, { start: 4G, size: 4G }]`, whole
   * pages — the machine then has x86-64's zones (DMA < 16 MiB, DMA32 < 4 GiB, Normal), one node.
   * Default 4G.
   */
  memory?: string | number | RamRange[];
  /**
   * CONFIG_DEFERRED_STRUCT_PAGE_INIT: boot initialises the struct pages of one section of the
   * highest zone; the rest is initialised a section at a time when an allocation would fail
   * (deferred_grow_zone) or all at once by Machine.pageAllocInitLate(). Default false.
   */
  deferredInit?: boolean;
  /**
   * Per-CPU page lists (src/mm/pcp.ts) sized as Linux sizes them: small frees park on them, out of
   * MemFree, until a batch goes back to the buddy lists. Default false: every free reaches the buddy
   * lists at once, as on a zone whose lists are disabled (zone_pcp_disable: high 0, batch 1).
   */
  pcp?: boolean;
  /** NUMA nodes; memory is split evenly. Default 1. */
  nodes?: number;
  /** The descriptor layout whose accounting is reported first. Default memdesc. */
  design?: LayoutName;
  /** Bytes of ZONE_MOVABLE (movablecore=), split over the nodes. Default 0. */
  movable?: string | number;
  /** Bytes of CMA in the first node. Default 0. */
  cma?: string | number;
  /**
   * Physical address of the shared zero page (empty_zero_page, in the kernel image's .bss); it
   * must lie in a reserved range. Default: the last page of the default kernel image, 32M − 4K.
   */
  zeroPage?: string | number;
  /** Boot-reserved ranges; default: the first MiB (firmware) and 16 MiB of kernel image at 16 MiB. */
  reserved?: { start: string | number; size: string | number }[];
  /** Invariant checks after every mutating operation. Default off. */
  check?: CheckLevel;
  /** Keep page contents (default true; benchmarks turn it off and every page reads as zeros). */
  contents?: boolean;
  /**
   * THP policy: a mode for /sys/kernel/mm/transparent_hugepage/enabled (default madvise), or an
   * object of per-size knobs (hugepages-<size>kB/enabled) by size, e.g. `{ 64K: always, 2M: madvise }`,
   * with `enabled` for the top-level mode. Sizes not named keep their boot default: 2M inherit, the
   * rest never.
   */
  thp?: ThpMode | ThpConfig;
  /** Map the huge zero folio on THP read faults (use_zero_page). Default true. */
  thpZeroPage?: boolean;
  /** How pins are counted and folio_maybe_dma_pinned() answers (src/designs/pincount.ts). Default bias (Linux). */
  pincount?: PinDesign;
  /** CONFIG_ARCH_HAS_PTE_SPECIAL; false models an architecture using vm_normal_page's linear rule. Default true. */
  pteSpecial?: boolean;
  /** Size of the one swap device (a zram disk, as `swapon` sees it), e.g. '256M'. Default 0: no swap. */
  swap?: string | number;
  /** How code starting from a frame finds its owner (src/designs/pfnlookup.ts). Default memmap (Linux). */
  pfn_lookup?: PfnLookupName;
}

/** The object form of `thp`: the top-level mode and the per-size knobs, keyed by size ('16K' ... '2M'). */
export type ThpConfig = { enabled?: ThpMode } & { [size: string]: ThpSizeMode | undefined };

export interface ResolvedConfig {
  /** Bytes of RAM. */
  memory: number;
  /** The memory map in PFNs when the config gave one. */
  ram?: { start: number; end: number }[];
  deferredInit: boolean;
  pcp: boolean;
  nodes: number;
  design: LayoutName;
  movable: number;
  cma: number;
  reserved: { start: number; size: number }[];
  zeroPage: number;
  check: CheckLevel;
  contents: boolean;
  /** The top-level THP mode. */
  thp: ThpMode;
  /** The per-size knobs, indexed by order (2..9; the rest unused). */
  thpOrders: ThpSizeMode[];
  thpZeroPage: boolean;
  pincount: PinDesign;
  pteSpecial: boolean;
  /** Bytes of swap, a whole number of pages (0: none). */
  swap: number;
  pfn_lookup: PfnLookupName;
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

function choice<T extends string>(value: T | undefined, what: string, dflt: T, choices: readonly T[]): T {
  const v = value ?? dflt;
  if (!choices.includes(v)) throw new ConfigError(`${what}: '${v}' is not one of ${choices.join(', ')}`);
  return v;
}

/** A memory map as PFN ranges: whole pages, ascending, disjoint (the allocator checks the order too). */
function memoryMap(ranges: RamRange[]): { start: number; end: number }[] {
  if (ranges.length === 0) throw new ConfigError('memory: the memory map has no range');
  let prev = 0;
  return ranges.map((r, i) => {
    const start = size(r.start, `memory[${i}].start`, 0);
    const bytes = size(r.size, `memory[${i}].size`, 0);
    if (start % PAGE_SIZE !== 0 || bytes % PAGE_SIZE !== 0 || bytes <= 0)
      throw new ConfigError(
        `memory[${i}].size: ${r.start} + ${r.size} is not a positive number of whole pages`,
      );
    if (start < prev)
      throw new ConfigError(`memory[${i}].start: ${r.start} overlaps or precedes the range before it`);
    prev = start + bytes;
    if (prev / PAGE_SIZE > 2 ** 36)
      throw new ConfigError(`memory[${i}].size: the map ends above the 256T pagelab supports`);
    return { start: start / PAGE_SIZE, end: prev / PAGE_SIZE };
  });
}

/** Every key MachineConfig has (a key missing here is a type error). */
const CONFIG_KEYS: Record<keyof MachineConfig, true> = {
  memory: true,
  nodes: true,
  design: true,
  movable: true,
  cma: true,
  reserved: true,
  check: true,
  contents: true,
  thp: true,
  thpZeroPage: true,
  pincount: true,
  pteSpecial: true,
  swap: true,
  zeroPage: true,
  deferredInit: true,
  pcp: true,
  pfn_lookup: true,
};

/** Validate and default a configuration; throws ConfigError with one readable line. */
export function resolveConfig(c: MachineConfig = {}): ResolvedConfig {
  for (const key of Object.keys(c))
    if (!Object.hasOwn(CONFIG_KEYS, key))
      throw new ConfigError(
        `unknown config key '${key}'${suggestion(key, Object.keys(CONFIG_KEYS))} (known: ${Object.keys(CONFIG_KEYS).join(', ')})`,
      );
  const ram = Array.isArray(c.memory) ? memoryMap(c.memory) : undefined;
  const memory = ram
    ? ram.reduce((n, r) => n + (r.end - r.start) * PAGE_SIZE, 0)
    : size(c.memory as string | number | undefined, 'memory', 4 * 1024 * MiB);
  const section = PAGES_PER_SECTION * PAGE_SIZE;
  if (!ram && (memory < section || memory % section !== 0)) {
    throw new ConfigError(`memory: ${c.memory} is not a positive multiple of the 128M section size`);
  }
  if (memory / PAGE_SIZE > 2 ** 36)
    throw new ConfigError(`memory: ${c.memory} is larger than the 256T pagelab supports`);
  const nodes = c.nodes ?? 1;
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > 64)
    throw new ConfigError(`nodes: ${nodes} is not a whole number from 1 to 64`);
  const reserved = (
    c.reserved ?? [
      { start: 0, size: MiB },
      { start: KERNEL_START, size: KERNEL_SIZE },
    ]
  ).map((r, i) => ({
    start: size(r.start, `reserved[${i}].start`, 0),
    size: size(r.size, `reserved[${i}].size`, 0),
  }));
  const swap = size(c.swap, 'swap', 0);
  // mkswap refuses fewer than 10 pages; the model keeps one count per slot, so it stops at 64G.
  if (swap !== 0 && (swap % PAGE_SIZE !== 0 || swap < 10 * PAGE_SIZE || swap > 64 * 1024 * MiB))
    throw new ConfigError(`swap: ${c.swap} is not a whole number of pages from 40K to 64G`);
  if (c.deferredInit !== undefined && typeof c.deferredInit !== 'boolean')
    throw new ConfigError(`deferredInit: ${c.deferredInit} is not true or false`);
  if (c.pcp !== undefined && typeof c.pcp !== 'boolean')
    throw new ConfigError(`pcp: ${c.pcp} is not true or false`);
  return {
    memory,
    ...(ram ? { ram } : {}),
    deferredInit: c.deferredInit ?? false,
    pcp: c.pcp ?? false,
    nodes,
    design: choice(c.design, 'design', 'memdesc', LAYOUTS),
    movable: size(c.movable, 'movable', 0),
    cma: size(c.cma, 'cma', 0),
    reserved,
    zeroPage: size(c.zeroPage, 'zeroPage', KERNEL_START + KERNEL_SIZE - PAGE_SIZE),
    check: choice(c.check, 'check', 'off', CHECK_LEVELS),
    contents: c.contents ?? true,
    ...resolveThp(c.thp),
    thpZeroPage: c.thpZeroPage ?? true,
    pincount: choice(c.pincount, 'pincount', 'bias', PIN_DESIGNS),
    pteSpecial: c.pteSpecial ?? true,
    swap,
    pfn_lookup: choice(c.pfn_lookup, 'pfn_lookup', 'memmap', PFN_LOOKUPS),
  };
}

/**
 * `thp` in either form: a top-level mode, or the per-size knobs by size with `enabled` as the
 * top-level mode. A size must be one the kernel offers anonymous memory (16K up to the PMD size).
 */
function resolveThp(t: ThpMode | ThpConfig | undefined): { thp: ThpMode; thpOrders: ThpSizeMode[] } {
  const thpOrders = defaultThpOrders();
  if (t === undefined || typeof t === 'string')
    return { thp: choice(t as ThpMode | undefined, 'thp', 'madvise', THP_MODES), thpOrders };
  if (typeof t !== 'object' || t === null || Array.isArray(t))
    throw new ConfigError(`thp: ${JSON.stringify(t)} is neither a THP mode nor an object of per-size modes`);
  let thp: ThpMode = 'madvise';
  for (const [key, value] of Object.entries(t)) {
    if (key === 'enabled') {
      thp = choice(value as ThpMode, 'thp', 'madvise', THP_MODES);
      continue;
    }
    let bytes: number;
    try {
      bytes = parseSize(key);
    } catch {
      bytes = Number.NaN;
    }
    const order = Math.log2(bytes / PAGE_SIZE);
    if (!Number.isInteger(order) || order < MTHP_MIN_ORDER || order > HPAGE_PMD_ORDER)
      throw new ConfigError(
        `thp: '${key}' is not a THP size (16K, 32K, 64K, 128K, 256K, 512K, 1M or 2M) nor 'enabled'`,
      );
    thpOrders[order] = choice(value as ThpSizeMode, `thp`, 'never', THP_SIZE_MODES);
  }
  return { thp, thpOrders };
}

/**
 * Boot: the memory layout, the kernel options and the pin-count design, fixed at construction
 * (the design is a property of the kernel, not a field to overwrite later).
 */
export function bootKernel(c: ResolvedConfig): Kernel {
  try {
    return new Kernel(
      {
        memory: c.memory,
        ram: c.ram,
        deferredInit: c.deferredInit,
        pcp: c.pcp,
        nodes: c.nodes,
        movable: c.movable,
        cma: c.cma,
        reserved: c.reserved,
        zeroPage: c.zeroPage,
      },
      {
        contents: c.contents,
        thp: c.thp,
        thpOrders: c.thpOrders,
        thpZeroPage: c.thpZeroPage,
        pteSpecial: c.pteSpecial,
        swapSlots: c.swap / PAGE_SIZE,
        pinPolicy: (k) => makePinPolicy(c.pincount, k, c.design),
        pfnLookup: () => makePfnLookup(c.pfn_lookup),
      },
    );
  } catch (e) {
    if (e instanceof RangeError) throw new ConfigError(e.message);
    throw e;
  }
}
