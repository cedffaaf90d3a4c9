/**
 * The pin invariants (src/check/pins.ts), proved able to fire: corrupt the state on purpose and
 * the checker must name the rule; undo and it must pass. And the one "maybe pinned" path: a pinned
 * device page reads maybe-pinned under every design that is safe, through page().
 */
import { describe, expect, it } from 'vitest';
import { checkInvariants, InvariantViolation } from '../../src/check/invariants.js';
import { PIN_DESIGNS, UNSAFE_PIN_DESIGNS } from '../../src/designs/pincount.js';
import { Machine } from '../../src/index.js';
import { PG } from '../../src/mm/folio.js';

const PAGE = 4096;

function pinned(pincount: (typeof PIN_DESIGNS)[number] = 'bias') {
  const m = new Machine({ memory: '256M', check: 'full', pincount });
  const p = m.spawn('p');
  const a = m.mmap(p, { length: 4 * PAGE, prot: 'rw', flags: ['private', 'anonymous'] });
  m.touch(p, a, 4 * PAGE, { write: true });
  const pin = m.pinUserPages(p, a, 2, ['write', 'longterm']);
  return { m, p, a, pin, k: m.kernel };
}

function violations(m: Machine, level: 'cheap' | 'full'): InvariantViolation {
  try {
    checkInvariants(m.kernel, level);
  } catch (e) {
    if (e instanceof InvariantViolation) return e;
    throw e;
  }
  throw new Error('no violation reported');
}

describe('pin invariants', () => {
  it('the live pin count equals the pins the live GUP handles hold', () => {
    const { m, pin, k } = pinned();
    k.pins.tally(pin.pfns[0], 1); // a pin nobody holds
    const e = violations(m, 'cheap');
    expect(e.list).toContainEqual(expect.objectContaining({ rule: 'pins: live count' }));
    k.pins.tally(pin.pfns[0], -1);
    m.check('full');
  });

  it("a live handle's kept folio rows are its frames' rows (the release trusts them)", () => {
    const { m, pin, k } = pinned();
    const h = k.gup.get(pin.id)!;
    const row = h.rows[1]!;
    expect(row).toBe(k.folios.pageRow(pin.pfns[1]));
    h.rows[1] = h.rows[0]!;
    const e = violations(m, 'cheap');
    expect(e.list).toContainEqual(expect.objectContaining({ rule: 'gup: handle rows', pfn: pin.pfns[1] }));
    h.rows[1] = row;
    m.check('full');
  });

  it('a pinned, mapped anon page is anon-exclusive (safe designs), reported with its pfn', () => {
    const { m, pin, k } = pinned();
    const pfn = pin.pfns[1];
    const row = k.folios.pageRow(pfn);
    k.folios.flags[row] &= ~PG.anon_exclusive;
    const e = violations(m, 'cheap');
    expect(e.list).toContainEqual(
      expect.objectContaining({ rule: 'pins: pinned anon page not exclusive', pfn }),
    );
    k.folios.flags[row] |= PG.anon_exclusive;
    m.check('full');
  });

  it('refcount covers mappings + references per pin × pins (bias: 1024 on a small folio)', () => {
    const { m, pin, k } = pinned();
    const row = k.folios.pageRow(pin.pfns[0]);
    expect(k.folios.refcount[row]).toBe(1 + 1024);
    k.folios.refcount[row] -= 1000; // still ≥ the mapping, but not the pin's bias
    expect(() => checkInvariants(k, 'cheap')).not.toThrow();
    expect(violations(m, 'full').list).toContainEqual(expect.objectContaining({ rule: 'pins: references' }));
    k.folios.refcount[row] += 1000;
    m.check('full');
  });

  it.each(PIN_DESIGNS)(
    '%s: unpinning restores the references exactly and the checks pass throughout',
    (d) => {
      const { m, pin, k } = pinned(d);
      const row = k.folios.pageRow(pin.pfns[0]);
      const perPin = k.pins.policy.refsPerPin(row);
      expect(k.folios.refcount[row]).toBe(1 + perPin);
      m.unpinUserPages(pin.id);
      expect(k.folios.refcount[row]).toBe(1);
      expect(k.pins.livePins).toBe(0);
    },
  );
});

describe('a pinned device page reads maybe-pinned through page(), as GUP sees it', () => {
  const safe = PIN_DESIGNS.filter((d) => !UNSAFE_PIN_DESIGNS.includes(d));
  it.each(safe)('%s', (pincount) => {
    const m = new Machine({ memory: '256M', check: 'full', pincount });
    const p = m.spawn('p');
    const dev = m.memremapPages(64 * PAGE, { mode: 'eager', name: 'pmem0' });
    m.defineDevice('pmem', {
      mmap: (ctx) => ctx.setFlags(['mixedmap']),
      fault: (ctx, vmf) => {
        ctx.vmInsertPage(vmf.addr, dev.startPfn + vmf.pgoff);
        return 'nopage';
      },
    });
    const a = m.mmapDevice(p, { device: 'pmem', length: 2 * PAGE, prot: 'rw', flags: ['shared'] });
    m.touch(p, a, PAGE, { write: true });
    const before = m.page(dev.startPfn);
    expect(before).toMatchObject({ type: 'device', maybeDmaPinned: false, pins: 0 });
    const pin = m.pinUserPages(p, a, 1, ['write', 'longterm']);
    expect(m.page(dev.startPfn)).toMatchObject({ type: 'device', maybeDmaPinned: true, pins: 1 });
    m.unpinUserPages(pin.id);
    // sticky keeps answering "was pinned" until the frame is freed: a false positive by design.
    const after = { maybeDmaPinned: pincount === 'sticky', pins: 0, refcount: before.refcount };
    expect(m.page(dev.startPfn)).toMatchObject(after);
  });
});
