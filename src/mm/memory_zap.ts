/**
 * Zapping and page-table freeing: unmapping a range of one VMA and giving back the tables no VMA
 * spans any more.
 *
 * Models: mm/memory.c — unmap_page_range / zap_pte_range (with its dirtying of file folios on
 * zap, zap_install_uffd_wp_if_needed and the markers zap_nonpresent_ptes keeps or drops, and the
 * empty PTE tables MADV_DONTNEED frees, mm/pt_reclaim.c) and free_pgtables with its
 * floor/ceiling rule. The references a zap drops go through the
 * mmu_gather (mmu_gather.ts). A PMD leaf is zapped or split in huge_memory.ts, a swap entry's slot
 * dropped in swapfile.ts (free_swap_and_cache). Split out of memory.ts, which keeps the faults.
 */
import { PG } from './folio.js';
import { splitHugePmd, zapHugePmd } from './huge_memory.js';
import type { Kernel } from './kernel.js';
import { INT32_FRAMES, MT, PFN_SECTION_SHIFT, SMALL_ANON_WORD, VMALLOC_PAGE } from './memdesc.js';
import { MM_ANONPAGES, MM_FILEPAGES, type Mm, type Vma, vmaIsAnonymous } from './mm_types.js';
import { folioMarkDirty } from './page-writeback.js';
import {
  ENTRY_UNIT,
  entryBits,
  entryPfn,
  isPteMarker,
  LEVEL_SIZE,
  levelIndex,
  PMD_SIZE,
  PT_LEVEL,
  PTE,
  PTRS_PER_TABLE,
} from './pgtable.js';
import { ksmRemoveMapping, mmCounter, removeRmapPtes } from './rmap.js';
import { freeSwapCache, zapSwapEntry } from './swapfile.js';
import { PAGE_SIZE, PAGES_PER_SECTION } from './types.js';
import { pteInstallUffdWpIfNeeded, userfaultfdWp } from './userfaultfd_k.js';
import { vmNormalPage } from './vm_normal_page.js';

/** What a zap is asked to do beyond clearing the entries (struct zap_details, the parts modelled). */
export interface ZapDetails {
  /** ZAP_FLAG_DROP_MARKER: uffd-wp markers go too (munmap, exit, a MAP_FIXED replacement). */
  dropMarkers?: boolean;
  /**
   * reclaim_pt (MADV_DONTNEED, CONFIG_PT_RECLAIM, default y on x86-64): a PTE table the zap
   * covered whole and left empty is freed at once (try_to_free_pte, mm/pt_reclaim.c).
   */
  reclaimPt?: boolean;
}

/**
 * zap_page_range_single / unmap_page_range over [start, end) of one VMA: clear every entry, drop
 * each normal page's mapping and reference, dirty file folios whose PTE was dirty, adjust
 * rss. A PMD leaf only partly inside the range is split first. In a file or shmem VMA a
 * write-protected entry leaves a uffd-wp marker, and markers stay, unless `dropMarkers`.
 */
export function zapRange(k: Kernel, vma: Vma, start: number, end: number, details: ZapDetails = {}): void {
  const pd = k.ptdesc;
  const mm = vma.mm;
  const dropMarkers = details.dropMarkers === true;
  try {
    for (let addr = start; addr < end; ) {
      const pmdRow = pd.tableFor(mm.pgd, addr, PT_LEVEL.PMD, false);
      const next = Math.min(end, addr - (addr % PMD_SIZE) + PMD_SIZE);
      if (pmdRow < 0) {
        addr = nextPopulated(k, mm, addr, end);
        continue;
      }
      const pmdIdx = levelIndex(addr, PT_LEVEL.PMD);
      const pmd = pd.get(pmdRow, pmdIdx);
      if (pmd !== 0 && entryBits(pmd) & PTE.HUGE) {
        const haddr = addr - (addr % PMD_SIZE);
        if (haddr === addr && next - addr === PMD_SIZE) {
          zapHugePmd(k, vma, haddr, pmdRow, pmdIdx);
          addr = next;
          continue;
        }
        splitHugePmd(k, vma, haddr, pmdRow, pmdIdx);
      }
      const pteRow = pd.tableFor(mm.pgd, addr, PT_LEVEL.PTE, false);
      if (pteRow >= 0) {
        zapPteRange(k, vma, pteRow, addr, next, dropMarkers);
        // reclaim_pt_is_enabled(): the zap covered the whole table (end - start >= PMD_SIZE). An
        // entry it kept (a uffd-wp marker, any_skipped) leaves the table in use.
        if (details.reclaimPt && next - addr === PMD_SIZE && pd.used[pteRow] === 0) {
          pd.set(pmdRow, pmdIdx, 0);
          pd.free(pd.handleOf(pteRow));
        }
      }
      addr = next;
    }
  } finally {
    k.tlb.flush();
  }
}

/** zap_pte_range() over [addr, end) of one PTE table. */
function zapPteRange(
  k: Kernel,
  vma: Vma,
  pteRow: number,
  addr: number,
  end: number,
  dropMarkers: boolean,
): void {
  const pd = k.ptdesc;
  // A uffd-wp registered VMA may leave markers behind (pteInstallUffdWpIfNeeded): not inline.
  const inline = k.pteSpecial && !userfaultfdWp(vma);
  const base = pteRow * PTRS_PER_TABLE;
  const first = levelIndex(addr, PT_LEVEL.PTE);
  const last = first + (end - addr) / PAGE_SIZE;
  // The inline path writes entries past PtdescPool.set: the incremental check learns of the table here.
  pd.touched.add(pteRow);
  for (let i = first; i < last; i++) {
    if (pd.entries[base + i] === 0) continue;
    if (inline) {
      i = zapSmallAnonPtes(k, vma.mm, pteRow, i, last);
      if (i === last) break;
    }
    zapPte(k, vma, addr + (i - first) * PAGE_SIZE, pteRow, i, pd.entries[base + i], dropMarkers);
  }
}

// zapSmallAnonPtes's constants as this module's own bindings: V8 reloads an imported binding
// (checking it is initialised) at every use inside a loop, while it folds a module's own const.
const RUN_UNIT = ENTRY_UNIT;
const RUN_MASK = PTE.PRESENT | PTE.SPECIAL;
const RUN_PRESENT = PTE.PRESENT;
const RUN_SECTION_SHIFT = PFN_SECTION_SHIFT;
const RUN_SECTION_MASK = PAGES_PER_SECTION - 1;
const RUN_WORD = SMALL_ANON_WORD;
/** Folio flags that take an entry off zapPteRange's inline path: KSM, the swap cache. */
const INLINE_ZAP_EXCLUDED = PG.ksm | PG.owner_priv_1;

/**
 * zap_pte_range()'s common case, from entry `i` on: a present small anon folio that is neither
 * KSM nor in the swap cache — nearly every entry of a big zap — is unmapped inline, what zapPte()
 * does for it without the general lookups, its reference going through the mmu_gather. The
 * memmap lookup is int32 arithmetic, one section lookup per section: frames from 2^31 on go to
 * the general path. Returns the first nonzero entry it left to that path, or `last`.
 */
function zapSmallAnonPtes(k: Kernel, mm: Mm, pteRow: number, i: number, last: number): number {
  const ents = k.ptdesc.entries;
  const f = k.folios;
  const { flags, mapcount } = f;
  const tlb = k.tlb;
  const memmap = k.pa.memmap;
  const maxPfn = Math.min(k.pa.maxPfn, INT32_FRAMES);
  const base = pteRow * PTRS_PER_TABLE;
  let section = -1;
  let words: Uint32Array | undefined;
  let n = 0;
  for (; i < last; i++) {
    const pte = ents[base + i];
    if (pte === 0) continue;
    const pfn = Math.floor(pte / RUN_UNIT);
    if (((pte - pfn * RUN_UNIT) & RUN_MASK) !== RUN_PRESENT || pfn >= maxPfn) break;
    const p = pfn | 0;
    if (p >> RUN_SECTION_SHIFT !== section) {
      section = p >> RUN_SECTION_SHIFT;
      words = memmap.sectionWords(section);
    }
    if (words === undefined) break;
    const w = (p & RUN_SECTION_MASK) << 1;
    if (words[w] !== RUN_WORD) break;
    const row = words[w + 1];
    if (flags[row] & INLINE_ZAP_EXCLUDED) break;
    ents[base + i] = 0;
    n++;
    mapcount[row]--;
    f.touched.add(row);
    // A flush frees frames, and a section it empties gives its memmap up: look it up again.
    if (tlb.removePage(row)) section = -1;
  }
  k.ptdesc.used[pteRow] -= n;
  mm.rss[MM_ANONPAGES] -= n;
  return i;
}

/** Skip to the next PMD-sized stretch that has a PMD table at all. */
function nextPopulated(k: Kernel, mm: Mm, addr: number, end: number): number {
  for (let level = PT_LEVEL.PUD; level <= PT_LEVEL.PGD; level++) {
    const above = k.ptdesc.tableFor(mm.pgd, addr, level, false);
    if (above >= 0) {
      const size = LEVEL_SIZE[level];
      return Math.min(end, addr - (addr % size) + size);
    }
  }
  return end;
}

function zapPte(
  k: Kernel,
  vma: Vma,
  addr: number,
  pteRow: number,
  i: number,
  pte: number,
  drop: boolean,
): void {
  // zap_nonpresent_ptes(): anonymous memory always drops a marker, file memory only when asked.
  if (isPteMarker(pte)) {
    if (drop || vmaIsAnonymous(vma)) k.ptdesc.set(pteRow, i, 0);
    return;
  }
  k.ptdesc.set(pteRow, i, 0);
  if (!drop) pteInstallUffdWpIfNeeded(k.ptdesc, vma, pteRow, i, pte);
  if (zapSwapEntry(k, vma, pte)) return;
  const row = vmNormalPage(k, vma, addr, pte);
  if (row === VMALLOC_PAGE) {
    vma.mm.rss[MM_FILEPAGES]--;
    k.vmalloc.addMap(entryPfn(pte), -1);
    k.vmalloc.put(entryPfn(pte));
    return;
  }
  if (row < 0) return;
  const f = k.folios;
  if (f.kind[row] !== MT.ANON && entryBits(pte) & PTE.DIRTY) folioMarkDirty(k, row);
  vma.mm.rss[mmCounter(f, row)]--;
  removeRmapPtes(k, row, entryPfn(pte), 1, vma.mm);
  if (f.testFlag(row, PG.ksm)) ksmRemoveMapping(k, row, vma.mm, addr);
  freeSwapCache(k, row);
  k.tlb.removePage(row);
}

/**
 * free_pgtables() after [start, end) was unmapped: free every page table below the PGD whose span
 * no VMA overlaps any more (the floor/ceiling rule), bottom-up. With `all`, the PGD goes too.
 */
export function freePgtables(k: Kernel, mm: Mm, start: number, end: number): void {
  freeLevel(k, mm, mm.pgd, PT_LEVEL.PGD, 0, start, end);
}

function overlapsVma(mm: Mm, s: number, e: number): boolean {
  let lo = 0;
  let hi = mm.vmas.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const v = mm.vmas[mid];
    if (v.end <= s) lo = mid + 1;
    else if (v.start >= e) hi = mid - 1;
    else return true;
  }
  return false;
}

function freeLevel(
  k: Kernel,
  mm: Mm,
  row: number,
  level: number,
  base: number,
  start: number,
  end: number,
): void {
  const pd = k.ptdesc;
  const size = LEVEL_SIZE[level];
  const first = Math.max(0, Math.floor((start - base) / size));
  const last = Math.min(PTRS_PER_TABLE - 1, Math.floor((end - 1 - base) / size));
  for (let i = first; i <= last; i++) {
    const e = pd.get(row, i);
    if (e === 0 || level === PT_LEVEL.PTE || entryBits(e) & PTE.HUGE) continue;
    const child = entryPfn(e);
    const s = base + i * size;
    if (level - 1 > PT_LEVEL.PTE) freeLevel(k, mm, child, level - 1, s, start, end);
    if (!overlapsVma(mm, s, s + size) && pd.used[child] === 0) {
      pd.set(row, i, 0);
      pd.free(pd.handleOf(child));
    }
  }
}
