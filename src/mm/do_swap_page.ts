/**
 * The swap-in fault: a PTE holding a swap entry is touched.
 *
 * Models: do_swap_page() (mm/memory.c) with should_try_to_free_swap(). The folio comes from the
 * swap cache if it is there; otherwise, on a synchronous device (SWP_SYNCHRONOUS_IO, as zram) with
 * this entry the slot's only reference, a new folio is read bypassing the swap cache; otherwise
 * a new folio is read into the swap cache (swapin_readahead, here without readahead). Reading
 * is a major fault (pgmajfault, pswpin).
 *
 * The anon-exclusive marker comes back as Linux restores it: a folio read bypassing the cache is
 * exclusive (nobody else can know it); one from the swap cache is exclusive iff the entry carried
 * pte_swp_exclusive. An exclusive page, or one whose only reference is the fault's, is mapped
 * writable at once where the VMA allows writes (a write fault then needs no do_wp_page); any
 * other page is mapped read-only and a write goes on to do_wp_page (the caller continues with the
 * PTE). The entry's slot reference goes (swap_free_nr); a write fault on a cached folio nobody
 * else holds, or any swap-in when swap is more than half full, frees the cache's copy too.
 * On that synchronous path a large folio may come back whole, at the largest size the THP knobs
 * allow whose block of entries is consecutive slots outside the swap cache (alloc_swap_folio).
 * Leaves out: KSM copies (ksm_might_need_to_copy), mapping a large swap-cache folio whole (one
 * page is mapped per fault), the zeromap (an all-zero page is written to its slot like any other), the SWP_STABLE_WRITES writeback rule, soft-dirty
 * write-protection, mlocked VMAs. A uffd-wp swap entry comes back write-protected (pte_swp_uffd_wp).
 */
import { PG } from './folio.js';
import { highestOrder, thpVmaAllowableOrders, thpVmaSuitableOrders } from './huge_mm.js';
import { allocAnonFolio, anonVmaPrepare, FAULT, type FaultOutcome, userBits, type Vmf } from './internal.js';
import type { Kernel } from './kernel.js';
import { MM_ANONPAGES, MM_SWAPENTS, VM, type Vma } from './mm_types.js';
import { entryBits, mkEntry, PTE, pteSwpUffdWp, swapOffset, swpCarried, swpExclusive } from './pgtable.js';
import { addNewAnonRmap, addRmapPtes } from './rmap.js';
import { addToSwapCache, swapCacheGetFolio, swapReadFolio } from './swap_state.js';
import { folioFreeSwap } from './swapfile.js';
import { HPAGE_PMD_ORDER, KernelBug, PAGE_SIZE } from './types.js';
import { userfaultfdWp } from './userfaultfd_k.js';

/** do_swap_page() for the swap entry at vmf's PTE slot. */
export function doSwapPage(k: Kernel, vmf: Vmf): FaultOutcome {
  const { vma, addr, pteRow, ptIdx, flags } = vmf;
  const pd = k.ptdesc;
  const pte = pd.get(pteRow, ptIdx);
  const si = k.swap;
  const off = swapOffset(pte);
  if (!si || off >= si.slots || si.count(off) === 0)
    throw new KernelBug(`swap entry ${off} names no slot in use`, { rule: 'do_swap_page: bad swap entry' });
  const f = k.folios;
  let row = swapCacheGetFolio(k, off);
  let fresh = false;
  anonVmaPrepare(k, vma);
  if (row >= 0) {
    f.refcount[row]++; // the fault's reference, which becomes the mapping's
  } else {
    fresh = si.count(off) === 1;
    // Bypassing the swap cache, the fault may bring back a large folio whole (alloc_swap_folio).
    row = fresh ? allocSwapFolio(k, vmf, pte) : allocAnonFolio(k, 0);
    if (row < 0) return 'oom';
    if (f.isLarge(row)) return mapSwapFolio(k, vmf, row, (flags & FAULT.WRITE) !== 0);
    if (!fresh) addToSwapCache(k, row, off);
    swapReadFolio(k, row, off);
    k.stat.events.pgmajfault++;
  }
  const head = f.pfn[row];
  const pfn = head + (off - (si.folioSwap.get(row) ?? off));
  const write = (flags & FAULT.WRITE) !== 0;
  const exclusive = fresh || swpExclusive(pte);
  si.put(off);
  // should_try_to_free_swap(): a write fault on a folio only the swap cache and this fault hold.
  if (f.testFlag(row, PG.owner_priv_1) && (si.full || (write && f.refcount[row] === 1 + f.nrPages(row))))
    folioFreeSwap(k, row);
  vma.mm.rss[MM_ANONPAGES]++;
  vma.mm.rss[MM_SWAPENTS]--;
  const mine = exclusive || f.refcount[row] === 1;
  let bits = userBits(vma, false) | swpCarried(pte);
  // Mapped writable at once unless uffd-wp still tracks the page (userfaultfd_pte_wp).
  if (mine && vma.flags & VM.WRITE && !uffdWpKept(vma, pte)) bits |= PTE.WRITE | (write ? PTE.DIRTY : 0);
  if (f.mapping[row] === 0 || !f.testFlag(row, PG.lru)) {
    // A folio read from swap is not anon until mapped: folio_add_new_anon_rmap().
    addNewAnonRmap(k, row, vma, addr, false);
    if (!mine) f.setPageAnonExclusive(row, pfn, false);
  } else {
    addRmapPtes(k, row, pfn, 1, vma.mm);
    f.setPageAnonExclusive(row, pfn, mine);
  }
  pd.set(pteRow, ptIdx, mkEntry(pfn, bits));
  if (k.stat.tracing) k.stat.emit({ type: 'swapin', mm: vma.mm.id, addr, pfn, exclusive: mine, fresh });
  return 'ok';
}

/**
 * thp_swap_suitable_orders() and can_swapin_thp(): the orders at which the entries around the
 * fault can come back as one folio. The slot must sit in its folio where the address sits in its
 * block, and the block's PTEs must be swap entries of consecutive slots with the faulting one's
 * bits (swap_pte_batch), none of them in the swap cache (non_swapcache_batch).
 */
function swapinOrders(k: Kernel, vmf: Vmf, pte: number, orders: number): number {
  const { pteRow, ptIdx } = vmf;
  const off = swapOffset(pte);
  let left = orders;
  for (let o = highestOrder(left); left; o = highestOrder(left)) {
    const nr = 1 << o;
    const first = ptIdx - (ptIdx % nr);
    const base = off - (ptIdx - first);
    let ok = base % nr === 0;
    for (let j = 0; ok && j < nr; j++) {
      const e = k.ptdesc.get(pteRow, first + j);
      ok = e === mkEntry(base + j, entryBits(pte)) && swapCacheGetFolio(k, base + j) < 0;
    }
    if (ok) return left;
    left &= ~nr;
  }
  return 0;
}

/**
 * alloc_swap_folio(): on the synchronous path, the largest order the THP knobs allow at the fault
 * (as alloc_anon_folio asks them) whose block of swap entries can come back whole; an allocation
 * failure tries the next lower order, and a single page is the last resort. -1 on ENOMEM.
 */
function allocSwapFolio(k: Kernel, vmf: Vmf, pte: number): number {
  let orders = thpVmaAllowableOrders(k, vmf.vma, (1 << HPAGE_PMD_ORDER) - 1);
  orders = swapinOrders(k, vmf, pte, thpVmaSuitableOrders(vmf.vma, vmf.addr, orders));
  while (orders) {
    const o = highestOrder(orders);
    const row = allocAnonFolio(k, o);
    if (row >= 0) return row;
    orders &= ~(1 << o);
  }
  return allocAnonFolio(k, 0);
}

/**
 * do_swap_page() for a large folio read bypassing the swap cache: every page comes back from its
 * slot, the folio is new and so certainly exclusive, and all its PTEs are set at once (set_ptes),
 * writable where the VMA allows; each slot loses the entry's reference (swap_free_nr).
 */
function mapSwapFolio(k: Kernel, vmf: Vmf, row: number, write: boolean): FaultOutcome {
  const { vma, addr, pteRow, ptIdx } = vmf;
  const f = k.folios;
  const si = k.swap!;
  const nr = f.nrPages(row);
  const first = ptIdx - (ptIdx % nr);
  const start = addr - (ptIdx - first) * PAGE_SIZE;
  const entries = Array.from({ length: nr }, (_, j) => k.ptdesc.get(pteRow, first + j));
  const base = swapOffset(entries[0]);
  swapReadFolio(k, row, base);
  k.stat.events.pgmajfault++;
  for (let j = 0; j < nr; j++) si.put(base + j);
  f.refcount[row] += nr - 1;
  vma.mm.rss[MM_ANONPAGES] += nr;
  vma.mm.rss[MM_SWAPENTS] -= nr;
  addNewAnonRmap(k, row, vma, start, false);
  const pfn = f.pfn[row];
  const writable = vma.flags & VM.WRITE && !uffdWpKept(vma, entries[ptIdx - first]) ? PTE.WRITE : 0;
  for (let j = 0; j < nr; j++) {
    const dirty = write && first + j === ptIdx ? PTE.DIRTY : 0;
    const bits = userBits(vma, false) | swpCarried(entries[j]) | writable | dirty;
    k.ptdesc.set(pteRow, first + j, mkEntry(pfn + j, bits));
  }
  if (k.stat.tracing)
    k.stat.emit({ type: 'swapin', mm: vma.mm.id, addr: start, pfn, exclusive: true, fresh: true, nr });
  return 'ok';
}

/** The swap entry was write-protected and its VMA still tracks that (userfaultfd_pte_wp on the new PTE). */
const uffdWpKept = (vma: Vma, e: number): boolean => userfaultfdWp(vma) && pteSwpUffdWp(e);
