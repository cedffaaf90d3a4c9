/**
 * The conformance suite of the pin-count seam (PinPolicy, src/mm/pincount.ts): what every design
 * must do, run against each one (Hono's router suite is the model). A design may be excused from
 * a test only by name, with the reason — the point of an unsafe design is the test it fails.
 */
import { describe, expect, it } from 'vitest';
import { type PinDesign, UNSAFE_PIN_DESIGNS } from '../../src/designs/pincount.js';
import { Machine } from '../../src/index.js';
import { migrateFolio } from '../../src/mm/migrate.js';
import { GFP } from '../../src/mm/mmzone.js';
import { errnoOf } from '../helpers.js';

const PAGE = 4096;

export const PIN_CONFORMANCE = [
  'a pin takes at least one reference and the unpin gives back exactly what it took',
  'a pinned folio survives munmap and exit until it is unpinned',
  'a long-term pin lands in a pinnable zone and refuses to migrate while held',
  "a freed frame's next owner is not maybe-pinned",
  'the pinned page stays with the parent across fork; the device sees the parent',
] as const;
type PinTest = (typeof PIN_CONFORMANCE)[number];

export interface PinConformance {
  design: PinDesign;
  skip?: { reason: string; tests: PinTest[] }[];
}

function setup(design: PinDesign, opts: { movable?: string } = {}) {
  const m = new Machine({ memory: '512M', check: 'full', pincount: design, movable: opts.movable });
  const p = m.spawn('p');
  const a = m.mmap(p, { length: 2 * PAGE, prot: 'rw', flags: ['private', 'anonymous'] });
  m.write(p, a, { byte: 0x11, len: PAGE });
  return { m, p, a };
}

export function runPinConformance({ design, skip = [] }: PinConformance): void {
  const skipped = new Map(skip.flatMap((s) => s.tests.map((t) => [t, s.reason] as const)));
  const run = (name: PinTest, fn: () => void) => {
    const reason = skipped.get(name);
    if (!reason) return it(name, fn);
    // Only a design declared unsafe may be excused, and the report names the test and the reason;
    // test/designs/pincount.test.ts shows each unsafe design's wrong answer on its own workload.
    it(`excused from "${name}": ${reason}`, () => expect(UNSAFE_PIN_DESIGNS).toContain(design));
  };

  describe(`pin-count design ${design}`, () => {
    run('a pin takes at least one reference and the unpin gives back exactly what it took', () => {
      const { m, p, a } = setup(design);
      const before = m.pageAt(p, a)!;
      const pin = m.pinUserPages(p, a, 1, ['write']);
      const during = m.pageAt(p, a)!;
      expect(during.refcount).toBeGreaterThan(before.refcount);
      expect(during.pins).toBe(1);
      m.unpinUserPages(pin.id);
      expect(m.pageAt(p, a)).toMatchObject({ refcount: before.refcount, pincount: before.pincount, pins: 0 });
    });

    run('a pinned folio survives munmap and exit until it is unpinned', () => {
      const { m, p, a } = setup(design);
      const pin = m.pinUserPages(p, a, 1, ['write', 'longterm']);
      const pfn = pin.pfns[0];
      m.munmap(p, a, 2 * PAGE);
      m.exit(p);
      expect(m.page(pfn)).toMatchObject({ type: 'anon', pins: 1, mapcount: 0 });
      expect([...m.dmaRead(pin.id, 0, 2)]).toEqual([0x11, 0x11]);
      m.unpinUserPages(pin.id);
      expect(m.page(pfn).type).toBe('buddy');
    });

    run('a long-term pin lands in a pinnable zone and refuses to migrate while held', () => {
      const { m, p, a } = setup(design, { movable: '256M' });
      const pin = m.pinUserPages(p, a, 1, ['write', 'longterm']);
      const info = m.page(pin.pfns[0]);
      expect(info.zone).not.toBe('Movable');
      expect(info.migratetype).not.toBe('CMA');
      const k = m.kernel;
      // migrate_pages() of the pinned folio: its extra references keep it in place.
      expect(errnoOf(() => migrateFolio(k, k.folios.pageRow(pin.pfns[0]), GFP.MOVABLE))).toBe('EAGAIN');
      m.unpinUserPages(pin.id);
    });

    run("a freed frame's next owner is not maybe-pinned", () => {
      const { m, p, a } = setup(design);
      const pin = m.pinUserPages(p, a, 1, ['write']);
      const pfn = pin.pfns[0];
      m.unpinUserPages(pin.id);
      m.munmap(p, a, 2 * PAGE);
      const h = m.folioAlloc(0);
      expect(m.folioPfn(h)).toBe(pfn); // the freed frame, reused first (LIFO per-order list)
      expect(m.page(pfn)).toMatchObject({ maybeDmaPinned: false, pins: 0 });
      m.folioPut(h);
    });

    run('the pinned page stays with the parent across fork; the device sees the parent', () => {
      const { m, p, a } = setup(design);
      const pin = m.pinUserPages(p, a, 1, ['write', 'longterm']);
      const c = m.fork(p);
      m.write(p, a, { byte: 0x22, len: 1 });
      m.write(c, a, { byte: 0x33, len: 1 });
      expect([...m.dmaRead(pin.id, 0, 2)]).toEqual([0x22, 0x11]);
      expect(m.pinScore().falseNegatives).toBe(0);
      m.unpinUserPages(pin.id);
    });
  });
}
