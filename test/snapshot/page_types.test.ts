import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SnapshotError } from '../../src/snapshot/errors.js';
import { HI, KPF, LO } from '../../src/snapshot/kpageflags.js';
import { formatPageTypes, pageTypes } from '../../src/snapshot/page_types.js';
import type { Snapshot } from '../../src/snapshot/read.js';
import { fixture, loadedCapture } from './fixture.js';

/** A tiny snapshot from (lo, hi) words. */
function words(...w: [number, number][]): Snapshot {
  return {
    nrPfns: w.length,
    flagsLo: Uint32Array.from(w.map((x) => x[0])),
    flagsHi: Uint32Array.from(w.map((x) => x[1])),
    mapcount: null,
    mapcountSaturated: 0,
    source: { flags: '<test>', count: null, format: 'raw' },
    companions: {},
  };
}

describe('page-types -F on the shipped capture', () => {
  it('the summary is byte-identical to the kernel tool', async () => {
    const s = await loadedCapture();
    expect(formatPageTypes(pageTypes(s, false))).toBe(readFileSync(fixture('loaded.page-types.txt'), 'utf8'));
  });

  it('the raw (-r) summary is byte-identical to the kernel tool', async () => {
    const s = await loadedCapture();
    expect(formatPageTypes(pageTypes(s, true))).toBe(
      readFileSync(fixture('loaded.page-types-raw.txt'), 'utf8'),
    );
  });
});

describe('page-types rules', () => {
  it('non-raw hides bits 32–47 and the compound bits of non-hugetlb compound pages', () => {
    const thpTail = LO(KPF.COMPOUND_TAIL) | LO(KPF.THP);
    const hugeHead = LO(KPF.COMPOUND_HEAD) | LO(KPF.HUGE);
    const sum = pageTypes(
      words([thpTail, HI(KPF.RESERVED)], [hugeHead, HI(KPF.PRIVATE)], [0, HI(KPF.READAHEAD)]),
      false,
    );
    expect(sum.rows.map((r) => [r.lo, r.hi])).toEqual([
      [LO(KPF.THP), 0],
      [hugeHead, 0],
      // bit 48 is above the hidden range: page-types keeps it.
      [0, HI(KPF.READAHEAD)],
    ]);
  });

  it('raw un-overloads owner_2 on anon, active/error on slab, reclaim without writeback', () => {
    const sum = pageTypes(
      words(
        [LO(KPF.ANON), HI(KPF.OWNER_2)],
        [LO(KPF.SLAB) | LO(KPF.ACTIVE) | LO(KPF.ERROR), 0],
        [LO(KPF.RECLAIM), 0],
        [LO(KPF.RECLAIM) | LO(KPF.WRITEBACK), 0],
        [LO(KPF.ACTIVE), HI(KPF.OWNER_2)],
      ),
      true,
    );
    const lines = formatPageTypes(sum).split('\n');
    expect(lines.find((l) => l.includes('anonymous'))).toContain('anonymous,anon_exclusive');
    expect(lines.find((l) => l.includes('slab'))).toMatch(/\tslab,slub_frozen,slub_debug$/);
    expect(lines.some((l) => l.endsWith('\treadahead'))).toBe(true);
    expect(lines.some((l) => l.endsWith('\twriteback,reclaim'))).toBe(true);
    // owner_2 stays owner_2 when the page is not anon.
    expect(lines.some((l) => l.endsWith('\tactive,owner_2'))).toBe(true);
  });

  it('rows follow the hash table: key = word & 8191, linear probing, slot 0 for the word 0', () => {
    // 0x2001 and 0x4001 both hash to slot 1; 0x2 hashes to slot 2 but finds it taken by 0x4001.
    const sum = pageTypes(words([0x2001, 0], [0x4001, 0], [0x2, 0], [0, 0]), true);
    expect(sum.rows.map((r) => r.lo)).toEqual([0, 0x2001, 0x4001, 0x2]);
    expect(sum.total).toBe(4);
  });

  it('a set bit page-types has no name for stops it, as the tool does', () => {
    expect(() => pageTypes(words([LO(27), 0]), true)).toThrow(SnapshotError);
    expect(() => pageTypes(words([LO(27), 0]), true)).toThrow(/unknown flag bit 27/);
    expect(() => pageTypes(words([0, HI(60)]), false)).toThrow(/unknown flag bit 60/);
  });

  it('MB is pages × 4 KiB >> 20, rounded down, and the total line counts every PFN', () => {
    const sum = pageTypes(
      words(...Array.from({ length: 300 }, (): [number, number] => [LO(KPF.LRU), 0])),
      false,
    );
    const text = formatPageTypes(sum);
    expect(text).toContain('0x0000000000000020\t       300        1  _____l');
    expect(text.endsWith('             total\t       300        1\n')).toBe(true);
  });
});
