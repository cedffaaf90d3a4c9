/**
 * Page flags: the bits of a folio's flags word.
 *
 * Models: include/linux/page-flags.h (enum pageflags, the PG_* names and their aliases). Second-page
 * flags of large folios and the KSM marker, which the kernel keeps elsewhere, sit in high bits.
 */

/** Page flags, numbered as enum pageflags (include/linux/page-flags.h). */
export const PG = {
  locked: 1 << 0,
  writeback: 1 << 1,
  referenced: 1 << 2,
  uptodate: 1 << 3,
  dirty: 1 << 4,
  lru: 1 << 5,
  head: 1 << 6,
  waiters: 1 << 7,
  active: 1 << 8,
  workingset: 1 << 9,
  /** PG_swapcache when swapbacked; PG_checked otherwise. */
  owner_priv_1: 1 << 10,
  /** PG_anon_exclusive on anon pages (per page). */
  anon_exclusive: 1 << 11,
  arch_1: 1 << 12,
  reserved: 1 << 13,
  private: 1 << 14,
  private_2: 1 << 15,
  reclaim: 1 << 16,
  swapbacked: 1 << 17,
  unevictable: 1 << 18,
  dropbehind: 1 << 19,
  mlocked: 1 << 20,
  hwpoison: 1 << 21,
  /** Second-page flags of large folios, kept in high bits here. */
  has_hwpoisoned: 1 << 24,
  large_rmappable: 1 << 25,
  partially_mapped: 1 << 26,
  /** KSM folio (the kernel encodes it in the mapping's low bits). */
  ksm: 1 << 27,
} as const;
export type PageFlag = keyof typeof PG;
