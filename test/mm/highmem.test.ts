/**
 * Page contents (highmem.ts): every encoding — uniform, sparse runs, shared 4 KiB slots — reads
 * back exactly what a plain array of bytes per page would, and host memory follows what was
 * written rather than how many pages.
 */
import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { ContentStore } from '../../src/mm/highmem.js';
import { PAGE_SIZE } from '../../src/mm/types.js';

const KEYS = 4;
const op = fc.oneof(
  fc.record({
    k: fc.constant('write' as const),
    key: fc.nat(KEYS - 1),
    off: fc.nat(PAGE_SIZE - 1),
    len: fc.oneof(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: PAGE_SIZE })),
    seed: fc.nat(255),
    same: fc.boolean(),
  }),
  fc.record({ k: fc.constant('fill' as const), key: fc.nat(KEYS - 1), byte: fc.nat(255) }),
  fc.record({ k: fc.constant('clear' as const), key: fc.nat(KEYS - 1) }),
  fc.record({
    k: fc.constant('copy' as const),
    to: fc.nat(KEYS - 1),
    from: fc.nat(KEYS - 1),
    other: fc.boolean(),
  }),
);

describe('ContentStore', () => {
  test.prop([fc.array(op, { maxLength: 60 })], { numRuns: 200 })(
    'reads back what a byte array per page would, through writes, fills, clears and copies',
    (ops) => {
      const store = new ContentStore();
      const other = new ContentStore();
      const ref = Array.from({ length: KEYS }, () => new Uint8Array(PAGE_SIZE));
      const otherRef = Array.from({ length: KEYS }, () => new Uint8Array(PAGE_SIZE));
      for (const o of ops) {
        if (o.k === 'write') {
          const len = Math.min(o.len, PAGE_SIZE - o.off);
          const data = Uint8Array.from({ length: len }, (_, i) =>
            o.same ? o.seed : (o.seed + i * 7) & 0xff,
          );
          store.write(o.key, o.off, data);
          ref[o.key].set(data, o.off);
          other.write(
            o.key,
            o.off,
            data.map((b) => b ^ 0x5a),
          );
          otherRef[o.key].set(
            data.map((b) => b ^ 0x5a),
            o.off,
          );
        } else if (o.k === 'fill') {
          store.fill(o.key, o.byte);
          ref[o.key].fill(o.byte);
        } else if (o.k === 'clear') {
          store.clear(o.key);
          ref[o.key].fill(0);
        } else {
          store.copyFrom(o.to, o.other ? other : store, o.from);
          ref[o.to].set(o.other ? otherRef[o.from] : ref[o.from]);
        }
        for (let key = 0; key < KEYS; key++) {
          const got = new Uint8Array(PAGE_SIZE);
          store.read(key, 0, PAGE_SIZE, got);
          const bad = got.findIndex((v, i) => v !== ref[key][i]);
          if (bad >= 0) throw new Error(`page ${key} byte ${bad}: ${got[bad]}, expected ${ref[key][bad]}`);
          for (const at of [0, 1, 255, 256, 4095]) expect(store.byteAt(key, at)).toBe(ref[key][at]);
        }
      }
    },
  );

  it('a run that exactly fills a sparse slot, and one a byte too long, read back right', () => {
    // 64-byte slot: 2 bytes of header, 3 per run: 59 data bytes fit in a fresh slot, 60 do not.
    for (const len of [58, 59, 60, 61]) {
      const store = new ContentStore();
      const data = Uint8Array.from({ length: len }, (_, i) => i + 1);
      store.write(7, 100, data);
      const got = new Uint8Array(len + 2);
      store.read(7, 99, len + 2, got);
      expect([...got]).toEqual([0, ...data, 0]);
    }
  });

  it('a touch per page costs a sparse slot, not 4 KiB: 100,000 touched pages in under 10 MiB', () => {
    const store = new ContentStore();
    for (let key = 0; key < 100_000; key++) store.fillRange(key, key % PAGE_SIZE, 1, 1 + (key % 255));
    expect(store.hostBytes()).toBeLessThan(10 << 20);
    expect(store.byteAt(4097, 1)).toBe(1 + (4097 % 255));
    expect(store.byteAt(4097, 0)).toBe(0);
  });

  it('copy_highpage shares a 4 KiB page until one side writes; the write copies, the other side keeps its bytes', () => {
    const store = new ContentStore();
    const data = Uint8Array.from({ length: PAGE_SIZE }, (_, i) => i & 0xff);
    for (let key = 0; key < 1000; key++) store.write(key, 0, data);
    const before = store.hostBytes();
    for (let key = 0; key < 1000; key++) store.copyFrom(1000 + key, store, key);
    // Only the index grows (16 bytes an entry), no 4 KiB slot.
    expect(store.hostBytes() - before).toBeLessThanOrEqual(1000 * 16);
    store.write(1000, 0, Uint8Array.of(0xee));
    expect(store.byteAt(1000, 0)).toBe(0xee);
    expect(store.byteAt(0, 0)).toBe(0);
    expect(store.byteAt(1000, 1)).toBe(1);
    store.clear(0);
    expect(store.byteAt(1001, 5)).toBe(5);
  });
});
