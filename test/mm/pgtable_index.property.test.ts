/**
 * The page-table index arithmetic (pgtable.ts): levelIndex() and leafSlot() split the address into
 * int32 halves and shift, instead of a float division and modulo per level. Both must give what
 * the definition gives — pgd_index() and friends are (addr >> shift) & (PTRS_PER_TABLE - 1) — for
 * every address, and leafSlot() the slot a plain four-level walk by that definition reaches.
 */
import { fc, test } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import { Machine } from '../../src/index.js';
import { ENTRY_UNIT, LEVEL_SIZE, levelIndex, PT_LEVEL, PTE, PTRS_PER_TABLE } from '../../src/mm/pgtable.js';
import { mod } from '../../src/mm/types.js';

/** The definition: (addr / 2^shift) mod 512, in exact float arithmetic. */
const byDefinition = (addr: number, level: number): number =>
  mod(Math.floor(addr / LEVEL_SIZE[level]), PTRS_PER_TABLE);

/** A walk from the PGD by the definition: the leaf slot (PTE, or huge PMD) or -1. */
function referenceLeafSlot(entries: Float64Array, pgd: number, addr: number): number {
  let row = pgd;
  for (let level: number = PT_LEVEL.PGD; level >= PT_LEVEL.PTE; level--) {
    const slot = row * PTRS_PER_TABLE + byDefinition(addr, level);
    if (level === PT_LEVEL.PTE) return slot;
    const e = entries[slot];
    if (e === 0) return -1;
    if (level === PT_LEVEL.PMD && mod(e, ENTRY_UNIT) & PTE.HUGE) return slot;
    row = Math.floor(e / ENTRY_UNIT);
  }
  return -1;
}

const level = fc.constantFrom(PT_LEVEL.PTE, PT_LEVEL.PMD, PT_LEVEL.PUD, PT_LEVEL.PGD);

describe('page-table indices', () => {
  test.prop([fc.maxSafeNat(), level])('levelIndex is (addr >> shift) & 511 for every address', (addr, l) => {
    expect(levelIndex(addr, l)).toBe(byDefinition(addr, l));
  });

  test.prop([fc.integer({ min: 0, max: 2 ** 17 - 1 }), fc.integer({ min: 0, max: 2 ** 30 - 1 }), level])(
    'and at the edges of each half: bits 29/30 and the top of the user address space',
    (hi, lo, l) => {
      for (const addr of [hi * 2 ** 30 + lo, hi * 2 ** 30, hi * 2 ** 30 + 2 ** 30 - 1, 2 ** 47 - 1 - lo])
        expect(levelIndex(addr, l)).toBe(byDefinition(addr, l));
    },
  );

  test.prop(
    [
      fc.array(fc.tuple(fc.integer({ min: 16, max: 2 ** 35 - 602 }), fc.integer({ min: 1, max: 600 })), {
        minLength: 1,
        maxLength: 4,
      }),
      fc.array(fc.integer({ min: 0, max: 2 ** 35 - 1 }), { maxLength: 20 }),
    ],
    { numRuns: 40 },
  )('leafSlot finds the slot a walk by the definition finds, mapped or not', (regions, probes) => {
    const m = new Machine({ memory: '256M', check: 'off', contents: false });
    const p = m.spawn('p');
    const addrs: number[] = [];
    const map = (addr: number, length: number, huge: boolean) => {
      m.mmap(p, { addr, length, prot: 'rw', flags: ['private', 'anonymous', 'fixed'] });
      if (huge) m.madvise(p, addr, length, 'hugepage');
      m.touch(p, addr, length, { write: true });
      addrs.push(addr, addr + length - 4096, addr + length);
    };
    for (const [page, pages] of regions) map(page * 4096, pages * 4096, false);
    // A THP-backed region, so the walk also ends at a huge PMD.
    map(2 ** 40, 2 ** 22, true);
    const k = m.kernel;
    expect(k.ptdesc.leafSlot(k.processes.get(p)!.mm.pgd, 2 ** 40)).toBeGreaterThanOrEqual(0);
    expect(k.ptdesc.leafLevel).toBe(PT_LEVEL.PMD);
    const mm = k.processes.get(p)!.mm;
    for (const addr of [...addrs, ...probes.map((x) => x * 4096)]) {
      expect(k.ptdesc.leafSlot(mm.pgd, addr)).toBe(referenceLeafSlot(k.ptdesc.entries, mm.pgd, addr));
    }
  });
});
