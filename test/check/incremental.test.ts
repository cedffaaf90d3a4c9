/**
 * The incremental cheap check (src/check/incremental.ts) against the whole-world cheap walk it
 * replaces (checkWalk 'cheap'): they agree after every op of random fuzzer sequences (both clean),
 * and each cheap rule broken behind the model's back — then marked the way the op that would do
 * it marks (mm/dirty.ts) — is reported by both, under the same rule.
 */
import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { checkInvariants, checkWalk, InvariantViolation } from '../../src/check/invariants.js';
import { UNSAFE_PIN_DESIGNS } from '../../src/designs/pincount.js';
import { Generator } from '../../src/fuzz/gen.js';
import { Prng } from '../../src/fuzz/prng.js';
import { World } from '../../src/fuzz/world.js';
import { Machine } from '../../src/index.js';
import type { Kernel } from '../../src/mm/kernel.js';
import { MT, mdWord } from '../../src/mm/memdesc.js';
import { MM_ANONPAGES } from '../../src/mm/mm_types.js';
import { entryBits, entryPfn, mkEntry, PTE, PTRS_PER_TABLE } from '../../src/mm/pgtable.js';
import { PAGE_SIZE } from '../../src/mm/types.js';

/** The rules each check reports, or [] when it passes. */
function rules(run: () => void): string[] {
  try {
    run();
    return [];
  } catch (e) {
    if (!(e instanceof InvariantViolation)) throw e;
    return [...new Set(e.list.map((x) => x.rule))].sort();
  }
}

const incremental = (k: Kernel) => rules(() => checkInvariants(k, 'cheap'));
const walk = (k: Kernel) => rules(() => checkWalk(k, 'cheap'));

/** A process with `pages` written anon pages (and its kernel, pid, address). */
function setup(pages = 8, swap = false) {
  const m = new Machine({ memory: '128M', check: 'off', swap: swap ? '16M' : undefined });
  const pid = m.spawn('p');
  const addr = m.mmap(pid, { length: pages * PAGE_SIZE, prot: 'rw', flags: ['private', 'anonymous'] });
  m.touch(pid, addr, pages * PAGE_SIZE, { write: true });
  const k = m.kernel;
  expect(incremental(k)).toEqual([]);
  const mm = k.processes.get(pid)?.mm;
  if (!mm) throw new Error('no mm');
  const slot = k.ptdesc.leafSlot(mm.pgd, addr);
  return { m, k, pid, addr, mm, slot, pte: Math.floor(slot / PTRS_PER_TABLE) };
}

describe('the incremental cheap check reports every cheap rule for what the op touched', () => {
  it('rss that disagrees with the tables, in an mm whose tables the op wrote', () => {
    const { k, mm, pte } = setup();
    mm.rss[MM_ANONPAGES]++;
    k.ptdesc.touched.add(pte);
    expect(incremental(k)).toEqual(['vm']);
    expect(walk(k)).toEqual(['vm']);
  });

  it('an entry outside every VMA: a VMA dropped without zapping, its range marked as munmap marks it', () => {
    const { k, mm } = setup();
    const vma = mm.vmas[0];
    mm.vmas.splice(0, 1);
    k.vmaTouched.add(mm, vma.start, vma.end);
    expect(incremental(k)).toContain('vm');
    expect(walk(k)).toContain('vm');
  });

  it('a PTE written to map a free frame', () => {
    const { k, slot, pte } = setup();
    const free = k.pa.rmqueue(0, 0, 0);
    k.pa.freeBlock(free, 0);
    k.ptdesc.set(pte, slot % PTRS_PER_TABLE, mkEntry(free, entryBits(k.ptdesc.entries[slot])));
    expect(incremental(k)).toContain('vm');
    expect(walk(k)).toContain('vm');
  });

  it('a writable PTE of a page that lost anon-exclusive, marked as fork marks its range', () => {
    const { k, mm, slot, addr } = setup();
    const pfn = entryPfn(k.ptdesc.entries[slot]);
    const row = k.folios.pageRow(pfn);
    expect(entryBits(k.ptdesc.entries[slot]) & PTE.WRITE).toBeTruthy();
    k.folios.setPageAnonExclusive(row, pfn, false);
    k.vmaTouched.add(mm, addr, addr + PAGE_SIZE);
    expect(incremental(k)).toEqual(['vm']);
    expect(walk(k)).toEqual(['vm']);
  });

  it('a folio put below its mapcount', () => {
    const { k, slot } = setup();
    const row = k.folios.pageRow(entryPfn(k.ptdesc.entries[slot]));
    k.folios.refcount[row] = 0;
    k.folios.touched.add(row);
    expect(incremental(k)).toContain('folio');
    expect(walk(k)).toContain('folio');
  });

  it('a folio whose memdesc names another row', () => {
    const { k, slot } = setup();
    const pfn = entryPfn(k.ptdesc.entries[slot]);
    const row = k.folios.pageRow(pfn);
    k.pa.memmap.set(pfn, mdWord(MT.ANON, 0), row + 1);
    k.folios.touched.add(row);
    expect(incremental(k)).toContain('folio');
    expect(walk(k)).toContain('folio');
  });

  it('pages per kind that disagree with the counters', () => {
    const { k } = setup();
    k.stat.pagesByType[MT.ANON]++;
    k.stat.pagesByType[MT.BUDDY]--;
    expect(incremental(k)).toContain('folio');
    expect(walk(k)).toContain('folio');
  });

  it('a page table freed while its PMD still points at it', () => {
    const { k, pte, mm } = setup();
    const pd = k.ptdesc;
    for (let i = 0; i < PTRS_PER_TABLE; i++) if (pd.get(pte, i) !== 0) pd.set(pte, i, 0);
    mm.rss[MM_ANONPAGES] = 0;
    pd.free(pd.handleOf(pte));
    expect(incremental(k)).toContain('vm');
    expect(walk(k)).toContain('vm');
  });

  it('a page table unlinked from its PMD but not freed (reachable from no mm)', () => {
    const { k, mm, addr } = setup();
    const pd = k.ptdesc;
    const pmd = pd.tableFor(mm.pgd, addr, 2, false);
    const i = Math.floor(addr / 2 ** 21) % PTRS_PER_TABLE;
    pd.set(pmd, i, 0);
    expect(incremental(k)).toContain('vm');
    expect(walk(k)).toContain('vm');
  });

  it('a ptdesc whose memdesc does not point back', () => {
    const { k, pte } = setup();
    k.pa.memmap.set(k.ptdesc.pfn[pte], mdWord(MT.PGTABLE), pte + 1);
    k.ptdesc.touched.add(pte);
    expect(incremental(k)).toContain('ptdesc');
    expect(walk(k)).toContain('ptdesc');
  });

  it('a swap slot whose count disagrees with the entries naming it', () => {
    const { m, k, pid, addr } = setup(8, true);
    m.pageout(pid, addr, 8 * PAGE_SIZE);
    expect(incremental(k)).toEqual([]);
    const si = k.swap;
    if (!si) throw new Error('no swap');
    const off = si.swapMap.findIndex((c) => c > 0);
    si.swapMap[off]++;
    si.touched.add(off);
    expect(incremental(k)).toEqual(['vm']);
    expect(walk(k)).toEqual(['vm']);
  });

  it('a broken table stays reported at the next check, as the walk reports it', () => {
    const { k, mm } = setup();
    mm.vmas.splice(0, 1);
    k.vmaTouched.add(mm, 0, 2 ** 47);
    expect(incremental(k)).toContain('vm');
    expect(incremental(k)).toContain('vm');
  });
});

/** Corruptions of live state, each marked the way the op that would cause it marks (false: nothing to corrupt). */
const CORRUPTIONS: { name: string; rule: string; inject: (k: Kernel) => boolean }[] = [
  {
    name: 'rss',
    rule: 'vm',
    inject: (k) => {
      const mm = [...k.mms][0];
      if (!mm) return false;
      mm.rss[MM_ANONPAGES]++;
      k.vmaTouched.add(mm, 0, 0);
      return true;
    },
  },
  {
    name: 'mapped folio put to zero',
    rule: 'folio',
    inject: (k) => {
      const f = k.folios;
      for (const row of f.liveRows()) {
        if (f.mapcountOf(row) <= 0 || f.pfn[row] >= k.pa.maxPfn) continue;
        f.refcount[row] = 0;
        f.touched.add(row);
        return true;
      }
      return false;
    },
  },
  {
    name: 'ptdesc memdesc',
    rule: 'ptdesc',
    inject: (k) => {
      const row = [...k.ptdesc.liveRows()][0];
      if (row === undefined) return false;
      k.pa.memmap.set(k.ptdesc.pfn[row], mdWord(MT.PGTABLE), row + 1);
      k.ptdesc.touched.add(row);
      return true;
    },
  },
  {
    name: 'VMA dropped over its entries',
    rule: 'vm',
    inject: (k) => {
      for (const mm of k.mms) {
        const i = mm.vmas.findIndex((v) => k.ptdesc.nextPopulated(mm.pgd, v.start, v.end) < v.end);
        if (i < 0) continue;
        const [v] = mm.vmas.splice(i, 1);
        k.vmaTouched.add(mm, v.start, v.end);
        return true;
      }
      return false;
    },
  },
];

/** Run `ops` fuzzer ops on a machine at check off, calling `after` after each (false: stop). */
function drive(seed: number, ops: number, after: (k: Kernel, i: number) => boolean): void {
  const m = new Machine({ memory: '256M', check: 'off', swap: '32M', thp: 'madvise' });
  const w = new World(m, !UNSAFE_PIN_DESIGNS.includes('bias'));
  w.setup();
  const gen = new Generator(new Prng(seed), w, 0.05);
  let ran = 0;
  for (let made = 0; ran < ops && made < 4 * ops; made++) {
    for (const op of gen.next()) {
      const p = w.prepare(op);
      if (!p) continue;
      ran++;
      try {
        p.call();
      } catch {
        // Refused ops are answers; the fuzzer checks them (test/fuzz).
      }
      if (!after(m.kernel, ran)) return;
    }
  }
}

describe('the incremental cheap check agrees with the whole-world walk', () => {
  test.prop([fc.integer({ min: 1, max: 2 ** 30 })], { numRuns: 6 })(
    'after every op of a random fuzzer sequence, both are clean',
    (seed) => {
      drive(seed, 300, (k, i) => {
        const a = incremental(k);
        const b = walk(k);
        expect({ i, a }).toEqual({ i, a: b });
        expect(a).toEqual([]);
        return true;
      });
    },
  );

  test.prop(
    [
      fc.integer({ min: 1, max: 2 ** 30 }),
      fc.integer({ min: 20, max: 200 }),
      fc.constantFrom(...CORRUPTIONS),
    ],
    { numRuns: 12 },
  )(
    'a corruption injected after a random sequence, marked as its op would, is reported by both',
    (seed, at, c) => {
      drive(seed, at, (k, i) => {
        if (i < at) {
          expect(incremental(k)).toEqual([]);
          return true;
        }
        if (!c.inject(k)) return false;
        const a = incremental(k);
        expect(a).toContain(c.rule);
        expect(walk(k)).toContain(c.rule);
        return false;
      });
    },
  );
});
