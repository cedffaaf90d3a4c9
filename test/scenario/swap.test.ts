/**
 * The scenario language for swap: the `pageout` op, `machine: { swap }`, and the checks of a
 * swapped-out address (`swapped`, the entry's `anon_exclusive` marker, `swap_count`), including
 * what they say when they fail.
 */
import { describe, expect, it } from 'vitest';
import { failureText } from '../../src/scenario/format.js';
import { errorsOf, FILE, run, summaries, yaml } from './helpers.js';

const failures = (r: ReturnType<typeof run>) => r.failures.map((f) => failureText(FILE, f));
const SWAP = '{ memory: 128M, swap: 16M, check: full }';
const setup = [
  '{ op: spawn, name: p }',
  '{ op: mmap, proc: p, name: buf, size: 8K, prot: rw, flags: [private, anonymous] }',
  '{ op: write, proc: p, addr: buf, byte: 0x11, len: 4K }',
];

describe('pageout', () => {
  it('says how many pages went to swap, and the swapped page passes its checks', () => {
    const r = run(
      yaml(
        [
          ...setup,
          '{ op: pageout, proc: p, addr: buf, len: 8K }',
          '{ op: expect, page: { proc: p, addr: buf }, state: { swapped: true, anon_exclusive: true, swap_count: 1 }, counters: { SwapTotal: 16380, SwapFree: 16376, pswpout: 1 } }',
        ],
        SWAP,
      ),
    );
    expect(failures(r)).toEqual([]);
    expect(summaries(r)[3]).toEqual(
      expect.stringMatching(
        /^pageout: buf \(0x[0-9a-f]+\) \+8192: 1 page\(s\) to swap, 0 page-cache page\(s\) dropped$/,
      ),
    );
    expect(r.expectations).toBe(6);
  });

  it('a swapped page is not mapped, a mapped page is not swapped, and page keys make no sense on a swap entry', () => {
    const r = run(
      yaml(
        [
          ...setup,
          '{ op: expect, page: { proc: p, addr: buf }, state: { swapped: true } }',
          '{ op: pageout, proc: p, addr: buf, len: 4K }',
          '{ op: expect, page: { proc: p, addr: buf }, state: { swapped: false, anon_exclusive: false, swap_count: 2, refcount: 1 } }',
        ],
        SWAP,
      ),
    );
    expect(failures(r)).toEqual([
      't.yaml:7:67 step 4 (expect): p:buf (pfn 0x100): is mapped, not swapped out',
      't.yaml:9:122 step 6 (expect): p:buf: is swapped out (slot 1): there is no page to have a refcount',
      "t.yaml:9:90 step 6 (expect): p:buf: swap entry's exclusive marker is true, expected false",
      't.yaml:9:67 step 6 (expect): p:buf: is swapped out (slot 1)',
      't.yaml:9:109 step 6 (expect): p:buf: swap count is 1, expected 2',
    ]);
  });

  it('a swap size the machine cannot have is reported at its key', () => {
    expect(errorsOf(yaml([], '{ memory: 128M, swap: 1000 }'))).toEqual([
      't.yaml:2:32 machine.swap: 1000 is not a whole number of pages from 40K to 64G',
    ]);
  });
});
