import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { checkInvariants, InvariantViolation } from '../../src/check/invariants.js';
import { LAYOUTS, Machine } from '../../src/index.js';
import type { FolioId, PtdescId } from '../../src/machine/ids.js';
import { MT, mdWord } from '../../src/mm/memdesc.js';
import { GFP, GFP_KERNEL, MIGRATE } from '../../src/mm/mmzone.js';
import {
  findFreeBlock,
  setMigratetypeIsolate,
  unsetMigratetypeIsolate,
} from '../../src/mm/page_isolation.js';
import { PTRS_PER_TABLE } from '../../src/mm/pgtable.js';
import { KernelError, PAGE_SIZE } from '../../src/mm/types.js';
import { bootBuddyinfo, observable } from '../helpers.js';

describe('invariants hold over long random operation sequences', () => {
  const GFPS = [GFP_KERNEL, GFP.MOVABLE, GFP.RECLAIMABLE, GFP.DMA32];
  const op = fc.oneof(
    fc.record({ op: fc.constant('pages' as const), order: fc.nat(10), gfp: fc.nat(GFPS.length - 1) }),
    fc.record({
      op: fc.constant('folio' as const),
      order: fc.constantFrom(0, 0, 0, 1, 2, 4, 9),
      file: fc.boolean(),
    }),
    fc.record({ op: fc.constant('get' as const), pick: fc.nat() }),
    fc.record({ op: fc.constant('kmalloc' as const), size: fc.integer({ min: 1, max: 40000 }) }),
    fc.record({ op: fc.constant('slab' as const), cache: fc.nat(2) }),
    fc.record({ op: fc.constant('pt' as const), level: fc.integer({ min: 1, max: 4 }) }),
    fc.record({ op: fc.constant('isolate' as const), pageblock: fc.nat(127) }),
    { weight: 4, arbitrary: fc.record({ op: fc.constant('free' as const), pick: fc.nat() }) },
  );
  type Obj =
    | { k: 'pages'; pfn: number; order: number }
    | { k: 'folio'; h: FolioId }
    | { k: 'kmalloc'; addr: number }
    | { k: 'slab'; cache: string; addr: number }
    | { k: 'pt'; h: PtdescId };

  test.prop([fc.array(op, { minLength: 20, maxLength: 200 }), fc.constantFrom(...LAYOUTS)], { numRuns: 30 })(
    "check 'full' after every step under either memmap layout; everything freed gives back the boot state",
    (ops, design) => {
      const m = new Machine({ memory: '256M', check: 'full', design });
      const boot = m.meminfo().MemFree;
      for (const [n, size] of [
        ['a', 48],
        ['b', 520],
        ['c', 2100],
      ] as const)
        m.kmemCacheCreate(n, size);
      const live: Obj[] = [];
      const isolated = new Set<number>();
      const attempt = (fn: () => void) => {
        const before = observable(m);
        try {
          fn();
        } catch (e) {
          // Only ENOMEM may fail, and it changes nothing.
          expect(e).toBeInstanceOf(KernelError);
          expect((e as KernelError).errno).toBe('ENOMEM');
          expect(observable(m)).toEqual(before);
        }
      };
      for (const o of ops) {
        switch (o.op) {
          case 'pages':
            attempt(() =>
              live.push({ k: 'pages', pfn: m.allocPages(o.order, { gfp: GFPS[o.gfp] }), order: o.order }),
            );
            break;
          case 'folio':
            attempt(() =>
              live.push({ k: 'folio', h: m.folioAlloc(o.order, { kind: o.file ? 'file' : 'anon' }) }),
            );
            break;
          case 'get': {
            const folios = live.filter((x) => x.k === 'folio');
            if (folios.length === 0) break;
            const f = folios[o.pick % folios.length];
            m.folioGet(f.h);
            live.push({ k: 'folio', h: f.h });
            break;
          }
          case 'kmalloc':
            attempt(() => live.push({ k: 'kmalloc', addr: m.kmalloc(o.size) }));
            break;
          case 'slab': {
            const cache = ['a', 'b', 'c'][o.cache];
            attempt(() => live.push({ k: 'slab', cache, addr: m.kmemCacheAlloc(cache) }));
            break;
          }
          case 'pt':
            attempt(() => live.push({ k: 'pt', h: m.pagetableAlloc(o.level) }));
            break;
          case 'isolate': {
            const pfn = o.pageblock * 512;
            if (isolated.delete(pfn)) unsetMigratetypeIsolate(m.kernel.pa, pfn);
            else {
              setMigratetypeIsolate(m.kernel.pa, pfn);
              isolated.add(pfn);
            }
            m.check('full');
            break;
          }
          case 'free': {
            if (live.length === 0) break;
            const x = live.splice(o.pick % live.length, 1)[0];
            if (x.k === 'pages') m.freePages(x.pfn, x.order);
            else if (x.k === 'folio') m.folioPut(x.h);
            else if (x.k === 'kmalloc') m.kfree(x.addr);
            else if (x.k === 'slab') m.kmemCacheFree(x.cache, x.addr);
            else m.pagetableFree(x.h);
            break;
          }
        }
      }
      // Free what is left in a shuffled but reproducible order, then undo isolation.
      const order = live.map((_, i) => i).sort((a, b) => ((a * 7919) % 101) - ((b * 7919) % 101) || a - b);
      for (const i of order) {
        const x = live[i];
        if (x.k === 'pages') m.freePages(x.pfn, x.order);
        else if (x.k === 'folio') m.folioPut(x.h);
        else if (x.k === 'kmalloc') m.kfree(x.addr);
        else if (x.k === 'slab') m.kmemCacheFree(x.cache, x.addr);
        else m.pagetableFree(x.h);
      }
      for (const pfn of isolated) unsetMigratetypeIsolate(m.kernel.pa, pfn);
      m.check('full');
      expect(m.meminfo().MemFree).toBe(boot);
      expect(m.meminfo()).toMatchObject({
        AnonPages: 0,
        Cached: 0,
        Slab: 0,
        PageTables: 0,
      });
      expect(m.buddyinfo()[0].free).toEqual(bootBuddyinfo(2));
      expect(m.sections().populated).toBe(1);
      const k = m.kernel;
      expect([k.folios.live, k.slab.live, k.ptdesc.live]).toEqual([0, 0, 0]);
    },
  );
});

describe('invariants hold on a machine with several nodes and zones', () => {
  // 4.5 GiB over two nodes with 256 MiB of ZONE_MOVABLE each and 64 MiB of CMA:
  //   node 0: DMA32 [0, 0x80000) with CMA at [0x7c000, 0x80000), Movable [0x80000, 0x90000)
  //   node 1: DMA32 [0x90000, 0x100000), Normal [0x100000, 0x110000), Movable [0x110000, 0x120000)
  const config = { memory: '4608M', nodes: 2, movable: '512M', cma: '64M' } as const;
  const GFPS = [
    GFP_KERNEL,
    GFP.MOVABLE,
    GFP.RECLAIMABLE,
    GFP.DMA32,
    GFP.THISNODE,
    GFP.MOVABLE | GFP.THISNODE,
  ];
  /** Pageblocks at zone, node and CMA edges. */
  const EDGES = [0, 992, 1023, 1024, 1151, 1152, 2047, 2048, 2175, 2303];
  const op = fc.oneof(
    fc.record({
      op: fc.constant('pages' as const),
      order: fc.nat(10),
      gfp: fc.nat(GFPS.length - 1),
      nid: fc.nat(1),
    }),
    fc.record({ op: fc.constant('folio' as const), order: fc.constantFrom(0, 2, 9, 10), nid: fc.nat(1) }),
    fc.record({
      op: fc.constant('kmalloc' as const),
      size: fc.integer({ min: 1, max: 40000 }),
      nid: fc.nat(1),
    }),
    fc.record({ op: fc.constant('isolate' as const), pageblock: fc.constantFrom(...EDGES) }),
    { weight: 3, arbitrary: fc.record({ op: fc.constant('free' as const), pick: fc.nat() }) },
  );
  type Obj =
    | { k: 'pages'; pfn: number; order: number }
    | { k: 'folio'; h: FolioId }
    | { k: 'kmalloc'; addr: number };

  test.prop([fc.array(op, { minLength: 20, maxLength: 200 })], { numRuns: 10 })(
    "check 'full' after every step; allocations land where their GFP flags allow",
    (ops) => {
      const m = new Machine({ ...config, check: 'full' });
      const boot = observable(m);
      const live: Obj[] = [];
      const isolated = new Set<number>();
      const free = (x: Obj) => {
        if (x.k === 'pages') m.freePages(x.pfn, x.order);
        else if (x.k === 'folio') m.folioPut(x.h);
        else m.kfree(x.addr);
      };
      for (const o of ops) {
        if (o.op === 'pages') {
          const gfp = GFPS[o.gfp];
          const pfn = m.allocPages(o.order, { gfp, nid: o.nid });
          live.push({ k: 'pages', pfn, order: o.order });
          const p = m.page(pfn);
          if (gfp & GFP.DMA32) expect(pfn + (1 << o.order)).toBeLessThanOrEqual(0x100000);
          if (gfp & GFP.THISNODE) expect(p.nid).toBe(o.nid);
          if (!(gfp & GFP.MOVABLE)) {
            expect(p.zone).not.toBe('Movable');
            expect(p.migratetype).not.toBe('CMA');
          }
        } else if (o.op === 'folio') {
          const movable = m.buddyinfo().find((z) => z.nid === o.nid && z.zone === 'Movable')!;
          const fits = movable.free.some((n, order) => n > 0 && order >= o.order);
          const h = m.folioAlloc(o.order, { nid: o.nid });
          live.push({ k: 'folio', h });
          // A user folio prefers its node's ZONE_MOVABLE while a block there fits.
          if (fits) expect(m.page(m.folioPfn(h))).toMatchObject({ zone: 'Movable', nid: o.nid });
        } else if (o.op === 'kmalloc') {
          const addr = m.kmalloc(o.size, { nid: o.nid });
          live.push({ k: 'kmalloc', addr });
          const p = m.page(Math.floor(addr / PAGE_SIZE));
          expect(p.zone).not.toBe('Movable');
          expect(p.migratetype).not.toBe('CMA');
        } else if (o.op === 'isolate') {
          const pfn = o.pageblock * 512;
          const was = m.page(pfn).migratetype;
          if (isolated.delete(pfn)) unsetMigratetypeIsolate(m.kernel.pa, pfn);
          else {
            setMigratetypeIsolate(m.kernel.pa, pfn);
            isolated.add(pfn);
          }
          m.check('full');
          if (was === 'Isolate') expect(m.page(pfn).migratetype).not.toBe('Isolate');
        } else if (live.length > 0) free(live.splice(o.pick % live.length, 1)[0]);
      }
      for (const x of live) free(x);
      for (const pfn of isolated) unsetMigratetypeIsolate(m.kernel.pa, pfn);
      m.check('full');
      const after = observable(m);
      expect(after.meminfo).toEqual(boot.meminfo);
      expect(after.buddyinfo).toEqual(boot.buddyinfo);
      expect(after.sections).toEqual(boot.sections);
      // CMA pageblocks stay CMA through isolation and back.
      expect(m.page(0x7c000).migratetype).toBe('CMA');
      expect(m.page(0x7fe00).migratetype).toBe('CMA');
    },
  );
});

describe('the checker catches corruption', () => {
  /** A machine with one of everything, passing every check. */
  function populated() {
    const m = new Machine({ memory: '256M' });
    m.kmemCacheCreate('c', 600);
    const o = {
      small: m.folioAlloc(0),
      large: m.folioAlloc(4),
      pages: m.allocPages(2),
      slabObj: m.kmemCacheAlloc('c'),
      big: m.kmalloc(20000),
      pt: m.pagetableAlloc(1),
      free: m.allocPages(0),
    };
    m.freePages(o.free, 0);
    m.check('full');
    return { m, o, k: m.kernel };
  }

  /** Expect `level` to report a violation matching `pattern`; then undo and expect a clean check. */
  function expectCaught(
    m: Machine,
    level: 'cheap' | 'full',
    corrupt: () => () => void,
    pattern: RegExp,
  ): void {
    const undo = corrupt();
    let caught: unknown;
    try {
      checkInvariants(m.kernel, level);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(InvariantViolation);
    expect((caught as InvariantViolation).violations.join('\n')).toMatch(pattern);
    undo();
    m.check('full');
  }

  it('a zone free counter that disagrees with its lists', () => {
    const { m, k } = populated();
    const z = k.pa.zones[0];
    expectCaught(
      m,
      'cheap',
      () => {
        z.freePages += 1;
        return () => {
          z.freePages -= 1;
        };
      },
      /free lists hold \d+ pages but nr_free_pages is/,
    );
  });

  it('a per-type page counter that does not add up', () => {
    const { m, k } = populated();
    expectCaught(
      m,
      'cheap',
      () => {
        k.stat.pagesByType[MT.SLAB] += 2;
        return () => {
          k.stat.pagesByType[MT.SLAB] -= 2;
        };
      },
      /slabs cover 2 pages, counters say 4/,
    );
  });

  it('a live folio with refcount 0 or below its mapcount', () => {
    const { m, k, o } = populated();
    const row = o.small >>> 0;
    expectCaught(
      m,
      'cheap',
      () => {
        k.folios.refcount[row] = 0;
        return () => {
          k.folios.refcount[row] = 1;
        };
      },
      /live with refcount 0/,
    );
    expectCaught(
      m,
      'cheap',
      () => {
        k.folios.mapcount[row] = 1; // two mappings, one reference
        return () => {
          k.folios.mapcount[row] = -1;
        };
      },
      /refcount 1 below mapcount 2/,
    );
  });

  it("a folio head's memdesc word that names another type", () => {
    const { m, k, o } = populated();
    const pfn = m.folioPfn(o.small);
    expectCaught(
      m,
      'cheap',
      () => {
        k.pa.memmap.set(pfn, mdWord(MT.FILE), o.small >>> 0);
        return () => k.pa.memmap.set(pfn, mdWord(MT.ANON), o.small >>> 0);
      },
      /memdesc says file\/order 0/,
    );
  });

  describe("a tail frame's memdesc word", () => {
    const cases: [string, (row: number) => [number, number], RegExp][] = [
      ['retyped to none', () => [MT.NONE, 0], /typed none outside any free block/],
      [
        'retyped to a free head no list holds',
        () => [mdWord(MT.BUDDY, 0, MIGRATE.MOVABLE), 0],
        /no free list/,
      ],
      [
        'retyped to file',
        (row) => [mdWord(MT.FILE, 4), row],
        /typed file order 4, its folio is anon order 4/,
      ],
      [
        'with the wrong order',
        (row) => [mdWord(MT.ANON, 3), row],
        /typed anon order 3, its folio is anon order 4/,
      ],
    ];
    it.each(cases)('%s', (_, word, pattern) => {
      const { m, k, o } = populated();
      const row = o.large >>> 0;
      const tail = m.folioPfn(o.large) + 7;
      expectCaught(
        m,
        'full',
        () => {
          const [lo, hi] = word(row);
          k.pa.memmap.set(tail, lo, hi);
          return () => k.pa.memmap.set(tail, mdWord(MT.ANON, 4), row);
        },
        pattern,
      );
    });
  });

  it('a frame pointing at a folio that does not cover it', () => {
    const { m, k, o } = populated();
    const row = o.large >>> 0;
    const other = m.folioPfn(o.small);
    expectCaught(
      m,
      'full',
      () => {
        k.pa.memmap.set(other, mdWord(MT.ANON, 4), row);
        return () => k.pa.memmap.set(other, mdWord(MT.ANON), o.small >>> 0);
      },
      /does not cover it/,
    );
  });

  it('a free block whose head word has the wrong order', () => {
    const { m, k, o } = populated();
    // o.free went back to the allocator as the head of a free block.
    const blk = findFreeBlock(k.pa, o.free)!;
    expectCaught(
      m,
      'full',
      () => {
        const lo = k.pa.memmap.lo(blk.pfn);
        const hi = k.pa.memmap.hi(blk.pfn);
        k.pa.memmap.set(blk.pfn, mdWord(MT.BUDDY, blk.order + 1, MIGRATE.UNMOVABLE), hi);
        return () => k.pa.memmap.set(blk.pfn, lo, hi);
      },
      new RegExp(`free block 0x${blk.pfn.toString(16)} on list order ${blk.order}`),
    );
  });

  it('a free-list block count that disagrees with the list', () => {
    const { m, k } = populated();
    const z = k.pa.zones[0];
    // Order 10, Movable: the boot blocks of the second section.
    const li = 10 * 5 + MIGRATE.MOVABLE;
    expectCaught(
      m,
      'full',
      () => {
        z.nrFree[li] += 1;
        z.freePages += 1024;
        return () => {
          z.nrFree[li] -= 1;
          z.freePages -= 1024;
        };
      },
      /list order 10\/1 holds \d+ blocks, counted/,
    );
  });

  it('slab counters and slab frames', () => {
    const { m, k, o } = populated();
    const pfn = Math.floor(o.slabObj / PAGE_SIZE);
    const row = k.pa.memmap.hi(pfn);
    const c = k.slab.cacheByName('c')!;
    expectCaught(
      m,
      'cheap',
      () => {
        k.slab.inuse[row] += 1;
        return () => {
          k.slab.inuse[row] -= 1;
        };
      },
      /inuse 2 \+ free \d+ != 13/,
    );
    expectCaught(
      m,
      'cheap',
      () => {
        c.activeObjects += 1;
        return () => {
          c.activeObjects -= 1;
        };
      },
      /cache c: counts 1 slabs\/2 objects, found 1\/1/,
    );
    // The slab is order 1; its second frame pointing at a dead slab row.
    expectCaught(
      m,
      'full',
      () => {
        k.pa.memmap.set(pfn + 1, mdWord(MT.SLAB, 1), row + 40);
        return () => k.pa.memmap.set(pfn + 1, mdWord(MT.SLAB, 1), row);
      },
      /dead slab row/,
    );
    // ... or its second frame forgotten.
    expectCaught(
      m,
      'full',
      () => {
        k.pa.memmap.set(pfn + 1, MT.NONE, 0);
        return () => k.pa.memmap.set(pfn + 1, mdWord(MT.SLAB, 1), row);
      },
      /typed none outside any free block/,
    );
  });

  it('a page-table frame that does not point at its ptdesc', () => {
    const { m, k, o } = populated();
    const pfn = m.pagetablePfn(o.pt);
    expectCaught(
      m,
      'cheap',
      () => {
        k.pa.memmap.set(pfn, mdWord(MT.PGTABLE), (o.pt >>> 0) + 1);
        return () => k.pa.memmap.set(pfn, mdWord(MT.PGTABLE), o.pt >>> 0);
      },
      /memdesc does not point at its ptdesc/,
    );
    expect(PTRS_PER_TABLE).toBe(512);
  });

  it('an allocated page that reads as part of a free block', () => {
    const { m, k, o } = populated();
    const pfn = o.pages + 1; // a tail frame of an order-2 alloc_pages() block
    expectCaught(
      m,
      'full',
      () => {
        k.pa.memmap.set(pfn, MT.NONE, 0);
        return () => k.pa.memmap.set(pfn, mdWord(MT.UNKNOWN, 2), k.folios.pageRow(o.pages));
      },
      /typed none outside any free block/,
    );
  });

  it("is silent at level 'off' and on a healthy machine", () => {
    const { k } = populated();
    k.pa.zones[0].freePages += 1;
    expect(() => checkInvariants(k, 'off')).not.toThrow();
    k.pa.zones[0].freePages -= 1;
    expect(() => checkInvariants(k, 'full')).not.toThrow();
  });

  it("a machine with check: 'cheap' refuses to go on after corruption", () => {
    const m = new Machine({ memory: '256M', check: 'cheap' });
    m.kernel.stat.pagesByType[MT.ANON] += 1;
    expect(() => m.folioAlloc(0)).toThrow(InvariantViolation);
  });
});
