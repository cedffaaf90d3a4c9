import { describe, expect, it } from 'vitest';
import {
  buddyinfoTotals,
  classify,
  FRAME,
  folioTotals,
  frameOf,
  objectCount,
  PMD_ORDER,
  splitBuddyRun,
  TAIL,
} from '../../src/snapshot/classify.js';
import { parseBuddyinfo } from '../../src/snapshot/companions.js';
import { HI, KPF, LO } from '../../src/snapshot/kpageflags.js';
import type { Snapshot } from '../../src/snapshot/read.js';
import { loadedCapture } from './fixture.js';

function snap(words: [number, number][], counts?: number[], iomem?: string): Snapshot {
  return {
    nrPfns: words.length,
    flagsLo: Uint32Array.from(words.map((w) => w[0])),
    flagsHi: Uint32Array.from(words.map((w) => w[1])),
    mapcount: counts ? Uint32Array.from(counts) : null,
    mapcountSaturated: 0,
    source: { flags: '<test>', count: null, format: 'raw' },
    companions: iomem ? { iomem } : {},
  };
}

describe('the shipped capture: the counts its README lists, exactly', async () => {
  const capture = await loadedCapture();
  const c = classify(capture);
  it('464,038 folios, 4,521 of them large', () => {
    expect(folioTotals(c)).toEqual({ folios: 464_038, large: 4_521 });
  });
  it('7,968 slabs on 13,673 pages', () => {
    expect(objectCount(c, FRAME.SLAB)).toBe(7_968);
    expect(c.pages[FRAME.SLAB]).toBe(13_673);
  });
  it('6,765 page-table pages, 807,167 free pages, 513 zero pages, 32,768 hugetlb pages', () => {
    expect(c.pages[FRAME.PGTABLE]).toBe(6_765);
    expect(c.pages[FRAME.FREE]).toBe(807_167);
    expect(c.pages[FRAME.ZERO]).toBe(513);
    expect(c.pages[FRAME.HUGETLB]).toBe(32_768);
  });
  it('288 KSM pages mapped 73,728 times (pages_shared 288 + pages_sharing 73,440)', () => {
    expect(c.pages[FRAME.KSM]).toBe(288);
    expect(c.ksmMapcount).toBe(288 + 73_440);
  });
  it('the workload is visible: 512 anon THPs (1 GiB), 2,047 anon 64 KiB mTHPs, 128 shmem THPs (256 MiB huge tmpfs), 64 2 MiB hugetlb folios, one huge zero folio', () => {
    expect(c.objects.get(`${FRAME.ANON}:${PMD_ORDER}`)).toBe(512);
    expect(c.objects.get(`${FRAME.ANON}:4`)).toBe(2_047);
    expect(c.objects.get(`${FRAME.SHMEM}:${PMD_ORDER}`)).toBe(128);
    expect(c.objects.get(`${FRAME.HUGETLB}:${PMD_ORDER}`)).toBe(64);
    expect(c.objects.get(`${FRAME.ZERO}:${PMD_ORDER}`)).toBe(1);
    expect(c.objects.get(`${FRAME.ZERO}:0`)).toBe(1);
  });
  it('holes come from iomem: the 3–4 GiB PCI hole has no memmap; every other section does', () => {
    expect(c.usedIomem).toBe(true);
    expect(c.pages[FRAME.HOLE]).toBe(262_144);
    expect(c.memmapPfns).toBe(6_553_600 - 262_144);
    expect(c.frames[0xc0000]).toBe(FRAME.HOLE);
    expect(c.frames[0xbffff]).not.toBe(FRAME.HOLE);
  });
  it('the capture is consistent: no torn tails, every compound run a power of two', () => {
    expect(c.torn).toBe(0);
    expect(c.irregular).toBe(0);
  });
  it('free blocks match buddyinfo at orders 0–4 and 8–10 (5–7 moved between the two reads)', () => {
    const b = buddyinfoTotals(parseBuddyinfo(capture.companions.buddyinfo ?? ''));
    for (const o of [0, 1, 2, 3, 4, 8, 9, 10]) expect(c.freeBlocks[o]).toBe(b[o]);
    expect(c.freeBlocks.reduce((s, v, o) => s + v * 2 ** o, 0)).toBe(807_167);
  });
});

describe('rules', () => {
  const anon = LO(KPF.ANON) | LO(KPF.LRU) | LO(KPF.MMAP);
  it('SLAB is tested before ANON and KSM: slab pages reuse the field that carries them', () => {
    expect(frameOf(LO(KPF.SLAB) | LO(KPF.ANON) | LO(KPF.KSM), 0)).toBe(FRAME.SLAB);
    expect(frameOf(anon | LO(KPF.KSM), 0)).toBe(FRAME.KSM);
    expect(frameOf(anon, 0)).toBe(FRAME.ANON);
  });
  it('swapbacked without anon is shmem; lru alone is file; reserved is reserved; nothing is no-flags', () => {
    expect(frameOf(LO(KPF.LRU) | LO(KPF.SWAPBACKED), 0)).toBe(FRAME.SHMEM);
    expect(frameOf(LO(KPF.LRU), 0)).toBe(FRAME.FILE);
    expect(frameOf(LO(KPF.MMAP), HI(KPF.RESERVED))).toBe(FRAME.RESERVED);
    expect(frameOf(0, 0)).toBe(FRAME.NOFLAGS);
    expect(frameOf(LO(KPF.NOPAGE), 0)).toBe(FRAME.HOLE);
  });
  it('a compound page without THP or HUGE is a kernel allocation, not a folio', () => {
    const c = classify(
      snap([
        [LO(KPF.COMPOUND_HEAD), 0],
        [LO(KPF.COMPOUND_TAIL), 0],
      ]),
    );
    expect(c.objects.get(`${FRAME.KERNEL_COMPOUND}:1`)).toBe(1);
    expect(folioTotals(c).folios).toBe(0);
  });
  it('a large folio is its head and the tails after it; its order is log2 of the run', () => {
    const head = anon | LO(KPF.THP) | LO(KPF.COMPOUND_HEAD);
    const tail = anon | LO(KPF.THP) | LO(KPF.COMPOUND_TAIL);
    const c = classify(
      snap([
        [head, 0],
        [tail, 0],
        [tail, 0],
        [tail, 0],
        [anon, 0],
      ]),
    );
    expect([...c.frames]).toEqual([
      FRAME.ANON,
      FRAME.ANON | TAIL,
      FRAME.ANON | TAIL,
      FRAME.ANON | TAIL,
      FRAME.ANON,
    ]);
    expect(c.objects.get(`${FRAME.ANON}:2`)).toBe(1);
    expect(c.objects.get(`${FRAME.ANON}:0`)).toBe(1);
  });
  it('a tail with no head of its type is torn (the folio changed during the read); a 3-page run is irregular', () => {
    const tail = anon | LO(KPF.THP) | LO(KPF.COMPOUND_TAIL);
    const head = anon | LO(KPF.THP) | LO(KPF.COMPOUND_HEAD);
    const c = classify(
      snap([
        [tail, 0],
        [head, 0],
        [tail, 0],
        [tail, 0],
      ]),
    );
    expect(c.torn).toBe(1);
    expect(c.pages[FRAME.TORN]).toBe(1);
    expect(c.irregular).toBe(1);
  });
  it('KSM map counts are summed from kpagecount', () => {
    const ksm = anon | LO(KPF.KSM);
    expect(
      classify(
        snap(
          [
            [ksm, 0],
            [ksm, 0],
            [anon, 0],
          ],
          [5, 7, 100],
        ),
      ).ksmMapcount,
    ).toBe(12);
  });
  it('free runs split into maximal naturally aligned blocks, capped at MAX_PAGE_ORDER', () => {
    const blocks = new Array(11).fill(0);
    // [3, 2058): 3 | 4–7 | 8–15 | 16–31 | ... | 1024–2047 | 2048–2055 | 2056–2057
    splitBuddyRun(3, 2058, blocks);
    expect(blocks).toEqual([1, 1, 1, 2, 1, 1, 1, 1, 1, 1, 1]);
    const aligned = new Array(11).fill(0);
    splitBuddyRun(0, 4096, aligned);
    expect(aligned).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4]);
  });
  it('without iomem every PFN but NOPAGE has a memmap; with it, sections without RAM are holes', () => {
    const words: [number, number][] = Array.from({ length: 65536 }, () => [0, 0]);
    expect(classify(snap(words)).memmapPfns).toBe(65536);
    const c = classify(snap(words, undefined, '00000000-07ffffff : System RAM\n'));
    expect(c.memmapPfns).toBe(32768);
    expect(c.frames[32768]).toBe(FRAME.HOLE);
    expect(c.frames[0]).toBe(FRAME.NOFLAGS);
  });
});
