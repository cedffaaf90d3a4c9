/**
 * userfaultfd in write-protect mode (src/mm/userfaultfd.ts, userfaultfd_k.ts): UFFDIO_API and its
 * implied features, REGISTER / UNREGISTER and their VMA splits, UFFDIO_WRITEPROTECT (the bit on
 * present PTEs, swap entries, PMDs and PTE markers), sync and WP_ASYNC write faults, DONTWAKE,
 * fork with and without EVENT_FORK, zap of markers (anon and file), mprotect, mremap, GUP with
 * FOLL_FORCE, THP split, khugepaged. Every machine runs the full checks after each op.
 */
import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/index.js';
import { PTE } from '../../src/mm/pgtable.js';

const PAGE = 4096;
const PMD = 2 << 20;

function setup(opts: { swap?: string; thp?: 'always' | 'never' } = {}) {
  const m = new Machine({ memory: '1G', check: 'full', thp: opts.thp ?? 'never', swap: opts.swap });
  const p = m.spawn('p');
  return { m, p };
}

const anon = (m: Machine, p: number, len: number) =>
  m.mmap(p, { length: len, prot: 'rw', flags: ['private', 'anonymous'] });
/** Written anon pages, registered in WP mode and write-protected (sync mode, no features). */
function protectedPage(m: Machine, p: number, pages = 1): number {
  const a = anon(m, p, pages * PAGE);
  m.write(p, a, { byte: 1, len: pages * PAGE });
  m.uffdOpen(p);
  m.uffdRegister(p, a, pages * PAGE);
  m.uffdWriteprotect(p, a, pages * PAGE, { wp: true });
  return a;
}
const wp = (m: Machine, p: number, a: number) => m.uffdWpAt(p, a).uffdWp;
const pteBits = (m: Machine, p: number, a: number) => m.translate(p, a)?.bits ?? 0;

describe('UFFDIO_API', () => {
  it('WP_ASYNC implies WP_UNPOPULATED (userfaultfd_api); unknown features are EINVAL; one context per mm here', () => {
    const { m, p } = setup();
    expect(() => m.uffdOpen(p, 1 << 20)).toThrow(/EINVAL/);
    m.uffdOpen(p, ['wp_async']);
    expect(m.uffdState(p)?.features).toEqual(['wp_unpopulated', 'wp_async']);
    expect(() => m.uffdOpen(p, [])).toThrow(/EBUSY/);
  });

  it('the ioctls need the userfaultfd first (EBADF)', () => {
    const { m, p } = setup();
    const a = anon(m, p, 4 * PAGE);
    expect(() => m.uffdRegister(p, a, PAGE)).toThrow(/EBADF/);
  });
});

describe('UFFDIO_REGISTER and UNREGISTER', () => {
  it('registering the middle of a VMA splits it at both edges; only the middle is VM_UFFD_WP', () => {
    const { m, p } = setup();
    const a = anon(m, p, 4 * PAGE);
    m.uffdOpen(p);
    m.uffdRegister(p, a + PAGE, 2 * PAGE);
    const vmas = m.process(p).vmas;
    expect(vmas.map((v) => [v.start - a, v.end - a])).toEqual([
      [0, PAGE],
      [PAGE, 3 * PAGE],
      [3 * PAGE, 4 * PAGE],
    ]);
    expect(vmas.map((v) => v.flags.includes('uffd_wp'))).toEqual([false, true, false]);
  });

  it('refuses a range with no VMA, and a disk-file VMA unless WP_ASYNC allows any memory (vma_can_userfault)', () => {
    const { m, p } = setup();
    m.uffdOpen(p);
    const a = anon(m, p, PAGE);
    m.munmap(p, a, PAGE);
    expect(() => m.uffdRegister(p, a, PAGE)).toThrow(/EINVAL: UFFDIO_REGISTER: no mapping/);
    m.fileCreate('f', PAGE, 0);
    const f = m.mmap(p, { length: PAGE, prot: 'rw', flags: ['shared'], file: 'f' });
    expect(() => m.uffdRegister(p, f, PAGE)).toThrow(/EINVAL.*not anonymous or shmem/);
    const q = m.spawn('q');
    m.uffdOpen(q, ['wp_async']);
    const fq = m.mmap(q, { length: PAGE, prot: 'rw', flags: ['shared'], file: 'f' });
    m.uffdRegister(q, fq, PAGE);
    expect(m.process(q).vmas[0].flags).toContain('uffd_wp');
  });

  it('unregister resets the protection (uffd_wp_range) and wakes a waiting fault', () => {
    const { m, p } = setup();
    const a = protectedPage(m, p);
    expect(m.write(p, a, { byte: 2, len: 1 }).userfault).toBe(true);
    expect(m.uffdState(p)?.waiting).toBe(1);
    m.uffdUnregister(p, a, PAGE);
    expect(m.uffdState(p)?.waiting).toBe(0);
    expect(wp(m, p, a)).toBe(false);
    // The exclusive page got its write permission back in the reset (MM_CP_TRY_CHANGE_WRITABLE).
    expect(pteBits(m, p, a) & PTE.WRITE).toBe(PTE.WRITE);
  });
});

describe('UFFDIO_WRITEPROTECT', () => {
  it('protecting makes present PTEs read-only with the bit; resolving restores write only to exclusive anon pages', () => {
    const { m, p } = setup();
    const a = anon(m, p, 2 * PAGE);
    m.write(p, a, { byte: 1, len: 2 * PAGE });
    const c = m.fork(p);
    m.exit(c); // a+0 and a+4K are exclusive again in mapcount, but the fork cleared anon-exclusive
    m.write(p, a, { byte: 2, len: 1 }); // reuse: a+0 exclusive again, a+4K is not
    m.uffdOpen(p);
    m.uffdRegister(p, a, 2 * PAGE);
    m.uffdWriteprotect(p, a, 2 * PAGE, { wp: true });
    for (const o of [0, PAGE]) {
      expect(wp(m, p, a + o)).toBe(true);
      expect(pteBits(m, p, a + o) & PTE.WRITE).toBe(0);
    }
    m.uffdWriteprotect(p, a, 2 * PAGE, { wp: false });
    expect(wp(m, p, a)).toBe(false);
    expect(pteBits(m, p, a) & PTE.WRITE).toBe(PTE.WRITE);
    // Not anon-exclusive: can_change_pte_writable says no, the next write takes the fault.
    expect(pteBits(m, p, a + PAGE) & PTE.WRITE).toBe(0);
  });

  it('a VMA in the range that is not registered is ENOENT, after the ones before it; WP with DONTWAKE is EINVAL', () => {
    const { m, p } = setup();
    const a = anon(m, p, 2 * PAGE);
    m.write(p, a, { byte: 1, len: 2 * PAGE });
    m.uffdOpen(p);
    m.uffdRegister(p, a, PAGE);
    expect(() => m.uffdWriteprotect(p, a, 2 * PAGE, { wp: true })).toThrow(/ENOENT/);
    expect(wp(m, p, a)).toBe(true);
    expect(() => m.uffdWriteprotect(p, a, PAGE, { wp: true, dontwake: true })).toThrow(/EINVAL/);
  });

  it('a none PTE gets a marker only with markers in use: never for plain anon, always for shmem', () => {
    const { m, p } = setup();
    const a = anon(m, p, PAGE);
    m.fileCreate('shm', PAGE, 0, { memfd: true });
    const s = m.mmap(p, { length: PAGE, prot: 'rw', flags: ['shared'], file: 'shm' });
    m.uffdOpen(p);
    m.uffdRegister(p, a, PAGE);
    m.uffdRegister(p, s, PAGE);
    m.uffdWriteprotect(p, a, PAGE, { wp: true });
    m.uffdWriteprotect(p, s, PAGE, { wp: true });
    expect(m.uffdWpAt(p, a)).toEqual({ uffdWp: false, marker: false });
    expect(m.uffdWpAt(p, s)).toEqual({ uffdWp: true, marker: true });
    m.uffdWriteprotect(p, s, PAGE, { wp: false });
    expect(m.uffdWpAt(p, s)).toEqual({ uffdWp: false, marker: false });
  });

  it('the bit goes into the swap entry on swap-out, is set and cleared there, and a protected swap-in maps read-only', () => {
    const { m, p } = setup({ swap: '64M' });
    const a = anon(m, p, 2 * PAGE);
    m.write(p, a, { byte: 1, len: 2 * PAGE });
    m.uffdOpen(p);
    m.uffdRegister(p, a, 2 * PAGE);
    m.uffdWriteprotect(p, a, PAGE, { wp: true });
    m.pageout(p, a, 2 * PAGE);
    expect([wp(m, p, a), wp(m, p, a + PAGE)]).toEqual([true, false]);
    m.uffdWriteprotect(p, a + PAGE, PAGE, { wp: true }); // pte_swp_mkuffd_wp on the swap entry
    expect(m.swapEntry(p, a + PAGE)).toBeDefined();
    expect(wp(m, p, a + PAGE)).toBe(true);
    m.uffdWriteprotect(p, a + PAGE, PAGE, { wp: false });
    expect(wp(m, p, a + PAGE)).toBe(false);
    // do_swap_page: exclusive, but uffd-wp still tracks it, so no write upgrade.
    expect(m.read(p, a, 1).bytes[0]).toBe(1);
    expect(wp(m, p, a)).toBe(true);
    expect(pteBits(m, p, a) & PTE.WRITE).toBe(0);
    // The unprotected one comes back writable.
    m.read(p, a + PAGE, 1);
    expect(pteBits(m, p, a + PAGE) & PTE.WRITE).toBe(PTE.WRITE);
  });
});

describe('write faults on a protected page (do_wp_page)', () => {
  it('sync mode: the write waits, queues UFFD_EVENT_PAGEFAULT with WRITE|WP, and changes nothing', () => {
    const { m, p } = setup();
    const a = anon(m, p, PAGE);
    m.write(p, a, { byte: 1, len: PAGE });
    const before = m.translate(p, a)?.pfn;
    m.uffdOpen(p);
    m.uffdRegister(p, a, PAGE);
    m.uffdWriteprotect(p, a, PAGE, { wp: true });
    const r = m.write(p, a + 8, { byte: 2, len: 1 });
    expect(r).toMatchObject({ done: 0, userfault: true, addr: a + 8 });
    expect(m.read(p, a + 8, 1).bytes[0]).toBe(1);
    expect(m.uffdRead(p)).toEqual([{ event: 'pagefault', addr: a, write: true, wp: true }]);
    expect(m.uffdRead(p)).toEqual([]);
    expect(m.process(p).signals).toEqual([]);
    expect(m.translate(p, a)?.pfn).toBe(before);
  });

  it('DONTWAKE leaves the fault waiting; a plain resolve, or UFFDIO_WAKE, wakes it', () => {
    const { m, p } = setup();
    const a = protectedPage(m, p, 2);
    m.write(p, a, { byte: 2, len: 1 });
    m.write(p, a + PAGE, { byte: 2, len: 1 });
    m.uffdWriteprotect(p, a, 2 * PAGE, { wp: false, dontwake: true });
    expect(m.uffdState(p)?.waiting).toBe(2);
    m.uffdWake(p, a + PAGE, PAGE);
    expect(m.uffdState(p)?.waiting).toBe(1);
    m.uffdWriteprotect(p, a, PAGE, { wp: false });
    expect(m.uffdState(p)?.waiting).toBe(0);
    expect(m.write(p, a, { byte: 3, len: 1 })).toEqual({ done: 1 });
  });

  it('UFFD_FEATURE_SIGBUS: the fault is SIGBUS instead of a message', () => {
    const { m, p } = setup();
    const a = anon(m, p, PAGE);
    m.write(p, a, { byte: 1, len: PAGE });
    m.uffdOpen(p, ['sigbus']);
    m.uffdRegister(p, a, PAGE);
    m.uffdWriteprotect(p, a, PAGE, { wp: true });
    expect(m.write(p, a, { byte: 2, len: 1 }).signal).toBe('SIGBUS');
    expect(m.uffdRead(p)).toEqual([]);
  });

  it('WP_ASYNC: the bit is dropped and the write reuses the exclusive page in place', () => {
    const { m, p } = setup();
    const a = anon(m, p, PAGE);
    m.write(p, a, { byte: 1, len: PAGE });
    const pfn = m.translate(p, a)?.pfn;
    m.uffdOpen(p, ['wp_async']);
    m.uffdRegister(p, a, PAGE);
    m.uffdWriteprotect(p, a, PAGE, { wp: true });
    expect(m.write(p, a, { byte: 2, len: 1 })).toEqual({ done: 1 });
    expect(wp(m, p, a)).toBe(false);
    expect(m.translate(p, a)?.pfn).toBe(pfn);
    expect(m.uffdState(p)?.pending).toBe(0);
  });

  it('a marker: a read maps the zero page protected; a write installs a protected page and then waits (sync)', () => {
    const { m, p } = setup();
    const a = anon(m, p, 2 * PAGE);
    m.uffdOpen(p, ['wp_unpopulated']);
    m.uffdRegister(p, a, 2 * PAGE);
    m.uffdWriteprotect(p, a, 2 * PAGE, { wp: true });
    expect(m.read(p, a, 1).bytes[0]).toBe(0);
    expect(m.pageAt(p, a)?.type).toBe('zero');
    expect(wp(m, p, a)).toBe(true);
    expect(m.write(p, a + PAGE, { byte: 5, len: 1 }).userfault).toBe(true);
    // do_anonymous_page ran (vmf_orig_pte_uffd_wp): an anon page, protected, still zero-filled.
    expect(m.pageAt(p, a + PAGE)?.type).toBe('anon');
    expect(wp(m, p, a + PAGE)).toBe(true);
    expect(m.read(p, a + PAGE, 1).bytes[0]).toBe(0);
  });

  it('a leftover marker in a VMA no longer registered is dropped by the fault (pte_marker_clear)', () => {
    const { m, p } = setup();
    const a = anon(m, p, PAGE);
    m.uffdOpen(p, ['wp_unpopulated']);
    m.uffdRegister(p, a, PAGE);
    m.uffdWriteprotect(p, a, PAGE, { wp: true });
    // A fork without EVENT_FORK: the child's VMA is unregistered, and it gets no marker copied.
    const c = m.fork(p);
    expect(m.uffdWpAt(c, a).marker).toBe(false);
    expect(m.write(c, a, { byte: 1, len: 1 })).toEqual({ done: 1 });
    expect(wp(m, c, a)).toBe(false);
  });
});

describe('fork (dup_userfaultfd, copy_present_pte, copy_nonpresent_pte)', () => {
  it('without EVENT_FORK the child loses VM_UFFD_WP and every bit; the parent keeps them', () => {
    const { m, p } = setup();
    const a = protectedPage(m, p);
    const c = m.fork(p);
    expect(wp(m, p, a)).toBe(true);
    expect(wp(m, c, a)).toBe(false);
    expect(m.process(c).vmas[0].flags).not.toContain('uffd_wp');
    expect(m.uffdState(c)).toBeUndefined();
  });

  it('with EVENT_FORK the child keeps them, gets its own context, and the parent reads a fork event', () => {
    const { m, p } = setup({ swap: '64M' });
    const a = anon(m, p, 2 * PAGE);
    m.write(p, a, { byte: 1, len: 2 * PAGE });
    m.uffdOpen(p, ['event_fork']);
    m.uffdRegister(p, a, 2 * PAGE);
    m.uffdWriteprotect(p, a, 2 * PAGE, { wp: true });
    m.pageout(p, a + PAGE, PAGE);
    const c = m.fork(p);
    expect([wp(m, c, a), wp(m, c, a + PAGE)]).toEqual([true, true]);
    expect(m.swapEntry(c, a + PAGE)).toBeDefined();
    expect(m.uffdState(c)?.features).toEqual(['event_fork']);
    expect(m.uffdRead(p).map((x) => x.event)).toEqual(['fork']);
    // The child's write goes to its own monitor.
    expect(m.write(c, a, { byte: 2, len: 1 }).userfault).toBe(true);
    expect(m.uffdRead(c)).toHaveLength(1);
  });

  it('a shared shmem VMA is copied at fork only when the child keeps uffd-wp (vma_needs_copy)', () => {
    for (const features of [[], ['event_fork']]) {
      const { m, p } = setup();
      m.fileCreate('shm', PAGE, 0, { memfd: true });
      const s = m.mmap(p, { length: PAGE, prot: 'rw', flags: ['shared'], file: 'shm' });
      m.write(p, s, { byte: 1, len: 1 });
      m.uffdOpen(p, features);
      m.uffdRegister(p, s, PAGE);
      m.uffdWriteprotect(p, s, PAGE, { wp: true });
      const c = m.fork(p);
      expect(m.translate(c, s) !== undefined).toBe(features.length > 0);
      expect(wp(m, c, s)).toBe(features.length > 0);
    }
  });
});

describe('zap (zap_install_uffd_wp_if_needed)', () => {
  it('MADV_DONTNEED leaves a marker for a protected shmem PTE, none for anon; munmap drops markers', () => {
    const { m, p } = setup();
    const a = anon(m, p, PAGE);
    m.fileCreate('shm', 2 * PAGE, 0, { memfd: true });
    const s = m.mmap(p, { length: 2 * PAGE, prot: 'rw', flags: ['shared'], file: 'shm' });
    m.write(p, a, { byte: 1, len: 1 });
    m.write(p, s, { byte: 1, len: 2 * PAGE });
    m.uffdOpen(p, ['wp_unpopulated']);
    m.uffdRegister(p, a, PAGE);
    m.uffdRegister(p, s, 2 * PAGE);
    m.uffdWriteprotect(p, a, PAGE, { wp: true });
    m.uffdWriteprotect(p, s, PAGE, { wp: true });
    m.madvise(p, a, PAGE, 'dontneed');
    m.madvise(p, s, 2 * PAGE, 'dontneed');
    expect(m.uffdWpAt(p, a)).toEqual({ uffdWp: false, marker: false });
    expect(m.uffdWpAt(p, s)).toEqual({ uffdWp: true, marker: true });
    // The unprotected neighbour leaves nothing.
    expect(m.uffdWpAt(p, s + PAGE)).toEqual({ uffdWp: false, marker: false });
    // A second zap keeps the marker (file memory drops it only when asked).
    m.madvise(p, s, PAGE, 'dontneed');
    expect(m.uffdWpAt(p, s).marker).toBe(true);
    // The page cache still has the page: a read maps it, protected.
    expect(m.read(p, s, 1).bytes[0]).toBe(1);
    expect(m.uffdWpAt(p, s)).toEqual({ uffdWp: true, marker: false });
    m.madvise(p, s, PAGE, 'dontneed');
    m.munmap(p, s, 2 * PAGE);
    const again = m.mmap(p, { length: 2 * PAGE, prot: 'rw', flags: ['shared'], file: 'shm' });
    expect(m.uffdWpAt(p, again).marker).toBe(false);
  });

  it('in a registered shared VMA a read fault maps the page read-only (vma_wants_writenotify)', () => {
    const { m, p } = setup();
    m.fileCreate('shm', PAGE, 0, { memfd: true });
    const s = m.mmap(p, { length: PAGE, prot: 'rw', flags: ['shared'], file: 'shm' });
    m.uffdOpen(p);
    m.uffdRegister(p, s, PAGE);
    m.read(p, s, 1);
    expect(pteBits(m, p, s) & PTE.WRITE).toBe(0);
    expect(m.write(p, s, { byte: 1, len: 1 })).toEqual({ done: 1 });
  });
});

describe('mprotect, mremap, GUP, THP, mTHP, khugepaged', () => {
  it('mprotect keeps the bit and does not upgrade a protected PTE to writable', () => {
    const { m, p } = setup();
    const a = protectedPage(m, p);
    m.mprotect(p, a, PAGE, 'r');
    m.mprotect(p, a, PAGE, 'rw');
    expect(wp(m, p, a)).toBe(true);
    expect(pteBits(m, p, a) & PTE.WRITE).toBe(0);
    expect(m.write(p, a, { byte: 2, len: 1 }).userfault).toBe(true);
  });

  it('mremap without EVENT_REMAP clears the moved bits and the new VMA is not registered', () => {
    const { m, p } = setup();
    const a = protectedPage(m, p, 2);
    const to = m.mremap(p, a, 2 * PAGE, 2 * PAGE, { flags: ['maymove'], newAddr: undefined });
    const moved = to === a ? a : to;
    const dst = m.mmap(p, { length: 2 * PAGE, prot: 'none', flags: ['private', 'anonymous'] });
    const at = m.mremap(p, moved, 2 * PAGE, 2 * PAGE, { flags: ['maymove', 'fixed'], newAddr: dst });
    expect([wp(m, p, at), wp(m, p, at + PAGE)]).toEqual([false, false]);
    expect(m.process(p).vmas.find((v) => v.start === at)?.flags).not.toContain('uffd_wp');
    expect(m.write(p, at, { byte: 2, len: 1 })).toEqual({ done: 1 });
  });

  it('FOLL_FORCE may not write a protected PTE of a read-only private VMA (can_follow_write_pte)', () => {
    const { m, p } = setup();
    const a = m.mmap(p, { length: PAGE, prot: 'r', flags: ['private', 'anonymous'] });
    m.memWrite(p, a, { byte: 1, len: 1 }); // COW-broken: an exclusive anon page, read-only PTE
    m.uffdOpen(p, ['sigbus']);
    m.uffdRegister(p, a, PAGE);
    m.uffdWriteprotect(p, a, PAGE, { wp: true });
    expect(() => m.memWrite(p, a, { byte: 2, len: 1 })).toThrow(/EIO/);
    expect(m.memRead(p, a, 1)[0]).toBe(1);
    m.uffdWriteprotect(p, a, PAGE, { wp: false });
    expect(m.memWrite(p, a, { byte: 3, len: 1 })).toBe(1);
  });

  it('a protected THP: the PMD has the bit; sync waits on the PMD; WP_ASYNC splits it and every PTE keeps the bit but the written one', () => {
    for (const async of [false, true]) {
      const { m, p } = setup({ thp: 'always' });
      const a = anon(m, p, PMD);
      m.write(p, a, { byte: 1, len: 1 });
      expect(m.translate(p, a)?.level).toBe('pmd');
      m.uffdOpen(p, async ? ['wp_async'] : []);
      m.uffdRegister(p, a, PMD);
      m.uffdWriteprotect(p, a, PMD, { wp: true });
      expect(wp(m, p, a + 100 * PAGE)).toBe(true);
      const r = m.write(p, a + 3 * PAGE, { byte: 2, len: 1 });
      if (!async) {
        expect(r.userfault).toBe(true);
        expect(m.translate(p, a)?.level).toBe('pmd');
        continue;
      }
      expect(r).toEqual({ done: 1 });
      expect(m.translate(p, a)?.level).toBe('pte');
      expect([wp(m, p, a), wp(m, p, a + 3 * PAGE), wp(m, p, a + 511 * PAGE)]).toEqual([true, false, true]);
      expect(m.pageAt(p, a + 3 * PAGE)?.order).toBe(9);
    }
  });

  it('a partial write-protect of a THP splits the PMD first (change_pmd_range)', () => {
    const { m, p } = setup({ thp: 'always' });
    const a = anon(m, p, PMD);
    m.write(p, a, { byte: 1, len: 1 });
    m.uffdOpen(p);
    m.uffdRegister(p, a, PMD);
    m.uffdWriteprotect(p, a, PAGE, { wp: true });
    expect(m.translate(p, a)?.level).toBe('pte');
    expect([wp(m, p, a), wp(m, p, a + PAGE)]).toEqual([true, false]);
  });

  it('a registered VMA takes single pages at fault, never an mTHP (alloc_anon_folio)', () => {
    const m = new Machine({ memory: '1G', check: 'full', thp: { '64K': 'always', '2M': 'never' } });
    const p = m.spawn('p');
    const a = anon(m, p, PMD);
    m.uffdOpen(p);
    m.uffdRegister(p, a, 64 * 1024);
    m.write(p, a, { byte: 1, len: 1 });
    m.write(p, a + 64 * 1024, { byte: 1, len: 1 });
    expect(m.pageAt(p, a)?.order).toBe(0);
    expect(m.pageAt(p, a + 64 * 1024)?.order).toBe(4);
  });

  it('MADV_COLLAPSE refuses a range with a protected PTE or a marker (SCAN_PTE_UFFD_WP)', () => {
    const m = new Machine({ memory: '1G', check: 'full', thp: 'madvise' });
    const p = m.spawn('p');
    const a = anon(m, p, PMD);
    m.write(p, a, { byte: 1, len: PMD / 2 });
    m.uffdOpen(p, ['wp_unpopulated']);
    m.uffdRegister(p, a, PMD);
    m.uffdWriteprotect(p, a + PMD - PAGE, PAGE, { wp: true });
    expect(m.uffdWpAt(p, a + PMD - PAGE).marker).toBe(true);
    expect(() => m.collapse(p, a, PMD)).toThrow(/EINVAL|EAGAIN/);
    expect(m.translate(p, a)?.level).toBe('pte');
  });
});
