/**
 * The anonymous fault on an empty PTE, with the folio sizes it may use (mTHP).
 *
 * Models: mm/memory.c — do_anonymous_page (a read maps the shared zero page whatever THP sizes
 * are enabled; a write gets a new exclusive folio) and alloc_anon_folio (the highest order below
 * PMD order that the per-size knobs allow, whose naturally aligned range lies in the VMA and has
 * every PTE none — pte_range_none — falling back order by order to a single page), then
 * set_ptes over the whole folio: an mTHP is PTE-mapped from birth, never by a PMD. Split out of
 * memory.ts, which keeps the fault dispatch, COW and zap.
 * A userfaultfd-armed VMA takes single pages (alloc_anon_folio's userfaultfd_armed check).
 * Leaves out: memcg charging
 * (anon_fault_fallback_charge), the racing-fault recheck (the model has no concurrent faults).
 */
import { countMthpStat, highestOrder, thpVmaAllowableOrders, thpVmaSuitableOrders } from './huge_mm.js';
import { allocAnonFolio, anonVmaPrepare, type FaultOutcome, userBits, type Vmf } from './internal.js';
import type { Kernel } from './kernel.js';
import { MM_ANONPAGES } from './mm_types.js';
import { mkEntry, PTE } from './pgtable.js';
import { addNewAnonRmap } from './rmap.js';
import { HPAGE_PMD_ORDER, mod, PAGE_SIZE } from './types.js';
import { userfaultfdArmed } from './userfaultfd_k.js';

/**
 * do_anonymous_page(): a read maps the shared zero page (special, read-only, no counts touched);
 * a write gets a new zeroed, exclusive anon folio of the size alloc_anon_folio chose, every page
 * of it mapped by its own PTE, writable and dirty when the VMA is writable.
 */
export function doAnonymousPage(k: Kernel, vmf: Vmf): FaultOutcome {
  const { vma, addr, pteRow, ptIdx, write } = vmf;
  const pd = k.ptdesc;
  if (!write) {
    pd.set(pteRow, ptIdx, mkEntry(k.pa.zeroPfn, PTE.PRESENT | PTE.USER | PTE.SPECIAL | PTE.YOUNG));
    if (k.stat.tracing) k.stat.emit({ type: 'zero_page', mm: vma.mm.id, addr, pfn: k.pa.zeroPfn });
    return 'ok';
  }
  anonVmaPrepare(k, vma);
  const row = allocAnonFolioForFault(k, vmf);
  if (row < 0) return 'oom';
  const f = k.folios;
  const nr = f.nrPages(row);
  const order = Math.log2(nr);
  // The folio covers the naturally aligned block around the fault (ALIGN_DOWN(address, size)).
  const start = addr - mod(addr, nr * PAGE_SIZE);
  const first = ptIdx - (addr - start) / PAGE_SIZE;
  // One reference per PTE (folio_ref_add(folio, nr_pages - 1) on top of the allocation's).
  f.refcount[row] += nr - 1;
  vma.mm.rss[MM_ANONPAGES] += nr;
  countMthpStat(k, order, 'anon_fault_alloc');
  addNewAnonRmap(k, row, vma, start, false);
  const pfn = f.pfn[row];
  const bits = userBits(vma, true);
  for (let j = 0; j < nr; j++) pd.set(pteRow, first + j, mkEntry(pfn + j, bits));
  if (k.stat.tracing)
    k.stat.emit({ type: 'fault', kind: nr > 1 ? 'mthp' : 'anon', mm: vma.mm.id, addr: start, pfn, order });
  return 'ok';
}

/** pte_range_none(): every one of `nr` PTEs from index `first` of the table is empty. */
function pteRangeNone(k: Kernel, pteRow: number, first: number, nr: number): boolean {
  for (let j = 0; j < nr; j++) if (k.ptdesc.get(pteRow, first + j) !== 0) return false;
  return true;
}

/**
 * alloc_anon_folio(): the orders below PMD order the knobs allow for this VMA, those whose aligned
 * range fits in the VMA, then the highest whose PTEs are all none (every lower one is then none
 * too); an allocation failure counts anon_fault_fallback for that size and tries the next lower
 * allowed order, and order 0 is the last resort. Returns the folio row, or -1 on ENOMEM.
 */
export function allocAnonFolioForFault(k: Kernel, vmf: Vmf): number {
  const { vma, addr, pteRow, ptIdx } = vmf;
  // A registered VMA is tracked page by page (uffd-wp bits, markers): no mTHP there.
  let orders = userfaultfdArmed(vma) ? 0 : thpVmaAllowableOrders(k, vma, (1 << HPAGE_PMD_ORDER) - 1);
  orders = thpVmaSuitableOrders(vma, addr, orders);
  while (orders) {
    const o = highestOrder(orders);
    const nr = 1 << o;
    const first = ptIdx - (ptIdx % nr);
    if (pteRangeNone(k, pteRow, first, nr)) break;
    orders &= ~nr;
  }
  while (orders) {
    const o = highestOrder(orders);
    const row = allocAnonFolio(k, o);
    if (row >= 0) return row;
    countMthpStat(k, o, 'anon_fault_fallback');
    orders &= ~(1 << o);
  }
  return allocAnonFolio(k, 0);
}
