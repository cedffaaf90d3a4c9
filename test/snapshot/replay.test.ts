import { describe, expect, it } from 'vitest';
import { MT } from '../../src/mm/memdesc.js';
import { GFP } from '../../src/mm/mmzone.js';
import { classify, FRAME, TAIL } from '../../src/snapshot/classify.js';
import { parseBuddyinfo, parseZoneinfo } from '../../src/snapshot/companions.js';
import { FRAME_TO_MT, priceMemdesc, snapshotCensus } from '../../src/snapshot/price.js';
import { machineFromSnapshot, REPLAY_NOTES } from '../../src/snapshot/replay.js';
import { loadedCapture } from './fixture.js';

describe('replaying the shipped capture at its PFNs', async () => {
  const s = await loadedCapture();
  const c = classify(s);
  const price = priceMemdesc(c);
  const { machine, notes, pfnOf } = machineFromSnapshot(s, c);
  const census = machine.census();
  const want = snapshotCensus(c);

  const uninit = 4_292_608; // Normal's present − managed in the capture's zoneinfo: sections 69..199
  const uninitFrom = 69 * 32768;

  it("has the capture's memory map: RAM from iomem, the PCI hole a hole (pfn_valid false), every PFN its own", () => {
    expect(census.presentPages).toBe(6_291_456);
    const mm = machine.kernel.pa.memmap;
    expect(mm.pfnValid(0xbffff)).toBe(true);
    expect(mm.pfnValid(0xc0000)).toBe(false);
    expect(mm.pfnValid(0xfffff)).toBe(false);
    expect(mm.pfnValid(0x100000)).toBe(true);
    expect(pfnOf(0x100000)).toBe(0x100000);
    expect(pfnOf(0xc0000)).toBe(-1);
    expect(() => machine.page(0xc0000)).toThrow(/hole/);
  });

  it("the zones are the capture's: zoneinfo start_pfn, spanned, present and managed equal the capture's", () => {
    const captured = parseZoneinfo(s.companions.zoneinfo ?? '');
    expect(captured.length).toBe(3);
    const model = machine.zoneinfo();
    expect(model.map((z) => [z.zone, z.startPfn, z.spanned, z.present, z.managed])).toEqual(
      captured.map((z) => [z.zone, z.startPfn, z.spanned, z.present, z.managed]),
    );
    // The capture's kernel never initialised the top 131 sections: they are deferred here too.
    expect(model.at(-1)?.deferred).toBe(uninit);
    expect(machine.kernel.pa.nodes[0].firstDeferredPfn).toBe(uninitFrom);
    expect(notes).toEqual(REPLAY_NOTES);
  });

  it("says so when the zones it computed differ from the capture's zoneinfo", () => {
    const zoneinfo = (s.companions.zoneinfo ?? '').replace('present  3998', 'present  3997');
    const r = machineFromSnapshot({ ...s, companions: { ...s.companions, zoneinfo } }, c);
    expect(r.notes.slice(REPLAY_NOTES.length)).toEqual([
      "zone DMA: start/spanned/present/managed 1/4095/3998/3840 here, 1/4095/3997/3840 in the capture's zoneinfo",
    ]);
  });

  it("the census equals the capture's, frame type by frame type, with the same descriptors (never-initialised frames as none)", () => {
    const wantTypes = Array.from(want.pagesByType);
    wantTypes[MT.RESERVED] -= uninit;
    wantTypes[MT.NONE] += uninit;
    expect(Array.from(census.pagesByType)).toEqual(wantTypes);
    expect([...census.folios].sort()).toEqual([...want.folios].sort());
    expect(census.slabs).toBe(7_968);
    expect(census.ptdescs).toBe(6_765);
    expect(census.pagesByType[MT.BUDDY]).toBe(807_167);
  });

  it('every frame is where it was, with zero PFN shift: the memory type at each PFN is the captured frame type', () => {
    const k = machine.kernel;
    let wrong = 0;
    let firstWrong = -1;
    let compared = 0;
    for (let pfn = 0; pfn < c.nrPfns; pfn++) {
      const f = c.frames[pfn];
      if (f === FRAME.HOLE) {
        expect(k.pa.memmap.pfnValid(pfn)).toBe(false);
        continue;
      }
      const t = k.pa.memmap.type(pfn);
      // Free tails and folio tails carry no type of their own in the model's memmap words; compare heads.
      if (f & TAIL || (f === FRAME.FREE && t === MT.NONE)) continue;
      const expected = pfn >= uninitFrom ? MT.NONE : FRAME_TO_MT[f];
      compared++;
      if (t !== expected) {
        wrong++;
        if (firstWrong < 0) firstWrong = pfn;
      }
    }
    expect({ wrong, firstWrong }).toEqual({ wrong: 0, firstWrong: -1 });
    // Every head and lone frame is compared: all but the tails of folios, slabs and free blocks.
    expect(compared).toBeGreaterThan(4_500_000);
    expect(machine.page(0x1f4a00).type).toBe('zero');
    expect(c.frames[machine.zeroPfn]).toBe(FRAME.ZERO);
  });

  it("free memory is the capture's free runs: buddyinfo equals the inferred blocks, and the capture's per zone where it agrees with them", () => {
    const model = machine.buddyinfo();
    const total = model.reduce((a, z) => a.map((n, o) => n + z.free[o]), new Array(11).fill(0));
    expect(total).toEqual(c.freeBlocks);
    const captured = parseBuddyinfo(s.companions.buddyinfo ?? '');
    expect(model.map((z) => z.zone)).toEqual(captured.map((z) => z.zone));
    // DMA and DMA32 did not change between the two reads; Normal's orders 5-7 did (the capture
    // is not atomic: zoneinfo says 33,354 free Normal pages, kpageflags 30,410).
    expect(model[0].free).toEqual(captured[0].free);
    expect(model[1].free).toEqual(captured[1].free);
    for (const o of [0, 1, 2, 3, 4, 8, 9, 10]) expect(model[2].free[o]).toBe(captured[2].free[o]);
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

  it('grows the never-initialised memory on demand (deferred_grow_zone) when Normal runs out', () => {
    const r = machineFromSnapshot(s, c);
    const normal = () => r.machine.zoneinfo()[2];
    const free = normal().free;
    for (let got = 0; got <= free; got += 512) r.machine.allocPages(9, { gfp: GFP.MOVABLE });
    expect(normal().managed).toBe(1_212_416 + 32_768);
    expect(normal().deferred).toBe(uninit - 32_768);
    expect(r.machine.kernel.pa.nodes[0].firstDeferredPfn).toBe(uninitFrom + 32_768);
  });

  it('says what it could not reproduce', () => {
    expect(notes.join('\n')).toMatch(/holes/);
    expect(notes.join('\n')).toMatch(/hugetlb/);
  });
});
