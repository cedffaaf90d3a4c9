import { describe, expect, it } from 'vitest';
import { ConfigError, Machine } from '../../src/index.js';
import { MT } from '../../src/mm/memdesc.js';
import { PTRS_PER_TABLE } from '../../src/mm/pgtable.js';
import { NULL_HANDLE } from '../../src/mm/pool.js';
import { expectBug, expectErrno, observable, untilEnomem } from '../helpers.js';

const small = () => new Machine({ memory: '256M', check: 'cheap' });
const rowOf = (h: number) => h >>> 0;

describe('ptdesc allocation', () => {
  it.each([
    [1, 'pte'],
    [2, 'pmd'],
    [3, 'pud'],
    [4, 'pgd'],
  ])('a level-%i table is one zeroed page typed PGTABLE (%s)', (level, name) => {
    const m = small();
    const free0 = m.meminfo().MemFree;
    const h = m.pagetableAlloc(level);
    const pfn = m.pagetablePfn(h);
    const pt = m.kernel.ptdesc;
    expect(m.kernel.pa.memmap.type(pfn)).toBe(MT.PGTABLE);
    expect(m.kernel.pa.memmap.hi(pfn)).toBe(rowOf(h));
    expect(m.page(pfn)).toMatchObject({ type: 'pgtable', order: 0, flagNames: `table:${name}`, folio: 0 });
    expect(m.pageFolio(pfn)).toBe(NULL_HANDLE);
    expect(pt.level[rowOf(h)]).toBe(level);
    expect(pt.mm[rowOf(h)]).toBe(0);
    expect(pt.used[rowOf(h)]).toBe(0);
    const entries = pt.entries.subarray(rowOf(h) * PTRS_PER_TABLE, (rowOf(h) + 1) * PTRS_PER_TABLE);
    expect(entries.length).toBe(512);
    expect(entries.every((e) => e === 0)).toBe(true);
    expect(m.meminfo().PageTables).toBe(4);
    expect(m.meminfo().MemFree).toBe(free0 - 4);
    const byLevel = [0, 0, 0, 0, 0];
    byLevel[level] = 1;
    expect(pt.countByLevel()).toEqual(byLevel);

    m.pagetableFree(h);
    expect(m.page(pfn).type).toBe('buddy');
    expect(m.meminfo().PageTables).toBe(0);
    expect(m.meminfo().MemFree).toBe(free0);
    expect(pt.live).toBe(0);
    m.check('full');
  });

  it('a reused descriptor comes back with an empty table', () => {
    const m = small();
    const pt = m.kernel.ptdesc;
    const h = m.pagetableAlloc(1);
    const base = rowOf(h) * PTRS_PER_TABLE;
    pt.entries[base + 3] = 12345;
    pt.used[rowOf(h)] = 1;
    pt.entries[base + 3] = 0;
    pt.used[rowOf(h)] = 0;
    pt.entries[base + 100] = 999; // a stale non-zero word the counter does not know about
    m.pagetableFree(h);
    const g = m.pagetableAlloc(2);
    expect(rowOf(g)).toBe(rowOf(h));
    expect(pt.entries.subarray(base, base + PTRS_PER_TABLE).every((e) => e === 0)).toBe(true);
    expect(pt.used[rowOf(g)]).toBe(0);
  });

  it('allocates on the requested node', () => {
    const m = new Machine({ memory: '1G', nodes: 2 });
    const h = m.pagetableAlloc(1, { nid: 1 });
    expect(m.page(m.pagetablePfn(h)).nid).toBe(1);
  });

  it('refuses levels outside 1..4', () => {
    const m = small();
    expect(() => m.pagetableAlloc(0)).toThrow(ConfigError);
    expect(() => m.pagetableAlloc(5)).toThrow(ConfigError);
  });

  it('ENOMEM takes no descriptor and changes nothing', () => {
    const m = new Machine({ memory: '256M' });
    for (let order = 10; order >= 0; order--) untilEnomem(() => m.allocPages(order));
    const before = observable(m);
    expectErrno(() => m.pagetableAlloc(1), 'ENOMEM');
    expect(m.kernel.ptdesc.live).toBe(0);
    expect(observable(m)).toEqual(before);
  });
});

describe('ptdesc misuse', () => {
  it('freeing a table with entries in use is a KernelBug; nothing changes', () => {
    const m = small();
    const pt = m.kernel.ptdesc;
    const h = m.pagetableAlloc(1);
    const pfn = m.pagetablePfn(h);
    // One PTE in use (the virtual-memory layer writes entries; here we write it directly).
    pt.entries[rowOf(h) * PTRS_PER_TABLE + 17] = 0x1234;
    pt.used[rowOf(h)] = 1;
    const before = observable(m);
    expectBug(() => m.pagetableFree(h), pfn, /pagetable_free: table not empty/);
    expect(observable(m)).toEqual(before);
    expect(m.kernel.pa.memmap.type(pfn)).toBe(MT.PGTABLE);
    expect(pt.live).toBe(1);
    pt.entries[rowOf(h) * PTRS_PER_TABLE + 17] = 0;
    pt.used[rowOf(h)] = 0;
    m.pagetableFree(h);
    m.check('full');
  });

  it('freeing a table twice (stale handle) is a KernelBug naming its PFN; nothing changes', () => {
    const m = small();
    const h = m.pagetableAlloc(3);
    const pfn = m.pagetablePfn(h);
    m.pagetableFree(h);
    const before = observable(m);
    expectBug(() => m.pagetableFree(h), pfn, /ptdesc: use after free/);
    expectBug(() => m.pagetablePfn(h), pfn, /ptdesc: use after free/);
    expect(observable(m)).toEqual(before);
    // A table allocated into the reused row is not disturbed by the stale handle.
    const g = m.pagetableAlloc(1);
    expect(rowOf(g)).toBe(rowOf(h));
    expectBug(() => m.pagetableFree(h), pfn, /ptdesc: use after free/);
    expect(m.kernel.ptdesc.live).toBe(1);
    m.check('full');
  });
});
