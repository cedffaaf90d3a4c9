/**
 * Address fields: `buf`, `buf+4K`, `0x1000`, a number. The split without a regex must give what
 * the pattern gives (ADDR_RE: a label name, then optionally `+` and an offset), for any text.
 */
import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { parseSize } from '../../src/mm/types.js';
import { splitAddr } from '../../src/scenario/address.js';

/** The split by the pattern alone, as the parser made it before the fast path. */
function byPattern(a: string): { name?: string; offset: number } | 'error' {
  if (/^0x[0-9a-f]+$/i.test(a)) return { offset: Number.parseInt(a, 16) };
  const m = /^([A-Za-z_][A-Za-z0-9_.-]*)(?:\s*\+\s*(\S+))?$/.exec(a.trim());
  if (!m) return 'error';
  if (m[2] === undefined) return { name: m[1], offset: 0 };
  try {
    return { name: m[1], offset: parseSize(m[2]) };
  } catch {
    return 'error';
  }
}

const asResult = (r: ReturnType<typeof splitAddr>) => (typeof r === 'string' ? 'error' : r);

describe('address fields', () => {
  it('split a label, a label plus an offset, hex and numbers', () => {
    expect(splitAddr('buf')).toEqual({ name: 'buf', offset: 0 });
    expect(splitAddr('buf+4K')).toEqual({ name: 'buf', offset: 4096 });
    expect(splitAddr(' a.b-1 + 0x10 ')).toEqual({ name: 'a.b-1', offset: 16 });
    expect(splitAddr('0x2000')).toEqual({ offset: 0x2000 });
    expect(splitAddr(12)).toEqual({ offset: 12 });
    expect(splitAddr('1buf')).toMatch(/is not an address/);
    expect(splitAddr('buf+')).toMatch(/is not an address/);
    expect(splitAddr('buf+lots')).toMatch(/bad offset/);
  });

  it('answer the same when asked again, also after 2,000 other addresses filled the cache', () => {
    const first = [splitAddr('buf+8K'), splitAddr('nope+x')];
    for (let i = 0; i < 2000; i++) expect(splitAddr(`r${i}+${i}`)).toEqual({ name: `r${i}`, offset: i });
    expect([splitAddr('buf+8K'), splitAddr('nope+x')]).toEqual(first);
    expect(first[0]).toEqual({ name: 'buf', offset: 8192 });
    expect(first[1]).toMatch(/bad offset/);
  });

  const piece = fc.constantFrom(
    'buf',
    '_x',
    'a.b-c',
    '9',
    '+',
    ' ',
    '\t',
    '4K',
    '0x10',
    'M',
    '\u00a0',
    'é',
    '-',
    '',
  );
  test.prop([fc.array(piece, { maxLength: 6 }).map((p) => p.join(''))], { numRuns: 2000 })(
    'agree with the pattern on any text',
    (a) => {
      expect(asResult(splitAddr(a))).toEqual(byPattern(a));
    },
  );
  test.prop([fc.string()], { numRuns: 1000 })('agree with the pattern on random strings', (a) => {
    expect(asResult(splitAddr(a))).toEqual(byPattern(a));
  });
});
