import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/index.js';
import { MT } from '../../src/mm/memdesc.js';
import { NULL_HANDLE } from '../../src/mm/pool.js';
import { KMALLOC_MAX_CACHE_SIZE, slabOrderFor } from '../../src/mm/slab.js';
import { PAGE_SIZE } from '../../src/mm/types.js';
import { expectBug, expectErrno, observable, untilEnomem } from '../helpers.js';

const small = () => new Machine({ memory: '256M', check: 'cheap' });

/** Every object the model holds as allocated, by address -> cache name, read from the slab pool. */
function liveObjects(m: Machine): Map<number, string> {
  const s = m.kernel.slab;
  const out = new Map<number, string>();
  for (const row of s.liveSlabs()) {
    const c = s.caches[s.cache[row]];
    const base = s.bitsBase[row];
    for (let i = 0; i < c.objectsPerSlab; i++) {
      const free = s.freeBits[base + (i >>> 5)] & (1 << (i & 31));
      if (!free) out.set(s.pfn[row] * PAGE_SIZE + i * c.stride, c.name);
    }
  }
  return out;
}

const info = (m: Machine, name: string) => m.slabinfo().find((r) => r.name === name)!;

describe('cache geometry (calculate_order)', () => {
  // Minimum objects per slab with 2 CPUs: 4 * (fls(2) + 1) = 12; waste at most 1/16 of the slab.
  it.each([
    [8, 0, 512],
    [24, 0, 170],
    [192, 0, 21],
    [600, 1, 13],
    [1000, 2, 16],
    [4000, 3, 8],
  ])('a %i-byte object gets order %i and %i objects per slab', (size, order, objs) => {
    const m = small();
    m.kmemCacheCreate('c', size);
    expect(info(m, 'c')).toMatchObject({ objSize: size, objPerSlab: objs, pagesPerSlab: 1 << order });
    expect(slabOrderFor(size)).toBe(order);
  });

  it.each([
    [32 * 1024 + 1, 4],
    [64 * 1024, 4],
    [1 << 20, 8],
    [PAGE_SIZE << 10, 10],
  ])(
    'a %i-byte object cache falls back to get_order(size) slabs (order %i) beyond slub_max_order',
    (size, order) => {
      const m = small();
      m.kmemCacheCreate('big', size);
      expect(info(m, 'big')).toMatchObject({ objPerSlab: 1, pagesPerSlab: 1 << order });
      const a = m.kmemCacheAlloc('big');
      expect(m.page(Math.floor(a / PAGE_SIZE))).toMatchObject({ type: 'slab', order });
      m.kmemCacheFree('big', a);
      m.check('full');
    },
  );

  it('refuses sizes the slab allocator cannot serve', () => {
    const m = small();
    expectErrno(() => m.kernel.slab.create('zero', 0), 'EINVAL');
    // KMALLOC_MAX_SIZE (order MAX_PAGE_ORDER) is the limit; calculate_order fails above it.
    expectErrno(() => m.kernel.slab.create('huge', (PAGE_SIZE << 10) + 1), 'EINVAL');
    expectErrno(() => m.kernel.slab.create('', 64), 'EINVAL');
    expect(() => m.kmemCacheCreate('kmalloc-64', 64)).toThrow(/already exists/);
  });
});

describe('kmem_cache_alloc / kmem_cache_free', () => {
  it('fills a slab lowest object first, then starts a new slab', () => {
    const m = small();
    m.kmemCacheCreate('dentry', 192);
    const objs = Array.from({ length: 22 }, () => m.kmemCacheAlloc('dentry'));
    const first = Math.floor(objs[0] / PAGE_SIZE);
    for (let i = 0; i < 21; i++) expect(objs[i]).toBe(first * PAGE_SIZE + i * 192);
    expect(Math.floor(objs[21] / PAGE_SIZE)).not.toBe(first);
    expect(info(m, 'dentry')).toMatchObject({ activeObjs: 22, numObjs: 42, numSlabs: 2 });
    expect(m.meminfo().Slab).toBe(8);
    // A freed object is the next one handed out (its slab is partial again).
    m.kmemCacheFree('dentry', objs[5]);
    expect(m.kmemCacheAlloc('dentry')).toBe(objs[5]);
    m.check('full');
  });

  it('slab frames are typed SLAB and are not folios', () => {
    const m = small();
    m.kmemCacheCreate('inode_cache', 600);
    const a = m.kmemCacheAlloc('inode_cache');
    const pfn = Math.floor(a / PAGE_SIZE);
    // An order-1 slab: both frames carry the slab's memdesc.
    for (const p of [pfn, pfn + 1]) {
      expect(m.kernel.pa.memmap.type(p)).toBe(MT.SLAB);
      expect(m.pageFolio(p)).toBe(NULL_HANDLE);
      expect(m.page(p)).toMatchObject({ type: 'slab', head: pfn, order: 1, folio: 0 });
      expect(m.page(p).flagNames).toBe('slab:inode_cache');
    }
    expect(m.kernel.folios.live).toBe(0);
  });

  it('a reclaimable cache takes its slabs from Reclaimable pageblocks', () => {
    const m = small();
    m.kmemCacheCreate('dentry', 192, { reclaimable: true });
    const a = m.kmemCacheAlloc('dentry');
    expect(m.page(Math.floor(a / PAGE_SIZE)).migratetype).toBe('Reclaimable');
  });

  it('the last free of a slab gives its pages back at once', () => {
    const m = small();
    const free0 = m.meminfo().MemFree;
    m.kmemCacheCreate('c', 1000);
    const a = m.kmemCacheAlloc('c');
    expect(m.meminfo().MemFree).toBe(free0 - 16);
    m.kmemCacheFree('c', a);
    expect(info(m, 'c')).toMatchObject({ activeObjs: 0, numSlabs: 0 });
    expect(m.meminfo().MemFree).toBe(free0);
    expect(m.page(Math.floor(a / PAGE_SIZE)).type).toBe('buddy');
    m.check('full');
  });

  it('ENOMEM for a new slab leaves the machine as it was; a partial slab still serves', () => {
    const m = new Machine({ memory: '256M' });
    m.kmemCacheCreate('a', 64);
    m.kmemCacheCreate('b', 64);
    const a = m.kmemCacheAlloc('a');
    for (let order = 10; order >= 0; order--) untilEnomem(() => m.allocPages(order));
    const before = observable(m);
    expectErrno(() => m.kmemCacheAlloc('b'), 'ENOMEM');
    expect(observable(m)).toEqual(before);
    expect(m.kmemCacheAlloc('a')).toBe(a + 64);
    m.check('full');
  });
});

describe('kmalloc / kfree', () => {
  it.each([
    [1, 'kmalloc-8'],
    [8, 'kmalloc-8'],
    [9, 'kmalloc-16'],
    [65, 'kmalloc-96'],
    [100, 'kmalloc-128'],
    [129, 'kmalloc-192'],
    [4096, 'kmalloc-4k'],
    [8192, 'kmalloc-8k'],
  ])('kmalloc(%i) comes from %s', (size, cache) => {
    const m = small();
    const a = m.kmalloc(size);
    expect(info(m, cache).activeObjs).toBe(1);
    expect(m.page(Math.floor(a / PAGE_SIZE)).flagNames).toBe(`slab:${cache}`);
    m.kfree(a);
    expect(info(m, cache).activeObjs).toBe(0);
    m.check('full');
  });

  it.each([
    [KMALLOC_MAX_CACHE_SIZE + 1, 2],
    [4 * PAGE_SIZE, 2],
    [4 * PAGE_SIZE + 1, 3],
    [64 * 1024, 4],
  ])('kmalloc(%i) above 8 KiB takes whole LARGE_KMALLOC pages of order %i', (size, order) => {
    const m = small();
    const free0 = m.meminfo().MemFree;
    const slabs = m.slabinfo();
    const a = m.kmalloc(size);
    const pfn = a / PAGE_SIZE;
    expect(Number.isInteger(pfn)).toBe(true);
    expect(m.page(pfn)).toMatchObject({ type: 'large_kmalloc', order, head: pfn, refcount: 1 });
    expect(m.page(pfn + (1 << order) - 1).type).toBe('large_kmalloc');
    // kmalloc_large accounts its pages as NR_SLAB_UNRECLAIMABLE_B: Slab and SUnreclaim, no slab cache.
    expect(m.meminfo()).toMatchObject({ Slab: (1 << order) * 4, SUnreclaim: (1 << order) * 4 });
    expect(m.slabinfo()).toEqual(slabs);
    m.kfree(a);
    expect(m.meminfo().Slab).toBe(0);
    expect(m.meminfo().MemFree).toBe(free0);
    expect(m.page(pfn).type).toBe('buddy');
    m.check('full');
  });

  it('above KMALLOC_MAX_SIZE (one max-order block, 4 MiB) kmalloc fails with ENOMEM, changing nothing', () => {
    const m = small();
    const a = m.kmalloc(4 * 1024 * 1024);
    expect(m.page(a / PAGE_SIZE)).toMatchObject({ type: 'large_kmalloc', order: 10 });
    m.kfree(a);
    const before = observable(m);
    const count = m.stat.events.kmalloc;
    expectErrno(() => m.kmalloc(4 * 1024 * 1024 + 1), 'ENOMEM');
    expect(observable(m)).toEqual(before);
    expect(m.stat.events.kmalloc).toBe(count);
  });

  it('rejects sizes that are not positive whole numbers', () => {
    const m = small();
    expectErrno(() => m.kmalloc(0), 'EINVAL');
    expectErrno(() => m.kmalloc(1.5), 'EINVAL');
  });
});

describe('slab misuse is a KernelBug that changes nothing', () => {
  it('double free', () => {
    const m = small();
    m.kmemCacheCreate('c', 256);
    const a = m.kmemCacheAlloc('c');
    m.kmemCacheAlloc('c');
    m.kmemCacheFree('c', a);
    const before = observable(m);
    const pfn = Math.floor(a / PAGE_SIZE);
    expectBug(() => m.kmemCacheFree('c', a), pfn, /slab: double free/);
    expectBug(() => m.kfree(a), pfn, /slab: double free/);
    expect(observable(m)).toEqual(before);
    m.check('full');
  });

  it('a free to the wrong cache', () => {
    const m = small();
    m.kmemCacheCreate('a', 128);
    m.kmemCacheCreate('b', 128);
    const x = m.kmemCacheAlloc('a');
    m.kmemCacheAlloc('b');
    const before = observable(m);
    expectBug(() => m.kmemCacheFree('b', x), Math.floor(x / PAGE_SIZE), /cache_from_obj: wrong cache/);
    expect(observable(m)).toEqual(before);
    expect(info(m, 'a').activeObjs).toBe(1);
  });

  it('pointers that are not slab objects', () => {
    const m = small();
    m.kmemCacheCreate('c', 192);
    const x = m.kmemCacheAlloc('c');
    const xpfn = Math.floor(x / PAGE_SIZE);
    const f = m.folioAlloc(0);
    const fpfn = m.folioPfn(f);
    const big = m.kmalloc(16 * 1024);
    const bpfn = big / PAGE_SIZE;
    const before = observable(m);
    expectBug(() => m.kfree(fpfn * PAGE_SIZE), fpfn, /kfree: not a kmalloc object/);
    expectBug(() => m.kmemCacheFree('c', fpfn * PAGE_SIZE), fpfn, /kmem_cache_free: object not from a slab/);
    expectBug(() => m.kfree(0), 0, /kfree: not a kmalloc object/);
    expectBug(() => m.kfree(40000 * PAGE_SIZE), 40000, /not a kmalloc object/);
    expectBug(() => m.kfree(x + 8), xpfn, /slab: invalid object pointer/);
    // Past the last whole object: 21 objects of 192 bytes end at 4032.
    expectBug(() => m.kfree(xpfn * PAGE_SIZE + 4032), xpfn, /slab: invalid object pointer/);
    expectBug(() => m.kfree(big + PAGE_SIZE), bpfn + 1, /kfree: invalid pointer/);
    expect(observable(m)).toEqual(before);
    m.kfree(big);
    expectBug(() => m.kfree(big), bpfn, /not a kmalloc object/);
    m.check('full');
  });
});

describe('slab alloc/free across many caches', () => {
  const SIZES = [8, 24, 64, 100, 192, 600, 1000, 3000, 4000];
  const op = fc.oneof(
    {
      weight: 3,
      arbitrary: fc.record({ op: fc.constant('alloc' as const), cache: fc.nat(SIZES.length - 1) }),
    },
    {
      weight: 2,
      arbitrary: fc.record({ op: fc.constant('kmalloc' as const), size: fc.integer({ min: 1, max: 20000 }) }),
    },
    { weight: 4, arbitrary: fc.record({ op: fc.constant('free' as const), pick: fc.nat() }) },
  );

  test.prop([fc.array(op, { minLength: 1, maxLength: 300 })], { numRuns: 20 })(
    'the live objects equal a reference set and slabinfo agrees with it',
    (ops) => {
      const m = new Machine({ memory: '256M' });
      const free0 = m.meminfo().MemFree;
      for (const [i, size] of SIZES.entries()) m.kmemCacheCreate(`c${i}`, size);
      /** address -> cache name, or 'large:<order>' for large kmallocs. */
      const ref = new Map<number, string>();
      for (const o of ops) {
        if (o.op === 'alloc') {
          const a = m.kmemCacheAlloc(`c${o.cache}`);
          expect(ref.has(a)).toBe(false);
          ref.set(a, `c${o.cache}`);
        } else if (o.op === 'kmalloc') {
          const a = m.kmalloc(o.size);
          expect(ref.has(a)).toBe(false);
          if (o.size > KMALLOC_MAX_CACHE_SIZE) {
            ref.set(a, `large:${Math.ceil(Math.log2(Math.ceil(o.size / PAGE_SIZE)))}`);
          } else {
            const name = m.page(Math.floor(a / PAGE_SIZE)).flagNames.slice('slab:'.length);
            expect(m.kernel.slab.cacheByName(name)!.objectSize).toBeGreaterThanOrEqual(o.size);
            ref.set(a, name);
          }
        } else if (ref.size > 0) {
          const [a, name] = [...ref][o.pick % ref.size];
          if (name.startsWith('c')) m.kmemCacheFree(name, a);
          else m.kfree(a);
          ref.delete(a);
        }
      }
      const slabObjs = new Map([...ref].filter(([, n]) => !n.startsWith('large:')));
      expect(liveObjects(m)).toEqual(slabObjs);
      // Every object lies inside a SLAB frame of its own cache, whole.
      const s = m.kernel.slab;
      for (const [a, name] of slabObjs) {
        const pfn = Math.floor(a / PAGE_SIZE);
        expect(m.kernel.pa.memmap.type(pfn)).toBe(MT.SLAB);
        const row = m.kernel.pa.memmap.hi(pfn);
        const c = s.caches[s.cache[row]];
        expect(c.name).toBe(name);
        const off = a - s.pfn[row] * PAGE_SIZE;
        expect(off % c.stride).toBe(0);
        expect(off + c.objectSize).toBeLessThanOrEqual(PAGE_SIZE << c.order);
      }
      let slabPages = 0;
      for (const r of m.slabinfo()) {
        const n = [...slabObjs.values()].filter((x) => x === r.name).length;
        expect(r.activeObjs).toBe(n);
        // Empty slabs are freed at once, so every slab holds at least one object.
        expect(r.numSlabs).toBeLessThanOrEqual(n);
        expect(r.numObjs).toBe(r.numSlabs * r.objPerSlab);
        expect(r.numObjs).toBeGreaterThanOrEqual(n);
        slabPages += r.numSlabs * r.pagesPerSlab;
      }
      const largePages = [...ref.values()]
        .filter((n) => n.startsWith('large:'))
        .reduce((t, n) => t + (1 << Number(n.slice(6))), 0);
      expect(m.meminfo().Slab).toBe((slabPages + largePages) * 4);
      m.check('full');

      for (const [a, name] of ref) {
        if (name.startsWith('c')) m.kmemCacheFree(name, a);
        else m.kfree(a);
      }
      expect(m.meminfo().Slab).toBe(0);
      expect(m.meminfo().MemFree).toBe(free0);
      expect(m.kernel.slab.live).toBe(0);
      m.check('full');
    },
  );
});
