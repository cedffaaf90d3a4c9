/**
 * The bulk halves of pinning (gup.ts grabRun, pinning inline through PinTracker.truthOf;
 * gup_release.ts releaseAll → PinTracker.unpinAll), under every pin-count design and both
 * layouts: pinning then unpinning
 * is the identity on every page's refcount, pin truth and answer; a handle outliving its
 * mapping frees the folios at the unpin; and the kept rows are the frames' rows throughout.
 */
import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { LAYOUTS } from '../../src/designs/layout.js';
import { PIN_DESIGNS } from '../../src/designs/pincount.js';
import { Machine } from '../../src/index.js';

const PAGE = 4096;
const PAGES = 1024; // 4 MiB: two PMD ranges, so THPs as well as small folios

const designs = LAYOUTS.flatMap((design) => PIN_DESIGNS.map((pincount) => ({ design, pincount })));

/** A region of small anon folios, a THP, zero-page reads and holes, as `kinds` says per 64 pages. */
function world(d: (typeof designs)[number], kinds: number[]) {
  const m = new Machine({
    memory: '256M',
    check: 'full',
    design: d.design,
    pincount: d.pincount,
    thp: 'madvise',
  });
  const p = m.spawn('p');
  const buf = m.mmap(p, { length: PAGES * PAGE, prot: 'rw', flags: ['private', 'anonymous'] });
  m.madvise(p, buf + 512 * PAGE, 512 * PAGE, 'hugepage');
  kinds.forEach((kind, i) => {
    const at = buf + i * 64 * PAGE;
    if (kind === 1) m.touch(p, at, 64 * PAGE, { write: true });
    else if (kind === 2) m.touch(p, at, 64 * PAGE, { write: false });
  });
  return { m, p, buf };
}

/**
 * What a pin must leave as it found it: each page's refcount, pins and answer (but sticky's
 * answer, which stays yes once a page was pinned: its documented false positive).
 */
function pages(m: Machine, p: number, buf: number) {
  const sticky = m.kernel.pins.policy.name === 'sticky';
  const out: unknown[] = [];
  for (let i = 0; i < PAGES; i++) {
    const pg = m.pageAt(p, buf + i * PAGE);
    out.push(pg ? [pg.pfn, pg.refcount, pg.pins, sticky || pg.maybeDmaPinned] : null);
  }
  return out;
}

describe.each(designs)('pin and unpin in bulk, $design/$pincount', (d) => {
  test.prop(
    [
      fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 16, maxLength: 16 }),
      fc.array(fc.tuple(fc.nat(PAGES - 1), fc.integer({ min: 1, max: PAGES }), fc.boolean()), {
        minLength: 1,
        maxLength: 4,
      }),
    ],
    { numRuns: 6 },
  )('pinning then unpinning changes no page', (kinds, pins) => {
    const { m, p, buf } = world(d, kinds);
    const before = pages(m, p, buf);
    const handles = [];
    for (const [first, n, longterm] of pins) {
      const count = Math.min(n, PAGES - first);
      // A hole is faulted in, a zero page unshared: the walk's general path beside the run.
      handles.push(
        m.pinUserPages(p, buf + first * PAGE, count, longterm ? ['write', 'longterm'] : ['write']),
      );
      m.check('full');
    }
    const pinned = pages(m, p, buf);
    for (const h of handles) m.unpinUserPages(h.id);
    m.check('full');
    // Pinning write-faults the holes and unshares the zero page: compare only what was present
    // and is still the same frame.
    const after = pages(m, p, buf);
    for (let i = 0; i < PAGES; i++) {
      const b = before[i] as [number, number, number, boolean] | null;
      const a = after[i] as [number, number, number, boolean] | null;
      if (!b || !a || b[0] !== a[0]) continue;
      expect(a, `page ${i}`).toEqual(b);
    }
    expect(m.kernel.pins.livePins).toBe(0);
    expect(pinned).not.toEqual(after);
  });

  it('a handle that outlives its mapping frees the folios at the unpin', () => {
    const { m, p, buf } = world(d, Array(16).fill(1));
    const free = m.meminfo().MemFree;
    const h = m.pinUserPages(p, buf, PAGES, ['write', 'longterm']);
    m.munmap(p, buf, PAGES * PAGE);
    expect(m.meminfo().MemFree).toBeLessThan(free + (PAGES * PAGE) / 1024);
    m.check('full');
    m.unpinUserPages(h.id);
    m.check('full');
    expect(m.meminfo().MemFree).toBeGreaterThanOrEqual(free + (PAGES * PAGE) / 1024);
  });
});
