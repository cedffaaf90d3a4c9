/**
 * Random sequences of writes, MADV_PAGEOUT, reads, forks, exits, DONTNEED and pins over a few
 * private pages (small and THP) keep every invariant at check level full — among them that each
 * slot's swap_map count equals the swap entries naming it — preserve every byte a process
 * wrote through any number of swap round trips, and give every slot back once all have exited.
 */
import { fc, test } from '@fast-check/vitest';
import { expect } from 'vitest';
import { Machine } from '../../src/index.js';

const PAGE = 4096;
const PAGES = 8;

type Op =
  | { op: 'write'; proc: number; page: number; byte: number }
  | { op: 'read'; proc: number; page: number }
  | { op: 'pageout'; proc: number; page: number; pages: number }
  | { op: 'dontneed'; proc: number; page: number }
  | { op: 'fork'; proc: number }
  | { op: 'exit'; proc: number }
  | { op: 'pin'; proc: number; page: number };

const proc = fc.integer({ min: 0, max: 3 });
const page = fc.integer({ min: 0, max: PAGES - 1 });
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('write' as const), proc, page, byte: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ op: fc.constant('read' as const), proc, page }),
  fc.record({ op: fc.constant('pageout' as const), proc, page, pages: fc.integer({ min: 1, max: PAGES }) }),
  fc.record({ op: fc.constant('dontneed' as const), proc, page }),
  fc.record({ op: fc.constant('fork' as const), proc }),
  fc.record({ op: fc.constant('exit' as const), proc }),
  fc.record({ op: fc.constant('pin' as const), proc, page }),
);

test.prop([fc.array(op, { minLength: 1, maxLength: 40 }), fc.boolean()], { numRuns: 60 })(
  'swap keeps contents and counts through any mix of pageout, fault, fork, zap and pin',
  (ops, huge) => {
    const m = new Machine({ memory: '256M', swap: '16M', check: 'full', thp: huge ? 'always' : 'never' });
    const size = huge ? 2 << 20 : PAGES * PAGE;
    const first = m.spawn('p0');
    const buf = m.mmap(first, { length: size, prot: 'rw', flags: ['private', 'anonymous'] });
    // Each live process and what it should read in each page (0 until written).
    const procs: { pid: number; bytes: number[] }[] = [{ pid: first, bytes: Array(PAGES).fill(0) }];
    for (const o of ops) {
      const p = procs[o.proc % procs.length];
      const at = 'page' in o ? buf + o.page * PAGE : buf;
      if (o.op === 'write') {
        m.write(p.pid, at, { byte: o.byte, len: PAGE });
        p.bytes[o.page] = o.byte;
      } else if (o.op === 'read') {
        expect(m.read(p.pid, at, PAGE).bytes.every((b) => b === p.bytes[o.page])).toBe(true);
      } else if (o.op === 'pageout') {
        m.pageout(p.pid, at, Math.min(o.pages, PAGES - o.page) * PAGE);
      } else if (o.op === 'dontneed') {
        m.madvise(p.pid, at, PAGE, 'dontneed');
        p.bytes[o.page] = 0;
      } else if (o.op === 'fork' && procs.length < 4) {
        procs.push({ pid: m.fork(p.pid), bytes: [...p.bytes] });
      } else if (o.op === 'exit' && procs.length > 1) {
        m.exit(p.pid);
        procs.splice(procs.indexOf(p), 1);
      } else if (o.op === 'pin') {
        m.pinUserPages(p.pid, at, 1, ['write', 'longterm']);
      }
    }
    for (const p of procs)
      for (let i = 0; i < PAGES; i++)
        expect(m.read(p.pid, buf + i * PAGE, PAGE).bytes.every((b) => b === p.bytes[i])).toBe(true);
    for (const p of procs) m.exit(p.pid);
    expect(m.meminfo().SwapFree).toBe(m.meminfo().SwapTotal);
    expect(m.meminfo().SwapCached).toBe(0);
  },
);
