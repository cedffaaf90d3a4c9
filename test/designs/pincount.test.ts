/**
 * Pin-count designs on the same work (kernel-semantics §14.1): which answers each gives, what it
 * costs, and that the designs able to say "not pinned" for a pinned page corrupt what a device
 * sees after fork while the others never do.
 */

import { describe, expect, it } from 'vitest';
import { PIN_DESIGNS, type PinDesign, UNSAFE_PIN_DESIGNS } from '../../src/designs/pincount.js';
import { Machine } from '../../src/index.js';
import type { PinHandle } from '../../src/machine/ids.js';

const PAGE = 4096;
const SAFE = PIN_DESIGNS.filter((d) => !UNSAFE_PIN_DESIGNS.includes(d));

function machine(pincount: PinDesign) {
  const m = new Machine({ memory: '512M', check: 'full', pincount });
  const p = m.spawn('p');
  const buf = m.mmap(p, { length: 4 * PAGE, prot: 'rw', flags: ['private', 'anonymous'] });
  m.write(p, buf, { byte: 0x11, len: 4 * PAGE });
  return { m, p, buf };
}

/** The seed question: pin, fork, write in both, read through the pin. True when the device saw the parent's write. */
function pinForkWrite(m: Machine, p: number, buf: number, pinId: PinHandle): boolean {
  const c = m.fork(p, 'c');
  m.write(p, buf, { byte: 0x22, len: 1 });
  m.write(c, buf, { byte: 0x33, len: 1 });
  return m.dmaRead(pinId, 0, 1)[0] === 0x22 && m.read(c, buf, 1).bytes[0] === 0x33;
}

describe.each(SAFE)('safe design %s', (design) => {
  it('keeps a pinned page with the parent across fork: the pin sees the parent, never the child', () => {
    const { m, p, buf } = machine(design);
    const pin = m.pinUserPages(p, buf, 1, ['write', 'longterm']);
    expect(pinForkWrite(m, p, buf, pin.id)).toBe(true);
    expect(m.pinScore().falseNegatives).toBe(0);
    m.unpinUserPages(pin.id);
    expect(m.pageAt(p, buf)!.pins).toBe(0);
  });

  it('asks of the whole THP at fork of its PMD: a pin on a subpage keeps the THP with the parent', () => {
    // folio_try_dup_anon_rmap_pmd() asks folio_maybe_dma_pinned() of the folio; a design that
    // answers per page must say yes for the folio when any page of it is pinned.
    const m = new Machine({ memory: '512M', check: 'full', pincount: design, thp: 'always' });
    const p = m.spawn('p');
    const raw = m.mmap(p, { length: 4 << 20, prot: 'rw', flags: ['private', 'anonymous'] });
    const thp = raw + ((2 << 20) - (raw % (2 << 20)));
    m.write(p, thp, { byte: 0x11, len: 2 << 20 });
    expect(m.pageAt(p, thp)!.order).toBe(9);
    const sub = thp + 93 * PAGE;
    const pin = m.pinUserPages(p, sub, 1, ['write', 'longterm']);
    expect(pinForkWrite(m, p, sub, pin.id)).toBe(true);
    expect(m.pinScore().falseNegatives).toBe(0);
    m.unpinUserPages(pin.id);
  });

  it('asks of the whole folio in try_to_unmap: a pin on one page keeps every page mapped', () => {
    // __folio_try_share_anon_rmap() refuses for a maybe-pinned folio at its first exclusive
    // page, so reclaim unmaps nothing of it; asked of single pages, it unmapped pages 0-6 first.
    const m = new Machine({ memory: '512M', check: 'full', pincount: design, thp: 'always', swap: '64M' });
    const p = m.spawn('p');
    const raw = m.mmap(p, { length: 4 << 20, prot: 'rw', flags: ['private', 'anonymous'] });
    const thp = raw + ((2 << 20) - (raw % (2 << 20)));
    m.write(p, thp, { byte: 0x11, len: 2 << 20 });
    // A reference keeps the folio in the swap cache through a first pageout; reading it back
    // maps every page exclusive again (the swap entries kept the bit).
    m.getUserPages(p, thp + 511 * PAGE, 1, []);
    m.pageout(p, thp, 2 << 20);
    m.read(p, thp, 2 << 20);
    expect(m.pageAt(p, thp + 7 * PAGE)).toMatchObject({ order: 9, anonExclusive: true });
    m.pinUserPages(p, thp + 7 * PAGE, 1, []);
    m.pageout(p, thp, 2 << 20);
    for (let i = 0; i < 512; i++) expect(m.pageAt(p, thp + i * PAGE), `page ${i}`).toBeDefined();
  });
});

describe('unsafe designs corrupt what the device sees', () => {
  it('ptebit: two pins through one PTE, one unpin clears the bit; fork then shares the pinned page', () => {
    const { m, p, buf } = machine('ptebit');
    const a = m.pinUserPages(p, buf, 1, ['write']);
    const b = m.pinUserPages(p, buf, 1, ['write']);
    m.unpinUserPages(a.id);
    expect(m.pageAt(p, buf)!.pins).toBe(1);
    expect(pinForkWrite(m, p, buf, b.id)).toBe(false);
    expect(m.pinScore().falseNegatives).toBeGreaterThan(0);
    // The device now writes into a page only the child maps.
    m.dmaWrite(b.id, { byte: 0x77, len: 1 }, 1);
    expect(m.read(p, buf + 1, 1).bytes[0]).toBe(0x11);
  });

  it('ptable: a pinned THP is split at fork into a PTE table whose counter is zero; fork shares the pinned subpage', () => {
    const m = new Machine({ memory: '512M', check: 'full', pincount: 'ptable' });
    const p = m.spawn('p');
    const buf = m.mmap(p, { length: 2 << 20, prot: 'rw', flags: ['private', 'anonymous'] });
    m.madvise(p, buf, 2 << 20, 'hugepage');
    m.write(p, buf, { byte: 0x11, len: PAGE });
    expect(m.pageAt(p, buf)!.level).toBe('pmd');
    const pin = m.pinUserPages(p, buf, 1, ['write', 'longterm']);
    expect(pinForkWrite(m, p, buf, pin.id)).toBe(false);
    expect(m.pinScore().falseNegatives).toBeGreaterThan(0);
  });

  it('bias, the same THP workload: every subpage is copied at fork, the pin stays right', () => {
    const m = new Machine({ memory: '512M', check: 'full', pincount: 'bias' });
    const p = m.spawn('p');
    const buf = m.mmap(p, { length: 2 << 20, prot: 'rw', flags: ['private', 'anonymous'] });
    m.madvise(p, buf, 2 << 20, 'hugepage');
    m.write(p, buf, { byte: 0x11, len: PAGE });
    const pin = m.pinUserPages(p, buf, 1, ['write', 'longterm']);
    expect(pinForkWrite(m, p, buf, pin.id)).toBe(true);
    // The whole folio answers "maybe pinned": all 512 exclusive subpages were copied, 511 needlessly.
    expect(m.vmstat().pagelab_fork_copy).toBe(512);
    // Asked once for the PMD (true), then once per subpage after the split.
    expect(m.pinScore()).toMatchObject({ truePositives: 2, falsePositives: 511, falseNegatives: 0 });
  });
});

describe('answers on one shared workload', () => {
  /** 1 pinned page, 1 page with 1500 plain references, 1 page pinned and unpinned, 1 untouched page; then fork. */
  function workload(design: PinDesign) {
    const { m, p, buf } = machine(design);
    const pinned = m.pinUserPages(p, buf, 1, ['write']);
    m.checkLevel = 'cheap';
    for (let i = 0; i < 1500; i++) m.getUserPages(p, buf + PAGE, 1);
    m.checkLevel = 'full';
    const once = m.pinUserPages(p, buf + 2 * PAGE, 1, ['write']);
    m.unpinUserPages(once.id);
    m.fork(p, 'c');
    return { score: m.pinScore(), copies: m.vmstat().pagelab_fork_copy, pinned };
  }

  it('bias: a false positive for 1500 plain references (an extra copy), none for the unpinned page', () => {
    const { score, copies } = workload('bias');
    expect(score).toMatchObject({ truePositives: 1, falsePositives: 1, falseNegatives: 0, trueNegatives: 2 });
    expect(copies).toBe(2);
  });

  it('exact and shadow: exactly the pinned page', () => {
    for (const d of ['exact', 'shadow'] as const) {
      const { score, copies } = workload(d);
      expect(score).toMatchObject({
        truePositives: 1,
        falsePositives: 0,
        falseNegatives: 0,
        trueNegatives: 3,
      });
      expect(copies).toBe(1);
    }
  });

  it('sticky: the page pinned once still answers yes after its unpin', () => {
    const { score, copies } = workload('sticky');
    expect(score).toMatchObject({ truePositives: 1, falsePositives: 1, falseNegatives: 0 });
    expect(copies).toBe(2);
  });

  it('ptable: one pin makes every page of its 2 MiB table answer yes', () => {
    const { score, copies } = workload('ptable');
    expect(score).toMatchObject({ truePositives: 1, falsePositives: 3, falseNegatives: 0 });
    expect(copies).toBe(4);
  });
});

describe('metadata cost', () => {
  it('bias and ptebit cost nothing extra; exact 4 bytes per small folio; shadow a second struct page per frame', () => {
    const cost = (d: PinDesign, design: 'memdesc' | 'struct-page' = 'memdesc') => {
      const m = new Machine({ memory: '512M', pincount: d, design });
      const p = m.spawn('p');
      const buf = m.mmap(p, { length: 4 * PAGE, prot: 'rw', flags: ['private', 'anonymous'] });
      m.write(p, buf, { byte: 1, len: 4 * PAGE });
      return m.pinScore().metadataBytes;
    };
    const frames = (512 << 20) / PAGE;
    expect(cost('bias')).toBe(0);
    expect(cost('ptebit')).toBe(0);
    expect(cost('exact')).toBe(4 * 4);
    expect(cost('shadow', 'struct-page')).toBe(64 * frames);
    expect(cost('shadow')).toBe(4 * frames);
    expect(cost('sticky')).toBe(frames / 8);
    expect(cost('ptable')).toBe(4 * 4); // PGD, PUD, PMD and one PTE table
  });
});
