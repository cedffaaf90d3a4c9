/**
 * Invariants of the physical-memory layer, the CONFIG_DEBUG_VM analogue.
 *
 * Levels: `off`; `cheap` — counters add up and every descriptor and page table the op touched is
 * sane and agrees with the memdesc word of its first frame (incremental.ts: O(zones + what the op
 * touched), plus the slab, page-cache, vmalloc, device and pin checks, which still walk theirs);
 * checkWalk(k, 'cheap') is the same rules over every live descriptor. `full` — additionally every free
 * list is walked (heads typed BUDDY with their order, no overlaps, no two free buddies left
 * unmerged) and every frame of every populated section is checked against its descriptor.
 * Models the checks of mm/debug_vm_pgtable.c, check_new_page/free_page_is_bad (mm/page_alloc.c)
 * and VM_BUG_ON_FOLIO sprinkled through mm/.
 */

import type { Kernel } from '../mm/kernel.js';
import { FOLIO_TYPES, MT, MT_NAMES, mdMigratetype, mdOrder, mdType } from '../mm/memdesc.js';
import { MIGRATE, NR_MIGRATETYPES } from '../mm/mmzone.js';
import type { PageAlloc } from '../mm/page_alloc.js';
import { MAX_PAGE_ORDER, PAGEBLOCK_ORDER, PAGES_PER_SECTION } from '../mm/types.js';
import { incrementalState } from './incremental.js';
import { checkPcpCounts, checkPcpLists } from './pcp.js';
import { checkPins } from './pins.js';
import { hex, type Violation, Violations } from './violation.js';
import { checkDevmem, checkPageCache, checkSwapCache, checkVm, checkVmalloc, newTally } from './vm.js';

export const CHECK_LEVELS = ['off', 'cheap', 'full'] as const;
export type CheckLevel = (typeof CHECK_LEVELS)[number];

/** The parts of the model the checks read. */
export type KernelParts = Kernel;

/** The invariants one check broke: the first 20 as data (`list`), and their messages. */
export class InvariantViolation extends Error {
  override readonly name = 'InvariantViolation';
  readonly violations: string[];
  constructor(
    readonly list: Violation[],
    more = 0,
  ) {
    const lines = list
      .map((x) => `[${x.rule}] ${x.message}`)
      .concat(more > 0 ? [`... and ${more} more`] : []);
    super(`invariant violated:\n  ${lines.join('\n  ')}`);
    this.violations = lines;
  }
}

/**
 * Run the checks of `level`; throws InvariantViolation listing everything that is wrong. `cheap`
 * verifies what changed since the last cheap check (incremental.ts) plus the global counters;
 * `full` walks the whole world.
 */
export function checkInvariants(k: KernelParts, level: CheckLevel): void {
  if (level === 'cheap') checkCheap(k);
  else if (level === 'full') checkWalk(k, level);
}

/** checkVmalloc reads the mapping tally only when full. */
const NO_TALLY = newTally();

function checkCheap(k: KernelParts): void {
  const v = new Violations();
  checkCounters(k, v.scope('counters'));
  const s = incrementalState(k);
  const vm = v.scope('vm');
  s.check(k, vm, v.scope('folio'), v.scope('ptdesc'));
  checkSlabs(k, v.scope('slab'));
  checkPageCache(k, vm);
  checkVmalloc(k, NO_TALLY, false, vm);
  checkDevmem(k, vm, s.folios.liveDevice);
  checkSwapCache(k, vm);
  checkPins(k, v.scope('pins'));
  throwIfAny(v);
}

/** The whole-world walk at `level` (`cheap` as it was before incremental.ts: the tests' reference). */
export function checkWalk(k: KernelParts, level: 'cheap' | 'full'): void {
  const v = new Violations();
  checkCounters(k, v.scope('counters'));
  checkFolios(k, v.scope('folio'));
  checkSlabs(k, v.scope('slab'));
  checkPtdescs(k, v.scope('ptdesc'));
  checkVm(k, level === 'full', v.scope('vm'));
  checkPins(k, v.scope('pins'));
  if (level === 'full') {
    const freeHeads = checkFreeLists(k, v.scope('buddy'));
    const pcpHeads = checkPcpLists(k.pa, v.scope('pcp'));
    checkMemmap(k, v.scope('memmap'), freeHeads, pcpHeads);
  }
  throwIfAny(v);
}

function throwIfAny(v: Violations): void {
  const all = v.list;
  if (all.length > 0) throw new InvariantViolation(all.slice(0, 20), Math.max(0, all.length - 20));
}

function checkCounters({ pa, stat }: KernelParts, v: Violations): void {
  let free = 0;
  for (const z of pa.zones) {
    let listed = 0;
    for (let o = 0; o <= MAX_PAGE_ORDER; o++) listed += z.freeBlocks(o) * (1 << o);
    if (listed !== z.freePages)
      v.push(`zone ${z.nid}/${z.name}: free lists hold ${listed} pages but nr_free_pages is ${z.freePages}`);
    if (z.freePages < 0 || z.freePages > z.managedPages)
      v.push(`zone ${z.nid}/${z.name}: nr_free_pages ${z.freePages} outside 0..${z.managedPages}`);
    free += z.freePages;
  }
  // A block on a per-CPU list is free but out of nr_free_pages; the type counters keep it as buddy.
  free += pa.pcpPages;
  if (free !== stat.pagesByType[MT.BUDDY])
    v.push(`free pages ${free} (per-CPU lists included) != pages typed buddy ${stat.pagesByType[MT.BUDDY]}`);
  checkPcpCounts(pa, v);
  let total = 0;
  for (let t = 0; t < stat.pagesByType.length; t++) {
    if (stat.pagesByType[t] < 0) v.push(`negative page count for type ${MT_NAMES[t]}`);
    total += stat.pagesByType[t];
  }
  const memmap = pa.memmap.memmapPages;
  if (total !== memmap) v.push(`pages by type add up to ${total}, the memmap covers ${memmap}`);
  // Untyped frames outside free blocks are exactly the struct pages the deferred init has not reached.
  let deferred = 0;
  for (const z of pa.zones) deferred += z.deferredPages;
  if (deferred !== stat.pagesByType[MT.NONE])
    v.push(`zones hold ${deferred} uninitialised pages, counters say ${stat.pagesByType[MT.NONE]}`);
}

function checkFolios({ pa, folios, stat }: KernelParts, v: Violations): void {
  const byKind = new Float64Array(stat.pagesByType.length);
  for (const row of folios.liveRows()) {
    const pfn = folios.pfn[row];
    const kind = folios.kind[row];
    // Device descriptors describe frames above RAM; their memmap is the pagemap's (check/vm.ts).
    if (pfn >= pa.maxPfn) continue;
    byKind[kind] += folios.nrPages(row);
    if (folios.refcount[row] <= 0)
      v.push(`folio ${hex(pfn)}: live with refcount ${folios.refcount[row]}`, { pfn });
    if (folios.mapcountOf(row) < 0) v.push(`folio ${hex(pfn)}: negative mapcount`, { pfn });
    if (folios.pincountOf(row) < 0) v.push(`folio ${hex(pfn)}: negative pincount`, { pfn });
    if (folios.refcount[row] < folios.mapcountOf(row)) {
      v.push(`folio ${hex(pfn)}: refcount ${folios.refcount[row]} below mapcount ${folios.mapcountOf(row)}`, {
        pfn,
      });
    }
    const lo = pa.memmap.lo(pfn);
    if (mdType(lo) !== kind || pa.memmap.hi(pfn) !== row || mdOrder(lo) !== folios.order[row]) {
      v.push(
        `folio ${hex(pfn)}: memdesc says ${MT_NAMES[mdType(lo)]}/order ${mdOrder(lo)}/row ${pa.memmap.hi(pfn)}, descriptor says ${MT_NAMES[kind]}/order ${folios.order[row]}/row ${row}`,
        { pfn },
      );
    }
  }
  for (const kind of [MT.ANON, MT.FILE, MT.UNKNOWN, MT.LARGE_KMALLOC, MT.DEVICE]) {
    if (byKind[kind] !== stat.pagesByType[kind])
      v.push(`${MT_NAMES[kind]} folios cover ${byKind[kind]} pages, counters say ${stat.pagesByType[kind]}`);
  }
}

function checkSlabs({ pa, slab, stat }: KernelParts, v: Violations): void {
  let pages = 0;
  const perCache = new Map<number, { slabs: number; objs: number }>();
  for (const row of slab.liveSlabs()) {
    const s = slab.slabInuse(row);
    pages += 1 << s.cache.order;
    if (s.inuse + s.free !== s.cache.objectsPerSlab)
      v.push(
        `slab ${hex(s.pfn)} (${s.cache.name}): inuse ${s.inuse} + free ${s.free} != ${s.cache.objectsPerSlab}`,
        { pfn: s.pfn },
      );
    if (s.inuse <= 0) v.push(`slab ${hex(s.pfn)} (${s.cache.name}): empty slab kept`, { pfn: s.pfn });
    if (pa.memmap.type(s.pfn) !== MT.SLAB || pa.memmap.hi(s.pfn) !== row)
      v.push(`slab ${hex(s.pfn)}: memdesc does not point at its slab`, { pfn: s.pfn });
    const c = perCache.get(s.cache.id) ?? { slabs: 0, objs: 0 };
    c.slabs++;
    c.objs += s.inuse;
    perCache.set(s.cache.id, c);
  }
  if (pages !== stat.pagesByType[MT.SLAB])
    v.push(`slabs cover ${pages} pages, counters say ${stat.pagesByType[MT.SLAB]}`);
  for (const c of slab.caches) {
    const seen = perCache.get(c.id) ?? { slabs: 0, objs: 0 };
    if (seen.slabs !== c.nrSlabs || seen.objs !== c.activeObjects) {
      v.push(
        `cache ${c.name}: counts ${c.nrSlabs} slabs/${c.activeObjects} objects, found ${seen.slabs}/${seen.objs}`,
      );
    }
  }
}

function checkPtdescs({ pa, ptdesc, stat }: KernelParts, v: Violations): void {
  let n = 0;
  for (const row of ptdesc.liveRows()) {
    n++;
    const pfn = ptdesc.pfn[row];
    if (pa.memmap.type(pfn) !== MT.PGTABLE || pa.memmap.hi(pfn) !== row)
      v.push(`page table ${hex(pfn)}: memdesc does not point at its ptdesc`, { pfn });
  }
  if (n !== stat.pagesByType[MT.PGTABLE])
    v.push(`${n} ptdescs, counters say ${stat.pagesByType[MT.PGTABLE]} page-table pages`);
}

/** Walk every free list; returns the head pfn -> order of every listed free block. */
function checkFreeLists({ pa }: KernelParts, v: Violations): Map<number, number> {
  const blocks: [number, number][] = [];
  for (const z of pa.zones) {
    for (let o = 0; o <= MAX_PAGE_ORDER; o++) {
      for (let mt = 0; mt < NR_MIGRATETYPES; mt++) {
        let n = 0;
        for (const pfn of pa.area.freeList(z, o, mt)) {
          n++;
          const lo = pa.memmap.lo(pfn);
          if (mdType(lo) !== MT.BUDDY || mdOrder(lo) !== o || mdMigratetype(lo) !== mt) {
            v.push(
              `free block ${hex(pfn)} on list order ${o}/${mt}: memdesc says ${MT_NAMES[mdType(lo)]} order ${mdOrder(lo)} type ${mdMigratetype(lo)}`,
              { pfn },
            );
          }
          if (pfn % (1 << o) !== 0) v.push(`free block ${hex(pfn)} of order ${o} is misaligned`, { pfn });
          if (!z.contains(pfn) || !z.contains(pfn + (1 << o) - 1))
            v.push(`free block ${hex(pfn)} crosses zone ${z.name}`, { pfn });
          if (mt !== MIGRATE.ISOLATE && mt !== pa.pageblockMigratetype(pfn) && o >= PAGEBLOCK_ORDER) {
            v.push(
              `free block ${hex(pfn)} on the ${mt} list sits in a pageblock of type ${pa.pageblockMigratetype(pfn)}`,
              { pfn },
            );
          }
          blocks.push([pfn, o]);
        }
        if (n !== z.nrFree[o * NR_MIGRATETYPES + mt])
          v.push(
            `zone ${z.name}: list order ${o}/${mt} holds ${n} blocks, counted ${z.nrFree[o * NR_MIGRATETYPES + mt]}`,
          );
      }
    }
  }
  blocks.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < blocks.length; i++) {
    const [p, o] = blocks[i - 1];
    if (p + (1 << o) > blocks[i][0])
      v.push(`free blocks ${hex(p)} (order ${o}) and ${hex(blocks[i][0])} overlap`, { pfn: p });
  }
  const heads = new Map(blocks.map(([p, o]) => [p, o]));
  for (const [p, o] of blocks) {
    if (o === MAX_PAGE_ORDER) continue;
    const size = 1 << o;
    const buddy = p % (size * 2) === 0 ? p + size : p - size;
    if (
      p < buddy &&
      heads.get(buddy) === o &&
      pa.zoneOf(p) === safeZone(pa, buddy) &&
      (o < PAGEBLOCK_ORDER || pageblocksMerge(pa.pageblockMigratetype(p), pa.pageblockMigratetype(buddy)))
    ) {
      v.push(
        `free buddies ${hex(Math.min(p, buddy))} and ${hex(Math.max(p, buddy))} of order ${o} were not merged`,
        { pfn: Math.min(p, buddy) },
      );
    }
  }
  return heads;
}

/**
 * Must two free buddy pageblocks have merged? Isolated ones never merge on their own (isolation
 * moves free blocks without merging them); CMA merges only with CMA (migratetype_is_mergeable).
 */
function pageblocksMerge(a: number, b: number): boolean {
  if (a === MIGRATE.ISOLATE || b === MIGRATE.ISOLATE) return false;
  return a === b || (a < MIGRATE.CMA && b < MIGRATE.CMA);
}

function safeZone(pa: PageAlloc, pfn: number) {
  try {
    return pa.zoneOf(pfn);
  } catch {
    return undefined;
  }
}

/**
 * Every frame of every present section against the descriptors: a free head must be a block
 * some free list holds, with only untyped frames inside it; an untyped frame must lie inside a
 * free block; a frame of a folio, slab or page table must name a live descriptor that covers
 * it, with the descriptor's type and order. A section without a memmap must be wholly free.
 */
function checkMemmap(
  { pa, folios, slab, ptdesc }: KernelParts,
  v: Violations,
  freeHeads: Map<number, number>,
  pcpHeads: Map<number, number>,
): void {
  const mm = pa.memmap;
  const maxBlock = 1 << MAX_PAGE_ORDER;
  for (let s = 0; s < mm.nrSections; s++) {
    if (!mm.isPresentSection(s)) continue;
    const end = (s + 1) * PAGES_PER_SECTION;
    // A deferred section's untyped frames are uninitialised struct pages, on no free list.
    const deferred = mm.isDeferredSection(s);
    if (!mm.isPopulated(s) && deferred) continue;
    if (!mm.isPopulated(s)) {
      for (let pfn = s * PAGES_PER_SECTION; pfn < end; pfn += maxBlock)
        if (freeHeads.get(pfn) !== MAX_PAGE_ORDER)
          v.push(`section ${s} has no memmap but its block ${hex(pfn)} is on no free list`, { pfn });
      continue;
    }
    for (let pfn = s * PAGES_PER_SECTION; pfn < end; ) {
      const lo = mm.lo(pfn);
      const t = mdType(lo);
      const order = mdOrder(lo);
      if (t === MT.BUDDY) {
        if (freeHeads.get(pfn) !== order)
          v.push(`frame ${hex(pfn)} is typed buddy order ${order} but no free list holds it`, { pfn });
        const n = 1 << order;
        for (let q = pfn + 1; q < pfn + n; q++)
          if (mm.lo(q) !== MT.NONE)
            v.push(`frame ${hex(q)} inside free block ${hex(pfn)} is typed ${MT_NAMES[mdType(mm.lo(q))]}`, {
              pfn: q,
            });
        pfn += n;
        continue;
      }
      const row = mm.hi(pfn);
      if (t === MT.NONE && pcpHeads.has(pfn)) {
        pfn += 1 << (pcpHeads.get(pfn) ?? 0);
        continue;
      }
      if (t === MT.NONE) {
        if (!deferred) v.push(`frame ${hex(pfn)} is typed none outside any free block`, { pfn });
      } else if (FOLIO_TYPES.has(t)) {
        if (!folios.isLive(row)) v.push(`frame ${hex(pfn)} points at dead folio row ${row}`, { pfn });
        else if (pfn < folios.pfn[row] || pfn >= folios.pfn[row] + folios.nrPages(row))
          v.push(`frame ${hex(pfn)} points at folio ${hex(folios.pfn[row])} that does not cover it`, { pfn });
        else if (t !== folios.kind[row] || order !== folios.order[row])
          v.push(
            `frame ${hex(pfn)} is typed ${MT_NAMES[t]} order ${order}, its folio is ${MT_NAMES[folios.kind[row]]} order ${folios.order[row]}`,
            { pfn },
          );
      } else if (t === MT.SLAB) {
        if (!slab.isLive(row)) v.push(`frame ${hex(pfn)} points at dead slab row ${row}`, { pfn });
        else {
          const first = slab.pfn[row];
          const slabOrder = slab.caches[slab.cache[row]].order;
          if (pfn < first || pfn >= first + (1 << slabOrder) || order !== slabOrder)
            v.push(
              `frame ${hex(pfn)} is typed slab order ${order} but slab ${hex(first)} does not cover it`,
              { pfn },
            );
        }
      } else if (t === MT.PGTABLE) {
        if (!ptdesc.isLive(row) || ptdesc.pfn[row] !== pfn)
          v.push(`frame ${hex(pfn)} is typed pgtable but ptdesc row ${row} is not its table`, { pfn });
      }
      pfn++;
    }
  }
}
