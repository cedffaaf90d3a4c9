/**
 * Units, sizes, flag sets and the two ways the model reports trouble.
 *
 * Models: PAGE_SHIFT/SECTION_SIZE_BITS/MAX_PAGE_ORDER of x86-64 (arch/x86/include/asm/page_types.h,
 * sparsemem.h, include/linux/mmzone.h); errno values (include/uapi/asm-generic/errno-base.h);
 * BUG_ON / "bad page" reports (mm/debug.c).
 * Leaves out: other page sizes and architectures.
 */

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 1 << PAGE_SHIFT;
/** 128 MiB memory sections, as x86-64 SECTION_SIZE_BITS = 27. */
export const SECTION_SHIFT = 27;
export const PAGES_PER_SECTION = 1 << (SECTION_SHIFT - PAGE_SHIFT);
/** Largest buddy order (MAX_PAGE_ORDER): blocks of 2^10 pages = 4 MiB. */
export const MAX_PAGE_ORDER = 10;
export const NR_PAGE_ORDERS = MAX_PAGE_ORDER + 1;
/** pageblock_order on x86-64 with THP: one PMD, 2 MiB. */
export const PAGEBLOCK_ORDER = 9;
/** PAGE_ALLOC_COSTLY_ORDER: above this order an allocation is "costly" (no per-CPU list, no retry forever). */
export const PAGE_ALLOC_COSTLY_ORDER = 3;
export const PAGEBLOCK_PAGES = 1 << PAGEBLOCK_ORDER;
/** Orders a PMD maps. */
export const HPAGE_PMD_ORDER = 9;

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;
export const TiB = 1024 * GiB;

const SIZE_UNITS: Record<string, number> = { '': 1, K: KiB, M: MiB, G: GiB, T: TiB, P: 1024 * TiB };

/** Bytes of a size of at most 15 digits and an optional unit letter (`4096`, `4K`, `64m`), else -1. */
function plainSize(text: string): number {
  const n = text.length;
  let end = n;
  let unit = 1;
  const last = text.charCodeAt(n - 1) | 0x20; // lower case
  if (last === 0x6b) unit = KiB;
  else if (last === 0x6d) unit = MiB;
  else if (last === 0x67) unit = GiB;
  else if (last === 0x74) unit = TiB;
  else if (last === 0x70) unit = 1024 * TiB;
  if (unit !== 1) end--;
  if (end === 0 || end > 15) return -1;
  let v = 0;
  for (let i = 0; i < end; i++) {
    const d = text.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  const bytes = v * unit;
  return Number.isSafeInteger(bytes) ? bytes : -1;
}

/**
 * Parse a size such as `4G`, `512M`, `8K`, `0x2000` or `4096` into bytes.
 * Throws a RangeError with a readable message on anything else.
 */
export function parseSize(text: string | number): number {
  if (typeof text === 'number') {
    if (!Number.isSafeInteger(text) || text < 0)
      throw new RangeError(`bad size ${text}: not a whole number of bytes`);
    return text;
  }
  const quick = plainSize(text);
  if (quick >= 0) return quick;
  const s = text.trim();
  if (/^0x[0-9a-f]+$/i.test(s)) return Number.parseInt(s, 16);
  const m = /^(\d+(?:\.\d+)?)\s*([KMGTP]?)(?:i?B)?$/i.exec(s);
  if (!m)
    throw new RangeError(`bad size '${text}': expected a number with an optional K, M, G, T or P suffix`);
  const bytes = Number(m[1]) * SIZE_UNITS[m[2].toUpperCase()];
  if (Number.isInteger(bytes) && !Number.isSafeInteger(bytes))
    throw new RangeError(`bad size '${text}': more than 2^53 bytes, beyond what a size can hold exactly`);
  if (!Number.isSafeInteger(bytes)) throw new RangeError(`bad size '${text}': not a whole number of bytes`);
  return bytes;
}

/** Format bytes the way /proc/meminfo readers like it: the largest exact-ish binary unit. */
export function formatSize(bytes: number): string {
  const units: [string, number][] = [
    ['T', TiB],
    ['G', GiB],
    ['M', MiB],
    ['K', KiB],
  ];
  for (const [u, n] of units) {
    if (bytes >= n) {
      const v = bytes / n;
      return `${Number.isInteger(v) ? v : v.toFixed(1)}${u}`;
    }
  }
  return `${bytes}B`;
}

/** A flag table: name -> single bit. Used with formatFlags(). */
export type FlagTable = Readonly<Record<string, number>>;

/** Render a flag word as `name|name|...` in the table's bit order, like the kernel's %pGp. */
export function formatFlags(value: number, table: FlagTable): string {
  const names: string[] = [];
  for (const [name, bit] of Object.entries(table)) if (bit !== 0 && (value & bit) === bit) names.push(name);
  return names.join('|');
}

/** The errno names the model returns, with their Linux numbers. */
export const ERRNO = {
  EPERM: 1,
  ENOENT: 2,
  EIO: 5,
  ENXIO: 6,
  E2BIG: 7,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  ENODEV: 19,
  EINVAL: 22,
  ENOSPC: 28,
  EMLINK: 31,
  ERANGE: 34,
  EOPNOTSUPP: 95,
  EREMOTEIO: 121,
  EHWPOISON: 133,
} as const;
export type Errno = keyof typeof ERRNO;

/** What the kernel would report with an errno: a clean, expected failure. */
export class KernelError extends Error {
  override readonly name = 'KernelError';
  constructor(
    readonly errno: Errno,
    message: string,
  ) {
    super(`${errno}: ${message}`);
  }
}

/** Context a KernelBug carries: which frame, which rule. */
export interface BugContext {
  pfn?: number;
  rule: string;
}

/**
 * What Linux treats as a kernel bug (BUG_ON, VM_BUG_ON_PAGE, "Bad page state"): the model refuses
 * the operation, leaves the machine unchanged and names the rule that was broken.
 */
export class KernelBug extends Error {
  override readonly name = 'KernelBug';
  readonly pfn: number | undefined;
  readonly rule: string;
  constructor(message: string, ctx: BugContext) {
    super(`BUG: ${message}${ctx.pfn !== undefined ? ` (pfn 0x${ctx.pfn.toString(16)})` : ''} [${ctx.rule}]`);
    this.pfn = ctx.pfn;
    this.rule = ctx.rule;
  }
}

/**
 * `x mod n` for a non-negative x: Math.floor instead of `%`, which V8 compiles to a slow fmod call
 * whenever x may exceed 31 bits (addresses, PTEs, frame numbers loaded from Float64Arrays).
 */
/** PAGE_OFFSET, the direct map's base (x86-64, 4-level paging, no KASLR). */
export const PAGE_OFFSET = 0xffff888000000000n;

/**
 * A model kernel address as the kernel prints the pointer (%px): vmalloc addresses are kept as
 * their low 48 bits and get the sign extension back; slab and kmalloc objects are kept as
 * physical addresses (__pa of the object) and read as their direct-map address (__va).
 */
export function kernelPointer(addr: number): string {
  const a = BigInt(addr);
  return `0x${(a >= 0x800000000000n ? a | 0xffff000000000000n : PAGE_OFFSET + a).toString(16)}`;
}

export const mod = (x: number, n: number): number => x - Math.floor(x / n) * n;
