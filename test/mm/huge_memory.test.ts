/**
 * THP: PMD-mapped anon folios, the huge zero folio, fork sharing the PMD, subpage COW after a split.
 * Expected values follow mm/huge_memory.c and what the kernel on these machines shows
 * (shared/oracle-notes.md: "What the kernel did").
 */

import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/index.js';
import type { FolioId } from '../../src/machine/ids.js';

const PAGE = 4096;
const PMD = 2 << 20;

function thpRegion(thp: 'madvise' | 'always' | 'never' = 'madvise') {
  const m = new Machine({ memory: '1G', check: 'full', thp });
  const p = m.spawn('p');
  const buf = m.mmap(p, { length: 2 * PMD, prot: 'rw', flags: ['private', 'anonymous'] });
  if (thp === 'madvise') m.madvise(p, buf, 2 * PMD, 'hugepage');
  return { m, p, buf };
}

/** Fragment every movable block: hold all memory in order-0 folios, give every other one back. */
function fragment(m: Machine): void {
  const held: FolioId[] = [];
  for (;;) {
    try {
      held.push(m.folioAlloc(0));
    } catch {
      break;
    }
  }
  held.forEach((h, i) => {
    if (i % 2 === 0) m.folioPut(h);
  });
}

describe('THP faults', () => {
  it('PMD-multiple anonymous mappings are placed 2 MiB aligned', () => {
    const { buf } = thpRegion();
    expect(buf % PMD).toBe(0);
  });

  it('a write fault in a MADV_HUGEPAGE range maps an order-9 folio with one PMD (rss 512, deposited table)', () => {
    const { m, p, buf } = thpRegion();
    const tablesBefore = m.meminfo().PageTables;
    m.write(p, buf + 5 * PAGE, { byte: 0x42, len: 1 });
    const pg = m.pageAt(p, buf + 5 * PAGE)!;
    expect(pg).toMatchObject({ order: 9, level: 'pmd', refcount: 1, mapcount: 1, anonExclusive: true });
    expect(pg.pfn - pg.head).toBe(5);
    expect(m.process(p).rss.anon).toBe(512);
    // PUD + PMD tables for the range plus the deposited PTE table.
    expect(m.meminfo().PageTables - tablesBefore).toBe(3 * 4);
    expect(m.vmstat().thp_fault_alloc).toBe(1);
  });

  it('without MADV_HUGEPAGE (thp=madvise) faults map small pages; thp=always maps THPs anyway', () => {
    const m = new Machine({ memory: '1G', check: 'full' });
    const p = m.spawn('p');
    const buf = m.mmap(p, { length: PMD, prot: 'rw', flags: ['private', 'anonymous'] });
    m.write(p, buf, { byte: 1, len: 1 });
    expect(m.pageAt(p, buf)).toMatchObject({ order: 0, level: 'pte' });
    const a = thpRegion('always');
    a.m.write(a.p, a.buf, { byte: 1, len: 1 });
    expect(a.m.pageAt(a.p, a.buf)).toMatchObject({ order: 9, level: 'pmd' });
  });

  it('a read fault maps the huge zero folio; a write into it allocates a whole new THP', () => {
    const { m, p, buf } = thpRegion();
    expect(m.read(p, buf + PAGE, 4).bytes).toEqual(new Uint8Array(4));
    const z = m.pageAt(p, buf + PAGE)!;
    expect(z).toMatchObject({ type: 'zero', level: 'pmd' });
    expect(z.pte).toContain('special');
    m.write(p, buf + 3 * PAGE, { byte: 9, len: 1 });
    const pg = m.pageAt(p, buf + 3 * PAGE)!;
    expect(pg).toMatchObject({ type: 'anon', order: 9, level: 'pmd', anonExclusive: true });
    expect(m.read(p, buf + 3 * PAGE - 1, 2).bytes).toEqual(new Uint8Array([0, 9]));
  });
});

describe('THP across fork', () => {
  it('fork shares the PMD: entire mapcount 2, every subpage mapcount 2, both write-protected', () => {
    const { m, p, buf } = thpRegion();
    m.write(p, buf, { byte: 0x11, len: PMD });
    const c = m.fork(p, 'c');
    const pp = m.pageAt(p, buf + 100 * PAGE)!;
    const cp = m.pageAt(c, buf + 100 * PAGE)!;
    expect(cp.pfn).toBe(pp.pfn);
    expect(pp).toMatchObject({ level: 'pmd', mapcount: 2, refcount: 2, anonExclusive: false });
    expect(pp.pte).not.toContain('write');
    expect(cp.pte).not.toContain('write');
    expect(m.process(c).rss.anon).toBe(512);
  });

  it('a parent write splits only the parent PMD and replaces only the written subpage; the child keeps the THP', () => {
    const { m, p, buf } = thpRegion();
    m.write(p, buf, { byte: 0x11, len: PMD });
    const c = m.fork(p, 'c');
    const head = m.translate(p, buf)!.pfn;
    m.write(p, buf + 7 * PAGE, { byte: 0x22, len: 1 });
    const written = m.pageAt(p, buf + 7 * PAGE)!;
    expect(written).toMatchObject({ order: 0, level: 'pte', anonExclusive: true, refcount: 1 });
    expect(written.pfn).not.toBe(head + 7);
    const neighbour = m.pageAt(p, buf + 8 * PAGE)!;
    expect(neighbour).toMatchObject({ level: 'pte', order: 9, pfn: head + 8 });
    expect(neighbour.pte).not.toContain('write');
    // The THP: child PMD (1) + parent's 511 remaining PTEs.
    expect(m.page(head + 8)).toMatchObject({ mapcount: 2, refcount: 512 });
    expect(m.page(head + 7)).toMatchObject({ mapcount: 1 });
    expect(m.pageAt(c, buf)).toMatchObject({ level: 'pmd', pfn: head });
    expect(m.read(c, buf + 7 * PAGE, 1).bytes[0]).toBe(0x11);
    expect(m.read(p, buf + 7 * PAGE, 1).bytes[0]).toBe(0x22);
    expect(m.vmstat().thp_split_pmd).toBe(1);
  });

  it('after the child exits, the whole THP is freed once the parent unmaps it', () => {
    const { m, p, buf } = thpRegion();
    const free0 = m.meminfo().MemFree;
    m.write(p, buf, { byte: 0x11, len: PMD });
    const c = m.fork(p, 'c');
    m.write(p, buf, { byte: 0x22, len: 1 });
    m.exit(c);
    m.munmap(p, buf, 2 * PMD);
    m.exit(p);
    expect(m.meminfo().MemFree).toBe(free0 + 4); // the PGD of p is gone too
  });

  it('partial munmap of a THP splits the PMD and leaves the other subpages mapped', () => {
    const { m, p, buf } = thpRegion();
    m.write(p, buf, { byte: 0x33, len: PMD });
    m.munmap(p, buf + 4 * PAGE, 4 * PAGE);
    expect(m.translate(p, buf + 4 * PAGE)).toBeUndefined();
    expect(m.pageAt(p, buf)).toMatchObject({ level: 'pte', order: 9, mapcount: 1, folioMapcount: 508 });
    expect(m.process(p).rss.anon).toBe(508);
    expect(m.read(p, buf + 8 * PAGE, 1).bytes[0]).toBe(0x33);
    expect(m.read(p, buf + 4 * PAGE, 1).signal).toBe('SIGSEGV');
  });
});

describe('THP fallback', () => {
  it('with no free order-9 block a huge-page fault falls back to a small page (thp_fault_fallback)', () => {
    const m = new Machine({ memory: '256M', check: 'off' });
    const p = m.spawn('p');
    const buf = m.mmap(p, { length: PMD, prot: 'rw', flags: ['private', 'anonymous'] });
    m.madvise(p, buf, PMD, 'hugepage');
    fragment(m);
    m.checkLevel = 'full';
    m.write(p, buf, { byte: 1, len: 1 });
    expect(m.pageAt(p, buf)).toMatchObject({ order: 0, level: 'pte' });
    expect(m.vmstat().thp_fault_fallback).toBe(1);
    expect(m.vmstat().thp_fault_alloc).toBe(0);
  });
});

describe('a VMA boundary inside a PMD-mapped THP splits the PMD (__split_vma -> vma_adjust_trans_huge)', () => {
  function written() {
    const { m, p, buf } = thpRegion();
    m.write(p, buf, { byte: 0x44, len: PMD });
    return { m, p, buf };
  }

  it('mprotect of half a THP splits the PMD; fork then maps every subpage twice (not three times)', () => {
    const { m, p, buf } = written();
    m.mprotect(p, buf, PMD / 2, 'r');
    expect(m.pageAt(p, buf)).toMatchObject({ level: 'pte', order: 9, mapcount: 1, folioMapcount: 512 });
    expect(m.vmstat().thp_split_pmd).toBe(1);
    const c = m.fork(p, 'c');
    for (const off of [0, PMD / 2 - PAGE, PMD / 2, PMD - PAGE])
      expect(m.pageAt(c, buf + off)).toMatchObject({ level: 'pte', mapcount: 2, folioMapcount: 1024 });
    expect(m.page(m.translate(p, buf)!.pfn)).toMatchObject({ refcount: 1024 });
    expect(m.process(c).rss.anon).toBe(512);
    expect(m.process(p).rss.anon).toBe(512);
    m.exit(c);
    m.exit(p);
    m.check('full');
  });

  it('an mprotect that changes nothing does not split the PMD (mprotect_fixup returns early)', () => {
    const { m, p, buf } = written();
    m.mprotect(p, buf, PMD / 2, 'rw');
    expect(m.pageAt(p, buf)).toMatchObject({ level: 'pmd' });
    expect(m.vmstat().thp_split_pmd).toBe(0);
  });

  it('MADV_DONTFORK of half a THP: that half is not in the child, the other half is shared', () => {
    const { m, p, buf } = written();
    m.madvise(p, buf, PMD / 2, 'dontfork');
    const c = m.fork(p, 'c');
    expect(m.translate(c, buf)).toBeUndefined();
    expect(m.translate(c, buf + PMD / 2 - PAGE)).toBeUndefined();
    expect(m.pageAt(c, buf + PMD / 2)).toMatchObject({ level: 'pte', mapcount: 2 });
    expect(m.pageAt(p, buf)).toMatchObject({ level: 'pte', mapcount: 1, anonExclusive: true });
    expect(m.process(c).rss.anon).toBe(256);
    m.exit(p);
    m.exit(c);
    m.check('full');
  });

  it('MADV_NOHUGEPAGE and MADV_MERGEABLE on part of a THP split the PMD too', () => {
    for (const advice of ['nohugepage', 'mergeable']) {
      const { m, p, buf } = written();
      m.madvise(p, buf + PMD / 2, PAGE, advice);
      expect(m.pageAt(p, buf)).toMatchObject({ level: 'pte', order: 9 });
      expect(m.vmstat().thp_split_pmd).toBe(1);
      m.exit(p);
      m.check('full');
    }
  });

  it('a MAP_FIXED mapping over part of a THP splits it and replaces only that part', () => {
    const { m, p, buf } = written();
    m.mmap(p, { addr: buf + PAGE, length: PAGE, prot: 'rw', flags: ['private', 'anonymous', 'fixed'] });
    expect(m.pageAt(p, buf)).toMatchObject({ level: 'pte', order: 9, folioMapcount: 511 });
    expect(m.translate(p, buf + PAGE)).toBeUndefined();
    const c = m.fork(p, 'c');
    expect(m.process(c).rss.anon).toBe(511);
    m.exit(c);
    m.exit(p);
    m.check('full');
  });
});

describe('the huge zero folio', () => {
  it('fork copies a VMA that maps only the huge zero folio: the child keeps the huge zero PMD (anon_vma prepared at fault)', () => {
    const { m, p, buf } = thpRegion();
    m.read(p, buf, 1);
    const zero = m.pageAt(p, buf)!;
    expect(zero).toMatchObject({ type: 'zero', level: 'pmd' });
    const tables = m.meminfo().PageTables;
    const c = m.fork(p, 'c');
    expect(m.pageAt(c, buf + 7 * PAGE)).toMatchObject({ type: 'zero', level: 'pmd', pfn: zero.pfn + 7 });
    // The child has PGD, PUD, PMD tables and a deposited PTE table.
    expect(m.meminfo().PageTables - tables).toBe(4 * 4);
    expect(m.process(c).rss.anon).toBe(0);
    m.exit(c);
    m.exit(p);
    m.check('full');
  });
});

describe('unsharing the huge zero PMD (do_huge_zero_wp_pmd)', () => {
  it('a R/O long-term pin of the huge zero PMD maps a new exclusive THP, no split', () => {
    const { m, p, buf } = thpRegion();
    m.read(p, buf, 1);
    const pin = m.pinUserPages(p, buf + 3 * PAGE, 1, ['longterm']);
    const pg = m.pageAt(p, buf + 3 * PAGE)!;
    expect(pg).toMatchObject({ type: 'anon', order: 9, level: 'pmd', anonExclusive: true, pincount: 1 });
    expect(pin.pfns[0]).toBe(pg.pfn);
    expect(m.vmstat()).toMatchObject({ thp_split_pmd: 0, thp_fault_alloc: 1 });
    expect(m.process(p).rss.anon).toBe(512);
    m.unpinUserPages(pin.id);
  });

  it('only when no THP can be allocated does the unshare split the PMD and copy one page', () => {
    const { m, p, buf } = thpRegion();
    m.read(p, buf, 1);
    m.checkLevel = 'off';
    fragment(m);
    m.checkLevel = 'full';
    const pin = m.pinUserPages(p, buf + 3 * PAGE, 1, ['longterm']);
    expect(m.pageAt(p, buf + 3 * PAGE)).toMatchObject({ type: 'anon', order: 0, level: 'pte' });
    expect(m.pageAt(p, buf)).toMatchObject({ type: 'zero', level: 'pte' });
    expect(m.vmstat()).toMatchObject({ thp_split_pmd: 1, thp_fault_alloc: 0, thp_fault_fallback: 1 });
    m.unpinUserPages(pin.id);
  });
});

describe('mprotect of a whole PMD-mapped THP (change_huge_pmd)', () => {
  it('making an exclusive THP writable again upgrades the PMD at once (can_change_pmd_writable)', () => {
    const { m, p, buf } = thpRegion();
    m.write(p, buf, { byte: 1, len: 1 });
    m.mprotect(p, buf, PMD, 'r');
    expect(m.pageAt(p, buf)!.pte).not.toContain('write');
    m.mprotect(p, buf, PMD, 'rw');
    expect(m.pageAt(p, buf)).toMatchObject({ level: 'pmd', anonExclusive: true });
    expect(m.pageAt(p, buf)!.pte).toContain('write');
    const faults = m.vmstat().pgfault;
    m.write(p, buf + PAGE, { byte: 2, len: 1 });
    expect(m.vmstat().pgfault).toBe(faults);
  });

  it('a THP shared with a child, and the huge zero folio, stay write-protected', () => {
    const { m, p, buf } = thpRegion();
    m.write(p, buf, { byte: 1, len: 1 });
    m.read(p, buf + PMD, 1);
    m.fork(p, 'c');
    m.mprotect(p, buf, 2 * PMD, 'r');
    m.mprotect(p, buf, 2 * PMD, 'rw');
    expect(m.pageAt(p, buf)!.pte).not.toContain('write');
    expect(m.pageAt(p, buf + PMD)).toMatchObject({ type: 'zero', level: 'pmd' });
    expect(m.pageAt(p, buf + PMD)!.pte).not.toContain('write');
  });
});
