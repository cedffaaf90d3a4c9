/**
 * The scenario ops of processes, files and GUP: each one's effect through the Machine, signals as
 * expectations, addresses as region+offset, and the failures an expectation reports.
 */
import { describe, expect, it } from 'vitest';
import { run, summaries, yaml } from './helpers.js';

const P = [
  '{ op: spawn, name: p }',
  '{ op: mmap, proc: p, name: buf, size: 8K, prot: rw, flags: [private, anonymous] }',
];
const M = '{ memory: 256M, check: full }';

describe('process ops', () => {
  it('spawn, mmap, write, read, fork, exit, munmap, mprotect, madvise, touch', () => {
    const r = run(
      yaml(
        [
          ...P,
          '{ op: write, proc: p, addr: buf+4K, data: "0102" }',
          '{ op: read, proc: p, addr: buf+4K, len: 2, expect: { data: "0102" } }',
          '{ op: fork, proc: p, child: c }',
          '{ op: read, proc: c, addr: buf+4K, len: 3, expect: { data: "010200" } }',
          '{ op: exit, proc: c }',
          '{ op: expect, process: c, alive: false }',
          '{ op: mprotect, proc: p, addr: buf, len: 4K, prot: r }',
          '{ op: write, proc: p, addr: buf, byte: 1, len: 1, expect: { signal: SIGSEGV } }',
          '{ op: madvise, proc: p, addr: buf+4K, len: 4K, advice: dontneed }',
          '{ op: read, proc: p, addr: buf+4K, expect: { byte: 0 } }',
          '{ op: touch, proc: p, addr: buf+4K, len: 4K, write: true }',
          '{ op: expect, process: p, rss: { anon: 1 }, vmas: 2, signals: [SIGSEGV] }',
          '{ op: munmap, proc: p, addr: buf, len: 8K }',
          '{ op: read, proc: p, addr: buf, expect: { signal: SIGSEGV } }',
          '{ op: expect, process: p, vmas: 0, rss: { anon: 0 } }',
        ],
        M,
      ),
    );
    expect(r.failures).toEqual([]);
    expect(r.exitCode).toBe(0);
    expect(summaries(r)[2]).toMatch(/^write: p buf\+4K \(0x[0-9a-f]+\) \+2: ok$/);
    expect(r.report?.find((s) => s.id === 'processes')?.text).toContain('rss anon 0');
  });

  it('an unexpected signal, a wrong value and a missing signal are failures with the step position', () => {
    const r = run(
      yaml(
        [
          ...P,
          '{ op: read, proc: p, addr: 0x10000 }',
          '{ op: read, proc: p, addr: buf, expect: { byte: 9 } }',
          '{ op: read, proc: p, addr: buf, expect: { signal: SIGBUS } }',
        ],
        M,
      ),
    );
    expect(r.exitCode).toBe(1);
    expect(r.failures.map((f) => f.message)).toEqual([
      'the read raised SIGSEGV at 0x10000',
      'byte 0 is 0x0, expected 0x9',
      'the read completed, expected SIGBUS',
    ]);
  });
});

describe('file ops', () => {
  it('create, mmap shared, write, sync (checking the disk), truncate then SIGBUS', () => {
    const r = run(
      yaml(
        [
          '{ op: create, file: f, size: 8K, byte: 0x61 }',
          '{ op: spawn, name: p }',
          '{ op: mmap, proc: p, name: m, size: 8K, prot: rw, flags: [shared], file: f }',
          '{ op: write, proc: p, addr: m+1, byte: 0x62, len: 1 }',
          '{ op: expect, page: { proc: p, addr: m }, state: { type: file, flags_set: [dirty] } }',
          '{ op: sync, file: f, len: 3, expect: { data: "616261" } }',
          '{ op: truncate, file: f, size: 4K }',
          '{ op: read, proc: p, addr: m+4K, expect: { signal: SIGBUS } }',
        ],
        M,
      ),
    );
    expect(r.failures).toEqual([]);
    expect(r.exitCode).toBe(0);
  });
});

describe('GUP ops', () => {
  it('pin, dma_write, dma_read, unpin dirty; get and put; a put of a pin is a KernelBug', () => {
    const r = run(
      yaml(
        [
          ...P,
          '{ op: write, proc: p, addr: buf, byte: 1, len: 1 }',
          '{ op: pin, proc: p, addr: buf, pages: 2, flags: [write], as: d }',
          '{ op: expect, page: { proc: p, addr: buf }, state: { refcount: 1025, pins: 1, maybe_dma_pinned: true } }',
          '{ op: dma_write, pin: d, offset: 4K, data: "ab" }',
          '{ op: read, proc: p, addr: buf+4K, expect: { data: "ab" } }',
          '{ op: dma_read, pin: d, expect: { data: "01" } }',
          '{ op: put, get: d, expect_error: KernelBug }',
          '{ op: unpin, pin: d, dirty: true }',
          '{ op: expect, page: { proc: p, addr: buf }, state: { refcount: 1, flags_set: [dirty] } }',
          '{ op: get, proc: p, addr: buf, as: g, fast: true }',
          '{ op: expect, page: { proc: p, addr: buf }, state: { refcount: 2 } }',
          '{ op: put, get: g }',
          '{ op: pin, proc: p, addr: 0x10000, expect_error: EFAULT }',
          '{ op: get, proc: p, addr: buf, flags: [longterm], expect_error: EINVAL }',
          '{ op: expect, pins: { false_negatives: 0 } }',
        ],
        M,
      ),
    );
    expect(r.failures).toEqual([]);
    expect(r.exitCode).toBe(0);
  });
});
