/**
 * Which THP sizes an anonymous fault may use: the per-size `enabled` knobs and the order masks.
 *
 * Models: include/linux/huge_mm.h — thp_vma_allowable_orders (the sysfs masks
 * huge_anon_orders_always / _madvise / _inherit, where `inherit` follows the top-level
 * /sys/kernel/mm/transparent_hugepage/enabled), thp_vma_suitable_order(s) (the naturally aligned
 * range must lie inside the VMA), highest_order / next_order, count_mthp_stat; and the parts of
 * mm/huge_memory.c __thp_vma_allowable_orders that matter to an anonymous page fault
 * (VM_NOHUGEPAGE, shared anonymous memory being shmem). Sizes are orders 2..9 on x86-64: order 1
 * (8 kB) has no anon `enabled` file, since an order-1 folio has no room for the deferred-split list.
 * Leaves out: file and shmem THP sizes (shmem_enabled), MMF_DISABLE_THP (prctl), DAX, khugepaged's
 * view of the masks (khugepaged.ts asks for PMD order only).
 */
import type { Kernel } from './kernel.js';
import { VM, type Vma, vmaIsAnonymous } from './mm_types.js';
import { HPAGE_PMD_ORDER, mod, PAGE_SIZE } from './types.js';
import { MTHP_STATS, type MthpStat } from './vmstat.js';

/** The values of a hugepages-<size>kB/enabled file. */
export const THP_SIZE_MODES = ['always', 'madvise', 'inherit', 'never'] as const;
export type ThpSizeMode = (typeof THP_SIZE_MODES)[number];

/** The lowest anonymous mTHP order with a sysfs knob (16 kB). */
export const MTHP_MIN_ORDER = 2;

/**
 * The boot defaults of the per-size knobs, indexed by order: the PMD size inherits the top-level
 * mode, every smaller size is off (hugepages-*kB/enabled as a fresh kernel shows them).
 */
export function defaultThpOrders(): ThpSizeMode[] {
  return Array.from({ length: HPAGE_PMD_ORDER + 1 }, (_, o) => (o === HPAGE_PMD_ORDER ? 'inherit' : 'never'));
}

/** The size a hugepages-<size>kB directory is named by, in kB, for an order. */
export const orderKb = (order: number): number => (PAGE_SIZE << order) / 1024;

/**
 * thp_vma_allowable_orders() for a page fault in an anonymous VMA: the orders in `orders` whose
 * knob says `always`, or `madvise` in a VM_HUGEPAGE VMA, or `inherit` when the top-level mode is
 * `always` (or `madvise` in a VM_HUGEPAGE VMA). VM_NOHUGEPAGE and shared anonymous memory (shmem,
 * governed by shmem_enabled) allow none. A bit mask: bit n set means order n is allowed.
 */
export function thpVmaAllowableOrders(k: Kernel, vma: Vma, orders: number): number {
  if (!vmaIsAnonymous(vma) || vma.flags & (VM.SHARED | VM.NOHUGEPAGE)) return 0;
  const hugepage = (vma.flags & VM.HUGEPAGE) !== 0;
  const top = k.opts.thp;
  const inherit = top === 'always' || (hugepage && top === 'madvise');
  const knobs = k.opts.thpOrders ?? DEFAULT_ORDERS;
  let mask = 0;
  for (let o = MTHP_MIN_ORDER; o <= HPAGE_PMD_ORDER; o++) {
    const mode = knobs[o];
    if (mode === 'always' || (mode === 'madvise' && hugepage) || (mode === 'inherit' && inherit))
      mask |= 1 << o;
  }
  return orders & mask;
}

const DEFAULT_ORDERS = defaultThpOrders();

/** thp_vma_suitable_order(): the naturally aligned 2^order pages around `addr` lie inside the VMA. */
export function thpVmaSuitableOrder(vma: Vma, addr: number, order: number): boolean {
  const size = PAGE_SIZE * 2 ** order;
  const haddr = addr - mod(addr, size);
  return haddr >= vma.start && haddr + size <= vma.end;
}

/**
 * thp_vma_suitable_orders(): drop the orders from the top that do not fit at `addr`; once one
 * fits, every lower one does too (a smaller aligned block lies inside a larger one).
 */
export function thpVmaSuitableOrders(vma: Vma, addr: number, orders: number): number {
  let left = orders;
  while (left) {
    const o = highestOrder(left);
    if (thpVmaSuitableOrder(vma, addr, o)) break;
    left &= ~(1 << o);
  }
  return left;
}

/** highest_order(): the top set bit of an order mask (-1 for none). */
export const highestOrder = (orders: number): number => 31 - Math.clz32(orders);

/** count_mthp_stat(): orders above 0 up to PMD order have counters; order 0 is not a THP. */
export function countMthpStat(k: Kernel, order: number, item: MthpStat): void {
  if (order <= 0 || order > HPAGE_PMD_ORDER) return;
  k.stat.mthp[order * MTHP_STATS.length + MTHP_STATS.indexOf(item)]++;
}

/** One size's counters, as its stats/ directory reads. */
export function mthpStats(k: Kernel, order: number): Record<MthpStat, number> {
  return Object.fromEntries(
    MTHP_STATS.map((s, i) => [s, k.stat.mthp[order * MTHP_STATS.length + i]]),
  ) as Record<MthpStat, number>;
}
