import { describe, expect, it } from 'vitest';
import { classify } from '../../src/snapshot/classify.js';
import { priceMemdesc } from '../../src/snapshot/price.js';
import { machineFromSnapshot } from '../../src/snapshot/replay.js';
import { loadedCapture } from './fixture.js';

describe('replaying the shipped capture into a Machine', async () => {
  const s = await loadedCapture();
  const c = classify(s);
  const price = priceMemdesc(c);
  const { machine, notes } = machineFromSnapshot(s, c);

  it("has the capture's memmap size and descriptors: 464,038 folios minus the 2 zero folios, 7,968 slabs, 6,765 ptdescs", () => {
    const census = machine.census();
    expect(census.presentPages).toBe(6_291_456);
    expect(census.slabs).toBe(7_968);
    expect(census.ptdescs).toBe(6_765);
    const folios = [...census.folios.values()].reduce((a, b) => a + b, 0);
    // The zero page and the huge zero folio are memmap types in the model, not folio descriptors.
    expect(folios).toBe(464_038 - 2);
    expect(census.folios.get('2:4')).toBe(2_047); // MT.ANON order 4: the 64 KiB mTHPs
  });

  it('Machine.accounting() agrees with the price computed from the capture, in both layouts', () => {
    const acc = machine.accounting();
    const sp = acc.find((a) => a.layout === 'struct-page');
    const md = acc.find((a) => a.layout === 'memdesc');
    expect(sp?.totalBytes).toBe(price.structPage);
    expect(md?.totalBytes).toBe(price.memdesc);
  });

  it('says what it could not reproduce', () => {
    expect(notes.join('\n')).toMatch(/not at their captured PFNs/);
    expect(notes.join('\n')).toMatch(/hugetlb/);
  });
});
