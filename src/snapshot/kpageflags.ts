/**
 * The bits of /proc/kpageflags, as the kernel exports them and as tools/mm/page-types names them.
 *
 * Kernel files: include/uapi/linux/kernel-page-flags.h (the stable bits 0–26),
 * include/linux/kernel-page-flags.h (the "kernel hacking" bits 32–41, not ABI), fs/proc/page.c
 * (stable_page_flags(), which decides what each bit means for a frame), and tools/mm/page-types.c
 * (the one-letter symbols and names, and the bits ≥ 47 it invents to un-overload flags).
 *
 * A 64-bit word is carried as two 32-bit halves everywhere in src/snapshot (no BigInt on the
 * per-PFN paths): `lo` holds bits 0–31, `hi` bits 32–63. The `KPF` numbers are bit numbers of the
 * full word; `LO`/`HI` are masks into the half that holds them.
 */

/** Bit numbers of the kpageflags word. */
export const KPF = {
  LOCKED: 0,
  ERROR: 1,
  REFERENCED: 2,
  UPTODATE: 3,
  DIRTY: 4,
  LRU: 5,
  ACTIVE: 6,
  SLAB: 7,
  WRITEBACK: 8,
  RECLAIM: 9,
  BUDDY: 10,
  MMAP: 11,
  ANON: 12,
  SWAPCACHE: 13,
  SWAPBACKED: 14,
  COMPOUND_HEAD: 15,
  COMPOUND_TAIL: 16,
  HUGE: 17,
  UNEVICTABLE: 18,
  HWPOISON: 19,
  NOPAGE: 20,
  KSM: 21,
  THP: 22,
  OFFLINE: 23,
  ZERO_PAGE: 24,
  IDLE: 25,
  PGTABLE: 26,
  // Kernel-internal ("hacking assistance") bits: not ABI, hidden by page-types unless -r.
  RESERVED: 32,
  MLOCKED: 33,
  OWNER_2: 34,
  PRIVATE: 35,
  PRIVATE_2: 36,
  OWNER_PRIVATE: 37,
  ARCH: 38,
  /** PG_uncached is gone (ia64 only); page-types no longer names it, so a set bit 39 stops it. */
  UNCACHED: 39,
  SOFTDIRTY: 40,
  ARCH_2: 41,
  // page-types' own bits for flags the kernel overloads (never set by the kernel).
  ANON_EXCLUSIVE: 47,
  READAHEAD: 48,
  SLUB_FROZEN: 50,
  SLUB_DEBUG: 51,
  FILE: 61,
  SWAP: 62,
  MMAP_EXCLUSIVE: 63,
} as const;

/** Mask of a bit below 32 in the `lo` half. */
export const LO = (bit: number): number => (1 << bit) >>> 0;
/** Mask of a bit ≥ 32 in the `hi` half. */
export const HI = (bit: number): number => (1 << (bit - 32)) >>> 0;

/**
 * page-types' symbol table: `letter:name` per bit, in bit order. The symbolic column has one
 * character per named bit (unnamed bits take no column), so its width follows this table.
 */
export const PAGE_TYPES_NAMES: readonly (readonly [bit: number, symbol: string, name: string])[] = [
  [KPF.LOCKED, 'L', 'locked'],
  [KPF.ERROR, 'E', 'error'],
  [KPF.REFERENCED, 'R', 'referenced'],
  [KPF.UPTODATE, 'U', 'uptodate'],
  [KPF.DIRTY, 'D', 'dirty'],
  [KPF.LRU, 'l', 'lru'],
  [KPF.ACTIVE, 'A', 'active'],
  [KPF.SLAB, 'S', 'slab'],
  [KPF.WRITEBACK, 'W', 'writeback'],
  [KPF.RECLAIM, 'I', 'reclaim'],
  [KPF.BUDDY, 'B', 'buddy'],
  [KPF.MMAP, 'M', 'mmap'],
  [KPF.ANON, 'a', 'anonymous'],
  [KPF.SWAPCACHE, 's', 'swapcache'],
  [KPF.SWAPBACKED, 'b', 'swapbacked'],
  [KPF.COMPOUND_HEAD, 'H', 'compound_head'],
  [KPF.COMPOUND_TAIL, 'T', 'compound_tail'],
  [KPF.HUGE, 'G', 'huge'],
  [KPF.UNEVICTABLE, 'u', 'unevictable'],
  [KPF.HWPOISON, 'X', 'hwpoison'],
  [KPF.NOPAGE, 'n', 'nopage'],
  [KPF.KSM, 'x', 'ksm'],
  [KPF.THP, 't', 'thp'],
  [KPF.OFFLINE, 'o', 'offline'],
  [KPF.ZERO_PAGE, 'z', 'zero_page'],
  [KPF.IDLE, 'i', 'idle_page'],
  [KPF.PGTABLE, 'g', 'pgtable'],
  [KPF.RESERVED, 'r', 'reserved'],
  [KPF.MLOCKED, 'm', 'mlocked'],
  [KPF.OWNER_2, 'd', 'owner_2'],
  [KPF.PRIVATE, 'P', 'private'],
  [KPF.PRIVATE_2, 'p', 'private_2'],
  [KPF.OWNER_PRIVATE, 'O', 'owner_private'],
  [KPF.ARCH, 'h', 'arch'],
  [KPF.SOFTDIRTY, 'f', 'softdirty'],
  [KPF.ARCH_2, 'H', 'arch_2'],
  [KPF.ANON_EXCLUSIVE, 'd', 'anon_exclusive'],
  [KPF.READAHEAD, 'I', 'readahead'],
  [KPF.SLUB_FROZEN, 'A', 'slub_frozen'],
  [KPF.SLUB_DEBUG, 'E', 'slub_debug'],
  [KPF.FILE, 'F', 'file'],
  [KPF.SWAP, 'w', 'swap'],
  [KPF.MMAP_EXCLUSIVE, '1', 'mmap_exclusive'],
];

/** Bits that have a name, per half (a set bit outside these makes page-types stop). */
export const NAMED_LO = PAGE_TYPES_NAMES.reduce((m, [b]) => (b < 32 ? (m | LO(b)) >>> 0 : m), 0);
export const NAMED_HI = PAGE_TYPES_NAMES.reduce((m, [b]) => (b >= 32 ? (m | HI(b)) >>> 0 : m), 0);

/** Names of the set bits, comma-separated, as page-types' long-symbolic column prints them. */
export function kpfLongName(lo: number, hi: number): string {
  const names: string[] = [];
  for (const [bit, , name] of PAGE_TYPES_NAMES) if (kpfTest(lo, hi, bit)) names.push(name);
  return names.join(',');
}

/** One character per named bit: its letter when set, `_` when clear. */
export function kpfSymbols(lo: number, hi: number): string {
  let s = '';
  for (const [bit, sym] of PAGE_TYPES_NAMES) s += kpfTest(lo, hi, bit) ? sym : '_';
  return s;
}

export function kpfTest(lo: number, hi: number, bit: number): boolean {
  return bit < 32 ? (lo & LO(bit)) !== 0 : (hi & HI(bit)) !== 0;
}

/** The word as page-types prints it: `0x` and 16 hex digits. */
export function kpfHex(lo: number, hi: number): string {
  return `0x${hi.toString(16).padStart(8, '0')}${lo.toString(16).padStart(8, '0')}`;
}
