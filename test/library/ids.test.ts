/**
 * Typed ids: the Machine's handles are branded by what they name (a types-only change: at run
 * time they are the model's numbers), and read as `folio#row.generation` in text.
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  type FolioId,
  formatId,
  KernelBug,
  Machine,
  type PagemapId,
  type PinHandle,
  type PtdescId,
} from '../../src/index.js';

describe('typed ids', () => {
  it('folio, ptdesc and GUP handles have their own types, none assignable to another or from a number', () => {
    const m = new Machine({ memory: '128M' });
    const f = m.folioAlloc(0);
    expectTypeOf(f).toEqualTypeOf<FolioId>();
    expectTypeOf(m.pageFolio(m.folioPfn(f))).toEqualTypeOf<FolioId>();
    expectTypeOf(m.pagetableAlloc(1)).toEqualTypeOf<PtdescId>();
    expectTypeOf<ReturnType<Machine['pinUserPages']>['id']>().toEqualTypeOf<PinHandle>();
    // @ts-expect-error a folio handle is not a page-table handle
    const wrong: PtdescId = f;
    // @ts-expect-error a plain number (a pfn, say) is not a folio handle
    const guessed: FolioId = 0x100;
    expect([wrong, guessed]).toEqual([f, 0x100]);
    // Still the model's plain numbers: every API taking a number takes them.
    expect(typeof f).toBe('number');
    m.folioPut(f);
  });

  it('the methods taking a handle take only their own kind: parameters are branded as well as results', () => {
    expectTypeOf<Parameters<Machine['folioPut']>[0]>().toEqualTypeOf<FolioId>();
    expectTypeOf<Parameters<Machine['folioGet']>[0]>().toEqualTypeOf<FolioId>();
    expectTypeOf<Parameters<Machine['folioPfn']>[0]>().toEqualTypeOf<FolioId>();
    expectTypeOf<Parameters<Machine['pagetableFree']>[0]>().toEqualTypeOf<PtdescId>();
    expectTypeOf<Parameters<Machine['pagetablePfn']>[0]>().toEqualTypeOf<PtdescId>();
    expectTypeOf<Parameters<Machine['unpinUserPages']>[0]>().toEqualTypeOf<PinHandle>();
    expectTypeOf<Parameters<Machine['putUserPages']>[0]>().toEqualTypeOf<PinHandle>();
    expectTypeOf<Parameters<Machine['dmaRead']>[0]>().toEqualTypeOf<PinHandle>();
    expectTypeOf<Parameters<Machine['dmaWrite']>[0]>().toEqualTypeOf<PinHandle>();
    expectTypeOf<Parameters<Machine['memunmapPages']>[0]>().toEqualTypeOf<PagemapId>();
    expectTypeOf<Parameters<Machine['pagemapInfo']>[0]>().toEqualTypeOf<PagemapId>();
    expectTypeOf<ReturnType<Machine['memremapPages']>['id']>().toEqualTypeOf<PagemapId>();
    expectTypeOf<ReturnType<Machine['pfnToPagePopulate']>>().toEqualTypeOf<FolioId>();
    const m = new Machine({ memory: '128M' });
    const pt = m.pagetableAlloc(1);
    // @ts-expect-error a page-table handle cannot be put as a folio
    expect(() => m.folioPut(pt)).toThrow(KernelBug);
    m.pagetableFree(pt);
    const f = m.folioAlloc(0);
    // @ts-expect-error nor a folio unpinned as a GUP handle
    expect(() => m.unpinUserPages(f)).toThrow();
    m.folioPut(f);
  });

  it('read as folio#row.generation; a reused row has the next generation; the stale-use bug says which', () => {
    const m = new Machine({ memory: '128M' });
    const a = m.folioAlloc(0);
    expect(formatId('folio', a)).toBe('folio#0.1');
    m.folioPut(a);
    const b = m.folioAlloc(0);
    expect(formatId('folio', b)).toBe('folio#0.2');
    let caught: unknown;
    try {
      m.folioPut(a);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(KernelBug);
    expect((caught as KernelBug).message).toContain('stale or invalid folio handle #0.1');
  });
});
