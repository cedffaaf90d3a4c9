import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/index.js';
import type { FolioId } from '../../src/machine/ids.js';
import { GUP_PIN_COUNTING_BIAS, PG } from '../../src/mm/folio.js';
import { MT } from '../../src/mm/memdesc.js';
import { folioMaybeDmaPinnedLinux } from '../../src/mm/pincount.js';
import { NULL_HANDLE } from '../../src/mm/pool.js';
import { KernelBug, KernelError } from '../../src/mm/types.js';
import { expectBug, expectErrno, observable, untilEnomem } from '../helpers.js';

const small = () => new Machine({ memory: '256M', check: 'cheap' });
const rowOf = (h: number) => h >>> 0;

describe('folio allocation', () => {
  it.each([0, 1, 4, 9, 10])('an order-%i anon folio starts with refcount 1 and no mappings', (order) => {
    const m = small();
    const anonBefore = m.meminfo().pagelab_AnonUnmapped;
    const h = m.folioAlloc(order);
    const pfn = m.folioPfn(h);
    const f = m.kernel.folios;
    expect(f.refcount[rowOf(h)]).toBe(1);
    expect(f.mapcountOf(rowOf(h))).toBe(0);
    // Stored raw as the kernel keeps it: _mapcount / _large_mapcount start at -1.
    expect(f.mapcount[rowOf(h)]).toBe(-1);
    expect(f.pincountOf(rowOf(h))).toBe(0);
    expect(f.entireMapcountOf(rowOf(h))).toBe(0);
    expect(pfn % (1 << order)).toBe(0);
    // Allocated but mapped by nobody: not AnonPages (NR_ANON_MAPPED), the model-only line instead.
    expect(m.meminfo().pagelab_AnonUnmapped - anonBefore).toBe((1 << order) * 4);
    expect(m.meminfo().AnonPages).toBe(0);
    const head = m.page(pfn);
    expect(head).toMatchObject({ type: 'anon', order, head: pfn, refcount: 1, mapcount: 0, folio: h });
    expect(f.testFlag(rowOf(h), PG.swapbacked)).toBe(true);
    expect(f.testFlag(rowOf(h), PG.head)).toBe(order > 0);
    expect(f.testFlag(rowOf(h), PG.large_rmappable)).toBe(order > 0);
    // Every frame of the folio resolves to the same descriptor (page_folio).
    for (let i = 0; i < 1 << order; i++) expect(m.pageFolio(pfn + i)).toBe(h);
    expect(m.pageFolio(pfn + (1 << order))).not.toBe(h);
    m.check('full');
  });

  it('a file folio is typed file and not swap-backed', () => {
    const m = small();
    const h = m.folioAlloc(2, { kind: 'file' });
    expect(m.page(m.folioPfn(h)).type).toBe('file');
    expect(m.kernel.folios.testFlag(rowOf(h), PG.swapbacked)).toBe(false);
    expect(m.meminfo().Cached).toBe(16);
  });

  it('ENOMEM takes no descriptor and changes nothing', () => {
    const m = new Machine({ memory: '256M' });
    for (let order = 10; order >= 0; order--) untilEnomem(() => m.allocPages(order));
    const live = m.kernel.folios.live;
    const before = observable(m);
    expectErrno(() => m.folioAlloc(0), 'ENOMEM');
    expect(m.kernel.folios.live).toBe(live);
    expect(observable(m)).toEqual(before);
  });

  it('page_folio is NULL on free frames, reserved frames and the zero page', () => {
    const m = small();
    expect(m.pageFolio(0)).toBe(NULL_HANDLE);
    expect(m.pageFolio(m.zeroPfn)).toBe(NULL_HANDLE);
    expect(m.pageFolio(40000)).toBe(NULL_HANDLE);
    expect(m.pageFolio(1 << 30)).toBe(NULL_HANDLE);
  });
});

describe('folio references', () => {
  it('folio_get / folio_put move the refcount; the last put frees to the buddy allocator', () => {
    const m = small();
    const free0 = m.meminfo().MemFree;
    const h = m.folioAlloc(3);
    const pfn = m.folioPfn(h);
    const row = rowOf(h);
    m.folioGet(h);
    m.folioGet(h);
    expect(m.kernel.folios.refcount[row]).toBe(3);
    m.folioPut(h);
    m.folioPut(h);
    expect(m.kernel.folios.refcount[row]).toBe(1);
    expect(m.page(pfn).type).toBe('anon');
    const frees = m.stat.events.folio_free;
    m.folioPut(h);
    expect(m.stat.events.folio_free - frees).toBe(1);
    expect(m.page(pfn)).toMatchObject({ type: 'buddy', refcount: 0 });
    expect(m.meminfo().MemFree).toBe(free0);
    expect(m.meminfo().pagelab_AnonUnmapped).toBe(0);
    expect(m.kernel.folios.live).toBe(0);
    m.check('full');
  });

  it('a put on a freed folio (stale handle) is a KernelBug naming its PFN; nothing changes', () => {
    const m = small();
    const h = m.folioAlloc(0);
    const pfn = m.folioPfn(h);
    m.folioPut(h);
    const before = observable(m);
    expectBug(() => m.folioPut(h), pfn, /folio: use after free/);
    expectBug(() => m.folioGet(h), pfn, /folio: use after free/);
    expectBug(() => m.kernel.folios.refAdd(h, 1), pfn, /folio: use after free/);
    expectBug(() => m.folioPfn(h), pfn, /folio: use after free/);
    expect(observable(m)).toEqual(before);
    m.check('full');
  });

  it('a stale handle stays stale after its descriptor row is reused', () => {
    const m = small();
    const a = m.folioAlloc(0);
    const aPfn = m.folioPfn(a);
    m.folioPut(a);
    const b = m.folioAlloc(2);
    // The pool reuses the row (LIFO), with a new generation.
    expect(rowOf(b)).toBe(rowOf(a));
    expect(b).not.toBe(a);
    const before = observable(m);
    expectBug(() => m.folioPut(a), aPfn, /folio: use after free/);
    expect(m.kernel.folios.refcount[rowOf(b)]).toBe(1);
    expect(observable(m)).toEqual(before);
    m.folioPut(b);
    m.check('full');
  });

  it('dropping more references than are held is a KernelBug naming the PFN; nothing changes', () => {
    const m = small();
    const h = m.folioAlloc(1);
    const pfn = m.folioPfn(h);
    m.folioGet(h);
    const before = observable(m);
    expectBug(() => m.kernel.folios.put(h, 3), pfn, /put_page on a zero refcount/);
    expect(m.kernel.folios.refcount[rowOf(h)]).toBe(2);
    expect(observable(m)).toEqual(before);
    m.kernel.folios.put(h, 2);
    expect(m.page(pfn).type).toBe('buddy');
    m.check('full');
  });

  it.each([0, 2])(
    'the last put of a still-mapped order-%i folio is "Bad page state"; nothing changes',
    (order) => {
      const m = small();
      const h = m.folioAlloc(order);
      const pfn = m.folioPfn(h);
      const f = m.kernel.folios;
      // One PTE maps it (_mapcount, or _large_mapcount); the mapping's reference is the only one left.
      f.mapcount[rowOf(h)] = 0;
      const before = observable(m);
      expectBug(() => m.folioPut(h), pfn, /free_page_is_bad: page still mapped/);
      expect(f.refcount[rowOf(h)]).toBe(1);
      expect(observable(m)).toEqual(before);
      f.mapcount[rowOf(h)] = -1;
      m.folioPut(h);
      m.check('full');
    },
  );

  it.each([0, -1, 0.5, 1.5, Number.NaN])(
    'folio_put of %s references is a KernelBug, whatever the refcount; nothing changes',
    (n) => {
      const m = small();
      const h = m.folioAlloc(0);
      const pfn = m.folioPfn(h);
      for (const refs of [1, 3]) {
        while (m.kernel.folios.refcount[rowOf(h)] < refs) m.folioGet(h);
        const before = observable(m);
        expectBug(() => m.kernel.folios.put(h, n), pfn, /folio_put_refs: a positive count/);
        expect(m.kernel.folios.refcount[rowOf(h)]).toBe(refs);
        expect(observable(m)).toEqual(before);
      }
      m.kernel.folios.put(h, 3);
      expect(m.page(pfn).type).toBe('buddy');
      m.check('full');
    },
  );

  it('the last put of a pinned large folio is refused; nothing changes', () => {
    const m = small();
    const h = m.folioAlloc(4);
    const pfn = m.folioPfn(h);
    const f = m.kernel.folios;
    f.pincount[f.large[rowOf(h)]] = 1;
    const before = observable(m);
    expectBug(() => m.folioPut(h), pfn, /nonzero pincount/);
    expect(observable(m)).toEqual(before);
    f.pincount[f.large[rowOf(h)]] = 0;
    m.folioPut(h);
    m.check('full');
  });

  const refOp = fc.oneof(
    fc.record({ op: fc.constant('alloc' as const), order: fc.nat(5) }),
    fc.record({ op: fc.constant('get' as const), pick: fc.nat() }),
    fc.record({ op: fc.constant('put' as const), pick: fc.nat() }),
  );
  test.prop([fc.array(refOp, { maxLength: 80 })], { numRuns: 30 })(
    'refcounts follow a reference model; freed handles stay dead; memory comes back',
    (ops) => {
      const m = new Machine({ memory: '256M', check: 'cheap' });
      const free0 = m.meminfo().MemFree;
      const refs = new Map<FolioId, { pfn: number; order: number; ref: number }>();
      const dead: { h: FolioId; pfn: number }[] = [];
      const pick = (n: number) => [...refs.keys()][n % refs.size];
      for (const o of ops) {
        if (o.op === 'alloc') {
          const h = m.folioAlloc(o.order);
          refs.set(h, { pfn: m.folioPfn(h), order: o.order, ref: 1 });
        } else if (refs.size > 0) {
          const h = pick(o.pick);
          const r = refs.get(h)!;
          if (o.op === 'get') {
            m.folioGet(h);
            r.ref++;
          } else {
            m.folioPut(h);
            if (--r.ref === 0) {
              refs.delete(h);
              dead.push({ h, pfn: r.pfn });
              expect(m.page(r.pfn).type).toBe('buddy');
            }
          }
        }
        for (const [h, r] of refs) {
          expect(m.kernel.folios.refcount[rowOf(h)]).toBe(r.ref);
          expect(m.folioPfn(h)).toBe(r.pfn);
        }
      }
      for (const d of dead) expect(() => m.folioPut(d.h)).toThrow(/use after free/);
      expect(m.meminfo().pagelab_AnonUnmapped).toBe(
        [...refs.values()].reduce((s, r) => s + (1 << r.order) * 4, 0),
      );
      for (const [h, r] of refs) for (let i = 0; i < r.ref; i++) m.folioPut(h);
      expect(m.meminfo().MemFree).toBe(free0);
      expect(m.kernel.folios.live).toBe(0);
      m.check('full');
    },
  );
});

describe('large folio fields', () => {
  it('have an entire mapcount, a pincount and per-page mapcounts, all starting at zero', () => {
    const m = small();
    const h = m.folioAlloc(9);
    const row = rowOf(h);
    const pfn = m.folioPfn(h);
    const f = m.kernel.folios;
    expect(f.isLarge(row)).toBe(true);
    expect(f.nrPages(row)).toBe(512);
    expect(f.entireMapcount[f.large[row]]).toBe(-1);
    expect(f.entireMapcountOf(row)).toBe(0);
    expect(f.pincountOf(row)).toBe(0);
    for (let i = 0; i < 512; i += 37) expect(f.pageMapcountOf(row, pfn + i)).toBe(0);
    // A PMD mapping counts in the entire mapcount and in every page's mapcount.
    f.entireMapcount[f.large[row]] = 0;
    expect(m.page(pfn + 100).mapcount).toBe(1);
    f.entireMapcount[f.large[row]] = -1;
  });

  it('keep PG_anon_exclusive per page', () => {
    const m = small();
    const h = m.folioAlloc(4);
    const row = rowOf(h);
    const pfn = m.folioPfn(h);
    const f = m.kernel.folios;
    f.setPageAnonExclusive(row, pfn + 3, true);
    f.setPageAnonExclusive(row, pfn + 15, true);
    const bits = Array.from({ length: 16 }, (_, i) => m.page(pfn + i).anonExclusive);
    expect(bits.map((b, i) => (b ? i : -1)).filter((i) => i >= 0)).toEqual([3, 15]);
    // Not a folio flag: the head's flag word does not carry it.
    expect(f.testFlag(row, PG.anon_exclusive)).toBe(false);
    f.setPageAnonExclusive(row, pfn + 3, false);
    expect(f.pageAnonExclusive(row, pfn + 3)).toBe(false);
    expect(f.pageAnonExclusive(row, pfn + 15)).toBe(true);
    // A new folio reusing the descriptor's per-page slice starts with every bit clear.
    m.folioPut(h);
    const g = m.folioAlloc(4);
    const gpfn = m.folioPfn(g);
    for (let i = 0; i < 16; i++) expect(f.pageAnonExclusive(rowOf(g), gpfn + i)).toBe(false);
  });

  it('a small folio keeps PG_anon_exclusive in its flags', () => {
    const m = small();
    const h = m.folioAlloc(0);
    const f = m.kernel.folios;
    f.setPageAnonExclusive(rowOf(h), m.folioPfn(h), true);
    expect(f.testFlag(rowOf(h), PG.anon_exclusive)).toBe(true);
    expect(m.page(m.folioPfn(h)).anonExclusive).toBe(true);
  });
});

describe('folio_maybe_dma_pinned (Linux)', () => {
  it('small folio: false at 1023 references, true at 1024 (kernel-semantics §16 case 3)', () => {
    const m = small();
    const h = m.folioAlloc(0, { kind: 'file' });
    const row = rowOf(h);
    const f = m.kernel.folios;
    f.refAdd(h, 1022);
    expect(f.refcount[row]).toBe(1023);
    expect(folioMaybeDmaPinnedLinux(f, row)).toBe(false);
    expect(m.page(m.folioPfn(h)).maybeDmaPinned).toBe(false);
    f.refAdd(h, 1);
    expect(f.refcount[row]).toBe(GUP_PIN_COUNTING_BIAS);
    expect(folioMaybeDmaPinnedLinux(f, row)).toBe(true);
    expect(m.page(m.folioPfn(h)).maybeDmaPinned).toBe(true);
    f.put(h, 1023);
    expect(folioMaybeDmaPinnedLinux(f, row)).toBe(false);
    m.folioPut(h);
    m.check('full');
  });

  it('large folio: answers from the pincount only, whatever the refcount', () => {
    const m = small();
    const h = m.folioAlloc(4);
    const row = rowOf(h);
    const f = m.kernel.folios;
    f.refAdd(h, 5000);
    expect(folioMaybeDmaPinnedLinux(f, row)).toBe(false);
    f.pincount[f.large[row]] = 1;
    expect(folioMaybeDmaPinnedLinux(f, row)).toBe(true);
    // Per folio: every page of it reads as maybe pinned.
    expect(m.page(m.folioPfn(h) + 9).maybeDmaPinned).toBe(true);
  });

  it('taking or dropping a reference on a folio that has none left is a KernelBug', () => {
    const m = small();
    const h = m.folioAlloc(0);
    const pfn = m.folioPfn(h);
    m.kernel.folios.refcount[rowOf(h)] = 0;
    expectBug(() => m.kernel.folios.refAdd(h, 1), pfn, /refcount > 0/);
    expectBug(() => m.kernel.folios.get(h), pfn, /folio_get: refcount > 0/);
    expectBug(() => m.kernel.folios.put(h), pfn, /put_page on a zero refcount/);
    expect(m.kernel.folios.refcount[rowOf(h)]).toBe(0);
    expect(m.kernel.pa.memmap.type(pfn)).toBe(MT.ANON);
  });
});

describe('reference counts must be whole and bounded', () => {
  it('refAdd and put refuse non-positive or fractional counts, and a grab that would overflow the refcount is ENOMEM', () => {
    const m = new Machine({ memory: '256M' });
    const h = m.folioAlloc(0);
    const f = m.kernel.folios;
    expect(() => f.refAdd(h, -1)).toThrow(KernelBug);
    expect(() => f.refAdd(h, 0.5)).toThrow(KernelBug);
    expect(() => f.put(h, -5)).toThrow(KernelBug);
    expect(() => f.put(h, 0.5)).toThrow(KernelBug);
    expect(() => f.refAdd(h, 2 ** 31)).toThrow(KernelError);
    expect(f.refcount[h >>> 0]).toBe(1);
  });
});
