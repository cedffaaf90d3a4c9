/**
 * Invariants of the virtual-memory layer: what the page tables say must agree with the
 * descriptors they point at.
 *
 * `cheap`: every present entry lies inside a VMA and maps either a live folio of a mappable type
 * or a special frame the VMA allows (the zero pages; pfn maps later); no free frame is mapped; a
 * writable anon PTE of a private mapping maps an anon-exclusive page; each mm's rss equals what
 * its tables hold; every page table is reachable from its mm (or deposited for a PMD leaf).
 * `full`: additionally each folio's mapcounts (folio, entire, per page) equal the mappings found,
 * its refcount covers mappings plus page-cache references, and each table's used-entry count is
 * exact, and every anon page sits where its anon rmap looks for it (its anon_vma and index agree
 * with the VMA's). KSM folios: mapped read-only by PTEs only, never anon-exclusive (cheap); each stable
 * node's list of mappings is exactly the PTEs found, and every mapped KSM folio has one (full).
 * Swap: a swap entry sits only in a PTE of a private mapping with anon pages; each slot's
 * swap_map count is the number of swap entries naming it, a cached slot has SWAP_HAS_CACHE and a
 * live anon PG_swapcache folio covering it, whose refcount holds one reference per page for the
 * cache (cheap); every slot in use is accounted for and inuse_pages adds up (full).
 * Models the checks behind CONFIG_DEBUG_VM (page_table_check, VM_BUG_ON_FOLIO in rmap.c).
 */

import { PG } from '../mm/folio.js';
import type { Kernel } from '../mm/kernel.js';
import { MT, MT_NAMES } from '../mm/memdesc.js';
import { vmNormalPage } from '../mm/memory.js';
import { PAGES_PER_MEMMAP_PAGE } from '../mm/memremap.js';
import { findVma, MM_ANONPAGES, MM_FILEPAGES, MM_SWAPENTS, type Mm, VM, type Vma } from '../mm/mm_types.js';
import {
  entryBits,
  entryPfn,
  isSwapEntry,
  LEVEL_SIZE,
  PT_LEVEL,
  PTE,
  PTRS_PER_TABLE,
  swapOffset,
} from '../mm/pgtable.js';
import { mmCounter } from '../mm/rmap.js';
import { PAGE_SIZE } from '../mm/types.js';
import { pinReferences } from './pins.js';
import { hex, type Violations } from './violation.js';

export interface Tally {
  /** Folio row -> mappings found (PTE + PMD). */
  maps: Map<number, number>;
  /** Folio row -> PMD mappings found. */
  pmdMaps: Map<number, number>;
  /** pfn -> PTE mappings found (pages of large folios). */
  pageMaps: Map<number, number>;
  /** vmalloc pfn -> PTE mappings found. */
  vmallocMaps: Map<number, number>;
  tables: Set<number>;
  /** KSM folio row -> "mm:addr" of every PTE found mapping it. */
  ksm: Map<number, string[]>;
  /** Swap slot -> swap entries found naming it. */
  swapRefs: Map<number, number>;
}

export const newTally = (): Tally => ({
  maps: new Map(),
  pmdMaps: new Map(),
  pageMaps: new Map(),
  vmallocMaps: new Map(),
  tables: new Set(),
  ksm: new Map(),
  swapRefs: new Map(),
});

/** The whole-world walk: every page table of every mm (`full`, and `cheap` as it was before incremental.ts). */
export function checkVm(k: Kernel, full: boolean, v: Violations): void {
  const t = newTally();
  for (const mm of k.mms) checkMm(k, mm, t, full, v);
  for (const row of k.ptdesc.liveRows()) {
    if (k.ptdesc.mm[row] !== 0 && !t.tables.has(row))
      v.push(`page table ${hex(k.ptdesc.pfn[row])} (mm ${k.ptdesc.mm[row]}) is reachable from no mm`, {
        pfn: k.ptdesc.pfn[row],
      });
  }
  checkPageCache(k, v);
  checkVmalloc(k, t, full, v);
  checkDevmem(k, v);
  checkSwap(k, t, full, v);
  if (full) checkFolioCounts(k, t, v);
  if (full) checkKsm(k, t, v);
}

/** The pid of the process owning `mm` (0 for a kernel-only mm), for a violation's location. */
function pidOf(k: Kernel, mm: Mm): number {
  for (const p of k.processes.values()) if (p.mm === mm) return p.pid;
  return 0;
}

function bump(m: Map<number, number>, key: number, n = 1): void {
  m.set(key, (m.get(key) ?? 0) + n);
}

function checkMm(k: Kernel, mm: Mm, t: Tally, full: boolean, v: Violations): void {
  const rss = [0, 0, 0, 0];
  const pd = k.ptdesc;
  t.tables.add(mm.pgd);
  for (const row of mm.deposited.values()) t.tables.add(row);
  const visit = (row: number, level: number, base: number) => {
    let used = 0;
    for (let i = 0; i < PTRS_PER_TABLE; i++) {
      const e = pd.get(row, i);
      if (e === 0) continue;
      used++;
      const addr = base + i * LEVEL_SIZE[level];
      const leaf = level === PT_LEVEL.PTE || (entryBits(e) & PTE.HUGE) !== 0;
      if (!leaf) {
        const child = entryPfn(e);
        if (!pd.isLive(child)) {
          v.push(`mm ${mm.id}: ${hex(addr)} points at a freed page table`, { addr });
          continue;
        }
        t.tables.add(child);
        visit(child, level - 1, addr);
      } else checkLeaf(k, mm, addr, e, level, t, rss, v, full);
    }
    if (full && used !== pd.used[row])
      v.push(`mm ${mm.id}: table ${hex(pd.pfn[row])} counts ${pd.used[row]} used entries, holds ${used}`, {
        pfn: pd.pfn[row],
      });
  };
  visit(mm.pgd, PT_LEVEL.PGD, 0);
  for (let i = 0; i < 4; i++)
    if (rss[i] !== mm.rss[i]) v.push(`mm ${mm.id}: rss[${i}] is ${mm.rss[i]}, page tables hold ${rss[i]}`);
}

/** A broken rule at one entry, with the mm, address and (if known) frame it is about. */
function report(k: Kernel, v: Violations, mm: Mm, addr: number, what: string, pfn?: number): void {
  const at = { pid: pidOf(k, mm), addr };
  v.push(`mm ${mm.id} ${hex(addr)}: ${what}`, pfn === undefined ? at : { ...at, pfn });
}

export function checkLeaf(
  k: Kernel,
  mm: Mm,
  addr: number,
  e: number,
  level: number,
  t: Tally,
  rss: number[],
  v: Violations,
  full = false,
): void {
  const bits = entryBits(e);
  const pfn = entryPfn(e);
  const vma = findVma(mm, addr);
  // The message and its location are built only when a rule is broken (report): this runs for
  // every entry after every op, and a string per PTE was most of the fuzzer's time at cheap.
  if (!vma) {
    report(k, v, mm, addr, 'entry outside every VMA');
    return;
  }
  if (isSwapEntry(e)) {
    // Anon pages of private mappings (anonymous, or COW copies in a private file mapping) swap.
    if (level !== PT_LEVEL.PTE || vma.flags & VM.SHARED || !vma.anonVma)
      report(k, v, mm, addr, `swap entry outside a private mapping with anon pages`);
    rss[MM_SWAPENTS]++;
    bump(t.swapRefs, swapOffset(e));
    return;
  }
  if (!(bits & PTE.PRESENT)) return;
  const pmd = level === PT_LEVEL.PMD;
  if (pmd && !mm.deposited.has(addr)) report(k, v, mm, addr, `PMD leaf without a deposited page table`);
  if (bits & PTE.SPECIAL) {
    if (!k.pa.isZeroPfn(pfn) && !(vma.flags & (VM.PFNMAP | VM.MIXEDMAP)))
      report(k, v, mm, addr, `special entry for ${hex(pfn)} outside a pfn map`, pfn);
    if (bits & PTE.WRITE && k.pa.isZeroPfn(pfn)) report(k, v, mm, addr, `the zero page mapped writable`);
    if (k.pteSpecial || k.pa.isZeroPfn(pfn)) return;
  }
  if (!k.pteSpecial && !pmd) {
    // No special bit: the VMA decides which entries have no page behind them.
    let row: number;
    try {
      row = vmNormalPage(k, vma, addr, e);
    } catch (err) {
      report(k, v, mm, addr, (err as Error).message);
      return;
    }
    if (row === -1) {
      if (!(vma.flags & (VM.PFNMAP | VM.MIXEDMAP)))
        report(k, v, mm, addr, `entry for ${hex(pfn)} without a page outside a pfn map`, pfn);
      return;
    }
  }
  if (k.vmalloc.isPage(pfn)) {
    if (!(vma.flags & VM.MIXEDMAP))
      report(k, v, mm, addr, `vmalloc page ${hex(pfn)} mapped outside a mixed map`, pfn);
    if (full) bump(t.vmallocMaps, pfn);
    rss[MM_FILEPAGES]++;
    return;
  }
  if (pfn >= k.pa.maxPfn && k.devmem.pfnValid(pfn)) {
    // A ZONE_DEVICE page: only with a real descriptor may a normal entry map it.
  } else if (!k.pa.memmap.pfnValid(pfn)) {
    report(k, v, mm, addr, `maps ${hex(pfn)} beyond the memmap`, pfn);
    return;
  }
  const row = k.folios.pageRow(pfn);
  if (row < 0 || !k.folios.isLive(row)) {
    report(
      k,
      v,
      mm,
      addr,
      `maps frame ${hex(pfn)} of type ${MT_NAMES[k.pa.memmap.type(pfn)]} (not a live folio)`,
      pfn,
    );
    return;
  }
  const f = k.folios;
  if (pmd) {
    if (f.pfn[row] !== pfn || f.order[row] !== 9)
      report(k, v, mm, addr, `PMD maps ${hex(pfn)}, not the head of an order-9 folio`, pfn);
    if (full) {
      bump(t.maps, row);
      bump(t.pmdMaps, row);
    }
    rss[MM_ANONPAGES] += f.nrPages(row);
  } else {
    if (full) {
      bump(t.maps, row);
      if (f.isLarge(row)) bump(t.pageMaps, pfn);
    }
    rss[mmCounter(f, row)]++;
  }
  if (f.flags[row] & PG.ksm) {
    // A KSM folio is shared by content: any write must fault and copy (write_protect_page).
    if (pmd) report(k, v, mm, addr, `KSM folio ${hex(pfn)} mapped by a PMD`, pfn);
    if (bits & PTE.WRITE) report(k, v, mm, addr, `KSM folio ${hex(pfn)} mapped writable`, pfn);
    if (f.pageAnonExclusive(row, pfn)) report(k, v, mm, addr, `KSM folio ${hex(pfn)} is anon-exclusive`, pfn);
    if (full) {
      // The stable-node comparison (checkKsm) is a full check: only then are the names built.
      const found = t.ksm.get(row);
      if (found) found.push(`${mm.id}:${hex(addr)}`);
      else t.ksm.set(row, [`${mm.id}:${hex(addr)}`]);
    }
  }
  if (full && f.kind[row] === MT.ANON && !(f.flags[row] & PG.ksm)) checkAnonRmap(k, vma, addr, pfn, row, v);
  if (
    f.kind[row] === MT.ANON &&
    bits & PTE.WRITE &&
    !(vma.flags & VM.SHARED) &&
    !f.pageAnonExclusive(row, pfn)
  ) {
    report(k, v, mm, addr, `writable PTE maps anon page ${hex(pfn)} that is not anon-exclusive`, pfn);
  }
}

/**
 * The swap device: each slot's swap_map count is the number of swap entries naming it, and its
 * SWAP_HAS_CACHE bit says whether the swap cache holds a folio for it (that folio live, anon,
 * PG_swapcache, at the right page). Full: every slot in use is accounted for, and inuse adds up.
 */
function checkSwap(k: Kernel, t: Tally, full: boolean, v: Violations): void {
  const si = k.swap;
  if (!si) {
    if (t.swapRefs.size > 0) v.push(`${t.swapRefs.size} swap entries on a machine without swap`);
    return;
  }
  for (const [off, refs] of t.swapRefs) checkSlotRefs(k, off, refs, v);
  checkSwapCache(k, v);
  if (full) checkSwapFull(k, t, v);
}

/** A slot some swap entries name: its swap_map count is their number. */
export function checkSlotRefs(k: Kernel, off: number, refs: number, v: Violations): void {
  const si = k.swap;
  if (si && (off <= 0 || off >= si.slots || si.swapMap[off] !== refs))
    v.push(`swap slot ${off}: swap_map count ${si.swapMap[off]}, ${refs} swap entries name it`);
}

/** The swap cache against its folios (O(cached slots)). */
export function checkSwapCache(k: Kernel, v: Violations): void {
  const si = k.swap;
  if (!si) return;
  const f = k.folios;
  for (const [off, row] of si.cache) {
    const first = si.folioSwap.get(row);
    if (!f.isLive(row) || f.kind[row] !== MT.ANON || !f.testFlag(row, PG.owner_priv_1) || first === undefined)
      v.push(`swap slot ${off}: cached folio ${hex(f.pfn[row])} is not a live anon folio in the swap cache`);
    else if (off < first || off >= first + f.nrPages(row))
      v.push(`swap slot ${off}: cached folio ${hex(f.pfn[row])} starts at slot ${first}`);
    if (!si.hasCache[off]) v.push(`swap slot ${off}: in the swap cache without SWAP_HAS_CACHE`);
  }
  for (const row of si.folioSwap.keys())
    if (!f.isLive(row) || !f.testFlag(row, PG.owner_priv_1))
      v.push(`folio ${hex(f.pfn[row])}: has a swap slot but no PG_swapcache`, { pfn: f.pfn[row] });
}

function checkSwapFull(k: Kernel, t: Tally, v: Violations): void {
  const si = k.swap;
  if (!si) return;
  let inuse = 0;
  for (let off = 1; off < si.slots; off++) {
    const count = si.swapMap[off];
    if (count === 0 && !si.hasCache[off]) continue;
    inuse++;
    if (count !== (t.swapRefs.get(off) ?? 0))
      v.push(`swap slot ${off}: swap_map count ${count}, ${t.swapRefs.get(off) ?? 0} swap entries name it`);
    if (si.hasCache[off] && !si.cache.has(off))
      v.push(`swap slot ${off}: SWAP_HAS_CACHE with no cached folio`);
  }
  if (inuse !== si.inuse) v.push(`swap: ${inuse} slots in use, inuse_pages says ${si.inuse}`);
}

/**
 * The anon rmap finds this mapping: the folio belongs to the VMA's anon_vma, and the page's index
 * (the folio's plus its offset in it) is the VMA's pgoff at this address — what rmap_walk_anon
 * computes the address from (vma_address). mremap keeps the pgoff of a moved VMA for this.
 */
function checkAnonRmap(k: Kernel, vma: Vma, addr: number, pfn: number, row: number, v: Violations): void {
  const f = k.folios;
  const index = f.index[row] + (pfn - f.pfn[row]);
  const want = vma.pgoff + (addr - vma.start) / PAGE_SIZE;
  if (vma.anonVma?.id !== f.mapping[row] || index !== want)
    v.push(
      `mm ${vma.mm.id} ${hex(addr)}: anon page ${hex(pfn)} has anon_vma ${f.mapping[row]} index ${index}, the VMA has anon_vma ${vma.anonVma?.id ?? 'none'} and pgoff ${want} there: rmap cannot find it`,
      { pid: pidOf(k, vma.mm), addr, pfn },
    );
}

export function checkPageCache(k: Kernel, v: Violations): void {
  for (const file of k.pagecache.allFiles()) {
    for (const index of k.pagecache.cachedFrom(file, 0)) {
      const row = k.pagecache.lookup(file, index);
      const f = k.folios;
      if (f.kind[row] !== MT.FILE || f.mapping[row] !== file.id || f.index[row] !== index) {
        v.push(
          `file ${file.name}: page ${index} holds folio ${hex(f.pfn[row])} with mapping ${f.mapping[row]} index ${f.index[row]}`,
          { pfn: f.pfn[row] },
        );
      }
    }
  }
}

function checkFolioCounts(k: Kernel, t: Tally, v: Violations): void {
  const f = k.folios;
  for (const row of f.liveRows()) {
    const kind = f.kind[row];
    if (kind !== MT.ANON && kind !== MT.FILE && kind !== MT.UNKNOWN && kind !== MT.DEVICE) continue;
    const pfn = f.pfn[row];
    const maps = t.maps.get(row) ?? 0;
    if (f.mapcountOf(row) !== maps)
      v.push(`folio ${hex(pfn)}: mapcount ${f.mapcountOf(row)}, page tables map it ${maps} times`, { pfn });
    if (f.isLarge(row)) {
      const pmds = t.pmdMaps.get(row) ?? 0;
      if (f.entireMapcountOf(row) !== pmds)
        v.push(`folio ${hex(pfn)}: entire mapcount ${f.entireMapcountOf(row)}, ${pmds} PMD mappings`, {
          pfn,
        });
      for (let i = 0; i < f.nrPages(row); i++) {
        const own = f.pageMapcountOf(row, pfn + i) - f.entireMapcountOf(row);
        const found = t.pageMaps.get(pfn + i) ?? 0;
        if (own !== found)
          v.push(`page ${hex(pfn + i)}: own mapcount ${own}, ${found} PTE mappings`, { pfn: pfn + i });
      }
    }
    // Page-cache references, or the reference a device pagemap holds on each descriptor.
    const cacheRefs =
      (kind === MT.FILE && f.mapping[row] !== 0) || k.swap?.folioSwap.has(row)
        ? f.nrPages(row)
        : kind === MT.DEVICE && pfn >= k.pa.maxPfn
          ? 1
          : 0;
    const pinRefs = pinReferences(k, row);
    if (f.refcount[row] < maps + cacheRefs + pinRefs)
      v.add(
        'pins: references',
        `folio ${hex(pfn)}: refcount ${f.refcount[row]} below ${maps} mappings + ${cacheRefs} page-cache references + ${pinRefs} pin references`,
        { pfn },
      );
  }
}

/**
 * vmalloc areas (scamem): every page's memdesc names its scamem and index; the scamem refcount is
 * the owner's reference plus every page reference beyond it; each page's mapcount equals the PTEs
 * found (full) and its refcount covers them.
 */
export function checkVmalloc(k: Kernel, t: Tally, full: boolean, v: Violations): void {
  const s = k.vmalloc.scamem;
  let pages = 0;
  for (const row of s.liveRows()) {
    const n = s.nrPages[row];
    pages += n;
    const owned = s.owned[row];
    let refs = owned;
    for (let i = 0; i < n; i++) {
      const pfn = s.pages[row][i];
      const lo = k.pa.memmap.lo(pfn);
      if ((lo & 0xf) !== MT.VMALLOC || k.pa.memmap.hi(pfn) !== row || lo >>> 12 !== i)
        v.push(`vmalloc page ${hex(pfn)}: memdesc does not name scamem ${row} page ${i}`, { pfn });
      const ref = s.pageRef[row][i];
      const map = s.pageMap[row][i];
      refs += ref - owned;
      if (ref < map + owned)
        v.push(`vmalloc page ${hex(pfn)}: refcount ${ref} below ${map} mappings + ${owned} owner`, { pfn });
      if (full && map !== (t.vmallocMaps.get(pfn) ?? 0))
        v.push(
          `vmalloc page ${hex(pfn)}: mapcount ${map}, page tables map it ${t.vmallocMaps.get(pfn) ?? 0} times`,
          { pfn },
        );
    }
    if (refs !== s.refcount[row])
      v.push(`scamem ${row}: refcount ${s.refcount[row]}, its pages hold ${refs}`);
    if (s.refcount[row] <= 0) v.push(`scamem ${row}: live with refcount ${s.refcount[row]}`);
    if (owned !== (k.vmalloc.areas.get(s.addr[row]) === row ? 1 : 0))
      v.push(`scamem ${row}: owner flag ${owned} disagrees with the vmalloc area map`);
  }
  if (pages !== k.stat.pagesByType[MT.VMALLOC])
    v.push(`scamems hold ${pages} pages, counters say ${k.stat.pagesByType[MT.VMALLOC]} vmalloc pages`);
}

/** Device pagemaps: every chunk's descriptors are live device folios of the right frames, and nothing else is. */
export function checkDevmem(k: Kernel, v: Violations, liveDevice?: number): void {
  const f = k.folios;
  let rows = 0;
  for (const m of k.devmem.maps) {
    if (m.mode === 'none' && m.chunks.size > 0) v.push(`${m.name}: pfn-only range has descriptors`);
    if (m.mode === 'lazy' && m.limit > 0 && m.chunks.size > m.limit)
      v.push(`${m.name}: ${m.chunks.size} chunks populated over the limit of ${m.limit}`);
    for (const [c, chunk] of m.chunks) {
      for (let i = 0; i < chunk.length; i++) {
        const r = chunk[i];
        const pfn = m.startPfn + c * PAGES_PER_MEMMAP_PAGE + i;
        if (!f.isLive(r) || f.pfn[r] !== pfn || f.kind[r] !== MT.DEVICE)
          v.push(`${m.name}: descriptor of ${hex(pfn)} is not a live device folio of that frame`, { pfn });
        else if (f.refcount[r] < 1)
          v.push(`${m.name}: descriptor of ${hex(pfn)} lost the pagemap reference`, { pfn });
        rows++;
      }
    }
  }
  let live = liveDevice ?? 0;
  if (liveDevice === undefined) for (const r of f.liveRows()) if (f.pfn[r] >= k.pa.maxPfn) live++;
  if (live !== rows) v.push(`${live} device descriptors live, pagemaps hold ${rows}`);
}

/** Each stable node lists exactly the PTEs that map its KSM folio, and every mapped KSM folio has one. */
function checkKsm(k: Kernel, t: Tally, v: Violations): void {
  const f = k.folios;
  for (const [row, maps] of k.ksm.stable) {
    const pfn = f.pfn[row];
    if (!f.isLive(row) || !(f.flags[row] & PG.ksm)) {
      v.push(`stable node of ${hex(pfn)}: the folio is not a live KSM folio`, { pfn });
      continue;
    }
    const listed = maps.map((m) => `${m.mm.id}:${hex(m.addr)}`).sort();
    const found = [...(t.ksm.get(row) ?? [])].sort();
    if (listed.join(' ') !== found.join(' '))
      v.push(
        `KSM folio ${hex(pfn)}: stable node lists [${listed.join(' ')}], page tables map it at [${found.join(' ')}]`,
        { pfn },
      );
  }
  for (const row of t.ksm.keys())
    if (!k.ksm.stable.has(row))
      v.push(`KSM folio ${hex(f.pfn[row])} is mapped but has no stable node`, { pfn: f.pfn[row] });
}
