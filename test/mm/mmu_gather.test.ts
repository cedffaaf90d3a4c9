/**
 * The zap's mmu_gather and the inline paths of zap_pte_range and copy_pte_range: references drop
 * in batches, the batch's frames go back as the same free blocks page-by-page freeing leaves, and
 * the inline fork and zap of small anon folios keep every count the general paths keep.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/index.js';

const PAGE = 4096;
const PMD = 2 << 20;

const rw = { prot: 'rw' as const, flags: ['private' as const, 'anonymous' as const] };

describe('mmu_gather: zapped references drop in batches', () => {
  it('a zap of more than one batch (510 pages) frees every page and merges the buddies back', () => {
    const m = new Machine({ memory: '256M', check: 'full' });
    const boot = m.buddyinfo();
    const freeAtBoot = m.meminfo().MemFree;
    const p = m.spawn('p');
    const len = 1300 * PAGE;
    const a = m.mmap(p, { length: len, ...rw });
    m.touch(p, a, len, { write: true });
    expect(m.meminfo().MemFree).toBeLessThanOrEqual(freeAtBoot - len / 1024);
    m.munmap(p, a, len);
    m.exit(p);
    expect(m.meminfo().MemFree).toBe(freeAtBoot);
    expect(m.buddyinfo()).toEqual(boot);
  });

  it('a page some other reference holds survives the zap with exactly that reference', () => {
    const m = new Machine({ memory: '256M', check: 'full' });
    const p = m.spawn('p');
    const a = m.mmap(p, { length: 4 * PAGE, ...rw });
    m.touch(p, a, 4 * PAGE, { write: true });
    const pfn = m.translate(p, a + PAGE)!.pfn;
    const h = m.getUserPages(p, a + PAGE, 1, []);
    m.madvise(p, a, 4 * PAGE, 'dontneed');
    const pg = m.page(pfn);
    expect(pg.type).toBe('anon');
    expect(pg.refcount).toBe(1);
    expect(pg.mapcount).toBe(0);
    m.putUserPages(h.id);
    expect(m.page(pfn).type).not.toBe('anon');
  });

  it('frees interleaved with pages still in use leave every free buddy merged (fast-check)', () => {
    fc.assert(
      fc.property(fc.array(fc.boolean(), { minLength: 1, maxLength: 1200 }), (keep) => {
        const m = new Machine({ memory: '256M', check: 'off' });
        const boot = m.buddyinfo();
        const p = m.spawn('p');
        const len = keep.length * PAGE;
        const a = m.mmap(p, { length: len, ...rw });
        m.touch(p, a, len, { write: true });
        // A kept page is referenced by a GUP get, so the zap frees the others around it.
        const held = keep.flatMap((k, i) => (k ? [m.getUserPages(p, a + i * PAGE, 1, []).id] : []));
        m.munmap(p, a, len);
        m.check('full');
        for (const id of held) m.putUserPages(id);
        m.exit(p);
        m.check('full');
        expect(m.buddyinfo()).toEqual(boot);
      }),
      { numRuns: 25 },
    );
  });
});

describe('copy_pte_range: the inline copy of small anon folios', () => {
  it('a fork that grows the page-table pool copies every entry into the child', () => {
    const m = new Machine({ memory: '256M', check: 'off' });
    const p = m.spawn('p');
    // One page per 2 MiB: each needs its own PTE table, so the child's tables outgrow the pool.
    const n = 100;
    const a = m.mmap(p, { length: n * PMD, ...rw });
    for (let i = 0; i < n; i++) m.write(p, a + i * PMD, { byte: i + 1, len: 1 });
    const c = m.fork(p);
    m.check('full');
    for (let i = 0; i < n; i++) {
      const t = m.translate(c, a + i * PMD)!;
      expect(t.pfn).toBe(m.translate(p, a + i * PMD)!.pfn);
      expect(t.flags).not.toContain('write');
      expect(m.read(c, a + i * PMD, 1).bytes[0]).toBe(i + 1);
    }
    expect(m.process(c).rss.anon).toBe(n);
  });

  it('the child shares, write-protects both sides, and clears anon-exclusive', () => {
    const m = new Machine({ memory: '256M', check: 'full' });
    const p = m.spawn('p');
    const a = m.mmap(p, { length: 8 * PAGE, ...rw });
    m.touch(p, a, 8 * PAGE, { write: true });
    const c = m.fork(p);
    for (let i = 0; i < 8; i++) {
      const pg = m.pageAt(p, a + i * PAGE)!;
      expect(pg.mapcount).toBe(2);
      expect(pg.refcount).toBe(2);
      expect(pg.flags).not.toContain('anon_exclusive');
      expect(m.translate(p, a + i * PAGE)!.flags).not.toContain('write');
      const child = m.translate(c, a + i * PAGE)!;
      expect(child.flags).not.toContain('write');
      expect(child.flags).not.toContain('young');
      expect(child.flags).toContain('dirty');
    }
    expect(m.process(c).rss.anon).toBe(8);
  });
});

describe('the inline paths mark what they touch for the incremental cheap check', () => {
  /** A machine whose incremental marking is on (the first cheap check turns it on) and four pages touched. */
  function marked() {
    const m = new Machine({ memory: '256M', check: 'off' });
    const p = m.spawn('p');
    const a = m.mmap(p, { length: 8 * PAGE, ...rw });
    m.touch(p, a, 8 * PAGE, { write: true });
    m.check('cheap');
    return { m, p, a };
  }
  const slotOf = (m: Machine, pid: number, addr: number) => {
    const k = m.kernel;
    return k.ptdesc.leafSlot(k.processes.get(pid)!.mm.pgd, addr);
  };

  it("fork: a folio it shared and the child's table it filled are checked afterwards", () => {
    const { m, p, a } = marked();
    const c = m.fork(p);
    // Behind the model's back, after the op: a folio fork shared, then an entry of the child's
    // table. Only the op's own marks can lead the incremental check to either.
    const row = m.kernel.folios.pageRow(m.translate(p, a + PAGE)!.pfn);
    m.kernel.folios.mapcount[row] += 5;
    expect(() => m.check('cheap')).toThrow(/refcount 2 below mapcount 7/);
    m.kernel.folios.mapcount[row] -= 5;
    m.check('cheap');
    const free = m.allocPages(0);
    m.freePages(free, 0);
    const d = m.fork(p);
    const slot = slotOf(m, d, a + 2 * PAGE);
    const e = m.kernel.ptdesc.entries[slot];
    m.kernel.ptdesc.entries[slot] = free * 4096 + (e - Math.floor(e / 4096) * 4096); // a free frame
    expect(() => m.check('cheap')).toThrow(/invariant violated/);
    expect(d).toBeGreaterThan(c);
  });

  it('zap: the table it cleared is checked afterwards', () => {
    const { m, p, a } = marked();
    m.madvise(p, a, 4 * PAGE, 'dontneed');
    // Behind the model's back, an entry the zap left in that table now names another frame.
    const slot = slotOf(m, p, a + 5 * PAGE);
    m.kernel.ptdesc.entries[slot] += 100 * 4096;
    expect(() => m.check('cheap')).toThrow(/invariant violated/);
  });
});
