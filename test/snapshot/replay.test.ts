import { describe, expect, it } from 'vitest';
import { MT } from '../../src/mm/memdesc.js';
import { buddyinfoTotals, classify, FRAME, TAIL } from '../../src/snapshot/classify.js';
import { parseBuddyinfo } from '../../src/snapshot/companions.js';
import { FRAME_TO_MT, priceMemdesc, snapshotCensus } from '../../src/snapshot/price.js';
import { machineFromSnapshot } from '../../src/snapshot/replay.js';
import { loadedCapture } from './fixture.js';

describe('replaying the shipped capture at its PFNs', async () => {
  const s = await loadedCapture();
  const c = classify(s);
  const price = priceMemdesc(c);
  const { machine, notes, pfnOf } = machineFromSnapshot(s, c);
  const census = machine.census();
  const want = snapshotCensus(c);

  it("has the capture's memory map: its 192 sections with a memmap, the PCI hole left out", () => {
    expect(census.presentPages).toBe(6_291_456);
    expect(pfnOf(0xbffff)).toBe(0xbffff);
    expect(pfnOf(0xc0000)).toBe(-1);
    expect(pfnOf(0x100000)).toBe(0xc0000);
  });

  it("the census equals the capture's, frame type by frame type, with the same descriptors", () => {
    expect(Array.from(census.pagesByType)).toEqual(Array.from(want.pagesByType));
    expect([...census.folios].sort()).toEqual([...want.folios].sort());
    expect(census.slabs).toBe(7_968);
    expect(census.ptdescs).toBe(6_765);
    expect(census.pagesByType[MT.BUDDY]).toBe(807_167);
  });

  it('every frame is where it was: the memory type at each model PFN is the captured frame type', () => {
    const k = machine.kernel;
    let wrong = 0;
    let firstWrong = -1;
    let compared = 0;
    for (let pfn = 0; pfn < c.nrPfns; pfn++) {
      const mp = pfnOf(pfn);
      if (mp < 0) continue;
      const f = c.frames[pfn];
      const t = k.pa.memmap.type(mp);
      // Free tails and folio tails carry no type of their own in the model's memmap words; compare heads.
      if (f & TAIL || (f === FRAME.FREE && t === MT.NONE)) continue;
      // The two zero pages swap places with a reserved frame (see the replay's notes).
      const expected =
        mp === machine.zeroPfn
          ? MT.ZERO
          : f === FRAME.ZERO && mp !== pfnOf(0x1f4a00)
            ? MT.RESERVED
            : FRAME_TO_MT[f];
      compared++;
      if (t !== expected) {
        wrong++;
        if (firstWrong < 0) firstWrong = pfn;
      }
    }
    expect({ wrong, firstWrong }).toEqual({ wrong: 0, firstWrong: -1 });
    // Every head and lone frame is compared: all but the tails of folios, slabs and free blocks.
    expect(compared).toBeGreaterThan(4_500_000);
    expect(machine.page(pfnOf(0x1f4a00)).type).toBe('zero');
  });

  it("free memory is the capture's free runs: buddyinfo equals the inferred blocks, and the capture's buddyinfo where it agrees with them", () => {
    const model = machine.buddyinfo().reduce((a, z) => a.map((n, o) => n + z.free[o]), new Array(11).fill(0));
    expect(model).toEqual(c.freeBlocks);
    const captured = buddyinfoTotals(parseBuddyinfo(s.companions.buddyinfo ?? ''));
    for (const o of [0, 1, 2, 3, 4, 8, 9, 10]) expect(model[o]).toBe(captured[o]);
  });

  it('Machine.accounting() agrees with the price computed from the capture, in both layouts', () => {
    const acc = machine.accounting();
    expect(acc.find((a) => a.layout === 'struct-page')?.totalBytes).toBe(price.structPage);
    expect(acc.find((a) => a.layout === 'memdesc')?.totalBytes).toBe(price.memdesc);
  });

  it('the replayed machine passes the full invariant check and runs on the captured fragmentation: a PMD-order allocation takes an aligned free block', () => {
    machine.check('full');
    const before = machine.buddyinfo().reduce((n, z) => n + z.free[9], 0);
    const h = machine.folioAlloc(9);
    expect(machine.folioPfn(h) % 512).toBe(0);
    machine.folioPut(h);
    expect(machine.buddyinfo().reduce((n, z) => n + z.free[9], 0)).toBe(before);
  });

  it('says what it could not reproduce', () => {
    expect(notes.join('\n')).toMatch(/holes/);
    expect(notes.join('\n')).toMatch(/hugetlb/);
  });
});
