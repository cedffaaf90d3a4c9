import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import {
  accountLayout,
  anonExclusiveBitmapBytes,
  DESCRIPTOR_BYTES,
  LAYOUTS,
  type LayoutAccounting,
  perPfnBytes,
} from '../../src/designs/layout.js';
import { Machine } from '../../src/index.js';
import type { FolioId, PtdescId } from '../../src/machine/ids.js';
import { pagesOf } from '../helpers.js';

const PAGES = pagesOf(256);
const byName = (acc: LayoutAccounting[], name: string) => acc.find((a) => a.layout === name)!;

/** The descriptor bytes the memdesc layout must charge for a set of live objects (DESCRIPTOR_BYTES). */
function expectedDescriptorBytes(live: {
  anon: number[];
  file: number[];
  driver: number;
  slabs: number;
  ptdescs: number;
}): number {
  const folio = (order: number, anon: boolean) =>
    order === 0
      ? DESCRIPTOR_BYTES.smallFolio
      : DESCRIPTOR_BYTES.largeFolio + (anon ? Math.ceil((1 << order) / 8) : 0);
  return (
    live.anon.reduce((s, o) => s + folio(o, true), 0) +
    live.file.reduce((s, o) => s + folio(o, false), 0) +
    live.driver * DESCRIPTOR_BYTES.driverPage +
    live.slabs * DESCRIPTOR_BYTES.slab +
    live.ptdescs * DESCRIPTOR_BYTES.ptdesc
  );
}

describe('layouts', () => {
  it('charge 64 bytes (struct page) or 8 bytes (memdesc) per frame', () => {
    expect(LAYOUTS).toEqual(['struct-page', 'memdesc']);
    expect(perPfnBytes('struct-page')).toBe(64);
    expect(perPfnBytes('memdesc')).toBe(8);
  });

  it('a large anon folio carries one PG_anon_exclusive bit per page', () => {
    expect(anonExclusiveBitmapBytes(0)).toBe(0);
    expect(anonExclusiveBitmapBytes(1)).toBe(1);
    expect(anonExclusiveBitmapBytes(4)).toBe(2);
    expect(anonExclusiveBitmapBytes(9)).toBe(64);
  });

  it('a freshly booted machine costs exactly the per-frame bytes', () => {
    const m = new Machine({ memory: '256M' });
    const acc = m.accounting();
    expect(acc.map((a) => a.layout)).toEqual(['memdesc', 'struct-page']);
    expect(byName(acc, 'struct-page')).toMatchObject({
      memmapBytes: 64 * PAGES,
      descriptorBytes: 0,
      totalBytes: 64 * PAGES,
      bytesPerPage: 64,
    });
    expect(byName(acc, 'memdesc')).toMatchObject({
      memmapBytes: 8 * PAGES,
      descriptorBytes: 0,
      totalBytes: 8 * PAGES,
      bytesPerPage: 8,
    });
  });

  it('the configured design is reported first', () => {
    const m = new Machine({ memory: '256M', design: 'struct-page' });
    expect(m.accounting().map((a) => a.layout)).toEqual(['struct-page', 'memdesc']);
  });

  it('memdesc adds one descriptor per live object, sized by DESCRIPTOR_BYTES; frees take it back', () => {
    const m = new Machine({ memory: '256M' });
    const anon = [m.folioAlloc(0), m.folioAlloc(0), m.folioAlloc(0), m.folioAlloc(9), m.folioAlloc(4)];
    const file = [m.folioAlloc(0, { kind: 'file' }), m.folioAlloc(2, { kind: 'file' })];
    const driver = m.allocPages(4);
    const big = m.kmalloc(64 * 1024);
    const pts = [m.pagetableAlloc(4), m.pagetableAlloc(3), m.pagetableAlloc(1)];
    m.kmemCacheCreate('c', 1000);
    const objs = Array.from({ length: 17 }, () => m.kmemCacheAlloc('c'));
    // 16 objects per order-2 slab: 17 objects need two slabs.
    expect(m.slabinfo().find((r) => r.name === 'c')!.numSlabs).toBe(2);

    let acc = m.accounting();
    // 3 small anon (80) + order-9 anon (144 + 64) + order-4 anon (144 + 2) + small file (80)
    // + order-2 file (144) + driver pages (16) + large kmalloc (inline: 0) + 3 ptdescs (64)
    // + 2 slabs (64).
    const want = 3 * 80 + 208 + 146 + 80 + 144 + 16 + 0 + 3 * 64 + 2 * 64;
    expect(
      expectedDescriptorBytes({ anon: [0, 0, 0, 9, 4], file: [0, 2], driver: 1, slabs: 2, ptdescs: 3 }),
    ).toBe(want);
    expect(byName(acc, 'memdesc')).toMatchObject({
      memmapBytes: 8 * PAGES,
      descriptorBytes: want,
      totalBytes: 8 * PAGES + want,
    });
    expect(byName(acc, 'memdesc').bytesPerPage).toBeCloseTo((8 * PAGES + want) / PAGES, 10);
    // struct page: the descriptors live inside the 64-byte array, nothing beside it.
    expect(byName(acc, 'struct-page')).toMatchObject({ memmapBytes: 64 * PAGES, descriptorBytes: 0 });

    const row = (type: string) => byName(acc, 'memdesc').perType.find((t) => t.type === type)!;
    expect(row('anon')).toMatchObject({
      pages: 3 + 512 + 16,
      descriptors: 5,
      descriptorBytes: 3 * 80 + 208 + 146,
    });
    expect(row('anon').memmapBytes).toBe((3 + 512 + 16) * 8);
    expect(row('file')).toMatchObject({ pages: 5, descriptors: 2, descriptorBytes: 224 });
    expect(row('slab')).toMatchObject({ pages: 8, descriptors: 2, descriptorBytes: 128 });
    expect(row('pgtable')).toMatchObject({ pages: 3, descriptors: 3, descriptorBytes: 192 });
    expect(row('unknown')).toMatchObject({ pages: 16, descriptors: 1, descriptorBytes: 16 });
    expect(row('large_kmalloc')).toMatchObject({ pages: 16, descriptors: 1, descriptorBytes: 0 });
    for (const a of acc) {
      expect(a.perType.reduce((s, t) => s + t.memmapBytes, 0)).toBe(a.memmapBytes);
      expect(a.perType.reduce((s, t) => s + t.descriptorBytes, 0)).toBe(a.descriptorBytes);
      expect(a.perType.reduce((s, t) => s + t.pages, 0)).toBe(PAGES);
    }

    // Values are recomputed from the live pools after frees.
    m.folioPut(anon[3]);
    m.folioPut(file[1]);
    for (const o of objs.slice(0, 16)) m.kmemCacheFree('c', o);
    m.pagetableFree(pts[2]);
    acc = m.accounting();
    expect(byName(acc, 'memdesc').descriptorBytes).toBe(want - 208 - 144 - 64 - 64);
    for (const h of [...anon.slice(0, 3), anon[4], file[0]]) m.folioPut(h);
    m.freePages(driver, 4);
    m.kfree(big);
    m.kfree(objs[16]);
    m.pagetableFree(pts[0]);
    m.pagetableFree(pts[1]);
    expect(byName(m.accounting(), 'memdesc')).toMatchObject({ descriptorBytes: 0, totalBytes: 8 * PAGES });
  });

  it('accounts a census directly', () => {
    const census = {
      presentPages: 1024,
      pagesByType: [0, 1000, 24, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
      folios: new Map([['2:3', 3]]),
      slabs: 0,
      ptdescs: 0,
    };
    expect(accountLayout('memdesc', census)).toMatchObject({
      memmapBytes: 8192,
      descriptorBytes: 3 * (144 + 1),
    });
    expect(accountLayout('struct-page', census)).toMatchObject({ memmapBytes: 65536, descriptorBytes: 0 });
  });
});

describe('accounting over random workloads', () => {
  const op = fc.oneof(
    fc.record({ op: fc.constant('anon' as const), order: fc.constantFrom(0, 0, 1, 2, 4, 9) }),
    fc.record({ op: fc.constant('file' as const), order: fc.constantFrom(0, 2, 5) }),
    fc.record({ op: fc.constant('driver' as const), order: fc.nat(3) }),
    fc.record({ op: fc.constant('slab' as const), cache: fc.nat(2) }),
    fc.record({ op: fc.constant('pt' as const), level: fc.integer({ min: 1, max: 4 }) }),
    fc.record({ op: fc.constant('free' as const), pick: fc.nat() }),
  );
  test.prop([fc.array(op, { maxLength: 120 })], { numRuns: 20 })(
    'memdesc bytes are 8 per frame plus the descriptors of exactly the live objects',
    (ops) => {
      const m = new Machine({ memory: '256M' });
      for (const [n, size] of [
        ['a', 64],
        ['b', 700],
        ['c', 3000],
      ] as const)
        m.kmemCacheCreate(n, size);
      type Obj =
        | { k: 'anon' | 'file'; h: FolioId; order: number }
        | { k: 'driver'; pfn: number; order: number }
        | { k: 'slab'; cache: string; addr: number }
        | { k: 'pt'; h: PtdescId };
      const live: Obj[] = [];
      for (const o of ops) {
        if (o.op === 'anon' || o.op === 'file')
          live.push({ k: o.op, h: m.folioAlloc(o.order, { kind: o.op }), order: o.order });
        else if (o.op === 'driver') live.push({ k: 'driver', pfn: m.allocPages(o.order), order: o.order });
        else if (o.op === 'slab') {
          const cache = ['a', 'b', 'c'][o.cache];
          live.push({ k: 'slab', cache, addr: m.kmemCacheAlloc(cache) });
        } else if (o.op === 'pt') live.push({ k: 'pt', h: m.pagetableAlloc(o.level) });
        else if (live.length > 0) {
          const x = live.splice(o.pick % live.length, 1)[0];
          if (x.k === 'anon' || x.k === 'file') m.folioPut(x.h);
          else if (x.k === 'driver') m.freePages(x.pfn, x.order);
          else if (x.k === 'slab') m.kmemCacheFree(x.cache, x.addr);
          else if (x.k === 'pt') m.pagetableFree(x.h);
        }
      }
      const slabs = m.slabinfo().reduce((s, r) => s + r.numSlabs, 0);
      const want = expectedDescriptorBytes({
        anon: live.flatMap((x) => (x.k === 'anon' ? [x.order] : [])),
        file: live.flatMap((x) => (x.k === 'file' ? [x.order] : [])),
        driver: live.filter((x) => x.k === 'driver').length,
        slabs,
        ptdescs: live.filter((x) => x.k === 'pt').length,
      });
      const acc = m.accounting();
      expect(byName(acc, 'memdesc')).toMatchObject({ memmapBytes: 8 * PAGES, descriptorBytes: want });
      expect(byName(acc, 'struct-page')).toMatchObject({ totalBytes: 64 * PAGES, descriptorBytes: 0 });
    },
  );
});
