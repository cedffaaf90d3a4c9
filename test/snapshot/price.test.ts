import { describe, expect, it } from 'vitest';
import { DESCRIPTOR_BYTES } from '../../src/designs/layout.js';
import { classify, FRAME } from '../../src/snapshot/classify.js';
import { priceMemdesc, snapshotAccounting, snapshotCensus } from '../../src/snapshot/price.js';
import { loadedCapture } from './fixture.js';

describe('the memdesc plan priced on the shipped capture', async () => {
  const c = classify(await loadedCapture());
  const p = priceMemdesc(c);

  it('struct page is 64 B for each of the 6,291,456 PFNs with a memmap: 384 MiB', () => {
    expect(p.structPage).toBe(6_291_456 * 64);
    expect(p.structPage).toBe(384 * 2 ** 20);
  });

  it('memdesc is 8 B per PFN plus each descriptor, counted by hand from the census', () => {
    const small = 353_588 + 288 + 37_890 + 67_750; // anon + ksm + file + shmem order-0 folios
    const largeAnon = { 4: 2_047, 9: 512 } as const;
    const largeFile = 95 + 246 + 1 + 71 + 811 + 32 + 1 + 15 + 497 + 128; // file + shmem, order ≥ 1
    const bitmap = 2_047 * (16 / 8) + 512 * (512 / 8);
    const expected =
      6_291_456 * 8 +
      small * DESCRIPTOR_BYTES.smallFolio +
      (largeAnon[4] + largeAnon[9] + largeFile + 64) * DESCRIPTOR_BYTES.largeFolio +
      bitmap +
      7_968 * DESCRIPTOR_BYTES.slab +
      6_765 * DESCRIPTOR_BYTES.ptdesc;
    expect(p.memdesc).toBe(expected);
  });

  it('HVO keeps one 4 KiB vmemmap page per 2 MiB hugetlb folio; memdesc words of a 2 MiB folio already fit one page', () => {
    expect(p.structPage - p.structPageHvo).toBe(64 * (512 * 64 - 4096));
    expect(p.memdescHvo).toBe(p.memdesc);
  });

  it('the rows add up to the totals, and zero/free/reserved frames get no descriptor', () => {
    const words = p.rows.reduce((s, r) => s + r.memdescWordBytes, 0);
    const desc = p.rows.reduce((s, r) => s + r.memdescDescriptorBytes, 0);
    expect(words + desc).toBe(p.memdesc);
    expect(p.rows.reduce((s, r) => s + r.structPageBytes, 0)).toBe(p.structPage);
    for (const t of ['zero', 'free', 'reserved', 'no-flags', 'kernel-compound'])
      expect(p.rows.find((r) => r.type === t)?.memdescDescriptorBytes).toBe(0);
    expect(p.method.join('\n')).toMatch(/64 B × PFNs with a memmap/);
  });

  it("layout.ts's accountLayout() over the capture's census gives the same totals (the Machine.accounting() method)", () => {
    const [sp, md] = snapshotAccounting(c);
    expect(sp.totalBytes).toBe(p.structPage);
    expect(md.totalBytes).toBe(p.memdesc);
    const census = snapshotCensus(c);
    expect(census.slabs).toBe(7_968);
    expect(census.ptdescs).toBe(6_765);
    expect(census.presentPages).toBe(c.memmapPfns);
    expect(c.pages[FRAME.HOLE]).toBe(6_553_600 - census.presentPages);
  });
});
