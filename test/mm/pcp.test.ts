import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/index.js';
import { MT, mdWord } from '../../src/mm/memdesc.js';
import { GFP, MIGRATE } from '../../src/mm/mmzone.js';
import { findFreeBlock, setMigratetypeIsolate } from '../../src/mm/page_isolation.js';
import {
  freePcppagesBulk,
  minFreeKbytes,
  orderToPindex,
  pcpBlocks,
  setupPerZoneWmarks,
  zoneBatchsize,
  zonePcpUpdate,
} from '../../src/mm/pcp.js';
import { PAGEBLOCK_PAGES } from '../../src/mm/types.js';
import { untilEnomem } from '../helpers.js';

/** 1 GiB, one DMA32 zone, per-CPU lists on. */
const machine = (extra: Record<string, unknown> = {}) => {
  const m = new Machine({ memory: '1G', pcp: true, ...extra });
  const k = m.kernel;
  const z = k.pa.zones[0];
  return { m, k, z, pcp: z.pcp };
};
const freePages = (m: Machine) => m.meminfo().MemFree / 4;
/** Free memory the allocator holds: the free lists plus the per-CPU lists. */
const allFree = (m: Machine) => freePages(m) + m.kernel.pa.pcpPages;

describe('sizing (zone_batchsize, zone_highsize, __setup_per_zone_wmarks)', () => {
  it('batch is 63 for a zone of 1 GiB or more, 2^n − 1 below, and 0 (used as 1) for a tiny zone', () => {
    expect(zoneBatchsize(1 << 18)).toBe(63);
    expect(zoneBatchsize(1 << 30)).toBe(63);
    // 64 MiB: 16384 >> 10 = 16, / 4 = 4, rounddown_pow_of_two(4 + 2) − 1 = 3.
    expect(zoneBatchsize(16384)).toBe(3);
    expect(zoneBatchsize(4096)).toBe(0);
    const { z, pcp } = machine();
    expect(pcp.batch).toBe(63);
    // min_free_kbytes = sqrt(16 × managed KiB); with THP on (the default, madvise) khugepaged
    // raises it to 2 + 3 × 3 pageblocks for the one zone: 5632 pages.
    const sqrtKb = Math.floor(Math.sqrt(z.managedPages * 4 * 16));
    // THP off, khugepaged's start computes it again over the memory above the high watermarks.
    const min = Math.floor(sqrtKb / 4);
    const high = min + 2 * Math.max(min >> 2, Math.floor((z.managedPages * 10) / 10000));
    const recomputedKb = Math.floor(Math.sqrt((z.managedPages - high) * 4 * 16));
    expect(recomputedKb).toBe(4049);
    expect(minFreeKbytes([z], false)).toBe(recomputedKb);
    expect(minFreeKbytes([z], true)).toBe(5632 * 4);
    // high_min is the low watermark, min + max(min/4, managed × 10/10000); high_max an eighth.
    const low = 5632 + Math.max(5632 >> 2, Math.floor((z.managedPages * 10) / 10000));
    expect(setupPerZoneWmarks([z], 5632 * 4)[0].low).toBe(low);
    expect(pcp.highMin).toBe(low);
    expect(pcp.highMax).toBe(Math.floor(z.managedPages / 8));
    const noThp = new Machine({ memory: '1G', pcp: true, thp: 'never' }).kernel.pa.zones[0].pcp;
    expect(noThp.highMin).toBe(setupPerZoneWmarks([z], recomputedKb)[0].low);
    // Under 512 MiB hugepage_init() gives up before khugepaged: the square-root value stays.
    const small = new Machine({ memory: '256M', pcp: true }).kernel.pa.zones[0];
    const smallKb = Math.floor(Math.sqrt(small.managedPages * 4 * 16));
    expect(minFreeKbytes([small], true)).toBe(smallKb);
    expect(small.pcp.highMin).toBe(setupPerZoneWmarks([small], smallKb)[0].low);
  });

  it('off (the default), the lists are disabled: high 0, batch 1, and every free reaches the buddy lists', () => {
    const m = new Machine({ memory: '1G' });
    const before = freePages(m);
    const pfn = m.allocPages(0);
    expect(freePages(m)).toBe(before - 1);
    m.freePages(pfn, 0);
    expect(freePages(m)).toBe(before);
    expect(m.page(pfn).type).toBe('buddy');
    expect(m.zoneinfo()[0].pcp).toEqual({ count: 0, high: 0, batch: 1 });
  });
});

describe('allocation and free through the lists', () => {
  it('the first order-0 allocation refills a batch; the free parks the page at the head, out of MemFree', () => {
    const { m, pcp } = machine();
    const before = freePages(m);
    const pfn = m.allocPages(0);
    // rmqueue_bulk took a batch of 63 off the free lists; one was handed out.
    expect(freePages(m)).toBe(before - 63);
    expect(pcp.count).toBe(62);
    m.freePages(pfn, 0);
    expect(freePages(m)).toBe(before - 63);
    expect(pcp.count).toBe(63);
    // Not PageBuddy: the frame reads untyped and no buddy merges with it.
    expect(m.page(pfn).type).toBe('none');
    expect(findFreeBlock(m.kernel.pa, pfn)).toBeUndefined();
    // The hot page comes back first (list head).
    expect(m.allocPages(0)).toBe(pfn);
    m.check('full');
  });

  it('a refill keeps physical order (tail adds) and a drain gives the coldest blocks back first', () => {
    const { m, k, z, pcp } = machine();
    const first = m.allocPages(0);
    const list = pcp.lists[orderToPindex(MIGRATE.UNMOVABLE, 0)];
    const listed = Array.from({ length: list.length }, (_, i) => list.at(i));
    expect(listed).toEqual([...listed].sort((a, b) => a - b));
    expect(listed[0]).toBe(first + 1);
    const coldest = listed.at(-1)!;
    freePcppagesBulk(k.pa, z, 1, orderToPindex(MIGRATE.UNMOVABLE, 0));
    expect(list.length).toBe(61);
    expect(list.at(60)).toBe(listed.at(-2));
    expect(findFreeBlock(k.pa, coldest)).toBeDefined();
    m.check('full');
  });

  it("free_pcppages_bulk takes the lists round robin from the one just freed to, to each list's end", () => {
    const { m, k, z, pcp } = machine();
    m.allocPages(0); // 62 on the unmovable list
    m.allocPages(0, { gfp: GFP.MOVABLE }); // 125 on the movable list (alloc_factor 1: 126)
    const unmovable = pcp.lists[orderToPindex(MIGRATE.UNMOVABLE, 0)];
    const movable = pcp.lists[orderToPindex(MIGRATE.MOVABLE, 0)];
    expect([unmovable.length, movable.length]).toEqual([62, 125]);
    const keep = unmovable.at(0);
    freePcppagesBulk(k.pa, z, 133, orderToPindex(MIGRATE.MOVABLE, 0));
    // The movable list first and whole, then (reclaimable empty, the THP lists empty) round to
    // the unmovable list, which gives 8 from its tail.
    expect([unmovable.length, movable.length]).toEqual([54, 0]);
    expect(unmovable.at(0)).toBe(keep);
    expect(pcp.count).toBe(54);
    m.check('full');
  });

  it('drain_all_pages gives every page back and the buddies merge as at boot', () => {
    const { m } = machine();
    const boot = m.buddyinfo();
    const bootFree = freePages(m);
    const pfns = Array.from({ length: 500 }, () => m.allocPages(0, { gfp: GFP.MOVABLE }));
    for (const p of pfns) m.freePages(p, 0);
    expect(freePages(m)).toBeLessThan(bootFree);
    expect(allFree(m)).toBe(bootFree);
    const parked = m.kernel.pa.pcpPages;
    expect(parked).toBeGreaterThanOrEqual(500);
    expect(m.drainAllPages()).toBe(parked);
    expect(m.kernel.pa.pcpPages).toBe(0);
    expect(freePages(m)).toBe(bootFree);
    expect(m.buddyinfo()).toEqual(boot);
    m.check('full');
  });

  it('past pcp->high a free gives a batch back; refills and runs of frees tune high up to high_max', () => {
    const { m, pcp } = machine();
    const bootFree = freePages(m);
    const n = pcp.highMax + 5000;
    const pfns = Array.from({ length: n }, () => m.allocPages(0, { gfp: GFP.MOVABLE }));
    // Each refill raised high by its batch (nr_pcp_alloc), from high_min up to high_max.
    expect(pcp.high).toBe(pcp.highMax);
    for (const p of pfns) {
      m.freePages(p, 0);
      expect(pcp.count).toBeLessThanOrEqual(pcp.high);
    }
    expect(pcp.count).toBeGreaterThan(pcp.highMax / 2);
    expect(allFree(m)).toBe(bootFree);
    m.check('full');
  });

  it('high_min above high_max (a low watermark over an eighth of the zone): clamp() holds high at high_max', () => {
    const { m, pcp } = machine();
    const z = m.kernel.pa.zones.find((zone) => zone.pcp === pcp)!;
    const eighth = Math.floor(z.managedPages / 8);
    // zone_set_pageset_high_and_batch() does not order the two limits.
    zonePcpUpdate(z, eighth + 8000);
    expect(pcp.highMin).toBe(eighth + 8000);
    expect(pcp.highMax).toBe(eighth);
    const bootFree = freePages(m);
    const pfns = Array.from({ length: eighth + 9000 }, () => m.allocPages(0, { gfp: GFP.MOVABLE }));
    expect(pcp.high).toBe(eighth);
    for (const p of pfns) {
      m.freePages(p, 0);
      expect(pcp.count).toBeLessThanOrEqual(eighth);
    }
    expect(pcp.high).toBe(eighth);
    expect(allFree(m)).toBe(bootFree);
    m.check('full');
  });

  it('nr_pcp_alloc: a refill raises high by its batch first, and sizes itself against the raised high', () => {
    const { m, pcp } = machine();
    const pages = Array.from({ length: pcp.highMin + 100 }, () => m.allocPages(0, { gfp: GFP.MOVABLE }));
    for (const p of pages) m.freePages(p, 0);
    const c = pcp.count;
    // An unmovable refill with room for 20 pages over a batch under the old high: b = 63 << 1 = 126
    // fits under high + b (the raised limit), so all 126 come off the free lists.
    pcp.high = c + 63 + 20;
    pcp.allocFactor = 1;
    const before = freePages(m);
    m.allocPages(0);
    expect(before - freePages(m)).toBe(126);
    expect(pcp.high).toBe(c + 63 + 20 + 126);
    expect(pcp.allocFactor).toBe(2);
    m.check('full');
  });

  it('a run of order-1..3 frees (free_high) drains the lists at once; order-0 frees stay', () => {
    // Without THP's raised min_free_kbytes, so that batch + high_min / 2 is under free_count's cap
    // (batch << 5): with it (high_min 7040 here) free_high can never fire on this zone.
    const { m, pcp } = machine({ thp: 'never' });
    expect(pcp.batch + (pcp.highMin >> 1)).toBeLessThan(pcp.batch << 5);
    const blocks = Array.from({ length: 400 }, () => m.allocPages(1, { gfp: GFP.MOVABLE }));
    const raised = pcp.high;
    expect(raised).toBeGreaterThan(pcp.highMin); // each refill raised it
    // Below the 6.15 threshold (free_count < batch + high_min / 2: 600 < 697) nothing drains.
    for (const p of blocks.slice(0, 300)) m.freePages(p, 1);
    expect(pcp.count).toBeGreaterThanOrEqual(600);
    for (const p of blocks.slice(300)) m.freePages(p, 1);
    // Past it, on a run of order-1 frees: everything went back, and high fell back to high_min.
    expect(pcp.count).toBeLessThan(2 * 63);
    expect(pcp.high).toBe(pcp.highMin);
    // An order-0 free between two order-1 frees clears PCPF_PREV_FREE_HIGH_ORDER: no free_high.
    const { m: mx, pcp: pcpx } = machine({ thp: 'never' });
    const pairs = Array.from({ length: 400 }, () => [
      mx.allocPages(1, { gfp: GFP.MOVABLE }),
      mx.allocPages(0, { gfp: GFP.MOVABLE }),
    ]);
    for (const [b1, b0] of pairs) {
      mx.freePages(b1, 1);
      mx.freePages(b0, 0);
    }
    expect(pcpx.count).toBeGreaterThanOrEqual(1200);
    const { m: m0, pcp: pcp0 } = machine({ thp: 'never' });
    const pages = Array.from({ length: 800 }, () => m0.allocPages(0, { gfp: GFP.MOVABLE }));
    for (const p of pages) m0.freePages(p, 0);
    expect(pcp0.count).toBeGreaterThanOrEqual(800);
    m.check('full');
  });

  it('orders above 3 bypass the lists; the THP order has its own and refills two blocks', () => {
    const { m, pcp } = machine();
    const before = freePages(m);
    const o4 = m.allocPages(4);
    expect(pcp.count).toBe(0);
    m.freePages(o4, 4);
    expect(freePages(m)).toBe(before);
    expect(m.page(o4).type).toBe('buddy');
    const thp = m.folioAlloc(9);
    // nr_pcp_alloc: max(batch >> 9, 2) blocks of order 9.
    expect(freePages(m)).toBe(before - 2 * 512);
    expect(pcp.count).toBe(512);
    expect(pcp.lists[orderToPindex(MIGRATE.MOVABLE, 9)].length).toBe(1);
    m.folioPut(thp);
    expect(pcp.count).toBe(1024);
    m.check('full');
  });

  it('a page of an isolated pageblock goes straight to the buddy lists (free_one_page)', () => {
    const { m, k, pcp } = machine();
    const pfn = m.allocPages(0);
    const count = pcp.count;
    setMigratetypeIsolate(k.pa, pfn);
    m.freePages(pfn, 0);
    expect(pcp.count).toBe(count);
    expect(findFreeBlock(k.pa, pfn)).toBeDefined();
  });

  it('a CMA page rides on the movable list', () => {
    const { m, k } = machine({ cma: '64M' });
    const z = k.pa.zones.find((zz) => zz.cmaPages > 0)!;
    let cmaPfn = -1;
    for (let p = z.startPfn; p < z.endPfn; p += PAGEBLOCK_PAGES)
      if (k.pa.pageblockMigratetype(p) === MIGRATE.CMA) {
        cmaPfn = p;
        break;
      }
    m.allocContigRange(cmaPfn, 1);
    m.freeContigRange(cmaPfn, 1);
    expect(z.pcp.lists[orderToPindex(MIGRATE.MOVABLE, 0)].at(0)).toBe(cmaPfn);
    m.check('full');
  });
});

describe('the places that drain', () => {
  it('an allocation that finds nothing drains the lists and retries (__alloc_pages_direct_reclaim)', () => {
    const { m, k } = machine();
    const one = m.allocPages(0); // leaves 62 pages on the unmovable list
    expect(k.pa.pcpPages).toBe(62);
    const free = allFree(m);
    const got = untilEnomem(() => m.allocPages(0, { gfp: GFP.MOVABLE }));
    expect(got.length).toBe(free);
    expect(k.pa.pcpPages).toBe(0);
    expect(freePages(m)).toBe(0);
    for (const p of got) m.freePages(p, 0);
    m.freePages(one, 0);
    m.check('full');
  });

  it('memory_failure on a page parked on a list finds it free (get_hwpoison_page disables the lists)', () => {
    const { m, k } = machine();
    const pfn = m.allocPages(0);
    m.freePages(pfn, 0);
    expect(m.page(pfn).type).toBe('none');
    const r = m.memoryFailure({ pfn, flags: ['sw_simulated'] });
    expect([r.type, r.result]).toEqual(['buddy', 'MF_RECOVERED']);
    expect(m.page(pfn).type).toBe('hwpoison');
    expect(k.pa.pcpPages).toBe(0);
    m.unpoisonMemory(pfn);
    m.check('full');
  });

  it('alloc_contig_range over parked pages drains the zone first', () => {
    const { m } = machine();
    const pfn = m.allocPages(0);
    m.freePages(pfn, 0);
    expect(m.allocContigRange(pfn, 8)).toBe(pfn);
    m.freeContigRange(pfn, 8);
    m.check('full');
  });

  it('soft offline migrates an LRU page, drains the old page off the list and poisons it', () => {
    const { m } = machine();
    const pid = m.spawn();
    const addr = m.mmap(pid, { length: 4096, prot: 'rw', flags: ['private', 'anonymous'] });
    m.touch(pid, addr, 4096, { write: true, byte: 7 });
    const pfn = m.translate(pid, addr)!.pfn;
    m.softOfflinePage(pfn);
    expect(m.page(pfn).type).toBe('hwpoison');
    expect(m.translate(pid, addr)!.pfn).not.toBe(pfn);
    expect(m.read(pid, addr, 1).bytes[0]).toBe(7);
    m.check('full');
  });

  it('compaction for an order drains the lists after migrating from a block (check_drain); compact_memory does not', () => {
    const setup = () => {
      const { m, z } = machine({ memory: '128M', thp: 'never' });
      const p = m.spawn();
      const n = Math.floor((m.meminfo().MemFree * 0.9) / 4);
      const a = m.mmap(p, { length: n * 4096, prot: 'rw', flags: ['private', 'anonymous'] });
      m.touch(p, a, n * 4096, { write: true });
      for (let i = 0; i < n; i += 2) m.madvise(p, a + i * 4096, 4096, 'dontneed');
      return { m, z };
    };
    const whole = setup();
    expect(whole.z.pcp.count).toBeGreaterThan(whole.z.pcp.batch);
    whole.m.compact({ zone: 'DMA32' });
    // Its frees went through the lists (which gave batches back past high), never drained whole.
    expect(whole.z.pcp.count).toBeGreaterThan(whole.z.pcp.batch);
    const ordered = setup();
    // No free order-9 block left (the last failure drained the lists), so compaction must work.
    untilEnomem(() => ordered.m.allocPages(9, { gfp: GFP.MOVABLE }));
    const [r] = ordered.m.compact({ zone: 'DMA32', order: 9 });
    // It migrated pages, whose old frames went to the lists, and drained them after each block.
    expect(r.migrated).toBeGreaterThan(0);
    // What is left on the lists is only the free scanner's unused blocks (release_free_list):
    // a few pages, where skipping the drain leaves thousands (3,520 here).
    expect(ordered.z.pcp.count).toBeLessThan(100);
    ordered.m.check('full');
  });

  it('a zap frees page by page to the lists; the full check holds and a drain returns everything', () => {
    const { m } = machine();
    const bootFree = freePages(m);
    const pid = m.spawn();
    const len = 3000 * 4096;
    const addr = m.mmap(pid, { length: len, prot: 'rw', flags: ['private', 'anonymous'] });
    m.touch(pid, addr, len, { write: true });
    m.check('full');
    m.exit(pid);
    m.check('full');
    m.drainAllPages();
    expect(freePages(m)).toBe(bootFree);
  });
});

describe('invariants', () => {
  it('the checks catch a parked frame that reads PageBuddy, and a pcp->count that does not add up', () => {
    const { m, k, pcp } = machine();
    const pfn = m.allocPages(0);
    m.freePages(pfn, 0);
    m.check('full');
    k.pa.memmap.set(pfn, mdWord(MT.BUDDY, 0, MIGRATE.UNMOVABLE), 0);
    expect(() => m.check('full')).toThrow(
      /pcp block 0x[0-9a-f]+ is typed buddy|typed buddy order 0 but no free list/,
    );
    k.pa.memmap.set(pfn, MT.NONE, 0);
    m.check('full');
    pcp.count++;
    expect(() => m.check('cheap')).toThrow(/pcp lists hold \d+ pages but pcp->count is/);
    pcp.count--;
    m.check('cheap');
  });

  test.prop(
    [
      fc.array(
        fc.record({
          order: fc.constantFrom(0, 0, 1, 2, 3, 5, 9),
          gfp: fc.constantFrom(0, GFP.MOVABLE, GFP.RECLAIMABLE),
          free: fc.nat(),
        }),
        { minLength: 1, maxLength: 60 },
      ),
    ],
    { numRuns: 40 },
  )('random allocations and frees: check full holds, and free + pcp is every page typed buddy', (ops) => {
    const { m, k } = machine();
    const bootFree = freePages(m);
    const live: { pfn: number; order: number }[] = [];
    for (const op of ops) {
      if (op.free % 3 === 0 && live.length > 0) {
        const [b] = live.splice(op.free % live.length, 1);
        m.freePages(b.pfn, b.order);
      } else live.push({ pfn: m.allocPages(op.order, { gfp: op.gfp }), order: op.order });
      expect(allFree(m)).toBe(k.stat.pagesByType[MT.BUDDY]);
    }
    m.check('full');
    for (const b of live) m.freePages(b.pfn, b.order);
    m.drainAllPages();
    expect(freePages(m)).toBe(bootFree);
    expect([...pcpBlocks(k.pa.zones[0])]).toEqual([]);
    m.check('full');
  });
});
