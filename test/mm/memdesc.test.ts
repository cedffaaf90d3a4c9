import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/index.js';
import {
  FOLIO_TYPES,
  MemMap,
  type MemType,
  MT,
  MT_NAMES,
  mdMigratetype,
  mdOrder,
  mdType,
  mdWord,
  memTypeByName,
  NR_MEM_TYPES,
  TYPE_MASK,
} from '../../src/mm/memdesc.js';
import { MIGRATE, NR_MIGRATETYPES } from '../../src/mm/mmzone.js';
import { MAX_PAGE_ORDER, PAGEBLOCK_PAGES, PAGES_PER_SECTION } from '../../src/mm/types.js';

describe('memory types', () => {
  it('fit the 4-bit type field of the memdesc word and have one name each', () => {
    const values = Object.values(MT);
    expect(new Set(values).size).toBe(values.length);
    expect(values.length).toBe(NR_MEM_TYPES);
    expect(Math.max(...values)).toBeLessThanOrEqual(TYPE_MASK);
    for (const [key, v] of Object.entries(MT)) {
      expect(MT_NAMES[v]).toBe(key.toLowerCase());
      expect(memTypeByName(MT_NAMES[v])).toBe(v);
    }
    expect(memTypeByName('folio')).toBeUndefined();
  });

  it('only folio-backed types point into the folio pool; slabs and page tables do not', () => {
    expect([...FOLIO_TYPES].sort((a, b) => a - b)).toEqual(
      [MT.ANON, MT.FILE, MT.LARGE_KMALLOC, MT.DEVICE, MT.UNKNOWN].sort((a, b) => a - b),
    );
    for (const t of [MT.SLAB, MT.PGTABLE, MT.BUDDY, MT.ZERO, MT.RESERVED, MT.VMALLOC])
      expect(FOLIO_TYPES.has(t)).toBe(false);
  });
});

describe('the memdesc word', () => {
  test.prop([fc.nat(NR_MEM_TYPES - 1), fc.nat(MAX_PAGE_ORDER), fc.nat(NR_MIGRATETYPES - 1)])(
    'type, order and migratetype round-trip through the low word',
    (type, order, mt) => {
      const lo = mdWord(type as never, order, mt);
      expect(mdType(lo)).toBe(type);
      expect(mdOrder(lo)).toBe(order);
      expect(mdMigratetype(lo)).toBe(mt);
      expect(lo >>> 0).toBe(lo);
    },
  );

  it('a bare type is a word with order 0 and migratetype 0', () => {
    expect(mdWord(MT.SLAB)).toBe(MT.SLAB);
    expect(mdWord(MT.BUDDY, 10, MIGRATE.CMA)).toBe(MT.BUDDY | (10 << 4) | (MIGRATE.CMA << 8));
  });
});

describe('MemMap (sparse, per section)', () => {
  const SECTIONS = 4;
  const maxPfn = SECTIONS * PAGES_PER_SECTION;
  const make = () => {
    const pbMt = new Uint8Array(maxPfn / PAGEBLOCK_PAGES).fill(MIGRATE.MOVABLE);
    const mm = new MemMap(maxPfn, pbMt);
    for (let s = 0; s < SECTIONS; s++) mm.setPresent(s);
    return { mm, pbMt };
  };

  it('only present sections are pfn_valid', () => {
    const pbMt = new Uint8Array(maxPfn / PAGEBLOCK_PAGES);
    const mm = new MemMap(maxPfn, pbMt);
    expect(mm.pfnValid(0)).toBe(false);
    mm.setPresent(1);
    expect(mm.pfnValid(PAGES_PER_SECTION)).toBe(true);
    expect(mm.pfnValid(PAGES_PER_SECTION - 1)).toBe(false);
    expect(mm.pfnValid(-1)).toBe(false);
    expect(mm.pfnValid(maxPfn)).toBe(false);
    expect(mm.lo(0)).toBe(MT.NONE);
  });

  it('an unpopulated section reads as free max-order blocks of its pageblocks type', () => {
    const { mm, pbMt } = make();
    expect(mm.populatedSections).toBe(0);
    const pfn = PAGES_PER_SECTION + 3 * 1024;
    expect(mdType(mm.lo(pfn))).toBe(MT.BUDDY);
    expect(mdOrder(mm.lo(pfn))).toBe(MAX_PAGE_ORDER);
    expect(mdMigratetype(mm.lo(pfn))).toBe(MIGRATE.MOVABLE);
    // Buddy-block rows of max-order blocks are their block index.
    expect(mm.hi(pfn)).toBe(pfn / 1024);
    expect(mm.lo(pfn + 1)).toBe(MT.NONE);
    expect(mm.hi(pfn + 1)).toBe(0);
    pbMt[pfn / PAGEBLOCK_PAGES] = MIGRATE.UNMOVABLE;
    expect(mdMigratetype(mm.lo(pfn))).toBe(MIGRATE.UNMOVABLE);
  });

  it('populating writes the same words, and costs 8 bytes per frame', () => {
    const { mm } = make();
    const before = Array.from({ length: PAGES_PER_SECTION }, (_, i) => [
      mm.lo(2 * PAGES_PER_SECTION + i),
      mm.hi(2 * PAGES_PER_SECTION + i),
    ]);
    const host0 = mm.hostBytes();
    const arr = mm.populate(2);
    expect(arr.byteLength).toBe(PAGES_PER_SECTION * 8);
    expect(mm.hostBytes() - host0).toBe(PAGES_PER_SECTION * 8);
    expect(mm.populatedSections).toBe(1);
    expect(mm.isPopulated(2)).toBe(true);
    const after = Array.from({ length: PAGES_PER_SECTION }, (_, i) => [
      mm.lo(2 * PAGES_PER_SECTION + i),
      mm.hi(2 * PAGES_PER_SECTION + i),
    ]);
    expect(after).toEqual(before);
    // Populating twice is a no-op.
    expect(mm.populate(2)).toBe(arr);
    expect(mm.populatedSections).toBe(1);
    mm.depopulate(2);
    mm.depopulate(2);
    expect(mm.populatedSections).toBe(0);
    expect(mm.hostBytes()).toBe(host0);
  });

  it('set and setRange write one frame or a run of frames', () => {
    const { mm } = make();
    mm.populate(0);
    mm.setRange(64, 16, mdWord(MT.ANON, 4), 42);
    mm.set(80, mdWord(MT.SLAB), 7);
    for (let p = 64; p < 80; p++) {
      expect(mm.type(p)).toBe(MT.ANON);
      expect(mdOrder(mm.lo(p))).toBe(4);
      expect(mm.hi(p)).toBe(42);
    }
    expect(mm.type(80)).toBe(MT.SLAB);
    expect(mm.hi(80)).toBe(7);
    expect(mm.type(63)).toBe(MT.NONE);
    expect(mm.type(81)).toBe(MT.NONE);
  });
});

describe('the memmap of a machine', () => {
  it('a huge machine that uses little costs little: 8 bytes per frame of populated sections', () => {
    const m = new Machine({ memory: '64G' });
    const sections = m.sections();
    expect(sections).toEqual({ populated: 1, total: 512 });
    const h = m.folioAlloc(0);
    expect(m.sections().populated).toBe(2);
    const mm = m.kernel.pa.memmap;
    // Populated frames cost 8 bytes each; the rest is a byte and a slot per section.
    expect(mm.hostBytes()).toBe(2 * PAGES_PER_SECTION * 8 + 512 + 512 * 8);
    expect(mm.hostBytes() / (2 * PAGES_PER_SECTION)).toBeLessThan(8.1);
    m.folioPut(h);
  });

  it('every frame of an object carries its type, order and descriptor row', () => {
    const m = new Machine({ memory: '256M' });
    const h = m.folioAlloc(3, { kind: 'file' });
    const pfn = m.folioPfn(h);
    const mm = m.kernel.pa.memmap;
    for (let i = 0; i < 8; i++) {
      expect(mm.lo(pfn + i)).toBe(mdWord(MT.FILE, 3));
      expect(mm.hi(pfn + i)).toBe(h >>> 0);
    }
  });
});

describe('memmap fast paths (bench/)', () => {
  const SECTIONS = 4;
  const make = () => {
    const maxPfn = SECTIONS * PAGES_PER_SECTION;
    const mm = new MemMap(maxPfn, new Uint8Array(maxPfn / PAGEBLOCK_PAGES).fill(MIGRATE.MOVABLE));
    for (let s = 0; s < SECTIONS; s++) mm.setPresent(s);
    return { mm };
  };

  it('FOLIO_TYPES.has answers exactly as a Set of the folio types', () => {
    const reference = new Set<unknown>([...FOLIO_TYPES]);
    const probes: unknown[] = [-1, -0, 0.5, 2.5, 16, 18, 2 ** 32 + MT.ANON, Number.NaN, Infinity, '2', null];
    for (let t = 0; t < 20; t++) probes.push(t);
    for (const t of probes) expect(FOLIO_TYPES.has(t as number), String(t)).toBe(reference.has(t));
    expect(() => (FOLIO_TYPES as Set<number>).add(MT.SLAB)).toThrow(TypeError);
    expect(FOLIO_TYPES.has(MT.SLAB)).toBe(false);
  });

  test.prop(
    [fc.array(fc.tuple(fc.nat(SECTIONS * PAGES_PER_SECTION - 1), fc.nat(NR_MEM_TYPES - 1), fc.nat(2 ** 31)))],
    { numRuns: 50 },
  )('folioRowInt answers as folioRow, in populated sections and not', (writes) => {
    const { mm } = make();
    mm.populate(1);
    mm.populate(3);
    for (const [pfn, t, row] of writes) mm.setIfPopulated(pfn, mdWord(t as MemType), row);
    for (const [pfn] of writes) expect(mm.folioRowInt(pfn)).toBe(mm.folioRow(pfn));
    for (const pfn of [0, PAGES_PER_SECTION, 2 * PAGES_PER_SECTION + 5, SECTIONS * PAGES_PER_SECTION - 1])
      expect(mm.folioRowInt(pfn)).toBe(mm.folioRow(pfn));
  });

  it('setRange clears long runs and single frames alike', () => {
    const { mm } = make();
    mm.populate(0);
    mm.setRange(0, 512, mdWord(MT.ANON, 9), 5);
    mm.setRange(0, 512, MT.NONE, 0);
    mm.setRange(600, 3, mdWord(MT.FILE), 9);
    mm.setRange(600, 3, MT.NONE, 0);
    for (let p = 1; p < 1024; p++) expect([mm.lo(p), mm.hi(p)]).toEqual([MT.NONE, 0]);
  });

  it('a memmap given back is reused for the next section and reads exactly like a new one', () => {
    const { mm } = make();
    const fresh = make().mm;
    const words = (m: MemMap, s: number) =>
      Array.from({ length: PAGES_PER_SECTION * 2 }, (_, i) =>
        i % 2 ? m.hi(s * PAGES_PER_SECTION + (i >> 1)) : m.lo(s * PAGES_PER_SECTION + (i >> 1)),
      );
    const arr = mm.populate(1);
    // Use it, then leave it entirely free again (every word but the max-order heads cleared),
    // as the allocator guarantees before it depopulates a section.
    mm.setRange(PAGES_PER_SECTION + 5, 100, mdWord(MT.ANON, 2), 77);
    mm.setRange(PAGES_PER_SECTION + 5, 100, MT.NONE, 0);
    mm.depopulate(1);
    expect(mm.populate(3)).toBe(arr);
    expect(words(mm, 3)).toEqual(words(fresh, 3));
    fresh.populate(3);
    expect(words(mm, 3)).toEqual(words(fresh, 3));
    expect(mm.hostBytes()).toBe(fresh.hostBytes());
  });

  it('a section that empties and refills keeps every invariant (machine, full checks)', () => {
    const m = new Machine({ memory: '8G', check: 'full' });
    const base = m.sections().populated;
    for (let round = 0; round < 3; round++) {
      const folios = [0, 3, 9, 0, 1, 10].map((o) => m.folioAlloc(o));
      const pages = [0, 2, 5].map((o) => ({ pfn: m.allocPages(o), o }));
      expect(m.sections().populated).toBeGreaterThan(base);
      for (const h of folios) m.folioPut(h);
      for (const p of pages) m.freePages(p.pfn, p.o);
      expect(m.sections().populated).toBe(base);
    }
    expect(m.stat.events.section_depopulate).toBeGreaterThanOrEqual(3);
  });
});
