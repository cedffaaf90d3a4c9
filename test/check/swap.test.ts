/**
 * The swap invariants of src/check/vm.ts fire on corruption: a swap_map count that is not the
 * number of swap entries naming the slot, a cached slot without SWAP_HAS_CACHE, a folio in the
 * swap cache without PG_swapcache, an inuse count that does not add up, an rss swap counter that
 * disagrees with the page tables, and a swap entry outside an anonymous mapping.
 */
import { describe, expect, it } from 'vitest';
import { checkInvariants, InvariantViolation } from '../../src/check/invariants.js';
import { Machine } from '../../src/index.js';
import { PG } from '../../src/mm/folio.js';
import { mkSwapEntry } from '../../src/mm/pgtable.js';

const PAGE = 4096;

/** One page swapped out (slot 1) and one in the swap cache, held there by a GUP reference. */
function swapped() {
  const m = new Machine({ memory: '256M', swap: '16M' });
  const p = m.spawn('p');
  const buf = m.mmap(p, { length: 2 * PAGE, prot: 'rw', flags: ['private', 'anonymous'] });
  m.write(p, buf, { byte: 1, len: 2 * PAGE });
  m.getUserPages(p, buf + PAGE, 1);
  m.pageout(p, buf, 2 * PAGE);
  m.check('full');
  const k = m.kernel;
  const si = k.swap!;
  const cached = si.cache.get(2)!;
  return { m, p, buf, k, si, cached };
}

function caught(m: Machine, level: 'cheap' | 'full'): string {
  try {
    checkInvariants(m.kernel, level);
  } catch (e) {
    expect(e).toBeInstanceOf(InvariantViolation);
    return (e as InvariantViolation).violations.join('\n');
  }
  return '';
}

describe('the swap checks catch corruption', () => {
  it('a healthy machine with swap entries and a swap-cache folio passes', () => {
    const { m, si } = swapped();
    expect(si.count(1)).toBe(1);
    expect(si.cache.size).toBe(1);
    expect(caught(m, 'full')).toBe('');
  });

  it('a swap_map count that is not the number of entries naming the slot (cheap)', () => {
    const { m, si } = swapped();
    si.swapMap[1]++;
    expect(caught(m, 'cheap')).toMatch(/swap slot 1: swap_map count 2, 1 swap entries name it/);
    si.swapMap[1]--;
    expect(caught(m, 'full')).toBe('');
  });

  it('a slot counted in use that nothing names (full only)', () => {
    const { m, si } = swapped();
    si.swapMap[7] = 1;
    expect(caught(m, 'cheap')).toBe('');
    expect(caught(m, 'full')).toMatch(/swap slot 7: swap_map count 1, 0 swap entries name it/);
    si.swapMap[7] = 0;
  });

  it('a cached slot without SWAP_HAS_CACHE, and a cache folio without PG_swapcache', () => {
    const { m, k, si, cached } = swapped();
    si.hasCache[2] = 0;
    expect(caught(m, 'cheap')).toMatch(/swap slot 2: in the swap cache without SWAP_HAS_CACHE/);
    si.hasCache[2] = 1;
    k.folios.clearFlag(cached, PG.owner_priv_1);
    expect(caught(m, 'cheap')).toMatch(/is not a live anon folio in the swap cache/);
    k.folios.setFlag(cached, PG.owner_priv_1);
    expect(caught(m, 'full')).toBe('');
  });

  it('an inuse count that does not add up (full)', () => {
    const { m, si } = swapped();
    si.inuse++;
    expect(caught(m, 'full')).toMatch(/swap: 2 slots in use, inuse_pages says 3/);
    si.inuse--;
  });

  it("an mm's swap rss that disagrees with its page tables", () => {
    const { m, k, p } = swapped();
    const mm = k.processes.get(p)!.mm;
    mm.rss[2]++;
    expect(caught(m, 'cheap')).toMatch(/rss\[2\] is 3, page tables hold 2/);
    mm.rss[2]--;
  });

  it('the swap cache folio holds a reference per page: a refcount below it is caught (full)', () => {
    const { m, k, cached } = swapped();
    // The swap cache's reference and the GUP reference: take both away.
    k.folios.refcount[cached] -= 2;
    expect(caught(m, 'full')).toMatch(/refcount 0 below 0 mappings \+ 1 page-cache references/);
    k.folios.refcount[cached] += 2;
  });

  it('a swap entry in a shared mapping, or on a machine without swap', () => {
    const { m, k, p } = swapped();
    const sh = m.mmap(p, { length: PAGE, prot: 'rw', flags: ['shared', 'anonymous'] });
    m.write(p, sh, { byte: 1, len: 1 });
    const pd = k.ptdesc;
    const slot = pd.leafSlot(k.processes.get(p)!.mm.pgd, sh);
    const was = pd.entries[slot];
    pd.entries[slot] = mkSwapEntry(1, false);
    expect(caught(m, 'cheap')).toMatch(/swap entry outside a private mapping with anon pages/);
    pd.entries[slot] = was;
    const none = new Machine({ memory: '256M' });
    const q = none.spawn('q');
    const b = none.mmap(q, { length: PAGE, prot: 'rw', flags: ['private', 'anonymous'] });
    none.write(q, b, { byte: 1, len: 1 });
    const nk = none.kernel;
    const s2 = nk.ptdesc.leafSlot(nk.processes.get(q)!.mm.pgd, b);
    nk.ptdesc.entries[s2] = mkSwapEntry(1, true);
    expect(caught(none, 'cheap')).toMatch(/1 swap entries on a machine without swap/);
  });
});
