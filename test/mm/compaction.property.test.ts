/**
 * Random workloads (anon and shared-file memory, writes, fork, partial unmaps, MADV_DONTNEED,
 * pins and GUP references), then compaction, then memory failure on random frames: every
 * invariant holds at check level full after each, every process reads the bytes it read before
 * compaction at every address, pinned pages have not moved, and after the failures every address
 * whose frame was not poisoned still reads the same (a poisoned one is SIGBUS, or a clean file page
 * read again from disk).
 */
import { fc, test } from '@fast-check/vitest';
import { afterAll, describe, expect } from 'vitest';
import { Machine, PFN_LOOKUPS } from '../../src/index.js';
import { KernelError } from '../../src/mm/types.js';

const PAGE = 4096;

type Op =
  | { op: 'anon'; proc: number; pages: number; byte: number }
  | { op: 'file'; proc: number; pages: number; byte: number }
  | { op: 'write'; proc: number; pick: number; page: number; byte: number }
  | { op: 'fork'; proc: number }
  | { op: 'dontneed'; proc: number; pick: number; page: number }
  | { op: 'munmap'; proc: number; pick: number; page: number }
  | { op: 'pin'; proc: number; pick: number; page: number; longterm: boolean }
  | { op: 'get'; proc: number; pick: number; page: number };

const proc = fc.nat(3);
const pick = fc.nat(7);
const pg = fc.nat(63);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('anon' as const),
      proc,
      pages: fc.integer({ min: 1, max: 64 }),
      byte: fc.nat(255),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('file' as const),
      proc,
      pages: fc.integer({ min: 1, max: 16 }),
      byte: fc.nat(255),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({ op: fc.constant('write' as const), proc, pick, page: pg, byte: fc.nat(255) }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('fork' as const), proc }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('dontneed' as const), proc, pick, page: pg }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('munmap' as const), proc, pick, page: pg }) },
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constant('pin' as const), proc, pick, page: pg, longterm: fc.boolean() }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('get' as const), proc, pick, page: pg }) },
);

/** Every mapped address of every live process -> (frame, first byte), without faulting. */
function snapshot(m: Machine): Map<string, { pfn: number; byte: number }> {
  const out = new Map<string, { pfn: number; byte: number }>();
  for (const p of m.processes()) {
    if (!p.alive) continue;
    for (const v of p.vmas)
      for (let a = v.start; a < v.end; a += PAGE) {
        const o = m.observe(p.pid, a);
        if (o) out.set(`${p.pid}:${a}`, o);
      }
  }
  return out;
}

/**
 * Fill most of memory with an anon region of 64 KiB chunks, each its own byte, and free every
 * other chunk: half-empty pageblocks everywhere, the state compaction exists for.
 */
function fragment(m: Machine): void {
  const pid = m.spawn('filler');
  const chunk = 16 * PAGE;
  const len = Math.floor((m.meminfo().MemFree * 1024 * 0.8) / chunk) * chunk;
  const a = m.mmap(pid, { length: len, prot: 'rw', flags: ['private', 'anonymous'] });
  for (let off = 0, i = 0; off < len; off += chunk, i++)
    m.write(pid, a + off, { byte: i & 0xff, len: chunk });
  for (let off = 0; off < len; off += 2 * chunk) m.madvise(pid, a + off, chunk, 'dontneed');
}

function run(m: Machine, ops: Op[]): number[] {
  fragment(m);
  const pids = [m.spawn('p0')];
  const regions = new Map<number, { addr: number; pages: number }[]>();
  const pinned: number[] = [];
  let files = 0;
  const region = (o: { proc: number; pick: number; page: number }) => {
    const pid = pids[o.proc % pids.length];
    const rs = regions.get(pid) ?? [];
    if (rs.length === 0) return undefined;
    const r = rs[o.pick % rs.length];
    return { pid, addr: r.addr + (o.page % r.pages) * PAGE };
  };
  for (const o of ops) {
    try {
      if (o.op === 'anon' || o.op === 'file') {
        const pid = pids[o.proc % pids.length];
        const length = o.pages * PAGE;
        let addr: number;
        if (o.op === 'anon') addr = m.mmap(pid, { length, prot: 'rw', flags: ['private', 'anonymous'] });
        else {
          const name = `f${files++}`;
          m.fileCreate(name, length, o.byte);
          addr = m.mmap(pid, { length, prot: 'rw', flags: ['shared'], file: name });
        }
        m.write(pid, addr, { byte: o.byte, len: length });
        regions.set(pid, [...(regions.get(pid) ?? []), { addr, pages: o.pages }]);
      } else if (o.op === 'fork') {
        const parent = pids[o.proc % pids.length];
        const child = m.fork(parent);
        pids.push(child);
        regions.set(child, [...(regions.get(parent) ?? [])]);
      } else {
        const at = region(o);
        if (!at) continue;
        if (o.op === 'write') m.write(at.pid, at.addr, { byte: o.byte, len: 1 });
        else if (o.op === 'dontneed') m.madvise(at.pid, at.addr, PAGE, 'dontneed');
        else if (o.op === 'munmap') m.munmap(at.pid, at.addr, PAGE);
        else if (o.op === 'pin') {
          const flags = o.longterm ? ['write', 'longterm'] : ['write'];
          pinned.push(...m.pinUserPages(at.pid, at.addr, 1, flags).pfns);
        } else m.getUserPages(at.pid, at.addr, 1);
      }
    } catch (e) {
      if (!(e instanceof KernelError)) throw e;
    }
  }
  return pinned;
}

for (const pfn_lookup of PFN_LOOKUPS)
  describe(`compaction and memory failure under random workloads (pfn_lookup: ${pfn_lookup})`, () => {
    let migrated = 0;
    // The property is not vacuous: across the runs, compaction moved pages.
    afterAll(() => expect(migrated).toBeGreaterThan(0));

    test.prop([fc.array(opArb, { minLength: 5, maxLength: 40 }), fc.array(fc.nat(32767), { maxLength: 6 })], {
      numRuns: Number(process.env.PROP_RUNS ?? 6),
    })(
      'invariants at check full, bytes intact, pinned pages unmoved, only poisoned frames lost',
      (ops, victims) => {
        const m = new Machine({ memory: '128M', thp: 'never', check: 'off', pfn_lookup });
        const pinned = run(m, ops);
        m.check('full');
        const before = snapshot(m);
        migrated += m.compact().reduce((n, r) => n + r.migrated, 0);
        m.check('full');
        const after = snapshot(m);
        expect(after.size).toBe(before.size);
        for (const [key, b] of before) expect([key, after.get(key)?.byte]).toEqual([key, b.byte]);
        for (const [key, b] of before) if (pinned.includes(b.pfn)) expect(after.get(key)!.pfn).toBe(b.pfn);

        const poisoned = new Set<number>();
        for (const v of victims) {
          // Half the victims are frames in use by the processes, half anywhere in memory.
          const used = [...after.values()];
          const pfn = v % 2 === 0 && used.length > 0 ? used[v % used.length].pfn : v % m.totalPages;
          try {
            m.memoryFailure({ pfn, flags: ['sw_simulated'] });
            poisoned.add(pfn);
          } catch (e) {
            if (!(e instanceof KernelError)) throw e;
          }
        }
        m.check('full');
        for (const p of m.processes()) {
          if (!p.alive) continue;
          for (const v of p.vmas)
            for (let a = v.start; a < v.end; a += PAGE) {
              const was = after.get(`${p.pid}:${a}`);
              if (!was) continue;
              const r = m.read(p.pid, a, 1);
              if (poisoned.has(was.pfn)) expect(r.signal === 'SIGBUS' || r.bytes[0] === was.byte).toBe(true);
              else expect([p.pid, a, r.signal, r.bytes[0]]).toEqual([p.pid, a, undefined, was.byte]);
            }
        }
        m.check('full');
      },
    );
  });

describe('pfn_lookup: vma moves what memmap moves on these workloads', () => {
  // Every movable folio here is mapped or in the page cache, so the maps reach it; what the
  // walk cannot reach (free, kernel, driver memory, unmapped referenced pages) never moves anyway.
  test.prop([fc.array(opArb, { minLength: 5, maxLength: 40 })], {
    numRuns: Number(process.env.PROP_RUNS ?? 6),
  })('the same pages migrate under both lookups; vma classifies no free frame', (ops) => {
    const moved = PFN_LOOKUPS.map((pfn_lookup) => {
      const m = new Machine({ memory: '128M', thp: 'never', check: 'off', pfn_lookup });
      run(m, ops);
      const reports = m.compact();
      for (const r of reports) if (pfn_lookup === 'vma') expect(r.skipped.buddy).toBe(0);
      return reports.reduce((n, r) => n + r.migrated, 0);
    });
    expect(moved[1]).toBe(moved[0]);
  });
});
