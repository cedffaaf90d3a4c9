import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/index.js';
import type { FolioId, PtdescId } from '../../src/machine/ids.js';
import {
  allocContigFolio,
  allocContigPagetable,
  allocContigSlab,
  allocContigTyped,
  isolateFreepagesRange,
} from '../../src/mm/alloc_contig.js';
import { MT } from '../../src/mm/memdesc.js';
import { GFP } from '../../src/mm/mmzone.js';
import { expectErrno } from '../helpers.js';

/** 512 MiB: one DMA32 zone; PFN 0x10000 (256 MiB) starts a wholly free section. */
const machine = () => new Machine({ memory: '512M', check: 'full' });
const BASE = 0x10000;
const totals = (m: Machine) =>
  m.buddyinfo().reduce((acc, z) => acc.map((n, o) => n + z.free[o]), Array(11).fill(0));
const delta = (a: number[], b: number[]) => b.map((n, o) => n - a[o]);

describe('alloc_contig_range', () => {
  it('takes exactly the asked frames, order-0 each, and leaves the rest of the block free at maximal orders', () => {
    const m = machine();
    const before = totals(m);
    const free0 = m.meminfo().MemFree;
    expect(m.allocContigRange(BASE + 1, 2)).toBe(BASE + 1);
    // Of the max-order block at BASE, frames 0 and 3 stay order 0, then 4..7, 8..15, ... 512..1023.
    expect(delta(before, totals(m))).toEqual([2, 0, 1, 1, 1, 1, 1, 1, 1, 1, -1]);
    expect(m.meminfo().MemFree).toBe(free0 - 2 * 4);
    for (const pfn of [BASE + 1, BASE + 2]) {
      expect(m.page(pfn).type).toBe('unknown');
      expect(m.folioPfn(m.pageFolio(pfn))).toBe(pfn);
    }
    expect(m.page(BASE).type).toBe('buddy');
    m.freeContigRange(BASE + 1, 2);
    expect(totals(m)).toEqual(before);
  });

  it('with GFP.COMP the range is one compound allocation; it must be 2^order aligned frames', () => {
    const m = machine();
    m.allocContigRange(BASE + 512, 512, { gfp: GFP.COMP });
    const h = m.pageFolio(BASE + 1000);
    expect(m.folioPfn(h as FolioId)).toBe(BASE + 512);
    expect(m.page(BASE + 512).order).toBe(9);
    expectErrno(() => m.allocContigRange(BASE + 2048 + 1, 4, { gfp: GFP.COMP }), 'EINVAL');
    expectErrno(() => m.allocContigRange(BASE + 2048, 3, { gfp: GFP.COMP }), 'EINVAL');
    m.freeContigRange(BASE + 512, 512);
    expect(m.page(BASE).type).toBe('buddy');
    expect(m.page(BASE).order).toBe(10);
  });

  it('a frame in use makes it EBUSY and changes nothing (no migration here)', () => {
    const m = machine();
    m.allocContigRange(BASE + 100, 1);
    const before = totals(m);
    expectErrno(() => m.allocContigRange(BASE + 64, 64), 'EBUSY');
    expect(totals(m)).toEqual(before);
    expect(m.page(BASE + 64).type).toBe('buddy');
  });

  it('a range must be RAM of one zone', () => {
    const m = new Machine({ memory: '8G' });
    const dma32End = (4 * 2 ** 30) / 4096;
    expectErrno(() => m.allocContigRange(dma32End - 8, 16), 'EINVAL');
    expectErrno(() => m.allocContigRange(m.totalPages - 1, 2), 'EINVAL');
    expect(m.allocContigRange(dma32End, 16)).toBe(dma32End);
  });
});

describe('typed placement at a PFN (a capture replay)', () => {
  it('a folio, a slab, a page table and reserved frames land exactly where asked; invariants hold', () => {
    const m = machine();
    const k = m.kernel;
    const h = allocContigFolio(k, BASE + 16, 4, MT.ANON);
    expect(m.folioPfn(h as FolioId)).toBe(BASE + 16);
    expect(m.page(BASE + 31).type).toBe('anon');
    m.kmemCacheCreate('placed', 1024);
    const cache = k.slab.cacheByName('placed');
    if (!cache) throw new Error('no cache');
    allocContigSlab(k, cache, BASE + 64);
    expect(m.page(BASE + 64).type).toBe('slab');
    expect(m.slabinfo().find((r) => r.name === 'placed')?.activeObjs).toBe(1);
    const pt = allocContigPagetable(k, BASE + 200);
    expect(m.pagetablePfn(pt as PtdescId)).toBe(BASE + 200);
    const managed = m.zoneinfo()[0].managed;
    allocContigTyped(k, BASE + 300, 5, MT.RESERVED);
    expect(m.page(BASE + 304).type).toBe('reserved');
    expect(m.zoneinfo()[0].managed).toBe(managed - 5);
    m.check('full');
    expectErrno(() => isolateFreepagesRange(k.pa, BASE + 60, BASE + 70), 'EBUSY');
    expectErrno(() => allocContigTyped(k, BASE + 400, 1, MT.ANON), 'EINVAL');
  });
});
