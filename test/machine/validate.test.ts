/**
 * Validate before mutating: every public Machine method that takes a length, address, byte,
 * offset, order, handle or pfn refuses NaN, infinities, negative and fractional numbers and
 * out-of-range pfns with an InputError naming the argument — and the machine is as it was.
 * (Before, these ended in TypeError or RangeError from deep in the model, or were taken:
 * `write(pid, addr, { byte: 1, len: -4096 })` succeeded, a pfn ≥ 2^41 lost its PTE bits.)
 */

import { describe, expect, it } from 'vitest';
import { InputError, Machine } from '../../src/index.js';
import type { FolioId, PinHandle } from '../../src/machine/ids.js';

const BAD = [Number.NaN, -1, 0.5, Number.POSITIVE_INFINITY, 2 ** 64];

function setup() {
  const m = new Machine({ memory: '128M', check: 'full' });
  const pid = m.spawn('p');
  const a = m.mmap(pid, { length: 8192, prot: 'rw', flags: ['private', 'anonymous'] });
  m.write(pid, a, { byte: 1, len: 8192 });
  const pin = m.pinUserPages(pid, a, 1, ['write']).id;
  m.fileCreate('f', 4096, 7);
  return { m, pid, a, pin };
}

type Call = [string, string, (m: Machine, v: number, s: ReturnType<typeof setup>) => unknown];
const CALLS: Call[] = [
  ['fork', 'pid', (m, v) => m.fork(v)],
  ['exit', 'pid', (m, v) => m.exit(v)],
  ['mmap', 'length', (m, v, s) => m.mmap(s.pid, { length: v, prot: 'rw', flags: ['private', 'anonymous'] })],
  [
    'mmap',
    'addr',
    (m, v, s) =>
      m.mmap(s.pid, { addr: v, length: 4096, prot: 'rw', flags: ['private', 'anonymous', 'fixed'] }),
  ],
  [
    'mmap',
    'offset',
    (m, v, s) => m.mmap(s.pid, { length: 4096, prot: 'r', flags: ['private'], file: 'f', offset: v }),
  ],
  ['munmap', 'addr', (m, v, s) => m.munmap(s.pid, v, 4096)],
  ['munmap', 'length', (m, v, s) => m.munmap(s.pid, s.a, v)],
  ['mprotect', 'length', (m, v, s) => m.mprotect(s.pid, s.a, v, 'r')],
  ['madvise', 'addr', (m, v, s) => m.madvise(s.pid, v, 4096, 'dontneed')],
  ['read', 'len', (m, v, s) => m.read(s.pid, s.a, v)],
  ['read', 'addr', (m, v, s) => m.read(s.pid, v, 1)],
  ['write', 'data.len', (m, v, s) => m.write(s.pid, s.a, { byte: 1, len: v })],
  ['write', 'data.byte', (m, v, s) => m.write(s.pid, s.a, { byte: v, len: 1 })],
  ['touch', 'len', (m, v, s) => m.touch(s.pid, s.a, v)],
  ['pinUserPages', 'nrPages', (m, v, s) => m.pinUserPages(s.pid, s.a, v)],
  ['getUserPages', 'addr', (m, v, s) => m.getUserPages(s.pid, v, 1)],
  ['unpinUserPages', 'id', (m, v) => m.unpinUserPages(v as PinHandle)],
  ['putUserPages', 'id', (m, v) => m.putUserPages(v as PinHandle)],
  ['dmaRead', 'offset', (m, v, s) => m.dmaRead(s.pin, v, 1)],
  ['dmaRead', 'len', (m, v, s) => m.dmaRead(s.pin, 0, v)],
  ['dmaWrite', 'offset', (m, v, s) => m.dmaWrite(s.pin, { byte: 1, len: 1 }, v)],
  ['fileCreate', 'size', (m, v) => m.fileCreate('g', v)],
  ['fileTruncate', 'size', (m, v) => m.fileTruncate('f', v)],
  ['fileContents', 'len', (m, v) => m.fileContents('f', 0, v)],
  ['translate', 'addr', (m, v, s) => m.translate(s.pid, v)],
  ['rmap', 'pfn', (m, v) => m.rmap(v)],
  ['allocPages', 'order', (m, v) => m.allocPages(v)],
  ['freePages', 'pfn', (m, v) => m.freePages(v, 0)],
  ['folioAlloc', 'order', (m, v) => m.folioAlloc(v)],
  ['folioPut', 'handle', (m, v) => m.folioPut(v as FolioId)],
  ['kfree', 'addr', (m, v) => m.kfree(v)],
  ['vmalloc', 'size', (m, v) => m.vmalloc(v)],
  ['vfree', 'kaddr', (m, v) => m.vfree(v)],
  ['vmallocToPfn', 'kaddr', (m, v) => m.vmallocToPfn(v)],
  ['page', 'pfn', (m, v) => m.page(v)],
  ['dumpPage', 'pfn', (m, v) => m.dumpPage(v)],
  ['physRead', 'pfn', (m, v) => m.physRead(v, 0, 1)],
  ['physRead', 'len', (m, v) => m.physRead(0x1000, 0, v)],
  ['physWrite', 'offset', (m, v) => m.physWrite(0x1000, v, { byte: 1, len: 1 })],
  ['devicePage', 'pfn', (m, v) => m.devicePage(v)],
  ['memoryFailure', 'pfn', (m, v) => m.memoryFailure({ pfn: v })],
  ['memoryFailure', 'addr', (m, v, s) => m.memoryFailure({ pid: s.pid, addr: v })],
  ['unpoisonMemory', 'pfn', (m, v) => m.unpoisonMemory(v)],
  ['softOfflinePage', 'pfn', (m, v) => m.softOfflinePage(v)],
];

describe('every public method checks its numbers before it acts', () => {
  it.each(CALLS)('%s refuses a bad %s with an InputError naming it, changing nothing', (_name, arg, call) => {
    const s = setup();
    const before = JSON.stringify([s.m.meminfo(), s.m.buddyinfo(), s.m.processes()]);
    for (const v of BAD) {
      let err: unknown;
      try {
        call(s.m, v, s);
      } catch (e) {
        err = e;
      }
      // An order the allocator does not have (-1) is its EINVAL, as in Linux.
      if (arg === 'order' && Number.isSafeInteger(v)) expect((err as Error).message).toMatch(/EINVAL/);
      else {
        expect(err, `${arg} = ${v}`).toBeInstanceOf(InputError);
        expect((err as Error).message).toContain(`${arg}: ${v}`);
      }
    }
    expect(JSON.stringify([s.m.meminfo(), s.m.buddyinfo(), s.m.processes()])).toBe(before);
  });

  it('refuses a pfn at 2^40 and above, which a page-table entry cannot hold exactly', () => {
    const m = new Machine({ memory: '128M' });
    expect(() => m.page(2 ** 41)).toThrow(/pfn: 2199023255552 is not a whole number from 0 to/);
    expect(() => m.page(2 ** 40)).toThrow(InputError);
  });

  it('still lets valid arguments through, and leaves errno answers to the kernel', () => {
    const s = setup();
    expect(s.m.read(s.pid, s.a, 2).bytes).toEqual(new Uint8Array([1, 1]));
    expect(() => s.m.munmap(s.pid, s.a + 1, 4096)).toThrow(/EINVAL/);
  });
});
