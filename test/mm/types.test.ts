/** parseSize / formatSize (mm/types.ts): what sizes read as, and what a bad one says. */
import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { formatSize, parseSize } from '../../src/mm/types.js';

describe('sizes', () => {
  it('reads K, M, G, T, P suffixes (with or without iB), hex and plain bytes', () => {
    expect(parseSize('4K')).toBe(4096);
    expect(parseSize('1.5M')).toBe(1.5 * 2 ** 20);
    expect(parseSize('2GiB')).toBe(2 ** 31);
    expect(parseSize('100T')).toBe(100 * 2 ** 40);
    expect(parseSize('2P')).toBe(2 ** 51);
    expect(parseSize('0x2000')).toBe(0x2000);
    expect(parseSize(4096)).toBe(4096);
    expect(formatSize(2 ** 31)).toBe('2G');
  });

  it('says why a size is refused: no unit it knows, a fraction of a byte, or beyond 2^53', () => {
    expect(() => parseSize('4Q')).toThrow(
      "bad size '4Q': expected a number with an optional K, M, G, T or P suffix",
    );
    expect(() => parseSize('0.3K')).toThrow("bad size '0.3K': not a whole number of bytes");
    expect(() => parseSize('64P')).toThrow(
      "bad size '64P': more than 2^53 bytes, beyond what a size can hold exactly",
    );
    expect(() => parseSize(-1)).toThrow('bad size -1: not a whole number of bytes');
  });
});

describe('parseSize, the quick path for digits and a unit letter', () => {
  const units: Record<string, number> = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40, p: 2 ** 50 };
  test.prop([
    fc.stringMatching(/^[0-9]{1,16}$/),
    fc.constantFrom('', 'k', 'K', 'm', 'M', 'g', 'G', 't', 'T', 'p', 'P'),
  ])('reads what the general path reads, and refuses what it refuses', (digits, unit) => {
    const want = Number(digits) * units[unit.toLowerCase()]!;
    if (Number.isSafeInteger(want)) {
      expect(parseSize(digits + unit)).toBe(want);
      expect(parseSize(` ${digits}${unit} `)).toBe(want); // the general path
    } else expect(() => parseSize(digits + unit)).toThrow(RangeError);
  });
});
