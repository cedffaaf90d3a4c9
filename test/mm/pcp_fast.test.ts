/**
 * The order-0 fast paths (rmqueuePcpOrder0 + installSmallRow, freeSmall + freeFrozenPage0) are
 * the general paths written out flat for the compiler. Differential: the same random operations
 * on two machines, one through the public API (fast paths where they apply), one forcing every
 * order-0 allocation through PageAlloc.rmqueue + installRow and every free through free() +
 * freeFrozenPages, must return the same frames and leave the same state, field for field.
 */
import { fc, test } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import { Machine } from '../../src/index.js';
import type { FolioPool } from '../../src/mm/folio.js';
import { MT } from '../../src/mm/memdesc.js';
import { GFP } from '../../src/mm/mmzone.js';

type Kind = 'unknown' | 'anon' | 'file';
type Op =
  | { op: 'alloc'; order: number; gfp: number; nid: number; kind: Kind }
  | { op: 'free'; which: number }
  | { op: 'drain' }
  | { op: 'pin'; on: boolean }
  | { op: 'contig'; which: number };

const TYPE = { unknown: MT.UNKNOWN, anon: MT.ANON, file: MT.FILE } as const;

/** The general path's private steps, as a test may reach them. */
interface General {
  installRow(pfn: number, order: number, kind: number): number;
  free(row: number): void;
}
const general = (f: FolioPool) => f as unknown as General;

function state(m: Machine): unknown {
  const k = m.kernel;
  const pa = k.pa;
  const zones = pa.zones.map((z) => ({
    freePages: z.freePages,
    pgalloc: z.pgalloc,
    pcp: {
      count: z.pcp.count,
      high: z.pcp.high,
      freeCount: z.pcp.freeCount,
      allocFactor: z.pcp.allocFactor,
      flags: z.pcp.flags,
      lists: z.pcp.lists.map((l) => Array.from({ length: l.length }, (_, i) => l.at(i))),
    },
  }));
  const words: number[] = [];
  for (let p = 0; p < pa.maxPfn; p++) words.push(pa.memmap.lo(p), pa.memmap.hi(p));
  return {
    zones,
    words,
    events: { ...k.stat.events },
    types: Array.from(k.stat.pagesByType),
    sectionFree: Array.from(pa.sectionFree),
    live: k.folios.live,
  };
}

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      op: fc.constant('alloc' as const),
      order: fc.constantFrom(0, 0, 0, 0, 1, 3, 9),
      gfp: fc.constantFrom(0, GFP.MOVABLE, GFP.RECLAIMABLE, GFP.DMA32, GFP.MOVABLE | GFP.THISNODE),
      nid: fc.constantFrom(0, 0, 0, 1),
      kind: fc.constantFrom<Kind>('unknown', 'anon', 'file'),
    }),
  },
  { weight: 5, arbitrary: fc.record({ op: fc.constant('free' as const), which: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('drain' as const) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('pin' as const), on: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('contig' as const), which: fc.nat() }) },
);

describe('order-0 fast paths against the general path', () => {
  test.prop([fc.array(opArb, { minLength: 1, maxLength: 200 }), fc.boolean()], { numRuns: 60 })(
    'same frames returned, same pcp, memmap, counters and descriptors after every step',
    (ops, contents) => {
      const opts = {
        memory: '512M',
        nodes: 2,
        pcp: true,
        check: 'off',
        contents,
        cma: '32M',
        movable: '128M',
      } as const;
      const fast = new Machine(opts);
      const slow = new Machine(opts);
      const live: { pfn: number; order: number; h: number; kind: Kind }[][] = [[], []];
      const run = (m: Machine, side: 0 | 1, op: Op): unknown => {
        const k = m.kernel;
        const held = live[side];
        switch (op.op) {
          case 'alloc': {
            const { gfp } = op;
            try {
              if (side === 0 || op.order !== 0) {
                if (op.kind === 'unknown') {
                  const pfn = m.allocPages(op.order, { gfp, nid: op.nid });
                  held.push({ pfn, order: op.order, h: 0, kind: op.kind });
                  return pfn;
                }
                const h = m.folioAlloc(op.order, { kind: op.kind, gfp, nid: op.nid });
                held.push({ pfn: m.folioPfn(h), order: op.order, h, kind: op.kind });
                // The handle carries the row's generation: the two paths reuse rows alike.
                return h;
              }
              // kapi's alloc_pages and folio_alloc both add __GFP_COMP.
              const pfn0 = k.pa.rmqueue(0, gfp | GFP.COMP, op.nid);
              const row = general(k.folios).installRow(pfn0, 0, TYPE[op.kind]);
              const pfn = k.folios.pfn[row];
              const h = k.folios.handleOf(row);
              held.push({ pfn, order: 0, h, kind: op.kind });
              return op.kind === 'unknown' ? pfn : h;
            } catch (e) {
              return (e as Error).message;
            }
          }
          case 'free': {
            if (held.length === 0) return null;
            const [b] = held.splice(op.which % held.length, 1);
            if (side === 0 || b.order !== 0) {
              if (b.kind === 'unknown') m.freePages(b.pfn, b.order);
              else m.folioPut(b.h as never);
            } else {
              const row = k.pa.memmap.folioRow(b.pfn);
              k.folios.refcount[row] = 0;
              general(k.folios).free(row);
            }
            return b.pfn;
          }
          case 'drain':
            m.drainAllPages();
            return null;
          case 'pin':
            // memalloc_pin_save(): the fast path steps aside, the general path drops __GFP_MOVABLE.
            k.pa.memallocPin = op.on ? 1 : 0;
            return null;
          case 'contig': {
            // Isolates pageblocks on the way (frees land on the buddy lists), then undoes it.
            const z = k.pa.zones[op.which % k.pa.zones.length];
            const pfn = z.startPfn + ((op.which * 512) % Math.max(1, z.endPfn - z.startPfn));
            try {
              m.allocContigRange(pfn - (pfn % 512), 8);
              m.freeContigRange(pfn - (pfn % 512), 8);
              return pfn;
            } catch (e) {
              return (e as Error).message;
            }
          }
        }
      };
      for (const op of ops) expect(run(fast, 0, op)).toEqual(run(slow, 1, op));
      expect(state(fast)).toEqual(state(slow));
      fast.check('full');
    },
  );
});
