import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { analyseCapture } from '../../src/snapshot/analyse.js';
import { type Classification, Classifier, classify, FRAME, TAIL } from '../../src/snapshot/classify.js';
import { HI, KPF, LO } from '../../src/snapshot/kpageflags.js';
import { PageTypesCounter, pageTypes } from '../../src/snapshot/page_types.js';
import { scratchDir } from '../helpers.js';
import { fixture, loadedCapture } from './fixture.js';

const dir = scratchDir('pagelab-analyse-');

/** Everything of a classification but the frames, which are compared as bytes. */
const counts = (c: Classification) => ({
  nrPfns: c.nrPfns,
  pages: [...c.pages],
  objects: [...c.objects].sort(),
  freeBlocks: c.freeBlocks,
  ksmMapcount: c.ksmMapcount,
  memmapPfns: c.memmapPfns,
  usedIomem: c.usedIomem,
  torn: c.torn,
  irregular: c.irregular,
});
const bytes = (a: Uint8Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

describe('the streaming analysis of the shipped capture', async () => {
  const s = await loadedCapture();
  const whole = classify(s);

  it('classifies every PFN exactly as the in-memory classify(), in gzip and in odd-sized zstd chunks', async () => {
    for (const a of [
      await analyseCapture({ flags: fixture('loaded.kpageflags.gz'), pageTypes: 'normal' }),
      await analyseCapture({
        flags: fixture('loaded.kpageflags.zst'),
        count: fixture('loaded.kpagecount.zst'),
        chunkBytes: 65_531,
      }),
    ]) {
      const c = a.classification as Classification;
      expect(counts(c)).toEqual(counts(whole));
      expect(bytes(c.frames).equals(bytes(whole.frames))).toBe(true);
      expect(a.info.nrPfns).toBe(6_553_600);
      expect(c.ksmMapcount).toBe(73_728);
    }
  });

  it('builds the page-types summary of both modes row for row, without reading kpagecount', async () => {
    for (const mode of ['normal', 'raw'] as const) {
      const a = await analyseCapture({
        flags: fixture('loaded.kpageflags.gz'),
        census: false,
        pageTypes: mode,
      });
      expect(a.classification).toBeNull();
      expect(a.info.source.count).toBeNull();
      expect(a.pageTypes).toEqual(pageTypes(s, mode === 'raw'));
    }
  });
});

/** A small capture as u64 words: lone frames, compound runs, free runs, zeros across a section. */
function words(pairs: [number, number][]): Uint32Array {
  const w = new Uint32Array(pairs.length * 2);
  pairs.forEach(([lo, hi], i) => {
    w[2 * i] = lo;
    w[2 * i + 1] = hi;
  });
  return w;
}

describe('chunk boundaries', () => {
  const anon = LO(KPF.ANON) | LO(KPF.LRU) | LO(KPF.MMAP);
  const thpHead = anon | LO(KPF.THP) | LO(KPF.COMPOUND_HEAD);
  const thpTail = anon | LO(KPF.THP) | LO(KPF.COMPOUND_TAIL);
  const pairs: [number, number][] = [];
  for (let i = 0; i < 40; i++) pairs.push([0, HI(KPF.RESERVED)]);
  pairs.push([thpHead, 0]);
  for (let i = 1; i < 16; i++) pairs.push([thpTail, 0]);
  for (let i = 0; i < 70; i++) pairs.push([LO(KPF.BUDDY), 0]);
  for (let i = 0; i < 30; i++) pairs.push([anon, 0]);
  for (let i = 0; i < 20; i++) pairs.push([LO(KPF.SLAB), 0]);
  const w = words(pairs);
  const whole = new Classifier();
  whole.push(w, w, 0, 1, 2, pairs.length);
  const want = whole.finish();

  test.prop([fc.uniqueArray(fc.integer({ min: 1, max: pairs.length - 1 }), { maxLength: 12 })])(
    'any split of the entries into chunks gives the same classification and page-types rows',
    (cuts) => {
      const c = new Classifier();
      const p = new PageTypesCounter(false);
      const q = new PageTypesCounter(false);
      q.push(w, w, 0, 1, 2, pairs.length);
      let at = 0;
      for (const cut of [...cuts.sort((a, b) => a - b), pairs.length]) {
        const chunk = w.slice(2 * at, 2 * cut);
        c.push(chunk, chunk, 0, 1, 2, cut - at);
        p.push(chunk, chunk, 0, 1, 2, cut - at);
        at = cut;
      }
      const got = c.finish();
      expect(counts(got)).toEqual(counts(want));
      expect([...got.frames]).toEqual([...want.frames]);
      expect(p.finish()).toEqual(q.finish());
    },
  );

  it('the run fast path stops at a section boundary: zeros past the last RAM section are holes', () => {
    // Two sections of all-zero words; iomem says only the first is RAM.
    const n = 2 * 32_768;
    const iomem = '00000000-07ffffff : System RAM\n';
    const c = new Classifier(iomem);
    const zeros = new Uint32Array(2 * n);
    c.push(zeros, zeros, 0, 1, 2, n);
    const got = c.finish();
    expect(got.pages[FRAME.NOFLAGS]).toBe(32_768);
    expect(got.pages[FRAME.HOLE]).toBe(32_768);
    expect(got.frames[32_767]).toBe(FRAME.NOFLAGS);
    expect(got.frames[32_768]).toBe(FRAME.HOLE);
    expect(got.memmapPfns).toBe(32_768);
  });

  it('a THP split over two chunks is still one order-4 folio: head, then 15 tails', () => {
    const c = new Classifier();
    c.push(w, w, 0, 1, 2, 48);
    c.push(w.subarray(96), w.subarray(96), 0, 1, 2, pairs.length - 48);
    const got = c.finish();
    expect(got.objects.get(`${FRAME.ANON}:4`)).toBe(1);
    expect(got.frames[41]).toBe(FRAME.ANON | TAIL);
  });
});

describe('kpagecount in the stream', () => {
  it('a count whose high half is set (a negative mapcount) is saturated and counted, not wrapped', async () => {
    const ksm = LO(KPF.ANON) | LO(KPF.KSM) | LO(KPF.MMAP);
    writeFileSync(
      join(dir, 'k.kpageflags'),
      words([
        [ksm, 0],
        [ksm, 0],
        [0, 0],
      ]),
    );
    writeFileSync(
      join(dir, 'k.kpagecount'),
      words([
        [3, 0],
        [0xfffffffe, 0xffffffff], // -2 as the kernel's int, sign-extended: saturates, not 0xfffffffe
        [0, 0xffffffff], // not KSM: saturated and counted, not summed
      ]),
    );
    const a = await analyseCapture({ flags: join(dir, 'k.kpageflags') });
    expect(a.info.mapcountSaturated).toBe(2);
    expect(a.classification?.ksmMapcount).toBe(3 + 0xffffffff);
  });

  it('a kpagecount shorter than kpageflags is refused, naming it', async () => {
    writeFileSync(
      join(dir, 'm.kpageflags'),
      words([
        [0, 0],
        [0, 0],
      ]),
    );
    writeFileSync(join(dir, 'm.kpagecount'), words([[0, 0]]));
    await expect(analyseCapture({ flags: join(dir, 'm.kpageflags') })).rejects.toThrow(
      /m\.kpagecount: 1 entries but .*m\.kpageflags has 2/,
    );
  });
});
