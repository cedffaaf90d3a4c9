/**
 * mTHP: anonymous large folios below PMD size, chosen per fault by alloc_anon_folio from the
 * per-size knobs (huge_mm.ts, memory_anon.ts), and what COW, fork, pins, partial zaps and splits do
 * to a PTE-mapped large folio. Expected values follow mm/memory.c, include/linux/huge_mm.h and
 * Documentation/admin-guide/mm/transhuge.rst.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Machine, type MachineConfig } from '../../src/index.js';

const PAGE = 4096;
const K = 1024;
const PMD = 2 << 20;

function region(thp: MachineConfig['thp'], opts: { len?: number; hugepage?: boolean } = {}) {
  const m = new Machine({ memory: '512M', check: 'full', thp });
  const p = m.spawn('p');
  const len = opts.len ?? PMD;
  const buf = m.mmap(p, { length: len, prot: 'rw', flags: ['private', 'anonymous'] });
  if (opts.hugepage) m.madvise(p, buf, len, 'hugepage');
  return { m, p, buf };
}

describe('alloc_anon_folio: which size a write fault gets', () => {
  it('64K always: the aligned 16 pages around the fault, one folio, each page its own PTE, rss 16', () => {
    const { m, p, buf } = region({ '64K': 'always', '2M': 'never' });
    m.write(p, buf + 70 * K, { byte: 1, len: 1 });
    const pg = m.pageAt(p, buf + 70 * K)!;
    expect(pg).toMatchObject({ order: 4, level: 'pte', mapcount: 1, refcount: 16, anonExclusive: true });
    // ALIGN_DOWN(address, 64K): the folio starts at buf + 64K, and page 1 of it is at the fault.
    expect(pg.pfn - pg.head).toBe(1);
    expect(m.pageAt(p, buf + 64 * K)!.pfn).toBe(pg.head);
    expect(m.pageAt(p, buf + 124 * K)).toMatchObject({ order: 4, pfn: pg.head + 15 });
    expect(m.translate(p, buf + 60 * K)).toBeUndefined();
    expect(m.translate(p, buf + 128 * K)).toBeUndefined();
    expect(m.process(p).rss.anon).toBe(16);
    expect(m.pageAt(p, buf + 100 * K)!.pte).toContain('write');
    expect(m.vmstat().thp_fault_alloc).toBe(0);
    expect(m.thpSizeStats()['hugepages-64kB'].anon_fault_alloc).toBe(1);
  });

  it('the highest enabled order wins; 2M inherit with thp=always takes the PMD first', () => {
    const a = region({ '16K': 'always', '64K': 'always', '1M': 'always', '2M': 'never' });
    a.m.write(a.p, a.buf, { byte: 1, len: 1 });
    expect(a.m.pageAt(a.p, a.buf)).toMatchObject({ order: 8, level: 'pte' });
    const b = region({ enabled: 'always', '64K': 'always' });
    b.m.write(b.p, b.buf, { byte: 1, len: 1 });
    expect(b.m.pageAt(b.p, b.buf)).toMatchObject({ order: 9, level: 'pmd' });
    expect(b.m.thpSizeStats()['hugepages-2048kB'].anon_fault_alloc).toBe(1);
  });

  it('madvise sizes need MADV_HUGEPAGE; inherit follows the top-level mode; never and MADV_NOHUGEPAGE give pages', () => {
    const cases: [MachineConfig['thp'], boolean, number][] = [
      [{ '32K': 'madvise', '2M': 'never' }, false, 0],
      [{ '32K': 'madvise', '2M': 'never' }, true, 3],
      [{ enabled: 'madvise', '32K': 'inherit', '2M': 'never' }, false, 0],
      [{ enabled: 'madvise', '32K': 'inherit', '2M': 'never' }, true, 3],
      [{ enabled: 'always', '32K': 'inherit', '2M': 'never' }, false, 3],
      [{ enabled: 'never', '32K': 'inherit', '2M': 'never' }, true, 0],
      // A size set to always is used whatever the top-level mode says.
      [{ enabled: 'never', '32K': 'always' }, false, 3],
      [{ '32K': 'never', '2M': 'never' }, true, 0],
    ];
    for (const [thp, hugepage, order] of cases) {
      const { m, p, buf } = region(thp, { hugepage });
      m.write(p, buf, { byte: 1, len: 1 });
      expect(m.pageAt(p, buf)!.order, JSON.stringify({ thp, hugepage })).toBe(order);
    }
    const { m, p, buf } = region({ '32K': 'always' });
    m.madvise(p, buf, PMD, 'nohugepage');
    m.write(p, buf, { byte: 1, len: 1 });
    expect(m.pageAt(p, buf)!.order).toBe(0);
  });

  it('the aligned range must lie inside the VMA: a 48K mapping takes 16K folios, never 64K', () => {
    const m = new Machine({ memory: '512M', check: 'full', thp: { '16K': 'always', '64K': 'always' } });
    const p = m.spawn('p');
    // A 2M mapping placed first, so the 48K one below it is 64K aligned at its end only.
    m.mmap(p, { length: PMD, prot: 'rw', flags: ['private', 'anonymous'] });
    const small = m.mmap(p, { length: 48 * K, prot: 'rw', flags: ['private', 'anonymous'] });
    for (let off = 0; off < 48 * K; off += PAGE) m.write(p, small + off, { byte: 2, len: 1 });
    const orders = new Set<number>();
    for (let off = 0; off < 48 * K; off += PAGE) orders.add(m.pageAt(p, small + off)!.order);
    expect([...orders]).toEqual([2]);
  });

  it('pte_range_none: a zero-page PTE in the 64K block makes the fault take the next size that fits', () => {
    const { m, p, buf } = region({ '16K': 'always', '64K': 'always', '2M': 'never' });
    m.read(p, buf + 4 * PAGE, 1);
    m.write(p, buf, { byte: 1, len: 1 });
    // The 64K block holds the zero-page PTE at page 4; the 16K block of pages 0-3 is empty.
    expect(m.pageAt(p, buf)).toMatchObject({ order: 2 });
    expect(m.pageAt(p, buf + 4 * PAGE)).toMatchObject({ type: 'zero' });
    // Writing the zero page is wp_page_copy: one new small page, whatever sizes are enabled.
    m.write(p, buf + 4 * PAGE, { byte: 2, len: 1 });
    expect(m.pageAt(p, buf + 4 * PAGE)).toMatchObject({ type: 'anon', order: 0 });
    m.write(p, buf + 8 * PAGE, { byte: 3, len: 1 });
    expect(m.pageAt(p, buf + 8 * PAGE)).toMatchObject({ order: 2 });
  });

  it('a read fault maps the small zero page, not an mTHP', () => {
    const { m, p, buf } = region({ '64K': 'always', '2M': 'never' });
    m.read(p, buf + PAGE, 1);
    expect(m.pageAt(p, buf + PAGE)).toMatchObject({ type: 'zero', level: 'pte' });
    expect(m.translate(p, buf)).toBeUndefined();
  });

  it('with no free block of the size, the fault falls back order by order (anon_fault_fallback)', () => {
    // Unchecked: draining the buddy allocator block by block is slow under full checks.
    const m = new Machine({ memory: '128M', thp: { '16K': 'always', '64K': 'always', '2M': 'never' } });
    const p = m.spawn('p');
    const buf = m.mmap(p, { length: PMD, prot: 'rw', flags: ['private', 'anonymous'] });
    // Fault once elsewhere in the PMD first, so the page tables exist before memory runs out.
    m.write(p, buf + PMD / 2, { byte: 1, len: 1 });
    expect(m.pageAt(p, buf + PMD / 2)!.order).toBe(4);
    // Take every block of 16K and above, then give exactly one 16K block back.
    const held = [];
    for (;;) {
      try {
        held.push(m.folioAlloc(2));
      } catch {
        break;
      }
    }
    m.folioPut(held[0]);
    m.write(p, buf, { byte: 1, len: 1 });
    expect(m.pageAt(p, buf)!.order).toBe(2);
    const stats = m.thpSizeStats();
    expect(stats['hugepages-64kB']).toMatchObject({ anon_fault_alloc: 1, anon_fault_fallback: 1 });
    expect(stats['hugepages-16kB']).toMatchObject({ anon_fault_alloc: 1, anon_fault_fallback: 0 });
  });
});

describe('a PTE-mapped mTHP under COW, fork, pins and zaps', () => {
  function written(sizeK = 64) {
    const r = region({ [`${sizeK}K`]: 'always', '2M': 'never' });
    r.m.write(r.p, r.buf, { byte: 0x11, len: sizeK * K });
    return { ...r, head: r.m.translate(r.p, r.buf)!.pfn, nr: sizeK / 4 };
  }

  it('fork shares the folio PTE by PTE: mapcount 2 per page, refcount 2 per PTE pair, both read-only', () => {
    const { m, p, buf, head, nr } = written();
    const c = m.fork(p, 'c');
    expect(m.pageAt(c, buf + 5 * PAGE)!.pfn).toBe(head + 5);
    expect(m.page(head + 5)).toMatchObject({
      mapcount: 2,
      refcount: 2 * nr,
      anonExclusive: false,
      folioMapcount: 2 * nr,
    });
    expect(m.pageAt(p, buf)!.pte).not.toContain('write');
    expect(m.pageAt(c, buf)!.pte).not.toContain('write');
  });

  it('a write after fork copies one small page (wp_page_copy); the child keeps the folio', () => {
    const { m, p, buf, head } = written();
    const c = m.fork(p, 'c');
    m.write(p, buf + 3 * PAGE, { byte: 0x22, len: 1 });
    expect(m.pageAt(p, buf + 3 * PAGE)).toMatchObject({ order: 0, anonExclusive: true });
    expect(m.pageAt(p, buf + 4 * PAGE)).toMatchObject({ order: 4, pfn: head + 4 });
    expect(m.read(c, buf + 3 * PAGE, 1).bytes[0]).toBe(0x11);
    expect(m.vmstat().pagelab_cow_copy).toBe(1);
  });

  it('after the child exits, the parent reuses the folio page by page (large-folio reuse: mapped only by this mm)', () => {
    const { m, p, buf, head } = written();
    const c = m.fork(p, 'c');
    m.exit(c);
    m.write(p, buf + 3 * PAGE, { byte: 0x22, len: 1 });
    expect(m.pageAt(p, buf + 3 * PAGE)).toMatchObject({ pfn: head + 3, anonExclusive: true });
    expect(m.vmstat().pgreuse).toBe(1);
  });

  it('fork copies each exclusive page of a pinned mTHP for the child (per page, not the folio)', () => {
    const { m, p, buf, head } = written();
    const pin = m.pinUserPages(p, buf, 1, ['write', 'longterm']);
    const c = m.fork(p, 'c');
    // The whole folio is maybe-pinned (one _pincount), so every exclusive page is copied.
    for (const off of [0, 7 * PAGE, 15 * PAGE]) {
      const cp = m.pageAt(c, buf + off)!;
      expect(cp.order).toBe(0);
      expect(cp.pfn).not.toBe(m.pageAt(p, buf + off)!.pfn);
    }
    expect(m.pageAt(p, buf + 7 * PAGE)).toMatchObject({ pfn: head + 7, anonExclusive: true });
    expect(m.pageAt(p, buf)!.pte).toContain('write');
    expect(m.vmstat().pagelab_fork_copy).toBe(16);
    m.unpinUserPages(pin.id);
  });

  it('MADV_DONTNEED of part of it leaves the rest mapped in the one folio (the split is deferred)', () => {
    const { m, p, buf, head } = written();
    m.madvise(p, buf + PAGE, 15 * PAGE, 'dontneed');
    expect(m.pageAt(p, buf)).toMatchObject({
      order: 4,
      pfn: head,
      mapcount: 1,
      refcount: 1,
      folioMapcount: 1,
    });
    expect(m.process(p).rss.anon).toBe(1);
    m.madvise(p, buf, PAGE, 'dontneed');
    expect(m.page(head).type).toBe('buddy');
  });

  it('munmap of the whole range frees the folio; the buddy gets its pages back', () => {
    const { m, p, buf } = written(1024);
    const free = m.meminfo().MemFree;
    m.munmap(p, buf, PMD);
    expect(m.meminfo().MemFree - free).toBeGreaterThanOrEqual(1024);
  });
});

describe('mTHP invariants', () => {
  it('any sequence of writes, reads and partial zaps maps each page of a folio at its own offset in an aligned block', () => {
    const sizes = ['16K', '32K', '64K', '128K'] as const;
    fc.assert(
      fc.property(
        fc.subarray([...sizes], { minLength: 1 }),
        fc.array(fc.record({ op: fc.constantFrom('w', 'r', 'z'), page: fc.nat(63) }), { maxLength: 40 }),
        (enabled, ops) => {
          const thp = Object.fromEntries([...enabled.map((s) => [s, 'always']), ['2M', 'never']]);
          const { m, p, buf } = region(thp);
          for (const o of ops) {
            const a = buf + o.page * PAGE;
            if (o.op === 'w') m.write(p, a, { byte: 1, len: 1 });
            else if (o.op === 'r') m.read(p, a, 1);
            else m.madvise(p, a, PAGE, 'dontneed');
          }
          for (let i = 0; i < 64; i++) {
            const pg = m.pageAt(p, buf + i * PAGE);
            if (pg?.type !== 'anon') continue;
            const nr = 2 ** pg.order;
            // Naturally aligned, virtually and physically, and an enabled size (or a page).
            expect(pg.head % nr).toBe(0);
            expect(pg.pfn - pg.head).toBe(i % nr);
            expect(pg.order === 0 || enabled.includes(`${(4 << pg.order) as number}K` as never)).toBe(true);
            expect(pg.refcount).toBeGreaterThanOrEqual(pg.folioMapcount);
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('machine: { thp } in its per-size form', () => {
  it('names sizes from 16K to 2M and modes always/madvise/inherit/never; anything else is a one-line error', () => {
    expect(() => new Machine({ memory: '128M', thp: { '8K': 'always' } })).toThrow(
      /thp: '8K' is not a THP size/,
    );
    expect(() => new Machine({ memory: '128M', thp: { '4M': 'always' } })).toThrow(/is not a THP size/);
    expect(() => new Machine({ memory: '128M', thp: { '64K': 'sometimes' as never } })).toThrow(
      /'sometimes' is not one of always, madvise, inherit, never/,
    );
    expect(() => new Machine({ memory: '128M', thp: { enabled: 'inherit' as never } })).toThrow(
      /'inherit' is not one of always, madvise, never/,
    );
    // The string form is the top-level mode, as before; 64kB and 64K name the same size.
    const m = new Machine({ memory: '128M', thp: { '64kB': 'always', '2M': 'never' } });
    const p = m.spawn('p');
    const buf = m.mmap(p, { length: PMD, prot: 'rw', flags: ['private', 'anonymous'] });
    m.write(p, buf, { byte: 1, len: 1 });
    expect(m.pageAt(p, buf)!.order).toBe(4);
  });
});

describe('an mTHP swapped out and back in (alloc_swap_folio)', () => {
  function swapped() {
    const m = new Machine({
      memory: '512M',
      check: 'full',
      swap: '64M',
      thp: { '64K': 'always', '2M': 'never' },
    });
    const p = m.spawn('p');
    const buf = m.mmap(p, { length: PMD, prot: 'rw', flags: ['private', 'anonymous'] });
    m.write(p, buf, { byte: 0x11, len: 64 * K });
    m.madvise(p, buf, 64 * K, 'pageout');
    expect(m.swapEntry(p, buf + 5 * PAGE)).toBeDefined();
    return { m, p, buf };
  }

  it('a fault on a slot only this PTE names reads the 16 slots back as one exclusive 64K folio', () => {
    const { m, p, buf } = swapped();
    m.write(p, buf + 5 * PAGE, { byte: 0x22, len: 1 });
    const pg = m.pageAt(p, buf + 5 * PAGE)!;
    expect(pg).toMatchObject({ order: 4, anonExclusive: true, refcount: 16, mapcount: 1 });
    expect(pg.pfn - pg.head).toBe(5);
    expect(m.pageAt(p, buf + 15 * PAGE)!.pte).toContain('write');
    expect(m.read(p, buf + 6 * PAGE, 1).bytes[0]).toBe(0x11);
    expect(m.process(p).rss).toMatchObject({ anon: 16, swap: 0 });
  });

  it('after fork the slots have two references: each fault brings back one page', () => {
    const { m, p, buf } = swapped();
    const c = m.fork(p, 'c');
    m.write(p, buf + 5 * PAGE, { byte: 0x22, len: 1 });
    expect(m.pageAt(p, buf + 5 * PAGE)!.order).toBe(0);
    expect(m.read(c, buf + 5 * PAGE, 1).bytes[0]).toBe(0x11);
  });

  it('with the size off (or a PTE of the block no longer a swap entry) the fault takes one page', () => {
    const { m, p, buf } = swapped();
    m.madvise(p, buf + 15 * PAGE, PAGE, 'dontneed');
    m.read(p, buf, 1);
    expect(m.pageAt(p, buf)!.order).toBe(0);
  });
});
