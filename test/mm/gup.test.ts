/**
 * get_user_pages / pin_user_pages: kernel-semantics §2-§5 and §16 cases 1-10, every errno of
 * §3.1 and §3.2, unsharing of read-only pins after fork, FOLL_LONGTERM migration, release rules.
 */

import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/index.js';
import type { FolioId } from '../../src/machine/ids.js';
import { GUP_PIN_COUNTING_BIAS } from '../../src/mm/folio.js';
import { VM } from '../../src/mm/mm_types.js';
import { GFP } from '../../src/mm/mmzone.js';
import { KernelBug } from '../../src/mm/types.js';
import { errnoOf as errno } from '../helpers.js';

const PAGE = 4096;

function anon(pages = 4, memory = '512M') {
  const m = new Machine({ memory, check: 'full' });
  const p = m.spawn('p');
  const buf = m.mmap(p, { length: pages * PAGE, prot: 'rw', flags: ['private', 'anonymous'] });
  return { m, p, buf };
}

describe('pin arithmetic (§2.4, §16 cases 1-4)', () => {
  it('case 1: pinning a small anon folio adds 1024 to its refcount; unpin restores it', () => {
    const { m, p, buf } = anon();
    m.write(p, buf, { byte: 1, len: 1 });
    const pin = m.pinUserPages(p, buf, 1, ['write']);
    expect(m.pageAt(p, buf)).toMatchObject({
      refcount: 1 + GUP_PIN_COUNTING_BIAS,
      maybeDmaPinned: true,
      pins: 1,
    });
    expect(m.process(p).hasPinned).toBe(true);
    m.unpinUserPages(pin.id);
    expect(m.pageAt(p, buf)).toMatchObject({ refcount: 1, maybeDmaPinned: false, pins: 0 });
    expect(m.vmstat()).toMatchObject({ nr_foll_pin_acquired: 1, nr_foll_pin_released: 1 });
    expect(m.process(p).hasPinned).toBe(true); // MMF_HAS_PINNED is sticky for the mm's life (R2.7)
  });

  it('case 2: pinning one subpage of a large folio adds 1 to refcount and _pincount; every subpage is maybe-pinned', () => {
    const m = new Machine({ memory: '512M', check: 'full' });
    const p = m.spawn('p');
    const buf = m.mmap(p, { length: 2 << 20, prot: 'rw', flags: ['private', 'anonymous'] });
    m.madvise(p, buf, 2 << 20, 'hugepage');
    m.write(p, buf, { byte: 1, len: 1 });
    const before = m.pageAt(p, buf)!;
    m.pinUserPages(p, buf + 3 * PAGE, 1, ['write']);
    expect(m.pageAt(p, buf)).toMatchObject({
      refcount: before.refcount + 1,
      pincount: 1,
      maybeDmaPinned: true,
      pins: 0,
    });
    expect(m.pageAt(p, buf + 100 * PAGE)).toMatchObject({ maybeDmaPinned: true });
  });

  it('case 3: 1023 plain references are not maybe-pinned; 1024 are (the bias false positive)', () => {
    const { m, p, buf } = anon();
    m.checkLevel = 'cheap';
    m.write(p, buf, { byte: 1, len: 1 });
    const gets = [];
    for (let i = 0; i < 1022; i++) gets.push(m.getUserPages(p, buf, 1));
    expect(m.pageAt(p, buf)).toMatchObject({ refcount: 1023, maybeDmaPinned: false });
    gets.push(m.getUserPages(p, buf, 1));
    expect(m.pageAt(p, buf)).toMatchObject({ refcount: 1024, maybeDmaPinned: true, pins: 0 });
    for (const g of gets) m.putUserPages(g.id);
    expect(m.pageAt(p, buf)!.refcount).toBe(1);
  });

  it('case 4: a FOLL_PIN on the zero page changes nothing and its unpin is a no-op; FOLL_GET takes a real reference', () => {
    const { m, p, buf } = anon();
    m.read(p, buf, 1);
    const zero = m.page(m.zeroPfn);
    const pin = m.pinUserPages(p, buf, 1);
    expect(pin.pfns[0]).toBe(m.zeroPfn);
    expect(m.page(m.zeroPfn)).toEqual(zero);
    m.unpinUserPages(pin.id);
    expect(m.page(m.zeroPfn)).toEqual(zero);
    const get = m.getUserPages(p, buf, 1);
    expect(m.page(m.zeroPfn).refcount).toBe(zero.refcount + 1);
    m.putUserPages(get.id);
    expect(m.page(m.zeroPfn).refcount).toBe(zero.refcount);
  });

  it('pins of the zero page are not counted in nr_foll_pin_acquired / released (try_grab_folio)', () => {
    const { m, p, buf } = anon(3);
    m.read(p, buf, 1);
    m.write(p, buf + PAGE, { byte: 1, len: 1 });
    m.read(p, buf + 2 * PAGE, 1);
    const pin = m.pinUserPages(p, buf, 3);
    expect(Array.from(pin.pfns).filter((pfn) => pfn === m.zeroPfn)).toHaveLength(2);
    expect(m.vmstat()).toMatchObject({ nr_foll_pin_acquired: 1, nr_foll_pin_released: 0 });
    m.unpinUserPages(pin.id);
    expect(m.vmstat()).toMatchObject({ nr_foll_pin_acquired: 1, nr_foll_pin_released: 1 });
  });
});

describe('argument validation (§3.1) and VMA admission (§3.2)', () => {
  it('case 5 and every §3.1 rule: get_user_pages and the _fast variants fail with EINVAL, pin_user_pages pins 0 pages', () => {
    const { m, p, buf } = anon();
    m.write(p, buf, { byte: 1, len: 1 });
    const before = m.pageAt(p, buf);
    expect(errno(() => m.getUserPages(p, buf, 1, ['longterm']))).toBe('EINVAL');
    expect(errno(() => m.getUserPages(p, buf, 1, ['longterm'], { fast: true }))).toBe('EINVAL');
    const bad = [
      ...['pin', 'tried', 'unlockable', 'remote', 'fast_only', 'touch', 'madv_populate'].map((f) => [f]),
      ['get'],
      ['longterm', 'pci_p2pdma'],
    ];
    for (const flags of bad) {
      expect(errno(() => m.pinUserPages(p, buf, 1, flags, { fast: true }))).toBe('EINVAL');
      // pin_user_pages(), _remote and _unlocked return 0 when is_valid_gup_args() says no.
      const r = m.pinUserPages(p, buf, 1, flags);
      expect(r.pages).toBe(0);
      m.unpinUserPages(r.id);
    }
    expect(m.pageAt(p, buf)).toEqual(before);
    expect(m.process(p).hasPinned).toBe(false);
    expect(m.vmstat()).toMatchObject({ nr_foll_pin_acquired: 0, nr_foll_pin_released: 0 });
  });

  it('the _fast variants accept only WRITE|LONGTERM|FORCE|PIN|GET|FAST_ONLY|NOFAULT|PCI_P2PDMA|HONOR_NUMA_FAULT', () => {
    const { m, p, buf } = anon();
    m.write(p, buf, { byte: 1, len: 1 });
    for (const flag of ['dump', 'nowait', 'anon', 'hwpoison', 'split_pmd', 'interruptible']) {
      expect(errno(() => m.pinUserPages(p, buf, 1, [flag], { fast: true }))).toBe('EINVAL');
      expect(errno(() => m.getUserPages(p, buf, 1, [flag], { fast: true }))).toBe('EINVAL');
      // The slow path takes them.
      const slow = m.pinUserPages(p, buf, 1, [flag]);
      expect(slow.pages).toBe(1);
      m.unpinUserPages(slow.id);
    }
    for (const flags of [['write', 'force', 'nofault', 'honor_numa_fault'], ['pci_p2pdma']]) {
      const fast = m.pinUserPages(p, buf, 1, flags, { fast: true });
      expect(fast.pages).toBe(1);
      m.unpinUserPages(fast.id);
    }
  });

  it('an unaligned start pins the page containing it (start & PAGE_MASK), fast and slow', () => {
    const { m, p, buf } = anon();
    m.write(p, buf, { byte: 1, len: 2 * PAGE });
    for (const fast of [false, true]) {
      const r = m.pinUserPages(p, buf + 123, 2, [], { fast });
      expect(Array.from(r.pfns)).toEqual([m.translate(p, buf)!.pfn, m.translate(p, buf + PAGE)!.pfn]);
      m.unpinUserPages(r.id);
    }
    expect(m.pageAt(p, buf)).toMatchObject({ pins: 0, refcount: 1 });
  });

  it('case 6: a VM_IO or VM_PFNMAP VMA refuses every GUP with EFAULT before any PTE is looked at', () => {
    for (const flag of [VM.IO, VM.PFNMAP]) {
      const { m, p, buf } = anon();
      m.write(p, buf, { byte: 1, len: 1 });
      const vma = m.kernel.processes.get(p)!.mm.vmas[0];
      vma.flags |= flag; // what remap_pfn_range sets on a driver's VMA
      const before = m.pageAt(p, buf);
      for (const call of [
        () => m.getUserPages(p, buf, 1),
        () => m.pinUserPages(p, buf, 1),
        () => m.pinUserPages(p, buf, 1, ['write', 'longterm'], { fast: true }),
      ]) {
        expect(errno(call)).toBe('EFAULT');
      }
      expect(m.pageAt(p, buf)).toEqual(before);
      vma.flags &= ~flag;
    }
  });

  it('no VMA, or a write to a read-only VMA without FOLL_FORCE: EFAULT', () => {
    const { m, p, buf } = anon();
    expect(errno(() => m.pinUserPages(p, 0x10000, 1))).toBe('EFAULT');
    const ro = m.mmap(p, { length: PAGE, prot: 'r', flags: ['private', 'anonymous'] });
    expect(errno(() => m.getUserPages(p, ro, 1, ['write']))).toBe('EFAULT');
    const none = m.mmap(p, { length: PAGE, prot: 'none', flags: ['private', 'anonymous'] });
    expect(errno(() => m.getUserPages(p, none, 1))).toBe('EFAULT');
    expect(errno(() => m.getUserPages(p, buf, 1, ['anon']))).toBeUndefined();
  });

  it('FOLL_FORCE writes a read-only private mapping through a COW copy; a shared read-only one stays EFAULT', () => {
    const { m, p } = anon();
    m.fileCreate('f', PAGE, 0x61);
    const ro = m.mmap(p, { length: PAGE, prot: 'r', flags: ['private'], file: 'f' });
    const g = m.getUserPages(p, ro, 1, ['write', 'force']);
    expect(m.pageAt(p, ro)).toMatchObject({ type: 'anon', anonExclusive: true });
    expect(m.dmaRead(g.id, 0, 1)[0]).toBe(0x61);
    m.putUserPages(g.id);
    const shared = m.mmap(p, { length: PAGE, prot: 'r', flags: ['shared'], file: 'f' });
    expect(errno(() => m.getUserPages(p, shared, 1, ['write', 'force']))).toBe('EFAULT');
    expect(
      errno(() =>
        m.getUserPages(p, m.mmap(p, { length: PAGE, prot: 'none', flags: ['private'], file: 'f' }), 1, [
          'force',
        ]),
      ),
    ).toBeUndefined();
  });

  it('FOLL_ANON on a file VMA, and a long-term write pin of a dirty-tracked shared file mapping: EFAULT', () => {
    const { m, p } = anon();
    m.fileCreate('f', PAGE, 1);
    const shared = m.mmap(p, { length: PAGE, prot: 'rw', flags: ['shared'], file: 'f' });
    expect(errno(() => m.getUserPages(p, shared, 1, ['anon']))).toBe('EFAULT');
    expect(errno(() => m.pinUserPages(p, shared, 1, ['write', 'longterm']))).toBe('EFAULT');
    const pin = m.pinUserPages(p, shared, 1, ['write']); // short-term: allowed
    m.unpinUserPages(pin.id, { dirty: true });
    expect(m.fileInfo('f').dirty).toBe(true);
  });

  it('FOLL_NOFAULT: EFAULT where a fault would be needed', () => {
    const { m, p, buf } = anon();
    expect(errno(() => m.pinUserPages(p, buf, 1, ['nofault']))).toBe('EFAULT');
    m.write(p, buf, { byte: 1, len: 1 });
    expect(errno(() => m.pinUserPages(p, buf, 1, ['nofault', 'write']))).toBeUndefined();
  });

  it('a later failure returns the pages taken so far (a short count)', () => {
    const { m, p, buf } = anon(2);
    const g = m.getUserPages(p, buf, 4);
    expect(g.pages).toBe(2);
  });
});

describe('pins and COW (§4.2, §5.6, §16 cases 7, 9, 10)', () => {
  it('case 7: a pinned exclusive page stays with the parent across fork; the child gets a copy', () => {
    const { m, p, buf } = anon();
    m.write(p, buf, { byte: 0x11, len: PAGE });
    const pin = m.pinUserPages(p, buf, 1, ['write', 'longterm']);
    const pinned = pin.pfns[0];
    const c = m.fork(p, 'c');
    expect(m.translate(p, buf)!.pfn).toBe(pinned);
    expect(m.pageAt(p, buf)).toMatchObject({ anonExclusive: true });
    expect(m.pageAt(p, buf)!.pte).toContain('write');
    expect(m.translate(c, buf)!.pfn).not.toBe(pinned);
    m.write(p, buf, { byte: 0x22, len: 1 });
    m.write(c, buf, { byte: 0x33, len: 1 });
    expect(m.translate(p, buf)!.pfn).toBe(pinned);
    expect(m.dmaRead(pin.id, 0, 2)).toEqual(new Uint8Array([0x22, 0x11]));
    expect(m.read(c, buf, 2).bytes).toEqual(new Uint8Array([0x33, 0x11]));
    m.unpinUserPages(pin.id, { dirty: true });
    expect(m.pageAt(p, buf)).toMatchObject({
      refcount: 1,
      mapcount: 1,
      maybeDmaPinned: false,
      anonExclusive: true,
    });
  });

  it('an already shared page is not copied at fork even if its folio is pinned elsewhere', () => {
    const { m, p, buf } = anon();
    m.write(p, buf, { byte: 1, len: PAGE });
    const c = m.fork(p, 'c'); // shared now, not exclusive
    const row = m.kernel.folios.pageRow(m.translate(p, buf)!.pfn);
    m.kernel.folios.refAdd(m.kernel.folios.handleOf(row), GUP_PIN_COUNTING_BIAS); // looks pinned
    m.kernel.processes.get(p)!.mm.flags |= 1;
    const g = m.fork(p, 'g');
    expect(m.translate(g, buf)!.pfn).toBe(m.translate(p, buf)!.pfn);
    expect(m.translate(c, buf)!.pfn).toBe(m.translate(p, buf)!.pfn);
    m.kernel.folios.put(m.kernel.folios.handleOf(row), GUP_PIN_COUNTING_BIAS);
  });

  it('case 9: a read-only pin of a shared anon page unshares: an exclusive page, still mapped read-only, gets the pin', () => {
    const { m, p, buf } = anon();
    m.write(p, buf, { byte: 0x11, len: PAGE });
    const c = m.fork(p, 'c');
    const shared = m.translate(p, buf)!.pfn;
    const pin = m.pinUserPages(p, buf, 1);
    const mine = m.pageAt(p, buf)!;
    expect(mine.pfn).not.toBe(shared);
    expect(pin.pfns[0]).toBe(mine.pfn);
    expect(mine).toMatchObject({ anonExclusive: true, pins: 1 });
    expect(mine.pte).not.toContain('write');
    expect(m.translate(c, buf)!.pfn).toBe(shared);
    // Coherent: what the parent writes later is what the pin sees.
    m.write(p, buf, { byte: 0x44, len: 1 });
    expect(m.translate(p, buf)!.pfn).toBe(mine.pfn);
    expect(m.dmaRead(pin.id, 0, 1)[0]).toBe(0x44);
  });

  it('a read-only pin of a shared page the pinner alone references just marks it exclusive (same frame)', () => {
    const { m, p, buf } = anon();
    m.write(p, buf, { byte: 0x11, len: PAGE });
    const c = m.fork(p, 'c');
    m.exit(c);
    const frame = m.translate(p, buf)!.pfn;
    expect(m.pageAt(p, buf)!.anonExclusive).toBe(false);
    m.pinUserPages(p, buf, 1);
    expect(m.pageAt(p, buf)).toMatchObject({ pfn: frame, anonExclusive: true });
  });

  it('case 10: a write pin of a shared page breaks COW: a new writable exclusive page gets the pin', () => {
    const { m, p, buf } = anon();
    m.write(p, buf, { byte: 0x11, len: PAGE });
    const c = m.fork(p, 'c');
    const shared = m.translate(p, buf)!.pfn;
    const pin = m.pinUserPages(p, buf, 1, ['write']);
    const mine = m.pageAt(p, buf)!;
    expect(mine.pfn).not.toBe(shared);
    expect(mine.pte).toContain('write');
    expect(mine).toMatchObject({ anonExclusive: true, pins: 1 });
    m.dmaWrite(pin.id, { byte: 0x99, len: 1 });
    expect(m.read(p, buf, 1).bytes[0]).toBe(0x99);
    expect(m.read(c, buf, 1).bytes[0]).toBe(0x11);
  });

  it('FOLL_GET never unshares: a get on a shared page takes the shared frame', () => {
    const { m, p, buf } = anon();
    m.write(p, buf, { byte: 0x11, len: PAGE });
    m.fork(p, 'c');
    const shared = m.translate(p, buf)!.pfn;
    const g = m.getUserPages(p, buf, 1);
    expect(g.pfns[0]).toBe(shared);
    expect(m.pageAt(p, buf)!.anonExclusive).toBe(false);
  });

  it('a long-term read-only pin of a file page in a private mapping replaces it by an anon copy first (R3.4b)', () => {
    const { m, p } = anon();
    m.fileCreate('f', PAGE, 0x42);
    const a = m.mmap(p, { length: PAGE, prot: 'r', flags: ['private'], file: 'f' });
    m.read(p, a, 1);
    const cached = m.translate(p, a)!.pfn;
    const pin = m.pinUserPages(p, a, 1, ['longterm']);
    expect(pin.pfns[0]).not.toBe(cached);
    expect(m.pageAt(p, a)).toMatchObject({ type: 'anon', anonExclusive: true });
    expect(m.dmaRead(pin.id, 0, 1)[0]).toBe(0x42);
    const short = m.pinUserPages(p, m.mmap(p, { length: PAGE, prot: 'r', flags: ['private'], file: 'f' }), 1);
    expect(m.page(short.pfns[0]).type).toBe('file');
  });
});

describe('FOLL_LONGTERM placement (§3.6)', () => {
  it('migrates pages out of ZONE_MOVABLE before pinning; short-term pins stay put', () => {
    const m = new Machine({ memory: '1G', movable: '512M', check: 'full' });
    const p = m.spawn('p');
    const buf = m.mmap(p, { length: 2 * PAGE, prot: 'rw', flags: ['private', 'anonymous'] });
    m.write(p, buf, { byte: 0x5, len: 2 * PAGE });
    expect(m.pageAt(p, buf)!.zone).toBe('Movable');
    const short = m.pinUserPages(p, buf + PAGE, 1, ['write']);
    expect(m.page(short.pfns[0]).zone).toBe('Movable');
    m.unpinUserPages(short.id);
    const before = m.translate(p, buf)!.pfn;
    const pin = m.pinUserPages(p, buf, 2, ['write', 'longterm']);
    const after = m.pageAt(p, buf)!;
    expect(after.pfn).not.toBe(before);
    expect(after.zone).not.toBe('Movable');
    expect(pin.pfns[0]).toBe(after.pfn);
    expect(m.read(p, buf, 1).bytes[0]).toBe(0x5);
    expect(m.vmstat().pgmigrate_success).toBe(2);
    expect(m.page(before).type).toBe('buddy');
  });

  it('a FOLL_LONGTERM fault allocates unmovable (memalloc_pin_save): never in ZONE_MOVABLE, nothing to migrate', () => {
    const m = new Machine({ memory: '1G', movable: '512M', check: 'full' });
    const p = m.spawn('p');
    const buf = m.mmap(p, { length: 2 * PAGE, prot: 'rw', flags: ['private', 'anonymous'] });
    const pin = m.pinUserPages(p, buf, 2, ['write', 'longterm']);
    for (const pfn of pin.pfns) expect(m.page(pfn)).toMatchObject({ type: 'anon', migratetype: 'Unmovable' });
    expect(m.page(pin.pfns[0]).zone).not.toBe('Movable');
    expect(m.vmstat().pgmigrate_success).toBe(0);
    m.unpinUserPages(pin.id);
    // The scope ends with the call: an ordinary fault afterwards is movable again.
    const other = m.mmap(p, { length: PAGE, prot: 'rw', flags: ['private', 'anonymous'] });
    m.write(p, other, { byte: 1, len: 1 });
    expect(m.pageAt(p, other)!.zone).toBe('Movable');
  });

  it('a FOLL_LONGTERM fault stays out of CMA even where an ordinary fault would take CMA first', () => {
    const m = new Machine({ memory: '512M', cma: '64M', check: 'cheap' });
    const p = m.spawn('p');
    const buf = m.mmap(p, { length: 2 * PAGE, prot: 'rw', flags: ['private', 'anonymous'] });
    // Use ordinary memory until CMA balancing sends movable allocations to CMA (free CMA more
    // than half of the zone's free pages).
    const zone = () => m.zoneinfo().find((z) => z.cma > 0)!;
    while (m.meminfo().CmaFree / 4 <= Math.floor(zone().free / 2)) m.allocPages(9, { gfp: GFP.MOVABLE });
    const pin = m.pinUserPages(p, buf, 1, ['write', 'longterm']);
    expect(m.page(pin.pfns[0]).migratetype).toBe('Unmovable');
    expect(m.vmstat().pgmigrate_success).toBe(0);
    m.write(p, buf + PAGE, { byte: 1, len: 1 });
    expect(m.pageAt(p, buf + PAGE)!.migratetype).toBe('CMA');
    m.check('full');
  });

  it('migrates out of CMA pageblocks too, and moves every mapping of a shared page', () => {
    const m = new Machine({ memory: '512M', cma: '64M', check: 'off' });
    const p = m.spawn('p');
    const buf = m.mmap(p, { length: 2 * PAGE, prot: 'rw', flags: ['private', 'anonymous'] });
    m.write(p, buf + PAGE, { byte: 0x1, len: 1 }); // page tables now exist
    // Hold ordinary movable memory until a movable allocation has to come from CMA.
    const held: FolioId[] = [];
    for (;;) {
      const h = m.folioAlloc(0);
      if (m.page(m.folioPfn(h)).migratetype === 'CMA') {
        m.folioPut(h);
        break;
      }
      held.push(h);
    }
    m.write(p, buf, { byte: 0x7, len: 1 });
    // Give some ordinary memory back for the child's page tables and the unshare copy.
    for (const h of held.splice(0, 256)) m.folioPut(h);
    m.checkLevel = 'full';
    const cmaPage = m.translate(p, buf)!.pfn;
    expect(m.page(cmaPage).migratetype).toBe('CMA');
    const c = m.fork(p, 'c');
    const pin = m.pinUserPages(p, buf, 1, ['longterm']);
    // The shared page is unshared for the R/O pin: the parent's new page is outside CMA, the child keeps the old.
    expect(m.page(pin.pfns[0]).migratetype).not.toBe('CMA');
    expect(m.translate(p, buf)!.pfn).toBe(pin.pfns[0]);
    expect(m.translate(c, buf)!.pfn).toBe(cmaPage);
    expect(m.dmaRead(pin.id, 0, 1)[0]).toBe(0x7);
  });
});

describe('release rules (§3.7)', () => {
  it('unpinning a FOLL_GET reference, putting a pin, or releasing twice is a KernelBug that changes nothing', () => {
    const { m, p, buf } = anon();
    m.write(p, buf, { byte: 1, len: 1 });
    const g = m.getUserPages(p, buf, 1);
    const pin = m.pinUserPages(p, buf, 1);
    expect(() => m.unpinUserPages(g.id)).toThrow(KernelBug);
    expect(() => m.putUserPages(pin.id)).toThrow(KernelBug);
    expect(m.pageAt(p, buf)!.refcount).toBe(1 + 1 + GUP_PIN_COUNTING_BIAS);
    m.unpinUserPages(pin.id);
    expect(() => m.unpinUserPages(pin.id)).toThrow(KernelBug);
    expect(() => m.dmaRead(pin.id)).toThrow(KernelBug);
    m.putUserPages(g.id);
    expect(m.pageAt(p, buf)!.refcount).toBe(1);
  });

  it('unpin_user_pages_dirty_lock dirties by owner (R12): anon flag only, file page cache and inode', () => {
    const { m, p, buf } = anon();
    m.fileCreate('f', PAGE, 0);
    m.write(p, buf, { byte: 1, len: 1 });
    const pin = m.pinUserPages(p, buf, 1, ['write']);
    m.unpinUserPages(pin.id, { dirty: true });
    expect(m.pageAt(p, buf)!.flagNames).toContain('dirty');
    const f = m.mmap(p, { length: PAGE, prot: 'rw', flags: ['shared'], file: 'f' });
    m.read(p, f, 1);
    const fp = m.pinUserPages(p, f, 1, ['write']); // the write fault behind it dirties the page (wp_page_shared)
    expect(m.fileInfo('f').dirty).toBe(true);
    m.fileSync('f');
    m.unpinUserPages(fp.id, { dirty: false });
    expect(m.fileInfo('f').dirty).toBe(false);
    const fp2 = m.pinUserPages(p, f, 1, ['write']);
    m.dmaWrite(fp2.id, { byte: 0x5a, len: 1 });
    m.unpinUserPages(fp2.id, { dirty: true });
    expect(m.fileInfo('f').dirty).toBe(true);
    m.fileSync('f');
    expect(m.fileContents('f', 0, 1)[0]).toBe(0x5a);
  });

  it('pin_user_pages_fast gives the same pages as the slow path, faulting in what it cannot take', () => {
    const { m, p, buf } = anon(4);
    m.write(p, buf, { byte: 1, len: PAGE });
    const fast = m.pinUserPages(p, buf, 4, ['write'], { fast: true });
    expect(fast.pages).toBe(4);
    for (let i = 0; i < 4; i++) expect(fast.pfns[i]).toBe(m.translate(p, buf + i * PAGE)!.pfn);
  });
});

describe('R/O pins of a PMD-mapped THP look at the head page (gup_must_unshare with pmd_page)', () => {
  const PMD = 2 << 20;
  function thpAfterFork() {
    const m = new Machine({ memory: '1G', check: 'full', thp: 'madvise' });
    const p = m.spawn('p');
    const buf = m.mmap(p, { length: PMD, prot: 'rw', flags: ['private', 'anonymous'] });
    m.madvise(p, buf, PMD, 'hugepage');
    m.write(p, buf, { byte: 0x11, len: PMD });
    m.exit(m.fork(p, 'c'));
    return { m, p, buf };
  }

  for (const fast of [false, true]) {
    it(`a R/O pin of a non-head subpage of a write-protected, solely-owned THP reuses it (fast: ${fast})`, () => {
      const { m, p, buf } = thpAfterFork();
      const head = m.translate(p, buf)!.pfn;
      expect(m.pageAt(p, buf + 5 * PAGE)).toMatchObject({ level: 'pmd', anonExclusive: false });
      const pin = m.pinUserPages(p, buf + 5 * PAGE, 2, [], { fast });
      expect(Array.from(pin.pfns)).toEqual([head + 5, head + 6]);
      // do_huge_pmd_wp_page(UNSHARE) reused the folio and marked the head exclusive: still one PMD.
      expect(m.pageAt(p, buf + 5 * PAGE)).toMatchObject({ level: 'pmd', pincount: 2, refcount: 3 });
      expect(m.pageAt(p, buf)).toMatchObject({ anonExclusive: true });
      expect(m.pageAt(p, buf + 5 * PAGE)!.pte).not.toContain('write');
      expect(m.vmstat().thp_split_pmd).toBe(0);
      m.unpinUserPages(pin.id);
    });
  }
});
