import { createHash } from 'node:crypto';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { detectFormat } from '../../src/snapshot/decompress.js';
import { SnapshotError } from '../../src/snapshot/errors.js';
import { readLiveSnapshot, readSnapshot, siblingCountFile } from '../../src/snapshot/read.js';
import { U64Collector } from '../../src/snapshot/u64_stream.js';
import { scratchDir } from '../helpers.js';
import { fixture, loadedCapture } from './fixture.js';

const dir = scratchDir('pagelab-snapshot-');
const tmp = (name: string, bytes: Uint8Array): string => {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
};
/** Little-endian u64 words from [lo, hi] pairs. */
const u64s = (pairs: [number, number][]): Uint8Array => {
  const w = new Uint32Array(pairs.length * 2);
  pairs.forEach(([lo, hi], i) => {
    w[2 * i] = lo;
    w[2 * i + 1] = hi;
  });
  return new Uint8Array(w.buffer);
};

/** A typed array's bytes, to compare 6.5 M entries at memcmp speed (toEqual would take minutes). */
const bytesOf = (a: Uint32Array): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

describe('reading the shipped capture', () => {
  it('decodes every PFN: 6,553,600 words whose bytes hash to the sha256 the capture README gives', async () => {
    const s = await loadedCapture();
    expect(s.nrPfns).toBe(6_553_600);
    expect(s.source.format).toBe('gzip');
    expect(s.source.count).toBe(fixture('loaded.kpagecount.gz'));
    const words = new Uint32Array(s.nrPfns * 2);
    for (let i = 0; i < s.nrPfns; i++) {
      words[2 * i] = s.flagsLo[i];
      words[2 * i + 1] = s.flagsHi[i];
    }
    expect(createHash('sha256').update(new Uint8Array(words.buffer)).digest('hex')).toBe(
      'd75f7dadfeb7bfde4abd6166d2b7cc5b02acaa32e4bed9612c6cdb3236729824',
    );
    expect(s.mapcount?.length).toBe(s.nrPfns);
    expect(s.mapcountSaturated).toBe(0);
    expect(Object.keys(s.companions).sort()).toEqual(['buddyinfo', 'iomem', 'meminfo', 'zoneinfo']);
  });

  it('raw, gzip and zstd copies of it give the same columns', async () => {
    const gz = await loadedCapture();
    const rawFlags = tmp('loaded.kpageflags', gunzipSync(readFileSync(fixture('loaded.kpageflags.gz'))));
    tmp('loaded.kpagecount', gunzipSync(readFileSync(fixture('loaded.kpagecount.gz'))));
    const raw = await readSnapshot({ flags: rawFlags });
    const zst = await readSnapshot({
      flags: fixture('loaded.kpageflags.zst'),
      count: fixture('loaded.kpagecount.zst'),
    });
    expect(raw.source.format).toBe('raw');
    expect(zst.source.format).toBe('zstd');
    for (const other of [raw, zst]) {
      expect(other.nrPfns).toBe(gz.nrPfns);
      expect(bytesOf(other.flagsLo).equals(bytesOf(gz.flagsLo))).toBe(true);
      expect(bytesOf(other.flagsHi).equals(bytesOf(gz.flagsHi))).toBe(true);
      expect(other.mapcount && gz.mapcount && bytesOf(other.mapcount).equals(bytesOf(gz.mapcount))).toBe(
        true,
      );
    }
  });
});

describe('format detection is by magic bytes, not by name', () => {
  it('gzip 1f 8b, zstd 28 b5 2f fd, anything else raw', () => {
    expect(detectFormat(Uint8Array.of(0x1f, 0x8b, 8, 0))).toBe('gzip');
    expect(detectFormat(Uint8Array.of(0x28, 0xb5, 0x2f, 0xfd))).toBe('zstd');
    expect(detectFormat(Uint8Array.of(0x28, 0xb5, 0x2f, 0xfe))).toBe('raw');
    expect(detectFormat(Uint8Array.of(0x1f))).toBe('raw');
  });

  it('a gzip file named like a raw one is still decompressed', async () => {
    const p = tmp(
      'misnamed.kpageflags',
      gzipSync(
        u64s([
          [0x20, 0],
          [0x400, 1],
        ]),
      ),
    );
    const s = await readSnapshot({ flags: p, count: null });
    expect(s.source.format).toBe('gzip');
    expect([...s.flagsLo]).toEqual([0x20, 0x400]);
    expect([...s.flagsHi]).toEqual([0, 1]);
  });
});

describe('bad captures are one-line SnapshotErrors', () => {
  const expectError = async (p: Promise<unknown>, re: RegExp) => {
    const e = await p.then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(SnapshotError);
    expect((e as Error).message).toMatch(re);
    expect((e as Error).message).not.toContain('\n');
  };

  it('a length that is not a multiple of 8', async () => {
    const p = tmp('odd.kpageflags', new Uint8Array(8 * 3 + 5));
    await expectError(readSnapshot({ flags: p, count: null }), /29 bytes is not a multiple of 8/);
  });

  it('a truncated gzip file', async () => {
    const gz = readFileSync(fixture('loaded.kpageflags.gz'));
    const p = tmp('cut.kpageflags.gz', gz.subarray(0, gz.length >> 1));
    await expectError(readSnapshot({ flags: p, count: null }), /corrupt or truncated gzip data/);
  });

  it('a corrupt gzip file (bytes flipped in the middle)', async () => {
    const gz = Buffer.from(readFileSync(fixture('loaded.kpageflags.gz')));
    for (let i = 1000; i < 1100; i++) gz[i] ^= 0x5a;
    const p = tmp('bad.kpageflags.gz', gz);
    await expectError(readSnapshot({ flags: p, count: null }), /corrupt or truncated gzip data/);
  });

  it('a truncated zstd file', async () => {
    const z = readFileSync(fixture('loaded.kpageflags.zst'));
    const p = tmp('cut.kpageflags.zst', z.subarray(0, z.length >> 1));
    await expectError(readSnapshot({ flags: p, count: null }), /corrupt or truncated zstd data/);
  });

  it('a kpagecount that does not cover the same PFNs', async () => {
    const f = tmp(
      'm.kpageflags',
      u64s([
        [1, 0],
        [2, 0],
        [3, 0],
      ]),
    );
    const c = tmp(
      'm.kpagecount',
      u64s([
        [1, 0],
        [1, 0],
      ]),
    );
    await expectError(readSnapshot({ flags: f, count: c }), /2 entries but .* has 3/);
  });

  it('an empty file and a missing file', async () => {
    await expectError(
      readSnapshot({ flags: tmp('empty.kpageflags', new Uint8Array(0)), count: null }),
      /empty/,
    );
    await expectError(readSnapshot({ flags: join(dir, 'nope.kpageflags'), count: null }), /no such file/);
  });
});

describe('kpagecount', () => {
  it('is found beside kpageflags in any encoding', () => {
    const f = tmp('sib.kpageflags.gz', gzipSync(u64s([[0, 0]])));
    expect(siblingCountFile(f)).toBeNull();
    copyFileSync(fixture('loaded.kpagecount.zst'), join(dir, 'sib.kpagecount.zst'));
    expect(siblingCountFile(f)).toBe(join(dir, 'sib.kpagecount.zst'));
  });

  it('a mapcount that does not fit 32 bits (a negative int read as u64) saturates and is counted', async () => {
    const f = tmp(
      'sat.kpageflags',
      u64s([
        [0, 0],
        [0, 0],
      ]),
    );
    const c = tmp(
      'sat.kpagecount',
      u64s([
        [7, 0],
        [0xffffffff, 0xffffffff],
      ]),
    );
    const s = await readSnapshot({ flags: f, count: c });
    expect([...(s.mapcount ?? [])]).toEqual([7, 0xffffffff]);
    expect(s.mapcountSaturated).toBe(1);
  });
});

describe('chunk boundaries never change the result', () => {
  const pairs = fc.array(fc.tuple(fc.nat({ max: 0xffffffff }), fc.nat({ max: 0xffffffff })), {
    minLength: 1,
    maxLength: 200,
  });

  test.prop([pairs, fc.array(fc.integer({ min: 0, max: 40 }), { maxLength: 30 })])(
    'U64Collector: any split of the byte stream gives the same words',
    (words, cuts) => {
      const bytes = u64s(words);
      const c = new U64Collector(1);
      let at = 0;
      for (const n of cuts) {
        // Unaligned views too: copy into an offset buffer so the fast and slow paths both run.
        const piece = bytes.subarray(at, Math.min(bytes.length, at + n));
        const shifted = Buffer.alloc(piece.length + 1).subarray(1);
        shifted.set(piece);
        c.push(shifted);
        shifted.fill(0xee); // the collector must have copied what it needs
        at += piece.length;
      }
      c.push(bytes.subarray(at));
      const cols = c.finish('<test>');
      expect([...cols.lo]).toEqual(words.map((w) => w[0]));
      expect([...cols.hi]).toEqual(words.map((w) => w[1]));
    },
  );

  test.prop([pairs, fc.integer({ min: 1, max: 64 })], { numRuns: 30 })(
    'raw and gzip files read in chunks of any size agree',
    async (words, chunk) => {
      const bytes = u64s(words);
      const raw = tmp('p.kpageflags', bytes);
      const gz = tmp('p.kpageflags.gz', gzipSync(bytes));
      const a = await readSnapshot({ flags: raw, count: null, chunkBytes: chunk });
      const b = await readSnapshot({ flags: gz, count: null, chunkBytes: chunk });
      expect([...a.flagsLo]).toEqual(words.map((w) => w[0]));
      expect([...b.flagsLo]).toEqual([...a.flagsLo]);
      expect([...b.flagsHi]).toEqual([...a.flagsHi]);
    },
  );

  test.prop([fc.integer({ min: 512, max: 1 << 17 })], { numRuns: 3 })(
    'the zstd capture read in chunks of any size gives the gzip capture',
    async (chunk) => {
      const gz = await loadedCapture();
      const z = await readSnapshot({
        flags: fixture('loaded.kpageflags.zst'),
        count: null,
        chunkBytes: chunk,
      });
      expect(z.nrPfns).toBe(gz.nrPfns);
      let diff = 0;
      for (let i = 0; i < z.nrPfns; i++)
        diff += +(z.flagsLo[i] !== gz.flagsLo[i] || z.flagsHi[i] !== gz.flagsHi[i]);
      expect(diff).toBe(0);
    },
  );
});

describe('the live machine', () => {
  it('reads /proc/kpageflags when it can, or says it needs root', async () => {
    let readable = true;
    try {
      readFileSync('/proc/kpageflags', { flag: 'r' }).subarray(0, 0);
    } catch {
      readable = false;
    }
    if (readable) {
      const s = await readLiveSnapshot();
      expect(s.nrPfns).toBeGreaterThan(0);
      expect(s.mapcount?.length).toBe(s.nrPfns);
      // Every PFN the kernel dumps lies in a whole memory section (get_max_dump_pfn()).
      expect(s.nrPfns % 32768).toBe(0);
      expect(s.companions.iomem).toContain('System RAM');
    } else {
      await expect(readLiveSnapshot()).rejects.toThrow(/needs root/);
    }
  });
});
