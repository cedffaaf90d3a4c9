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
 * Leaves out: KSM copies (ksm_might_need_to_copy), mapping a large swap-cache folio whole (one
 * page is mapped per fault), the SWP_STABLE_WRITES writeback rule, uffd-wp and soft-dirty
 * write-protection, mlocked VMAs.
 */
import { PG } from './folio.js';
import { allocAnonFolio, anonVmaPrepare, FAULT, type FaultOutcome, userBits, type Vmf } from './internal.js';
import type { Kernel } from './kernel.js';
import { MM_ANONPAGES, MM_SWAPENTS, VM } from './mm_types.js';
import { mkEntry, PTE, swapOffset, swpCarried, swpExclusive } from './pgtable.js';
import { addNewAnonRmap, addRmapPtes } from './rmap.js';
import { addToSwapCache, swapCacheGetFolio, swapReadFolio } from './swap_state.js';
import { folioFreeSwap } from './swapfile.js';
import { KernelBug } from './types.js';

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
    row = allocAnonFolio(k, 0);
    if (row < 0) return 'oom';
    fresh = si.count(off) === 1;
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
  if (mine && vma.flags & VM.WRITE) bits |= PTE.WRITE | (write ? PTE.DIRTY : 0);
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
