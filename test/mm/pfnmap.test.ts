/**
 * Driver mappings: remap_pfn_range, vm_insert_page(s), vmf_insert_pfn, vmf_insert_mixed and
 * vm_normal_page (kernel-semantics §7, §8 and §16 cases 15-20), COW pfnmaps, GUP, fork and zap of
 * each kind, the architecture without pte_special, and the XIP mixed map of the 2007 AXFS case.
 */
import { describe, expect, it } from 'vitest';
import { fingerprint, fingerprintDiff } from '../../src/fuzz/fingerprint.js';
import { type DriverContext, Machine, type MachineConfig } from '../../src/index.js';
import { bugRuleOf as bug, errnoOf as errno } from '../helpers.js';

const PAGE = 4096;

/** A machine with a pfn-only I/O range of 64 pages whose first bytes say which page they are. */
function setup(cfg: MachineConfig = {}) {
  const m = new Machine({ memory: '512M', check: 'full', ...cfg });
  const p = m.spawn('p');
  const io = m.ioRegion('256K', { name: 'bar0' });
  for (let i = 0; i < 64; i++) m.physWrite(io + i, 0, { byte: 0x40 + i, len: 1 });
  return { m, p, io };
}

/** A device whose mmap handler remaps `pages` of I/O memory from the mapping's offset. */
function remapDevice(m: Machine, io: number, half = false) {
  m.defineDevice('bar', {
    mmap: (ctx) =>
      ctx.remapPfnRange(ctx.start, io + ctx.pgoff, half ? (ctx.end - ctx.start) / 2 : ctx.end - ctx.start),
  });
}

describe('remap_pfn_range (§8.6)', () => {
  it('case 15: a COW mapping remapped in part is EINVAL with no entries; whole, it gets vm_pgoff = pfn and the flags', () => {
    const { m, p, io } = setup();
    remapDevice(m, io, true);
    const len = 4 * PAGE;
    expect(errno(() => m.mmapDevice(p, { device: 'bar', length: len, prot: 'rw', flags: ['private'] }))).toBe(
      'EINVAL',
    );
    expect(m.process(p).vmas).toEqual([]);
    m.defineDevice('whole', { mmap: (ctx) => ctx.remapPfnRange(ctx.start, io + 8, ctx.end - ctx.start) });
    const a = m.mmapDevice(p, { device: 'whole', length: len, prot: 'rw', flags: ['private'] });
    const vma = m.process(p).vmas[0];
    expect(vma.pgoff).toBe(io + 8);
    for (const f of ['io', 'pfnmap', 'dontexpand', 'dontdump']) expect(vma.flags.split('|')).toContain(f);
    const t = m.translate(p, a + PAGE)!;
    expect(t.pfn).toBe(io + 9);
    expect(t.flags).toContain('special');
    expect(t.flags).not.toContain('write');
    expect(m.process(p).rss).toEqual({ file: 0, anon: 0, swap: 0, shmem: 0 });
  });

  it('a shared mapping may be remapped in part; its vm_pgoff stays', () => {
    const { m, p, io } = setup();
    remapDevice(m, io, true);
    const a = m.mmapDevice(p, { device: 'bar', length: 4 * PAGE, prot: 'rw', flags: ['shared'], offset: 0 });
    expect(m.translate(p, a + PAGE)?.pfn).toBe(io + 1);
    expect(m.translate(p, a + 2 * PAGE)).toBeUndefined();
    expect(m.process(p).vmas[0].pgoff).toBe(0);
    expect(m.translate(p, a)?.flags).toContain('write');
    // The rest faults to the driver, which has no fault handler: SIGBUS.
    expect(m.read(p, a + 2 * PAGE, 1).signal).toBe('SIGBUS');
    expect(m.read(p, a, 1).bytes[0]).toBe(0x40);
  });

  it('errnos and BUGs: unaligned EINVAL, a second whole-VMA remap EINVAL (PAT), populated entry and empty range BUG', () => {
    const { m, p, io } = setup();
    m.defineDevice('null', {});
    const a = m.mmapDevice(p, { device: 'null', length: 4 * PAGE, prot: 'rw', flags: ['shared'] });
    const d = m.driverCall(p, a);
    expect(errno(() => d.remapPfnRange(a + 1, io, PAGE))).toBe('EINVAL');
    expect(bug(() => d.remapPfnRange(a, io, 0))).toContain('addr >= end');
    d.remapPfnRange(a, io, 4 * PAGE);
    // Whole-VMA tracking exists now: a second whole remap fails before looking at the entries.
    expect(errno(() => d.remapPfnRange(a, io, 4 * PAGE))).toBe('EINVAL');
    expect(bug(() => d.remapPfnRange(a + PAGE, io, PAGE))).toContain('pte_none');
    expect(m.translate(p, a + PAGE)?.pfn).toBe(io + 1);
  });
});

describe('MADV_DONTNEED over a VM_PFNMAP VMA (madvise_dontneed_free_valid_vma)', () => {
  it('is EINVAL at the pfnmap VMA; the VMA before it is zapped already, as madvise_walk_vmas leaves it', () => {
    const { m, p, io } = setup();
    remapDevice(m, io);
    const a = m.mmap(p, { length: 8 * PAGE, prot: 'rw', flags: ['private', 'anonymous'] });
    const d = m.mmapDevice(p, {
      device: 'bar',
      addr: a + 8 * PAGE,
      length: 4 * PAGE,
      prot: 'rw',
      flags: ['shared', 'fixed'],
    });
    m.write(p, a, { byte: 9, len: 8 * PAGE });
    expect(m.process(p).rss.anon).toBe(8);
    expect(errno(() => m.madvise(p, a, 12 * PAGE, 'dontneed'))).toBe('EINVAL');
    // The anon VMA came first in the walk: its pages are gone; the pfnmap is untouched.
    expect(m.process(p).rss.anon).toBe(0);
    expect(m.read(p, a, 1).bytes[0]).toBe(0);
    expect(m.translate(p, d)?.pfn).toBe(io);
    // The pfnmap alone: refused, nothing else touched.
    m.write(p, a, { byte: 9, len: PAGE });
    expect(errno(() => m.madvise(p, d, 4 * PAGE, 'dontneed'))).toBe('EINVAL');
    expect(m.read(p, a, 1).bytes[0]).toBe(9);
    m.check('full');
  });
});

describe('vm_normal_page (§7) and COW pfnmaps (§8.7)', () => {
  it('case 16: NULL for a special entry in a VM_PFNMAP VMA; after a COW write, the anon copy', () => {
    const { m, p, io } = setup();
    m.defineDevice('whole', { mmap: (ctx) => ctx.remapPfnRange(ctx.start, io, ctx.end - ctx.start) });
    const a = m.mmapDevice(p, { device: 'whole', length: 2 * PAGE, prot: 'rw', flags: ['private'] });
    expect(m.vmNormalPage(p, a)).toBeNull();
    m.write(p, a + 1, { byte: 0x99, len: 1 });
    const copy = m.vmNormalPage(p, a)!;
    expect(copy).not.toBeNull();
    expect(copy).toBeLessThan(m.totalPages);
    expect(m.pageAt(p, a)).toMatchObject({ type: 'anon', refcount: 1, mapcount: 1, anonExclusive: true });
    expect(m.read(p, a, 2).bytes).toEqual(new Uint8Array([0x40, 0x99]));
    // The device frame is untouched; the other page is still the raw pfn.
    expect(m.physRead(io, 0, 2)).toEqual(new Uint8Array([0x40, 0]));
    expect(m.vmNormalPage(p, a + PAGE)).toBeNull();
    expect(m.process(p).rss.anon).toBe(1);
    // Zap frees only the COW page.
    m.munmap(p, a, 2 * PAGE);
    expect(m.page(copy).type).toBe('buddy');
    expect(m.physRead(io + 1, 0, 1)[0]).toBe(0x41);
  });

  it('a special entry in an ordinary VMA is a bad page map (KernelBug)', () => {
    const { m, p, io } = setup();
    m.defineDevice('null', {});
    const a = m.mmapDevice(p, { device: 'null', length: PAGE, prot: 'r', flags: ['shared'] });
    m.driverCall(p, a).setFlags(['mixedmap']);
    m.driverCall(p, a).vmfInsertMixed(a, io);
    const vma = m.kernel.processes.get(p)!.mm.vmas[0];
    vma.flags &= ~(1 << 28);
    expect(bug(() => m.vmNormalPage(p, a))).toContain('print_bad_page_map');
    vma.flags |= 1 << 28;
  });

  it('without pte_special: the linear rule of VM_PFNMAP decides, and COW copies are normal (R7.2)', () => {
    const { m, p, io } = setup({ pteSpecial: false });
    m.defineDevice('whole', { mmap: (ctx) => ctx.remapPfnRange(ctx.start, io, ctx.end - ctx.start) });
    const a = m.mmapDevice(p, { device: 'whole', length: 2 * PAGE, prot: 'rw', flags: ['private'] });
    expect(m.translate(p, a)?.flags).not.toContain('special');
    expect(m.vmNormalPage(p, a)).toBeNull();
    m.write(p, a, { byte: 7, len: 1 });
    expect(m.vmNormalPage(p, a)).toBe(m.translate(p, a)!.pfn);
    expect(m.pageAt(p, a)?.type).toBe('anon');
    // A shared pfnmap is never COW: every entry is special whatever its pfn.
    m.defineDevice('odd', { mmap: (ctx) => ctx.remapPfnRange(ctx.start, io + 5, ctx.end - ctx.start) });
    const b = m.mmapDevice(p, { device: 'odd', length: PAGE, prot: 'rw', flags: ['shared'] });
    expect(m.process(p).vmas.find((v) => v.start === b)!.pgoff).toBe(0);
    expect(m.vmNormalPage(p, b)).toBeNull();
    m.munmap(p, a, 2 * PAGE);
  });
});

/** A shared mapping of a device without handlers, and a driver context on it. */
function nullMapping(m: Machine, p: number, pages = 4, flags: string[] = ['shared'], prot = 'rw') {
  m.defineDevice(`null${m.process(p).vmas.length}`, {});
  const a = m.mmapDevice(p, { device: `null${m.process(p).vmas.length}`, length: pages * PAGE, prot, flags });
  return { a, d: m.driverCall(p, a) as DriverContext };
}

describe('vm_insert_page (§8.1) and vm_insert_pages (§8.2)', () => {
  it('case 17: slab, anon and free pages are EINVAL; outside the VMA EFAULT; a populated entry EBUSY', () => {
    const { m, p } = setup();
    const { a, d } = nullMapping(m, p);
    const slabPfn = Math.floor(m.kmalloc(64) / PAGE);
    expect(errno(() => d.vmInsertPage(a, slabPfn))).toBe('EINVAL');
    const anon = m.mmap(p, { length: PAGE, prot: 'rw', flags: ['private', 'anonymous'] });
    m.write(p, anon, { byte: 1, len: 1 });
    expect(errno(() => d.vmInsertPage(a, m.translate(p, anon)!.pfn))).toBe('EINVAL');
    const gone = m.allocPages(0);
    m.freePages(gone, 0);
    expect(errno(() => d.vmInsertPage(a, gone))).toBe('EINVAL');
    const pt = m.kernel.ptdesc.pfn[m.kernel.processes.get(p)!.mm.pgd];
    expect(errno(() => d.vmInsertPage(a, pt))).toBe('EINVAL');
    const page = m.allocPages(0);
    expect(errno(() => d.vmInsertPage(a + 4 * PAGE, page))).toBe('EFAULT');
    expect(errno(() => d.vmInsertPage(a - PAGE, page))).toBe('EFAULT');
    d.vmInsertPage(a, page);
    expect(errno(() => d.vmInsertPage(a, page))).toBe('EBUSY');
    expect(m.page(page)).toMatchObject({ refcount: 2, mapcount: 1 });
  });

  it('case 18: the VMA gains VM_MIXEDMAP; the page +1 refcount, +1 mapcount, +1 file rss; zap undoes it', () => {
    const { m, p } = setup();
    const { a, d } = nullMapping(m, p);
    const page = m.allocPages(0);
    m.physWrite(page, 0, { byte: 0x5e, len: 3 });
    expect(m.process(p).vmas[0].flags).not.toContain('mixedmap');
    d.vmInsertPage(a + PAGE, page);
    expect(m.process(p).vmas[0].flags).toContain('mixedmap');
    expect(m.page(page)).toMatchObject({ type: 'unknown', refcount: 2, mapcount: 1 });
    expect(m.process(p).rss.file).toBe(1);
    const t = m.translate(p, a + PAGE)!;
    expect(t.flags).not.toContain('special');
    expect(t.flags).toContain('write');
    expect(m.vmNormalPage(p, a + PAGE)).toBe(page);
    expect(m.read(p, a + PAGE, 4).bytes).toEqual(new Uint8Array([0x5e, 0x5e, 0x5e, 0]));
    m.munmap(p, a, 4 * PAGE);
    expect(m.page(page)).toMatchObject({ refcount: 1, mapcount: 0 });
    m.freePages(page, 0);
  });

  it('BUGs without VM_MIXEDMAP: from a fault handler (mmap_lock read) or into a VM_PFNMAP VMA', () => {
    const { m, p, io } = setup();
    const { a } = nullMapping(m, p);
    const page = m.allocPages(0);
    expect(bug(() => m.driverCall(p, a, 'read').vmInsertPage(a, page))).toContain('mmap_read_trylock');
    m.driverCall(p, a).remapPfnRange(a + PAGE, io, PAGE);
    expect(bug(() => m.driverCall(p, a).vmInsertPage(a, page))).toContain('VM_PFNMAP');
    expect(m.page(page).refcount).toBe(1);
  });

  it('the zero page is inserted special and uncounted where allowed, EINVAL in a writable shared mapping', () => {
    const { m, p } = setup();
    const { a, d } = nullMapping(m, p);
    expect(errno(() => d.vmInsertPage(a, m.zeroPfn))).toBe('EINVAL');
    const ro = nullMapping(m, p, 1, ['private'], 'r');
    const before = m.page(m.zeroPfn);
    ro.d.vmInsertPage(ro.a, m.zeroPfn);
    expect(m.translate(p, ro.a)?.flags).toContain('special');
    expect(m.page(m.zeroPfn)).toEqual(before);
  });

  it('vm_insert_pages maps in order and reports the pages not mapped after the first error', () => {
    const { m, p } = setup();
    const { a, d } = nullMapping(m, p);
    const pages = [m.allocPages(0), m.allocPages(0), m.allocPages(0)];
    d.vmInsertPage(a + 2 * PAGE, pages[2]);
    expect(d.vmInsertPages(a, pages)).toEqual({ err: 'EBUSY', notMapped: 1 });
    expect(m.page(pages[0]).mapcount).toBe(1);
    expect(m.page(pages[1]).mapcount).toBe(1);
    expect(errno(() => d.vmInsertPages(a + 2 * PAGE, pages))).toBe('EFAULT');
    expect(m.process(p).rss.file).toBe(3);
  });

  it('GUP, fork and zap of inserted pages: pinnable, copied with a reference, released on unmap', () => {
    const { m, p } = setup();
    const { a, d } = nullMapping(m, p);
    const page = m.allocPages(0);
    d.vmInsertPage(a, page);
    const pin = m.pinUserPages(p, a, 1, ['write']);
    expect(m.page(page).refcount).toBe(2 + 1024);
    m.unpinUserPages(pin.id);
    const c = m.fork(p, 'c');
    expect(m.translate(c, a)?.pfn).toBe(page);
    expect(m.page(page)).toMatchObject({ refcount: 3, mapcount: 2 });
    expect(m.process(c).rss.file).toBe(1);
    m.exit(c);
    m.exit(p);
    expect(m.page(page)).toMatchObject({ refcount: 1, mapcount: 0 });
  });
});

describe('vmf_insert_pfn (§8.3) and vmf_insert_mixed (§8.4)', () => {
  it('case 19: BUG into a COW pfnmap, a mixedmap with a pfn_valid pfn, a VMA with neither or both flags', () => {
    const { m, p, io } = setup();
    const cow = nullMapping(m, p, 1, ['private']);
    expect(bug(() => cow.d.vmfInsertPfn(cow.a, io))).toContain('BUG_ON');
    cow.d.setFlags(['pfnmap']);
    expect(bug(() => cow.d.vmfInsertPfn(cow.a, io))).toContain('BUG_ON');
    const mixed = nullMapping(m, p, 1);
    mixed.d.setFlags(['mixedmap']);
    const ram = m.allocPages(0);
    expect(bug(() => mixed.d.vmfInsertPfn(mixed.a, ram))).toContain('BUG_ON');
    mixed.d.setFlags(['pfnmap']);
    expect(bug(() => mixed.d.vmfInsertPfn(mixed.a, io))).toContain('BUG_ON');
    expect(m.translate(p, cow.a)).toBeUndefined();
  });

  it('case 20: an already populated entry is kept and the answer is VM_FAULT_NOPAGE; outside the VMA SIGBUS', () => {
    const { m, p, io } = setup();
    const { a, d } = nullMapping(m, p, 2);
    d.setFlags(['pfnmap', 'io']);
    expect(d.vmfInsertPfn(a, io + 3)).toBe('nopage');
    expect(d.vmfInsertPfn(a, io + 9)).toBe('nopage');
    expect(m.translate(p, a)?.pfn).toBe(io + 3);
    expect(d.vmfInsertPfn(a + 2 * PAGE, io)).toBe('sigbus');
    expect(m.translate(p, a)?.flags).toContain('special');
  });

  it('a fault handler inserting pfns: pages appear on first touch, GUP is EFAULT, fork copies the special entries', () => {
    const { m, p, io } = setup();
    m.defineDevice('fb', {
      mmap: (ctx) => ctx.setFlags(['pfnmap', 'io', 'dontexpand']),
      fault: (ctx, vmf) => ctx.vmfInsertPfn(vmf.addr, io + vmf.pgoff),
    });
    const a = m.mmapDevice(p, {
      device: 'fb',
      length: 8 * PAGE,
      prot: 'rw',
      flags: ['shared'],
      offset: 2 * PAGE,
    });
    expect(m.translate(p, a)).toBeUndefined();
    expect(m.read(p, a + 3 * PAGE, 1).bytes[0]).toBe(0x45);
    m.write(p, a + 3 * PAGE + 1, { byte: 0x11, len: 1 });
    expect(m.physRead(io + 5, 0, 2)).toEqual(new Uint8Array([0x45, 0x11]));
    expect(errno(() => m.getUserPages(p, a, 1))).toBe('EFAULT');
    expect(errno(() => m.pinUserPages(p, a + 3 * PAGE, 1))).toBe('EFAULT');
    const c = m.fork(p, 'c');
    expect(m.translate(c, a + 3 * PAGE)?.pfn).toBe(io + 5);
    expect(m.translate(c, a + 3 * PAGE)?.flags).toContain('special');
    expect(m.read(c, a + 3 * PAGE + 1, 1).bytes[0]).toBe(0x11);
    m.exit(c);
    m.munmap(p, a, 8 * PAGE);
  });

  it('vmf_insert_mixed with pte_special: even a RAM page becomes special and uncounted; GUP says EEXIST', () => {
    const { m, p, io } = setup();
    const { a, d } = nullMapping(m, p, 4);
    expect(d.vmfInsertMixed(a, io)).toBe('sigbus');
    d.setFlags(['mixedmap']);
    const ram = m.allocPages(0);
    expect(d.vmfInsertMixed(a, ram)).toBe('nopage');
    expect(d.vmfInsertMixed(a + PAGE, io)).toBe('nopage');
    expect(m.page(ram)).toMatchObject({ refcount: 1, mapcount: 0 });
    expect(m.vmNormalPage(p, a)).toBeNull();
    expect(m.translate(p, a)?.flags).toContain('special');
    expect(errno(() => m.getUserPages(p, a, 1))).toBe('EEXIST');
    expect(d.vmfInsertMixed(a + 2 * PAGE, m.zeroPfn)).toBe('sigbus');
    expect(d.vmfInsertMixed(a + 4 * PAGE, io)).toBe('sigbus');
  });

  it('vmf_insert_mixed without pte_special: a RAM page is inserted counted; a pfn-only frame stays uncounted', () => {
    const { m, p, io } = setup({ pteSpecial: false });
    const { a, d } = nullMapping(m, p, 2);
    d.setFlags(['mixedmap']);
    const ram = m.allocPages(0);
    expect(d.vmfInsertMixed(a, ram)).toBe('nopage');
    expect(d.vmfInsertMixed(a, ram)).toBe('nopage');
    expect(d.vmfInsertMixed(a + PAGE, io)).toBe('nopage');
    expect(m.page(ram)).toMatchObject({ refcount: 2, mapcount: 1 });
    expect(m.vmNormalPage(p, a)).toBe(ram);
    expect(m.vmNormalPage(p, a + PAGE)).toBeNull();
    const pin = m.pinUserPages(p, a, 1);
    m.unpinUserPages(pin.id);
    expect(errno(() => m.pinUserPages(p, a + PAGE, 1))).toBe('EEXIST');
  });
});

describe('XIP mixed map (the 2007 AXFS case)', () => {
  /**
   * A file of 8 pages: even pages live in flash (pfn-only, executed in place), odd pages are
   * compressed and decompressed into a RAM page on first fault.
   */
  function axfs(cfg: MachineConfig = {}) {
    const { m, p, io: flash } = setup(cfg);
    const ram = new Map<number, number>();
    m.defineDevice('axfs', {
      mmap: (ctx) => ctx.setFlags(['mixedmap']),
      fault: (ctx, vmf) => {
        if (vmf.pgoff % 2 === 0) return ctx.vmfInsertMixed(vmf.addr, flash + vmf.pgoff);
        let pfn = ram.get(vmf.pgoff);
        if (pfn === undefined) {
          pfn = m.allocPages(0);
          m.physWrite(pfn, 0, { byte: 0x80 + vmf.pgoff, len: 1 });
          ram.set(vmf.pgoff, pfn);
        }
        ctx.vmInsertPage(vmf.addr, pfn);
        return 'nopage';
      },
    });
    return { m, p, flash, ram };
  }

  it('vm_normal_page returns the RAM pages only; GUP pins RAM pages, flash pages are EEXIST', () => {
    const { m, p, flash, ram } = axfs();
    const a = m.mmapDevice(p, { device: 'axfs', length: 8 * PAGE, prot: 'r', flags: ['shared'] });
    for (let i = 0; i < 8; i++) expect(m.read(p, a + i * PAGE, 1).bytes[0]).toBe(i % 2 ? 0x80 + i : 0x40 + i);
    for (let i = 0; i < 8; i++) expect(m.vmNormalPage(p, a + i * PAGE)).toBe(i % 2 ? ram.get(i)! : null);
    expect(m.translate(p, a)?.pfn).toBe(flash);
    const pin = m.pinUserPages(p, a + PAGE, 1);
    expect(m.page(ram.get(1)!).refcount).toBe(2 + 1024);
    m.unpinUserPages(pin.id);
    expect(errno(() => m.pinUserPages(p, a, 1))).toBe('EEXIST');
    expect(m.process(p).rss.file).toBe(4);
  });

  it('a private writable mapping COWs both kinds: flash from the frame contents, RAM pages from the page', () => {
    const { m, p, flash, ram } = axfs();
    const a = m.mmapDevice(p, { device: 'axfs', length: 4 * PAGE, prot: 'rw', flags: ['private'] });
    m.write(p, a + 1, { byte: 1, len: 1 });
    m.write(p, a + PAGE + 1, { byte: 2, len: 1 });
    expect(m.pageAt(p, a)?.type).toBe('anon');
    expect(m.pageAt(p, a + PAGE)?.type).toBe('anon');
    expect(m.read(p, a, 2).bytes).toEqual(new Uint8Array([0x40, 1]));
    expect(m.read(p, a + PAGE, 2).bytes).toEqual(new Uint8Array([0x81, 2]));
    expect(m.physRead(flash, 0, 2)).toEqual(new Uint8Array([0x40, 0]));
    // The RAM page lost the mapping it had for the moment of the fault: only the driver holds it.
    expect(m.page(ram.get(1)!)).toMatchObject({ refcount: 1, mapcount: 0 });
    expect(m.process(p).rss).toMatchObject({ anon: 2, file: 0 });
  });

  it('the same on an architecture without pte_special', () => {
    const { m, p, ram } = axfs({ pteSpecial: false });
    const a = m.mmapDevice(p, { device: 'axfs', length: 4 * PAGE, prot: 'r', flags: ['shared'] });
    m.touch(p, a, 4 * PAGE);
    expect([0, 1, 2, 3].map((i) => m.vmNormalPage(p, a + i * PAGE))).toEqual([
      null,
      ram.get(1),
      null,
      ram.get(3),
    ]);
  });
});

describe('a KernelBug inside a driver fault leaves the machine as before the fault', () => {
  /** A device whose fault handler maps a RAM page (mixed map, counted), then misuses vmf_insert_pfn. */
  function buggyDevice(m: Machine, ram: number, bugAt: (pgoff: number) => boolean) {
    m.defineDevice('buggy', {
      mmap: (ctx) => ctx.setFlags(['mixedmap']),
      fault: (ctx, vmf) => {
        ctx.vmfInsertMixed(vmf.addr, ram);
        // vmf_insert_pfn of a pfn with a struct page into a VM_MIXEDMAP VMA: BUG_ON in Linux.
        if (bugAt(vmf.pgoff)) ctx.vmfInsertPfn(vmf.addr, ram);
        return 'nopage';
      },
    });
  }

  it('the page tables the fault allocated go back to the buddy allocator, and the entry it made is zapped', () => {
    const { m, p } = setup({ pteSpecial: false });
    const ram = m.allocPages(0);
    buggyDevice(m, ram, () => true);
    const a = m.mmapDevice(p, { device: 'buggy', length: 4 * PAGE, prot: 'r', flags: ['shared'] });
    const touched = { pid: p, addr: a, pages: 4 };
    const before = fingerprint(m, touched);
    expect(bug(() => m.read(p, a + PAGE, 1))).toMatch(/vmf_insert_pfn/);
    const after = fingerprint(m, touched);
    expect(fingerprintDiff(before, after)).toEqual([]);
    expect(after.counters.pagelab_nr_pgtable_pages).toBe(before.counters.pagelab_nr_pgtable_pages);
    expect(m.page(ram)).toMatchObject({ refcount: 1, mapcount: 0 });
    expect(m.translate(p, a + PAGE)).toBeUndefined();
    // The machine goes on: the process can unmap and exit cleanly.
    m.munmap(p, a, 4 * PAGE);
    m.exit(p);
  });

  it('in a table that already existed only the faulting entry goes; the earlier mappings stay', () => {
    const { m, p } = setup({ pteSpecial: false });
    const ram = m.allocPages(0);
    buggyDevice(m, ram, (pgoff) => pgoff === 2);
    const a = m.mmapDevice(p, { device: 'buggy', length: 4 * PAGE, prot: 'r', flags: ['shared'] });
    m.read(p, a, 1);
    const touched = { pid: p, addr: a, pages: 4 };
    const before = fingerprint(m, touched);
    expect(bug(() => m.read(p, a + 2 * PAGE, 1))).toMatch(/vmf_insert_pfn/);
    expect(fingerprintDiff(before, fingerprint(m, touched))).toEqual([]);
    expect(m.translate(p, a)?.pfn).toBe(ram);
    expect(m.page(ram)).toMatchObject({ refcount: 2, mapcount: 1 });
  });
});

describe('a driver mmap(MAP_FIXED) that fails (mm/vma.c __mmap_region error path)', () => {
  // __mmap_setup() gathers the old VMAs, then vms_clean_up_area() clears their PTEs and calls
  // their vm_ops->close() *before* the driver's ->mmap runs. When ->mmap fails,
  // vms_abort_munmap_vmas() sees the PTEs already cleared (clear_ptes false) and does not
  // reattach: "leaving a gap where the MAP_FIXED mapping failed" — the munmap completes. Linux
  // does not restore what MAP_FIXED replaced, so neither does the model. (It reattaches only when
  // the failure comes before the clean-up: may_expand_vm, accounting — checks do_mmap does here
  // before anything is unmapped.)
  it('leaves a gap: the old VMA, its pages and its bytes are gone, as after munmap', () => {
    const { m, p, io } = setup();
    remapDevice(m, io, true); // a partial remap of a private (COW) mapping: EINVAL
    const a = m.mmap(p, { length: 4 * PAGE, prot: 'rw', flags: ['private', 'anonymous'] });
    m.write(p, a, { byte: 0x5a, len: 4 * PAGE });
    const c = m.fork(p, 'c'); // the child shares the pages: the failed mmap must not free them
    const pfn = m.translate(p, a)!.pfn;
    expect(m.page(pfn).mapcount).toBe(2);
    expect(
      errno(() =>
        m.mmapDevice(p, {
          device: 'bar',
          addr: a,
          length: 4 * PAGE,
          prot: 'rw',
          flags: ['private', 'fixed'],
        }),
      ),
    ).toBe('EINVAL');
    expect(m.process(p).vmas).toEqual([]);
    expect(m.process(p).rss).toEqual({ file: 0, anon: 0, swap: 0, shmem: 0 });
    expect(m.read(p, a, 1).signal).toBe('SIGSEGV');
    // The child's mapping is untouched; the shared pages lost the parent's mapping only.
    expect(m.page(pfn).mapcount).toBe(1);
    expect(m.read(c, a + 3 * PAGE, 1).bytes[0]).toBe(0x5a);
    // A failed mmap without MAP_FIXED replaced nothing and leaves nothing.
    const before = fingerprint(m, { pid: c, addr: a, pages: 4 });
    expect(
      errno(() => m.mmapDevice(c, { device: 'bar', length: 4 * PAGE, prot: 'rw', flags: ['private'] })),
    ).toBe('EINVAL');
    expect(fingerprintDiff(before, fingerprint(m, { pid: c, addr: a, pages: 4 }))).toEqual([]);
  });
});
