/**
 * Frames from 2^31 on (RAM past 8 TiB): the hot loops' inline paths (fork's copy_pte_range, the
 * zap, GUP's run) look the memmap up in int32 arithmetic, so such frames take the general path.
 * It must count exactly the same: references, mappings, pins, rss, and free memory at the end.
 */
import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/index.js';

const PAGE = 4096;
const N = 64;

/** RAM at 16 TiB: the allocator hands out frames from 2^32 up. */
function highMachine() {
  const m = new Machine({
    memory: [
      { start: 0, size: '64M' },
      { start: '16T', size: '256M' },
    ],
    check: 'full',
  });
  const p = m.spawn('p');
  const buf = m.mmap(p, { length: N * PAGE, prot: 'rw', flags: ['private', 'anonymous'] });
  m.touch(p, buf, N * PAGE, { write: true });
  return { m, p, buf, pages: () => Array.from({ length: N }, (_, i) => m.pageAt(p, buf + i * PAGE)!) };
}

describe('frames from 2^31 on', () => {
  it('are where the test wants them', () => {
    const { pages } = highMachine();
    expect(pages().every((pg) => pg.pfn >= 2 ** 32)).toBe(true);
  });

  it('alloc_pages and __free_pages through the per-CPU lists: every frame and page back', () => {
    const m = new Machine({
      memory: [
        { start: 0, size: '64M' },
        { start: '16T', size: '256M' },
      ],
      check: 'cheap',
      pcp: true,
    });
    const free = () => m.meminfo().MemFree + m.zoneinfo().reduce((n, z) => n + z.pcp.count * 4, 0);
    const before = free();
    const pfns = Array.from({ length: 4096 }, () => m.allocPages(0));
    expect(pfns.filter((pfn) => pfn >= 2 ** 32).length).toBeGreaterThan(2048);
    for (const pfn of pfns) expect(m.page(pfn).type).toBe('unknown');
    for (const pfn of pfns) m.freePages(pfn, 0);
    for (const pfn of pfns) expect(m.page(pfn).type).not.toBe('unknown');
    expect(free()).toBe(before);
    m.check('full');
  });

  it('pin and unpin: one pin each, and every reference back', () => {
    const { m, p, buf, pages } = highMachine();
    const before = pages();
    const h = m.pinUserPages(p, buf, N, ['write', 'longterm']);
    expect([...h.pfns]).toEqual(before.map((pg) => pg.pfn));
    const pinned = pages();
    for (let i = 0; i < N; i++) {
      expect([pinned[i]!.pins, pinned[i]!.maybeDmaPinned]).toEqual([1, true]);
      expect(pinned[i]!.refcount).toBeGreaterThan(before[i]!.refcount);
    }
    m.check('full');
    m.unpinUserPages(h.id);
    expect(pages().map((pg) => pg.refcount)).toEqual(before.map((pg) => pg.refcount));
    m.check('full');
  });

  it('fork shares them write-protected, COW copies, and exit and munmap free every frame', () => {
    const { m, p, buf, pages } = highMachine();
    const free = m.meminfo().MemFree;
    const before = pages();
    const c = m.fork(p);
    m.check('full');
    const shared = pages();
    for (let i = 0; i < N; i++) {
      expect(shared[i]!.pfn).toBe(before[i]!.pfn);
      expect(shared[i]!.mapcount).toBe(2);
      expect(m.pageAt(c, buf + i * PAGE)!.pfn).toBe(before[i]!.pfn);
    }
    m.touch(c, buf, N * PAGE, { write: true, byte: 7 });
    m.check('full');
    for (let i = 0; i < N; i++) {
      expect(m.pageAt(c, buf + i * PAGE)!.pfn).not.toBe(before[i]!.pfn);
      expect(m.pageAt(p, buf + i * PAGE)!.mapcount).toBe(1);
    }
    m.exit(c);
    m.check('full');
    m.munmap(p, buf, N * PAGE);
    m.check('full');
    expect(m.meminfo().MemFree).toBeGreaterThanOrEqual(free + (N * PAGE) / 1024);
  });
});
