/**
 * Random sequences of mmap, munmap, mprotect, read, write, fork and exit keep every invariant
 * (check level full after every operation) and agree with a plain reference model of what each
 * process reads: private memory is copied at fork, unmapped memory is SIGSEGV, PROT_NONE and
 * read-only memory refuse what they must, and memory freed by everyone returns to the allocator.
 * Pins, unpins and DMA reads run too, under every pin-count design: while the pinning process keeps
 * the page mapped, a device reading through the pin sees what that process sees — unless the design
 * is one that may answer not-pinned (then only the invariants are required).
 */

import { fc, test } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import { Machine, PIN_DESIGNS, type PinDesign, UNSAFE_PIN_DESIGNS } from '../../src/index.js';
import type { PinHandle } from '../../src/machine/ids.js';
import { KernelError } from '../../src/mm/types.js';

const PAGE = 4096;
const SLOTS = 4;
const SLOT_PAGES = 8;
/** Slots 2 MiB apart and 2 MiB aligned, so THP-eligible mappings fit in slot 0. */
const slotBase = (s: number) => 0x100000000 + s * (2 << 20);

type Prot = 'none' | 'r' | 'rw';
interface RefPage {
  prot: Prot;
  bytes: Map<number, number>;
}
/** Reference model of one process: page address -> protection and written bytes. */
type RefMm = Map<number, RefPage>;

type Op =
  | { op: 'mmap'; proc: number; slot: number; first: number; pages: number; prot: Prot; huge: boolean }
  | { op: 'munmap'; proc: number; slot: number; first: number; pages: number }
  | { op: 'mprotect'; proc: number; slot: number; first: number; pages: number; prot: Prot }
  | { op: 'write'; proc: number; slot: number; page: number; off: number; byte: number }
  | { op: 'read'; proc: number; slot: number; page: number; off: number }
  | { op: 'fork'; proc: number }
  | { op: 'exit'; proc: number }
  | { op: 'pin'; proc: number; slot: number; page: number; longterm: boolean }
  | { op: 'unpin'; pick: number }
  | { op: 'dma'; pick: number; off: number };

const proc = fc.nat(3);
const slot = fc.nat(SLOTS - 1);
const page = fc.nat(SLOT_PAGES - 1);
const prot = fc.constantFrom<Prot>('none', 'r', 'rw');
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('mmap' as const),
      proc,
      slot,
      first: page,
      pages: fc.integer({ min: 1, max: 4 }),
      prot,
      huge: fc.boolean(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('munmap' as const),
      proc,
      slot,
      first: page,
      pages: fc.integer({ min: 1, max: 4 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('mprotect' as const),
      proc,
      slot,
      first: page,
      pages: fc.integer({ min: 1, max: 4 }),
      prot,
    }),
  },
  {
    weight: 6,
    arbitrary: fc.record({
      op: fc.constant('write' as const),
      proc,
      slot,
      page,
      off: fc.nat(PAGE - 1),
      byte: fc.integer({ min: 1, max: 255 }),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({ op: fc.constant('read' as const), proc, slot, page, off: fc.nat(PAGE - 1) }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('fork' as const), proc }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('exit' as const), proc }) },
  {
    weight: 2,
    arbitrary: fc.record({ op: fc.constant('pin' as const), proc, slot, page, longterm: fc.boolean() }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('unpin' as const), pick: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record({ op: fc.constant('dma' as const), pick: fc.nat(), off: fc.nat(PAGE - 1) }),
  },
);

/** A live pin: its handle, and while `page` is set, the reference page the device must read like. */
interface RefPin {
  id: PinHandle;
  ref: RefMm;
  addr: number;
  page?: RefPage;
}

const pageAddr = (s: number, p: number) => slotBase(s) + p * PAGE;

function run(ops: Op[], pincount: PinDesign = 'bias'): void {
  const m = new Machine({ memory: '256M', check: 'full', thp: 'madvise', pincount });
  const safe = !UNSAFE_PIN_DESIGNS.includes(pincount);
  const pins: RefPin[] = [];
  /** The pinning process no longer maps `addr` as it did: its pins there stop tracking it. */
  const forget = (ref: RefMm, addr: number) => {
    for (const p of pins) if (p.ref === ref && p.addr === addr) p.page = undefined;
  };
  const free0 = m.meminfo().MemFree;
  const pids: number[] = [m.spawn('p0')];
  const refs: RefMm[] = [new Map()];
  for (const o of ops) {
    const i = ('proc' in o ? o.proc : 0) % pids.length;
    const pid = pids[i];
    const ref = refs[i];
    switch (o.op) {
      case 'mmap': {
        const pages = Math.min(o.pages, SLOT_PAGES - o.first);
        const addr = pageAddr(o.slot, o.first);
        m.mmap(pid, { addr, length: pages * PAGE, prot: o.prot, flags: ['private', 'anonymous', 'fixed'] });
        if (o.huge && o.prot !== 'none') m.madvise(pid, addr, pages * PAGE, 'hugepage');
        for (let p = 0; p < pages; p++) {
          forget(ref, addr + p * PAGE);
          ref.set(addr + p * PAGE, { prot: o.prot, bytes: new Map() });
        }
        break;
      }
      case 'munmap': {
        const addr = pageAddr(o.slot, o.first);
        m.munmap(pid, addr, o.pages * PAGE);
        for (let p = 0; p < o.pages; p++) {
          forget(ref, addr + p * PAGE);
          ref.delete(addr + p * PAGE);
        }
        break;
      }
      case 'mprotect': {
        const addr = pageAddr(o.slot, o.first);
        let expectErr: string | undefined;
        for (let p = 0; p < o.pages; p++) {
          const rp = ref.get(addr + p * PAGE);
          if (!rp) {
            expectErr = 'ENOMEM';
            break;
          }
          rp.prot = o.prot;
        }
        let got: string | undefined;
        try {
          m.mprotect(pid, addr, o.pages * PAGE, o.prot);
        } catch (e) {
          if (!(e instanceof KernelError)) throw e;
          got = e.errno;
        }
        expect(got).toBe(expectErr);
        break;
      }
      case 'write': {
        const addr = pageAddr(o.slot, o.page);
        const rp = ref.get(addr);
        const r = m.write(pid, addr + o.off, { byte: o.byte, len: 1 });
        if (rp && rp.prot === 'rw') {
          expect(r.signal).toBeUndefined();
          rp.bytes.set(o.off, o.byte);
        } else expect(r.signal).toBe('SIGSEGV');
        break;
      }
      case 'read': {
        const addr = pageAddr(o.slot, o.page);
        const rp = ref.get(addr);
        const r = m.read(pid, addr + o.off, 1);
        if (rp && rp.prot !== 'none') expect(r.bytes[0]).toBe(rp.bytes.get(o.off) ?? 0);
        else expect(r.signal).toBe('SIGSEGV');
        break;
      }
      case 'fork': {
        if (pids.length >= 4) break;
        pids.push(m.fork(pid));
        refs.push(new Map([...ref].map(([a, rp]) => [a, { prot: rp.prot, bytes: new Map(rp.bytes) }])));
        break;
      }
      case 'exit': {
        if (pids.length === 1) break;
        m.exit(pid);
        for (const a of ref.keys()) forget(ref, a);
        pids.splice(i, 1);
        refs.splice(i, 1);
        break;
      }
      case 'pin': {
        const addr = pageAddr(o.slot, o.page);
        const rp = ref.get(addr);
        if (!rp || rp.prot === 'none') break;
        const flags = [...(rp.prot === 'rw' ? ['write'] : []), ...(o.longterm ? ['longterm'] : [])];
        const h = m.pinUserPages(pid, addr, 1, flags);
        expect(h.pages).toBe(1);
        pins.push({ id: h.id, ref, addr, page: rp });
        break;
      }
      case 'unpin': {
        if (pins.length === 0) break;
        const [p] = pins.splice(o.pick % pins.length, 1);
        m.unpinUserPages(p.id);
        break;
      }
      case 'dma': {
        if (pins.length === 0) break;
        const p = pins[o.pick % pins.length];
        const got = m.dmaRead(p.id, o.off, 1)[0];
        if (safe && p.page) expect(got).toBe(p.page.bytes.get(o.off) ?? 0);
        break;
      }
    }
  }
  for (const p of pins) m.unpinUserPages(p.id);
  if (safe) expect(m.pinScore().falseNegatives).toBe(0);
  // Every page still readable says what the reference says.
  for (let i = 0; i < pids.length; i++) {
    for (const [addr, rp] of refs[i]) {
      if (rp.prot === 'none') continue;
      const bytes = m.read(pids[i], addr, PAGE).bytes;
      for (const [off, b] of rp.bytes) expect(bytes[off]).toBe(b);
    }
  }
  for (const pid of pids) m.exit(pid);
  m.check('full');
  expect(m.meminfo().MemFree).toBe(free0);
}

describe.each(PIN_DESIGNS)('pin-count design %s', (design) => {
  test.prop([fc.array(opArb, { minLength: 1, maxLength: 60 })], { numRuns: design === 'bias' ? 150 : 40 })(
    'random address-space operations with pins keep every invariant and read like the reference model',
    (ops) => run(ops, design),
  );
});

type ThpOp =
  | { op: 'write'; proc: number; page: number; byte: number }
  | { op: 'read'; proc: number; page: number }
  | { op: 'fork'; proc: number }
  | { op: 'exit'; proc: number }
  | { op: 'munmap' | 'dontneed'; proc: number; page: number; pages: number };

const THP_PAGES = 1024;
const thpPage = fc.nat(THP_PAGES - 1);
const thpOpArb: fc.Arbitrary<ThpOp> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      op: fc.constant('write' as const),
      proc,
      page: thpPage,
      byte: fc.integer({ min: 1, max: 255 }),
    }),
  },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('read' as const), proc, page: thpPage }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('fork' as const), proc }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('exit' as const), proc }) },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constantFrom('munmap' as const, 'dontneed' as const),
      proc,
      page: thpPage,
      pages: fc.integer({ min: 1, max: 600 }),
    }),
  },
);

test.prop([fc.array(thpOpArb, { minLength: 1, maxLength: 40 })], { numRuns: 60 })(
  'THP faults, fork, partial unmaps and DONTNEED keep every invariant and read like the reference model',
  (ops) => {
    const m = new Machine({ memory: '256M', check: 'full', thp: 'madvise' });
    const p0 = m.spawn('p0');
    const base = m.mmap(p0, { length: THP_PAGES * PAGE, prot: 'rw', flags: ['private', 'anonymous'] });
    m.madvise(p0, base, THP_PAGES * PAGE, 'hugepage');
    const pids = [p0];
    /** Per process: page -> byte written at offset 0 (absent: zero), or -1 when unmapped. */
    const refs: Map<number, number>[] = [new Map()];
    for (const o of ops) {
      const i = o.proc % pids.length;
      const pid = pids[i];
      const ref = refs[i];
      const addr = (pg: number) => base + pg * PAGE;
      if (o.op === 'write') {
        const r = m.write(pid, addr(o.page), { byte: o.byte, len: 1 });
        if (ref.get(o.page) === -1) expect(r.signal).toBe('SIGSEGV');
        else ref.set(o.page, o.byte);
      } else if (o.op === 'read') {
        const r = m.read(pid, addr(o.page), 1);
        if (ref.get(o.page) === -1) expect(r.signal).toBe('SIGSEGV');
        else expect(r.bytes[0]).toBe(ref.get(o.page) ?? 0);
      } else if (o.op === 'fork') {
        if (pids.length < 4) {
          pids.push(m.fork(pid));
          refs.push(new Map(ref));
        }
      } else if (o.op === 'exit') {
        if (pids.length > 1) {
          m.exit(pid);
          pids.splice(i, 1);
          refs.splice(i, 1);
        }
      } else {
        const n = Math.min(o.pages, THP_PAGES - o.page);
        const mapped = [...Array(n).keys()].every((k) => ref.get(o.page + k) !== -1);
        if (o.op === 'munmap') {
          m.munmap(pid, addr(o.page), n * PAGE);
          for (let k = 0; k < n; k++) ref.set(o.page + k, -1);
        } else if (mapped) {
          m.madvise(pid, addr(o.page), n * PAGE, 'dontneed');
          for (let k = 0; k < n; k++) ref.delete(o.page + k);
        }
      }
    }
    for (const pid of pids) m.exit(pid);
    m.check('full');
  },
);
