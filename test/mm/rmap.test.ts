/**
 * Reverse mapping: rmap_walk from a frame finds every (process, address) that maps it — anon pages
 * through the anon_vma shared across fork, file pages through the file's i_mmap, THPs at PMD level.
 */
import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/index.js';

const PAGE = 4096;

describe('rmap_walk', () => {
  it('finds an anon page in the parent and every child that shares it, and forgets those that copied', () => {
    const m = new Machine({ memory: '512M', check: 'full' });
    const p = m.spawn('p');
    const a = m.mmap(p, { length: 2 * PAGE, prot: 'rw', flags: ['private', 'anonymous'] });
    m.write(p, a + PAGE, { byte: 1, len: 1 });
    const c1 = m.fork(p, 'c1');
    const c2 = m.fork(p, 'c2');
    const pfn = m.translate(p, a + PAGE)!.pfn;
    const who = (x: number) =>
      m
        .rmap(x)
        .map((h) => [h.pid, h.addr - a])
        .sort();
    expect(who(pfn)).toEqual(
      [
        [p, PAGE],
        [c1, PAGE],
        [c2, PAGE],
      ].sort(),
    );
    m.write(c1, a + PAGE, { byte: 2, len: 1 });
    expect(who(pfn)).toEqual(
      [
        [p, PAGE],
        [c2, PAGE],
      ].sort(),
    );
    expect(who(m.translate(c1, a + PAGE)!.pfn)).toEqual([[c1, PAGE]]);
  });

  it("finds a page-cache page in every process mapping the file, at each one's address and offset", () => {
    const m = new Machine({ memory: '512M', check: 'full' });
    m.fileCreate('f', 4 * PAGE, 7);
    const p = m.spawn('p');
    const q = m.spawn('q');
    const a = m.mmap(p, { length: 4 * PAGE, prot: 'r', flags: ['shared'], file: 'f' });
    const b = m.mmap(q, { length: 2 * PAGE, prot: 'r', flags: ['shared'], file: 'f', offset: 2 * PAGE });
    m.read(p, a + 3 * PAGE, 1);
    m.read(q, b + PAGE, 1);
    const pfn = m.translate(p, a + 3 * PAGE)!.pfn;
    expect(m.translate(q, b + PAGE)!.pfn).toBe(pfn);
    expect(
      m
        .rmap(pfn)
        .map((h) => [h.pid, h.addr])
        .sort(),
    ).toEqual(
      [
        [p, a + 3 * PAGE],
        [q, b + PAGE],
      ].sort(),
    );
  });

  it('reports a PMD-mapped THP subpage at its own address', () => {
    const m = new Machine({ memory: '512M', check: 'full' });
    const p = m.spawn('p');
    const a = m.mmap(p, { length: 2 << 20, prot: 'rw', flags: ['private', 'anonymous'] });
    m.madvise(p, a, 2 << 20, 'hugepage');
    m.write(p, a, { byte: 1, len: 1 });
    const sub = m.translate(p, a + 9 * PAGE)!.pfn;
    expect(m.rmap(sub)).toEqual([{ pid: p, addr: a + 9 * PAGE, level: 'pmd' }]);
  });
});
