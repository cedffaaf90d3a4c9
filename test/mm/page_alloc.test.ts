import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/index.js';
import { MT } from '../../src/mm/memdesc.js';
import { GFP, GFP_KERNEL, MIGRATE } from '../../src/mm/mmzone.js';
import { setMigratetypeIsolate, unsetMigratetypeIsolate } from '../../src/mm/page_isolation.js';
import { PAGES_PER_SECTION } from '../../src/mm/types.js';
import {
  bootBuddyinfo,
  expectBug,
  expectErrno,
  observable,
  pagesOf,
  RESERVED_PAGES,
  untilEnomem,
} from '../helpers.js';

const ORDERS = Array.from({ length: 11 }, (_, k) => k);
/** 256 MiB: one DMA32 zone, two sections; the first holds the reserved ranges. */
const small = () => new Machine({ memory: '256M' });
const BOOT_256M = bootBuddyinfo(2);
const FREE_256M_KB = (pagesOf(256) - RESERVED_PAGES) * 4;

/** Sum of free pages a buddyinfo row stands for. */
const pagesIn = (free: number[]) => free.reduce((s, n, o) => s + n * (1 << o), 0);

describe('boot free lists', () => {
  it('frees every non-reserved frame at the largest order its alignment allows', () => {
    const m = small();
    expect(m.buddyinfo()).toEqual([{ nid: 0, zone: 'DMA32', free: BOOT_256M }]);
    expect(pagesIn(BOOT_256M)).toBe(pagesOf(256) - RESERVED_PAGES);
    expect(m.meminfo().MemFree).toBe(FREE_256M_KB);
    m.check('full');
  });
});

describe('buddy split and merge over every order', () => {
  it.each(ORDERS)('a movable order-%i allocation splits the smallest block that fits', (k) => {
    const m = small();
    // __rmqueue_smallest on the Movable lists: the smallest free order >= k is 8 (pfn 256),
    // then 9 (pfn 512), then 10 (pfn 1024, head of the ascending boot list).
    const src = Math.max(k, 8);
    const headOf: Record<number, number> = { 8: 256, 9: 512, 10: 1024 };
    const splits = m.stat.events.buddy_split;
    const pfn = m.allocPages(k, { gfp: GFP.MOVABLE });
    expect(pfn).toBe(headOf[src]);
    const want = [...BOOT_256M];
    want[src]--;
    // expand(): the upper halves go back, one block of every order from k to src-1.
    for (let j = k; j < src; j++) want[j]++;
    expect(m.buddyinfo()[0].free).toEqual(want);
    expect(m.stat.events.buddy_split - splits).toBe(src - k);
    for (let j = k; j < src; j++) {
      const half = m.page(pfn + (1 << j));
      expect([half.type, half.order, half.head]).toEqual(['buddy', j, pfn + (1 << j)]);
    }
    const p = m.page(pfn);
    expect([p.type, p.order, p.head, p.refcount]).toEqual(['unknown', k, pfn, 1]);
    expect(m.meminfo().MemFree).toBe(FREE_256M_KB - (1 << k) * 4);
    m.check('full');

    const merges = m.stat.events.buddy_merge;
    m.freePages(pfn, k);
    expect(m.buddyinfo()[0].free).toEqual(BOOT_256M);
    // split_large_buddy(): an order-10 block is freed as two pageblocks that merge once.
    expect(m.stat.events.buddy_merge - merges).toBe(k === 10 ? 1 : src - k);
    expect(m.meminfo().MemFree).toBe(FREE_256M_KB);
    expect(m.page(pfn)).toMatchObject({ type: 'buddy', order: src, head: pfn });
    m.check('full');
  });

  it.each(ORDERS)('an unmovable order-%i allocation steals the largest movable block', (k) => {
    const m = small();
    // No Unmovable lists exist at boot: __rmqueue_claim takes the largest Movable block
    // (order 10 at pfn 1024), claims its two pageblocks and splits it on the Unmovable lists.
    const pfn = m.allocPages(k, { gfp: GFP_KERNEL });
    expect(pfn).toBe(1024);
    const want = [...BOOT_256M];
    want[10]--;
    for (let j = k; j < 10; j++) want[j]++;
    expect(m.buddyinfo()[0].free).toEqual(want);
    expect(m.page(1024).migratetype).toBe('Unmovable');
    expect(m.page(1024 + 512).migratetype).toBe('Unmovable');
    for (let j = k; j < 10; j++) expect(m.page(pfn + (1 << j)).migratetype).toBe('Unmovable');
    m.check('full');

    m.freePages(pfn, k);
    expect(m.buddyinfo()[0].free).toEqual(BOOT_256M);
    // The claimed pageblocks keep their new type; the merged block lives on that list.
    expect(m.page(1024)).toMatchObject({ type: 'buddy', order: 10, migratetype: 'Unmovable' });
    m.check('full');
  });
});

describe('exhaustion', () => {
  it('is ENOMEM and leaves the machine as it was', () => {
    const m = small();
    const got: number[][] = [];
    for (let order = 10; order >= 0; order--)
      got[order] = untilEnomem(() => m.allocPages(order, { gfp: GFP.MOVABLE }));
    // Every order-10 block, then the order-9 and order-8 blocks, then nothing is left.
    expect(got.map((g) => g.length)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 59]);
    expect(m.meminfo().MemFree).toBe(0);
    expect(m.buddyinfo()[0].free).toEqual(new Array(11).fill(0));
    m.check('full');

    const before = observable(m);
    const fails = m.stat.events.pgalloc_fail;
    const err = expectErrno(() => m.allocPages(0), 'ENOMEM');
    expect(err.message).toMatch(/order 0/);
    expectErrno(() => m.folioAlloc(3), 'ENOMEM');
    expectErrno(() => m.kmalloc(64), 'ENOMEM');
    expectErrno(() => m.pagetableAlloc(1), 'ENOMEM');
    expect(observable(m)).toEqual(before);
    expect(m.stat.events.pgalloc_fail - fails).toBe(4);
    m.check('full');

    for (let order = 0; order <= 10; order++) for (const pfn of got[order]) m.freePages(pfn, order);
    expect(m.buddyinfo()[0].free).toEqual(BOOT_256M);
    expect(m.meminfo().MemFree).toBe(FREE_256M_KB);
    m.check('full');
  });

  it('a large order fails while smaller ones still succeed', () => {
    const m = small();
    untilEnomem(() => m.allocPages(10, { gfp: GFP.MOVABLE }));
    const before = observable(m);
    expectErrno(() => m.allocPages(10), 'ENOMEM');
    expect(observable(m)).toEqual(before);
    expect(m.allocPages(9, { gfp: GFP.MOVABLE })).toBe(512);
  });

  it('rejects orders and nodes that do not exist with EINVAL, changing nothing', () => {
    const m = small();
    const before = observable(m);
    expectErrno(() => m.allocPages(11), 'EINVAL');
    expectErrno(() => m.allocPages(-1), 'EINVAL');
    expectErrno(() => m.allocPages(0, { nid: 1 }), 'EINVAL');
    expect(observable(m)).toEqual(before);
  });
});

describe('fragmentation and coalescing', () => {
  it('every other page free leaves only order-0 blocks; freeing the rest rebuilds order-10 blocks', () => {
    const m = small();
    const pfns = untilEnomem(() => m.allocPages(0));
    expect(pfns.length).toBe(pagesOf(256) - RESERVED_PAGES);
    expect(new Set(pfns).size).toBe(pfns.length);
    expect(m.meminfo().MemFree).toBe(0);
    pfns.sort((a, b) => a - b);
    // The free ranges start at even pfns and have even lengths, so "every other" frees exactly
    // the even pfns, and no freed page finds its buddy free.
    const even = pfns.filter((_, i) => i % 2 === 0);
    expect(even.every((p) => p % 2 === 0)).toBe(true);
    for (const p of even) m.freePages(p, 0);
    const half = new Array(11).fill(0);
    half[0] = pfns.length / 2;
    expect(m.buddyinfo()[0].free).toEqual(half);
    m.check('full');

    for (const p of pfns.filter((_, i) => i % 2 === 1)) m.freePages(p, 0);
    expect(m.buddyinfo()[0].free).toEqual(BOOT_256M);
    expect(m.meminfo().MemFree).toBe(FREE_256M_KB);
    // The second section is entirely free again: its memmap is gone.
    expect(m.sections()).toEqual({ populated: 1, total: 2 });
    m.check('full');
  });
});

describe('deterministic PFN choice', () => {
  const op = fc.oneof(
    fc.record({ kind: fc.constant('alloc' as const), order: fc.nat(10), movable: fc.boolean() }),
    fc.record({ kind: fc.constant('free' as const), pick: fc.nat() }),
  );
  test.prop([fc.array(op, { maxLength: 60 })], { numRuns: 25 })(
    'two machines given the same operations hand out the same frames',
    (ops) => {
      const run = () => {
        const m = small();
        const live: [number, number][] = [];
        const trace: number[] = [];
        for (const o of ops) {
          if (o.kind === 'alloc') {
            try {
              const pfn = m.allocPages(o.order, { gfp: o.movable ? GFP.MOVABLE : GFP_KERNEL });
              live.push([pfn, o.order]);
              trace.push(pfn);
            } catch {
              trace.push(-1);
            }
          } else if (live.length > 0) {
            const [pfn, order] = live.splice(o.pick % live.length, 1)[0];
            m.freePages(pfn, order);
          }
        }
        return { trace, state: observable(m) };
      };
      const a = run();
      const b = run();
      expect(b.trace).toEqual(a.trace);
      expect(b.state).toEqual(a.state);
    },
  );
});

describe('zones and zone fallback', () => {
  /** 4 GiB + 256 MiB: DMA32 below 4 GiB (pfn 0x100000), 256 MiB of ZONE_NORMAL above it. */
  const NORMAL_START = 0x100000;
  const big = () => new Machine({ memory: '4352M' });

  it('lays out DMA32 below 4 GiB and Normal above', () => {
    const m = big();
    expect(m.zoneinfo().map((z) => [z.zone, z.startPfn, z.endPfn])).toEqual([
      ['DMA32', 0, NORMAL_START],
      ['Normal', NORMAL_START, NORMAL_START + pagesOf(256)],
    ]);
  });

  it('GFP_KERNEL takes ZONE_NORMAL first, then falls back to DMA32', () => {
    const m = big();
    const normal: number[] = [];
    for (let i = 0; i < 64; i++) normal.push(m.allocPages(10));
    expect(normal.every((p) => p >= NORMAL_START)).toBe(true);
    expect(m.zoneinfo()[1].free).toBe(0);
    const next = m.allocPages(10);
    expect(next).toBeLessThan(NORMAL_START);
    expect(m.page(next).zone).toBe('DMA32');
    m.check('full');
  });

  it('GFP_DMA32 allocations stay below 4 GiB even when ZONE_NORMAL is free', () => {
    const m = big();
    const first = m.allocPages(0, { gfp: GFP.DMA32 });
    expect(first).toBeLessThan(NORMAL_START);
    m.freePages(first, 0);
    const got: number[] = [];
    for (let order = 10; order >= 0; order--)
      for (const p of untilEnomem(() => m.allocPages(order, { gfp: GFP.DMA32 }))) got.push(p);
    expect(got.every((p) => p < NORMAL_START)).toBe(true);
    expect(m.zoneinfo()[0].free).toBe(0);
    // ZONE_NORMAL is untouched: 64 order-10 blocks, its section memmaps never allocated.
    expect(m.buddyinfo()[1].free[10]).toBe(64);
    expect(m.kernel.pa.memmap.isPopulated(NORMAL_START / PAGES_PER_SECTION)).toBe(false);
    expect(m.allocPages(0)).toBeGreaterThanOrEqual(NORMAL_START);
  });

  it('splits memory evenly over NUMA nodes and allocates on the requested node first', () => {
    const m = new Machine({ memory: '1G', nodes: 2 });
    const half = pagesOf(512);
    expect(m.zoneinfo().map((z) => [z.nid, z.zone, z.startPfn, z.endPfn])).toEqual([
      [0, 'DMA32', 0, half],
      [1, 'DMA32', half, 2 * half],
    ]);
    const p = m.allocPages(0, { nid: 1 });
    expect(p).toBeGreaterThanOrEqual(half);
    expect(m.page(p).nid).toBe(1);
    expect(m.allocPages(0, { nid: 0 })).toBeLessThan(half);
  });

  it('falls back to other nodes, except with __GFP_THISNODE', () => {
    const m = new Machine({ memory: '1G', nodes: 2 });
    const half = pagesOf(512);
    // Node 1 has no reserved ranges: 4 sections of 32 order-10 blocks.
    const node1 = untilEnomem(() => m.allocPages(10, { nid: 1, gfp: GFP.THISNODE }));
    expect(node1.length).toBe(128);
    expect(node1.every((p) => p >= half)).toBe(true);
    const before = observable(m);
    expectErrno(() => m.allocPages(0, { nid: 1, gfp: GFP.THISNODE }), 'ENOMEM');
    expect(observable(m)).toEqual(before);
    const spill = m.allocPages(0, { nid: 1 });
    expect(m.page(spill).nid).toBe(0);
    m.check('full');
  });

  it('orders the zonelist by node, preferred node first, highest zone first', () => {
    const m = new Machine({ memory: '1536M', nodes: 3, movable: '384M' });
    const list = [...m.kernel.pa.zonelist(GFP.MOVABLE, 1)].map((z) => `${z.nid}:${z.name}`);
    expect(list).toEqual(['1:Movable', '1:DMA32', '0:Movable', '0:DMA32', '2:Movable', '2:DMA32']);
    const kernel = [...m.kernel.pa.zonelist(GFP_KERNEL, 2)].map((z) => `${z.nid}:${z.name}`);
    expect(kernel).toEqual(['2:DMA32', '0:DMA32', '1:DMA32']);
  });
});

describe('ZONE_MOVABLE', () => {
  it('serves only movable allocations', () => {
    const m = new Machine({ memory: '1G', movable: '256M' });
    const movStart = pagesOf(768);
    expect(m.zoneinfo().map((z) => [z.zone, z.startPfn])).toEqual([
      ['DMA32', 0],
      ['Movable', movStart],
    ]);
    // A user folio prefers the highest zone it may use: Movable.
    const f = m.folioAlloc(0);
    expect(m.folioPfn(f)).toBeGreaterThanOrEqual(movStart);
    m.folioPut(f);
    const kernel: number[] = [];
    for (let order = 10; order >= 0; order--) kernel.push(...untilEnomem(() => m.allocPages(order)));
    expect(kernel.every((p) => p < movStart)).toBe(true);
    // Everything left is ZONE_MOVABLE, which GFP_KERNEL may not touch.
    expect(m.meminfo().MemFree).toBe(256 * 1024);
    expectErrno(() => m.kmalloc(32), 'ENOMEM');
    const g = m.folioAlloc(9);
    expect(m.page(m.folioPfn(g)).zone).toBe('Movable');
    m.check('full');
  });
});

describe('migratetypes: stealing and claiming pageblocks', () => {
  it('an unmovable request claims a whole stolen max-order block, then is served from it', () => {
    const m = small();
    const a = m.allocPages(0);
    expect(m.stat.events.pageblock_steal).toBe(1);
    const b = m.allocPages(0);
    expect(b).toBe(a + 1);
    expect(m.stat.events.pageblock_steal).toBe(1);
    // A movable request does not touch the Unmovable pageblocks while Movable memory exists.
    const mov = m.allocPages(0, { gfp: GFP.MOVABLE });
    expect(m.page(mov).migratetype).toBe('Movable');
    expect(m.kernel.pa.pageblockMigratetype(a)).toBe(MIGRATE.UNMOVABLE);
    m.check('full');
  });

  it('a reclaimable request claims its own pageblocks', () => {
    const m = small();
    const r = m.allocPages(0, { gfp: GFP.RECLAIMABLE });
    expect(m.page(r).migratetype).toBe('Reclaimable');
    expect(m.page(r + 512).migratetype).toBe('Reclaimable');
    const u = m.allocPages(0);
    // Unmovable falls back to Reclaimable first (fallbacks[]), taking the largest block there.
    expect(m.kernel.pa.pageblockMigratetype(u)).toBe(MIGRATE.UNMOVABLE);
    expect(m.stat.events.pageblock_steal).toBe(2);
    m.check('full');
  });

  it('a block smaller than half a pageblock is stolen alone; the pageblock keeps its type', () => {
    const m = small();
    const blocks = untilEnomem(() => m.allocPages(4, { gfp: GFP.MOVABLE }));
    expect(blocks.length).toBe((pagesOf(256) - RESERVED_PAGES) / 16);
    const x = blocks[blocks.length - 1];
    m.freePages(x, 4);
    const steals = m.stat.events.pageblock_steal;
    expect(m.allocPages(0)).toBe(x);
    expect(m.stat.events.pageblock_steal - steals).toBe(1);
    expect(m.kernel.pa.pageblockMigratetype(x)).toBe(MIGRATE.MOVABLE);
    // The rest of the stolen block stays on the Movable lists.
    for (let j = 0; j < 4; j++)
      expect(m.page(x + (1 << j))).toMatchObject({ type: 'buddy', order: j, migratetype: 'Movable' });
    m.check('full');
  });

  it('a block of at least half a pageblock claims the pageblock', () => {
    const m = small();
    const blocks = untilEnomem(() => m.allocPages(5, { gfp: GFP.MOVABLE }));
    const y = blocks[blocks.length - 1];
    m.freePages(y, 5);
    expect(m.allocPages(0)).toBe(y);
    expect(m.kernel.pa.pageblockMigratetype(y)).toBe(MIGRATE.UNMOVABLE);
    for (let j = 0; j < 5; j++)
      expect(m.page(y + (1 << j))).toMatchObject({ type: 'buddy', order: j, migratetype: 'Unmovable' });
    m.check('full');
  });

  it('merging free pageblocks of different types gives the buddy the freed block type', () => {
    const m = small();
    const blocks = untilEnomem(() => m.allocPages(9, { gfp: GFP.MOVABLE }));
    expect(blocks).toContain(1024);
    expect(blocks).toContain(1536);
    // Free pageblock 1024 and let an unmovable request claim it, then free that page again:
    // an Unmovable order-9 block next to an allocated Movable pageblock.
    m.freePages(1024, 9);
    expect(m.allocPages(0)).toBe(1024);
    m.freePages(1024, 0);
    expect(m.page(1024)).toMatchObject({ order: 9, migratetype: 'Unmovable' });
    // Freeing the Movable buddy merges the two; __free_one_page sets the buddy's pageblock to
    // the freed page's type, so both halves of the order-10 block agree with its list.
    m.freePages(1536, 9);
    expect(m.page(1024)).toMatchObject({ type: 'buddy', order: 10, migratetype: 'Movable' });
    expect(m.kernel.pa.pageblockMigratetype(1024)).toBe(MIGRATE.MOVABLE);
    expect(m.kernel.pa.pageblockMigratetype(1536)).toBe(MIGRATE.MOVABLE);
    m.check('full');
    // Splitting it again puts each half on the list of its own pageblock.
    m.allocPages(0, { gfp: GFP.MOVABLE });
    m.check('full');
  });
});

describe('CMA', () => {
  it('CMA pageblocks serve only movable allocations', () => {
    const m = new Machine({ memory: '1G', cma: '64M' });
    const cmaStart = pagesOf(1024 - 64);
    expect(m.meminfo().CmaTotal).toBe(64 * 1024);
    expect(m.meminfo().CmaFree).toBe(64 * 1024);
    expect(m.page(cmaStart).migratetype).toBe('CMA');
    expect(m.page(cmaStart - 512).migratetype).toBe('Movable');
    const kernel: number[] = [];
    for (let order = 10; order >= 0; order--) kernel.push(...untilEnomem(() => m.allocPages(order)));
    for (let order = 10; order >= 0; order--)
      kernel.push(...untilEnomem(() => m.allocPages(order, { gfp: GFP.RECLAIMABLE })));
    expect(kernel.every((p) => p < cmaStart)).toBe(true);
    // Only the CMA area is left, and it is all still free.
    expect(m.meminfo().MemFree).toBe(64 * 1024);
    expect(m.meminfo().CmaFree).toBe(64 * 1024);
    expect(m.buddyinfo()[0].free[10]).toBe(16);
    const mov = m.allocPages(0, { gfp: GFP.MOVABLE });
    expect(mov).toBeGreaterThanOrEqual(cmaStart);
    expect(m.meminfo().CmaFree).toBe(64 * 1024 - 4);
    // The CMA pageblock was not claimed by the movable request.
    expect(m.page(mov).migratetype).toBe('CMA');
    m.check('full');
  });
});

describe('CMA balancing (__rmqueue)', () => {
  it('a movable allocation takes CMA first once free CMA is more than half the zone free pages', () => {
    const m = new Machine({ memory: '1G', cma: '64M', check: 'cheap' });
    const cmaStart = pagesOf(1024 - 64);
    const zone = () => m.zoneinfo().find((z) => cmaStart >= z.startPfn && cmaStart < z.endPfn)!;
    const cmaFree = () => m.meminfo().CmaFree / 4;
    let last = { free: 0, cma: 0 };
    for (;;) {
      const before = { free: zone().free, cma: cmaFree() };
      const pfn = m.allocPages(9, { gfp: GFP.MOVABLE });
      if (pfn >= cmaStart) {
        // This one came from CMA because CMA held more than half of the zone's free memory...
        expect(before.cma).toBeGreaterThan(Math.floor(before.free / 2));
        // ... while plenty of ordinary movable memory was still free (not a last resort).
        expect(before.free - before.cma).toBeGreaterThan(8192);
        break;
      }
      last = before;
    }
    // The allocation before it did not meet the rule and stayed out of CMA.
    expect(last.cma).toBeLessThanOrEqual(Math.floor(last.free / 2));
    // Unmovable requests never take CMA, however much of it is free.
    expect(m.allocPages(0)).toBeLessThan(cmaStart);
    m.check('full');
  });
});

describe('CMA pageblocks and isolation', () => {
  const cmaStart = pagesOf(1024 - 64);
  const cmaSection = Math.floor(cmaStart / PAGES_PER_SECTION);

  it('an isolated CMA pageblock gets its type back when unisolated', () => {
    const m = new Machine({ memory: '1G', cma: '64M' });
    setMigratetypeIsolate(m.kernel.pa, cmaStart);
    expect(m.page(cmaStart).migratetype).toBe('Isolate');
    expect(m.meminfo().CmaFree).toBe((64 - 2) * 1024);
    unsetMigratetypeIsolate(m.kernel.pa, cmaStart);
    expect(m.page(cmaStart)).toMatchObject({ type: 'buddy', order: 10, migratetype: 'CMA' });
    expect(m.meminfo().CmaFree).toBe(64 * 1024);
    // Whole again, the section gives its memmap back.
    expect(m.kernel.pa.memmap.isPopulated(cmaSection)).toBe(false);
    m.check('full');
  });

  it('two isolated buddy pageblocks that merged split again when one is unisolated; both back, the section is whole', () => {
    const m = new Machine({ memory: '256M', check: 'full' });
    const pa = m.kernel.pa;
    const pb = (n: number) => n * 512;
    setMigratetypeIsolate(pa, pb(98));
    const f = m.folioAlloc(9, { gfp: GFP.MOVABLE });
    expect(m.folioPfn(f)).toBe(pb(99));
    setMigratetypeIsolate(pa, pb(99));
    m.folioPut(f); // same type on both sides: the isolated pair merges (__free_one_page)
    expect(m.page(pb(98))).toMatchObject({ type: 'buddy', order: 10, migratetype: 'Isolate' });
    unsetMigratetypeIsolate(pa, pb(98));
    // Only pageblock 98 changed type: the order-10 block was split first, 99 stays isolated.
    expect(m.page(pb(98))).toMatchObject({ type: 'buddy', order: 9, migratetype: 'Movable' });
    expect(m.page(pb(99))).toMatchObject({ type: 'buddy', order: 9, migratetype: 'Isolate' });
    unsetMigratetypeIsolate(pa, pb(99));
    expect(m.page(pb(98))).toMatchObject({ type: 'buddy', order: 10, migratetype: 'Movable' });
    expect(m.sections().populated).toBe(1);
  });

  it('a CMA pageblock given another type never merges with its CMA buddy', () => {
    const m = new Machine({ memory: '1G', cma: '64M' });
    setMigratetypeIsolate(m.kernel.pa, cmaStart);
    unsetMigratetypeIsolate(m.kernel.pa, cmaStart, MIGRATE.MOVABLE);
    expect(m.page(cmaStart)).toMatchObject({ type: 'buddy', order: 9, migratetype: 'Movable' });
    expect(m.page(cmaStart + 512)).toMatchObject({ type: 'buddy', order: 9, migratetype: 'CMA' });
    // Entirely free, but not as whole max-order blocks: the section keeps its memmap.
    expect(m.kernel.pa.memmap.isPopulated(cmaSection)).toBe(true);
    m.check('full');
    const p = m.allocPages(0, { gfp: GFP.MOVABLE });
    m.freePages(p, 0);
    expect(m.kernel.pa.memmap.isPopulated(cmaSection)).toBe(true);
    m.check('full');
  });
});

describe('pageblock isolation', () => {
  /** A pageblock in the second (entirely free) section of a 256M machine. */
  const PB = 0x9c00;

  it('makes its free blocks unallocatable until it is unisolated', () => {
    const m = small();
    setMigratetypeIsolate(m.kernel.pa, PB);
    expect(m.page(PB).migratetype).toBe('Isolate');
    // The order-10 block it was part of is split so only this pageblock changes type.
    expect(m.page(PB + 512)).toMatchObject({ type: 'buddy', order: 9, migratetype: 'Movable' });
    m.check('full');
    const got: number[] = [];
    for (let order = 10; order >= 0; order--)
      got.push(...untilEnomem(() => m.allocPages(order, { gfp: GFP.MOVABLE })));
    expect(got.some((p) => p >= PB && p < PB + 512)).toBe(false);
    const left = new Array(11).fill(0);
    left[9] = 1;
    expect(m.buddyinfo()[0].free).toEqual(left);
    expect(m.page(PB)).toMatchObject({ type: 'buddy', order: 9, migratetype: 'Isolate' });
    m.check('full');

    unsetMigratetypeIsolate(m.kernel.pa, PB);
    expect(m.allocPages(9, { gfp: GFP.MOVABLE })).toBe(PB);
    m.check('full');
  });

  it('unisolating merges the pageblock back with its free buddy', () => {
    const m = small();
    setMigratetypeIsolate(m.kernel.pa, PB);
    const split = [...BOOT_256M];
    split[10]--;
    split[9] += 2;
    expect(m.buddyinfo()[0].free).toEqual(split);
    expect(m.sections().populated).toBe(2);
    unsetMigratetypeIsolate(m.kernel.pa, PB);
    expect(m.page(PB)).toMatchObject({ type: 'buddy', order: 10, migratetype: 'Movable' });
    expect(m.buddyinfo()[0].free).toEqual(BOOT_256M);
    m.check('full');
  });

  it('frees into an isolated pageblock stay there and never merge across it', () => {
    const m = small();
    const p = m.allocPages(10, { gfp: GFP.MOVABLE });
    setMigratetypeIsolate(m.kernel.pa, p);
    m.freePages(p, 10);
    expect(m.page(p)).toMatchObject({ type: 'buddy', order: 9, migratetype: 'Isolate' });
    expect(m.page(p + 512)).toMatchObject({ type: 'buddy', order: 9, migratetype: 'Movable' });
    m.check('full');
  });

  it('refuses to isolate twice or to unisolate a live pageblock', () => {
    const m = small();
    setMigratetypeIsolate(m.kernel.pa, PB);
    expectErrno(() => setMigratetypeIsolate(m.kernel.pa, PB + 7), 'EBUSY');
    expectErrno(() => unsetMigratetypeIsolate(m.kernel.pa, PB + 512), 'EINVAL');
  });
});

describe('sections and their memmap', () => {
  it('populates a section on first use and drops its memmap when it is entirely free again', () => {
    const m = new Machine({ memory: '4352M' });
    const s = 0x100000 / PAGES_PER_SECTION;
    expect(m.sections()).toEqual({ populated: 1, total: 34 });
    expect(m.kernel.pa.memmap.isPopulated(s)).toBe(false);
    // An unpopulated section still reads as free max-order blocks.
    expect(m.page(0x100000)).toMatchObject({ type: 'buddy', order: 10 });
    expect(m.page(0x100005)).toMatchObject({ type: 'buddy', order: 10, head: 0x100000 });
    const hostBefore = m.hostBytes().memmap;

    const a = m.allocPages(0);
    const b = m.allocPages(0);
    expect([a, b]).toEqual([0x100000, 0x100001]);
    expect(m.kernel.pa.memmap.isPopulated(s)).toBe(true);
    expect(m.stat.events.section_populate).toBe(2);
    // 8 bytes of memdesc per frame of the populated section.
    expect(m.hostBytes().memmap - hostBefore).toBe(PAGES_PER_SECTION * 8);
    expect(m.kernel.pa.memmap.type(a)).toBe(MT.UNKNOWN);
    m.check('full');

    m.freePages(a, 0);
    expect(m.kernel.pa.memmap.isPopulated(s)).toBe(true);
    m.freePages(b, 0);
    expect(m.kernel.pa.memmap.isPopulated(s)).toBe(false);
    expect(m.stat.events.section_depopulate).toBe(1);
    expect(m.hostBytes().memmap).toBe(hostBefore);
    expect(m.page(a)).toMatchObject({ type: 'buddy', order: 10, head: 0x100000 });
    m.check('full');
  });

  it('never drops the memmap of a section holding reserved frames', () => {
    const m = small();
    const p = m.allocPages(8, { gfp: GFP.MOVABLE });
    expect(p).toBe(256);
    m.freePages(p, 8);
    expect(m.kernel.pa.memmap.isPopulated(0)).toBe(true);
    expect(m.page(0).type).toBe('reserved');
    expect(m.stat.events.section_depopulate).toBe(0);
  });
});

describe('the zero pages', () => {
  it('the shared zero page lives in the reserved kernel image', () => {
    const m = small();
    expect(m.zeroPfn).toBeGreaterThanOrEqual(4096);
    expect(m.zeroPfn).toBeLessThan(8192);
    expect(m.page(m.zeroPfn)).toMatchObject({ type: 'zero', refcount: 1, folio: 0 });
    expect(m.meminfo().pagelab_Reserved).toBe(RESERVED_PAGES * 4);
  });

  it('the huge zero folio is one PMD-sized block taken on first use, and only once', () => {
    const m = small();
    const free0 = m.meminfo().MemFree;
    const pfn = m.hugeZeroPfn();
    expect(pfn % 512).toBe(0);
    expect(m.hugeZeroPfn()).toBe(pfn);
    expect(m.meminfo().MemFree).toBe(free0 - 512 * 4);
    for (const p of [pfn, pfn + 1, pfn + 511]) expect(m.page(p)).toMatchObject({ type: 'zero', head: pfn });
    expect(m.page(pfn + 512).type).not.toBe('zero');
    expect(m.kernel.pa.isZeroPfn(pfn + 300)).toBe(true);
    expect(m.kernel.pa.isZeroPfn(pfn + 512)).toBe(false);
    expect(m.pageFolio(pfn)).toBe(0);
    m.check('full');
  });
});

describe('__free_pages misuse', () => {
  it('double free, wrong order, a tail frame or a non-page are KernelBugs that change nothing', () => {
    const m = small();
    const p = m.allocPages(2, { gfp: GFP.MOVABLE });
    const q = m.allocPages(0, { gfp: GFP.MOVABLE });
    m.freePages(q, 0);
    const before = observable(m);
    expectBug(() => m.freePages(q, 0), q, /__free_pages: page not allocated/);
    expectBug(() => m.freePages(p, 1), p, /wrong page or order/);
    expectBug(() => m.freePages(p + 1, 2), p + 1, /wrong page or order/);
    expectBug(() => m.freePages(0, 0), 0, /page not allocated/);
    expectBug(() => m.freePages(m.zeroPfn, 0), m.zeroPfn, /page not allocated/);
    expectBug(() => m.freePages(1 << 30, 0), 1 << 30, /page not allocated/);
    const f = m.folioAlloc(0);
    const fp = m.folioPfn(f);
    const withFolio = observable(m);
    expectBug(() => m.freePages(fp, 0), fp, /page not allocated/);
    expect(observable(m)).toEqual(withFolio);
    m.folioPut(f);
    expect(observable(m)).toEqual(before);
    m.freePages(p, 2);
    expect(m.buddyinfo()[0].free).toEqual(BOOT_256M);
    m.check('full');
  });
});
