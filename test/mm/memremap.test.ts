/**
 * Device memory (memremap_pages) with an eager, lazy or absent memmap (kernel-semantics §14.2):
 * the shared invalid descriptor every ordinary path refuses, population by the sanctioned
 * accessor, use, release and least-recently-allocated reclaim under a limit — invariants `full`
 * after every step — GUP only on real descriptors, and the metadata accounting of 1 and 16 TiB.
 */
import { describe, expect, it } from 'vitest';
import { devmemReport } from '../../src/cli/devmem_command.js';
import { devmemCost, devmemTable, vmemmapPagesPerFolio } from '../../src/designs/devmem.js';
import { Machine } from '../../src/index.js';
import { GiB, KernelError, MiB, TiB } from '../../src/mm/types.js';
import { errnoOf as errno } from '../helpers.js';

const PAGE = 4096;
const CHUNK = 64;

/** A machine with a lazy device of 8 chunks (512 pfns) and a driver that maps its pages by offset. */
function lazy(limit = 0) {
  const m = new Machine({ memory: '256M', check: 'full' });
  const p = m.spawn('p');
  const dev = m.memremapPages(8 * CHUNK * PAGE, { mode: 'lazy', limit, name: 'pmem0' });
  m.defineDevice('pmem', {
    mmap: (ctx) => ctx.setFlags(['mixedmap']),
    fault: (ctx, vmf) => {
      // A DAX-like driver: populate the descriptor through the sanctioned accessor, then map it counted.
      try {
        m.kernel.devmem.pfnToPagePopulate(dev.startPfn + vmf.pgoff);
      } catch (e) {
        if (e instanceof KernelError && e.errno === 'ENOMEM') return 'oom';
        throw e;
      }
      ctx.vmInsertPage(vmf.addr, dev.startPfn + vmf.pgoff);
      return 'nopage';
    },
  });
  return { m, p, dev };
}

describe('lazy memmap', () => {
  it('device pfns sit above RAM; an unpopulated pfn has the shared invalid descriptor that every path refuses', () => {
    const { m, p, dev } = lazy();
    expect(dev.startPfn).toBeGreaterThanOrEqual(m.totalPages);
    expect(m.devicePage(dev.startPfn + 5)).toMatchObject({ descriptor: 'invalid', refcount: 0 });
    m.defineDevice('raw', { mmap: (ctx) => ctx.setFlags(['mixedmap']) });
    const a = m.mmapDevice(p, { device: 'raw', length: 2 * PAGE, prot: 'rw', flags: ['shared'] });
    const d = m.driverCall(p, a);
    expect(errno(() => d.vmInsertPage(a, dev.startPfn + 5))).toBe('EINVAL');
    // The pfn API maps it uncounted (special); GUP finds no page there.
    expect(d.vmfInsertMixed(a + PAGE, dev.startPfn + 5)).toBe('nopage');
    expect(m.vmNormalPage(p, a + PAGE)).toBeNull();
    expect(errno(() => m.pinUserPages(p, a + PAGE, 1))).toBe('EEXIST');
    expect(m.pagemapInfo(dev.id).chunks).toEqual([]);
  });

  it('populates, uses, releases and reclaims chunks least-recently-allocated first under the limit', () => {
    const { m, p, dev } = lazy(2);
    const a = m.mmapDevice(p, { device: 'pmem', length: 8 * CHUNK * PAGE, prot: 'rw', flags: ['shared'] });
    const page = (chunk: number, i = 0) => a + (chunk * CHUNK + i) * PAGE;
    m.write(p, page(0, 3), { byte: 0xa0, len: 1 });
    expect(m.pagemapInfo(dev.id).chunks).toEqual([0]);
    expect(m.devicePage(dev.startPfn + 3)).toMatchObject({ descriptor: 'real', refcount: 2, mapcount: 1 });
    // The rest of chunk 0 has real descriptors too, idle (the pagemap's own reference).
    expect(m.devicePage(dev.startPfn + 4)).toMatchObject({ descriptor: 'real', refcount: 1, mapcount: 0 });
    m.touch(p, page(1), PAGE);
    expect(m.pagemapInfo(dev.id).chunks).toEqual([0, 1]);
    // Both chunks are in use and the limit is 2: a third chunk cannot be had (VM_FAULT_OOM).
    expect(errno(() => m.read(p, page(2), 1))).toBe('ENOMEM');
    m.check('full');
    // Release chunk 1: the next population reclaims it, not the older but busy chunk 0.
    m.munmap(p, page(1), CHUNK * PAGE);
    m.touch(p, page(2), PAGE);
    expect(m.pagemapInfo(dev.id)).toMatchObject({ chunks: [0, 2], populated: 3, reclaimed: 1 });
    expect(m.devicePage(dev.startPfn + CHUNK).descriptor).toBe('invalid');
    // Release chunk 0 too: it is now the least recently allocated idle chunk and goes first.
    m.munmap(p, page(0), CHUNK * PAGE);
    m.munmap(p, page(2), CHUNK * PAGE);
    m.touch(p, page(5), PAGE);
    expect(m.pagemapInfo(dev.id).chunks).toEqual([2, 5]);
    // Contents live with the frame, not the descriptor: chunk 0's byte survived its reclaim.
    expect(m.physRead(dev.startPfn + 3, 0, 1)[0]).toBe(0xa0);
    // An explicit reclaim takes every idle chunk; memunmap needs every page idle.
    expect(m.devmemReclaim(dev.id)).toBe(1);
    expect(errno(() => m.memunmapPages(dev.id))).toBe('EBUSY');
    m.exit(p);
    m.memunmapPages(dev.id);
    m.check('full');
    expect(m.kernel.folios.live).toBeLessThan(10);
  });

  it('GUP works on device pages once they have real descriptors: get, pin, fork, COW', () => {
    const { m, p, dev } = lazy();
    const a = m.mmapDevice(p, { device: 'pmem', length: 2 * PAGE, prot: 'rw', flags: ['shared'] });
    const pin = m.pinUserPages(p, a, 2, ['write', 'longterm']);
    expect(pin.pfns[1]).toBe(dev.startPfn + 1);
    expect(m.devicePage(dev.startPfn)).toMatchObject({ refcount: 2 + 1024, mapcount: 1, pins: 1 });
    // A pinned chunk is never reclaimed.
    expect(m.devmemReclaim(dev.id)).toBe(0);
    const c = m.fork(p, 'c');
    expect(m.devicePage(dev.startPfn)).toMatchObject({ mapcount: 2 });
    m.exit(c);
    m.unpinUserPages(pin.id);
    m.munmap(p, a, 2 * PAGE);
    expect(m.devicePage(dev.startPfn)).toMatchObject({ refcount: 1, mapcount: 0, pins: 0 });
    expect(m.devmemReclaim(dev.id)).toBe(1);
    // A private mapping copies on write from the device frame.
    m.physWrite(dev.startPfn + 7, 0, { byte: 0x3c, len: 1 });
    const b = m.mmapDevice(p, { device: 'pmem', length: 8 * PAGE, prot: 'rw', flags: ['private'] });
    m.write(p, b + 7 * PAGE + 1, { byte: 1, len: 1 });
    expect(m.pageAt(p, b + 7 * PAGE)?.type).toBe('anon');
    expect(m.read(p, b + 7 * PAGE, 2).bytes).toEqual(new Uint8Array([0x3c, 1]));
    expect(m.devicePage(dev.startPfn + 7)).toMatchObject({ refcount: 1, mapcount: 0 });
  });
});

describe('eager and pfn-only device memory', () => {
  it('eager: every pfn has a descriptor from the start and none is ever reclaimed', () => {
    const m = new Machine({ memory: '256M', check: 'full' });
    const dev = m.memremapPages('1M', { mode: 'eager' });
    expect(m.pagemapInfo(dev.id).chunks).toHaveLength(4);
    expect(m.devicePage(dev.startPfn + 255)).toMatchObject({ descriptor: 'real', refcount: 1 });
    expect(m.devmemReclaim(dev.id)).toBe(0);
    m.memunmapPages(dev.id);
    expect(m.kernel.folios.live).toBe(0);
  });

  it('none: pfn-only memory has no descriptor; only the pfn APIs map it; pfn_valid is false', () => {
    const m = new Machine({ memory: '256M', check: 'full' });
    const p = m.spawn('p');
    const io = m.ioRegion('256K');
    expect(m.devicePage(io)).toMatchObject({ descriptor: 'none' });
    expect(errno(() => m.pfnToPagePopulate(io))).toBe('EINVAL');
    m.defineDevice('raw', { mmap: (ctx) => ctx.setFlags(['mixedmap']) });
    const a = m.mmapDevice(p, { device: 'raw', length: PAGE, prot: 'r', flags: ['shared'] });
    const d = m.driverCall(p, a);
    expect(errno(() => d.vmInsertPage(a, io))).toBe('EINVAL');
    // vmf_insert_pfn into a mixed map is fine for a pfn without a struct page.
    expect(d.vmfInsertPfn(a, io)).toBe('nopage');
    expect(errno(() => m.getUserPages(p, a, 1))).toBe('EEXIST');
  });

  it('memremap_pages errnos: bad size and bad mode are EINVAL', () => {
    const m = new Machine({ memory: '256M' });
    expect(errno(() => m.memremapPages(PAGE, { mode: 'lazy' }))).toBe('EINVAL');
    expect(errno(() => m.memremapPages('1M', { mode: 'sparse' as never }))).toBe('EINVAL');
  });
});

describe('device memmap accounting (§14.2)', () => {
  it('struct page eager is 64 B a pfn: 16 GiB for 1 TiB; pfn-only costs nothing; memdesc eager 88 B a pfn', () => {
    expect(devmemCost(TiB, 'struct-page', 'eager', 0.01).totalBytes).toBe(16 * GiB);
    expect(devmemCost(16 * TiB, 'struct-page', 'eager', 1).totalBytes).toBe(256 * GiB);
    expect(devmemCost(TiB, 'memdesc', 'eager', 0.1).totalBytes).toBe(88 * 2 ** 28);
    for (const layout of ['struct-page', 'memdesc'] as const)
      expect(devmemCost(16 * TiB, layout, 'none', 1).totalBytes).toBe(0);
  });

  it('lazy: one memmap page per 64 (struct page) or 512 (memdesc) pfns touched, plus the PTEs to the shared page', () => {
    const sp = devmemCost(TiB, 'struct-page', 'lazy', 0.01);
    const touched = Math.ceil(2 ** 28 * 0.01);
    expect(sp.memmapBytes).toBe(Math.ceil(touched / 64) * PAGE);
    expect(sp.reserveBytes).toBe((2 ** 28 / 64) * 8 + PAGE);
    const md = devmemCost(TiB, 'memdesc', 'lazy', 0.01);
    expect(md.memmapBytes).toBe(Math.ceil(touched / 512) * PAGE);
    expect(md.descriptorBytes).toBe(touched * 80);
    // Touching everything, lazy costs its reserve more than eager.
    expect(devmemCost(TiB, 'struct-page', 'lazy', 1).totalBytes).toBe(16 * GiB + 32 * MiB + PAGE);
    // Lazy grows with the workload, linearly.
    const rows = devmemTable(16 * TiB).filter((r) => r.mode === 'lazy' && r.layout === 'struct-page');
    expect(rows.map((r) => r.touched)).toEqual([0.01, 0.1, 1]);
    expect(rows[0].totalBytes).toBeLessThan(rows[1].totalBytes);
    expect(rows[1].totalBytes).toBeLessThan(rows[2].totalBytes);
  });

  it('pagelab devmem prints the table for 1T and 16T', () => {
    const text = devmemReport(['1T', '16T']);
    expect(text).toContain('device 1T');
    expect(text).toContain('device 16T');
    // 2 layouts x 3 modes x 3 orders.
    expect(text.split('\n').filter((l) => /^(struct-page|memdesc)/.test(l))).toHaveLength(36);
  });

  it('compound devmaps, struct page: 2 real vmemmap pages per folio of order 9 or 18 (vmemmap_populate_compound_pages)', () => {
    expect(vmemmapPagesPerFolio(0)).toBe(1 / 64);
    expect(vmemmapPagesPerFolio(9)).toBe(2); // of 8: 6 saved per 2 MiB
    expect(vmemmapPagesPerFolio(18)).toBe(2); // of 4096: 4094 saved per 1 GiB
    // 1 TiB: 524288 2 MiB folios x (2 pages + 8 PTEs); 1024 1 GiB folios x (2 pages + 4096 PTEs).
    const o9 = devmemCost(TiB, 'struct-page', 'eager', 1, 9);
    expect(o9.memmapBytes).toBe(524288 * 2 * PAGE);
    expect(o9.reserveBytes).toBe(524288 * 8 * 8);
    const o18 = devmemCost(TiB, 'struct-page', 'eager', 1, 18);
    expect(o18.memmapBytes).toBe(1024 * 2 * PAGE);
    expect(o18.reserveBytes).toBe(1024 * 4096 * 8);
    expect(o18.totalBytes).toBe(40 * MiB);
    // Order 0 has nothing to share: the plain 64 B a pfn, no extra page tables counted.
    expect(devmemCost(TiB, 'struct-page', 'eager', 1, 0).totalBytes).toBe(16 * GiB);
  });

  it('compound devmaps, memdesc: an 8-byte word a pfn and one large-folio descriptor per folio', () => {
    const o9 = devmemCost(TiB, 'memdesc', 'eager', 1, 9);
    expect(o9.memmapBytes).toBe(2 ** 28 * 8);
    expect(o9.descriptorBytes).toBe(524288 * 144);
    expect(devmemCost(TiB, 'memdesc', 'eager', 1, 18).descriptorBytes).toBe(1024 * 144);
    // The fair comparison: memdesc wins at order 0? No: 88 B against 64 B a pfn. At order 9 it
    // wins (words only: 8 B against 16 B a pfn); at order 18 the deduplicated vmemmap wins by 50x.
    const cost = (layout: 'memdesc' | 'struct-page', order: number) =>
      devmemCost(TiB, layout, 'eager', 1, order).totalBytes;
    expect(cost('memdesc', 0)).toBeGreaterThan(cost('struct-page', 0));
    expect(cost('memdesc', 9)).toBeLessThan(cost('struct-page', 9));
    expect(cost('memdesc', 18)).toBeGreaterThan(50 * cost('struct-page', 18));
  });

  it('lazy, compound: the touched folios populate whole memmap pages (2 per deduplicated folio)', () => {
    const sp = devmemCost(TiB, 'struct-page', 'lazy', 0.01, 9);
    expect(sp.memmapBytes).toBe(Math.ceil(524288 * 0.01) * 2 * PAGE);
    const md = devmemCost(TiB, 'memdesc', 'lazy', 0.01, 9);
    expect(md.descriptorBytes).toBe(Math.ceil(524288 * 0.01) * 144);
    expect(() => devmemCost(TiB, 'memdesc', 'lazy', 0.01, -1)).toThrow(RangeError);
  });
});
