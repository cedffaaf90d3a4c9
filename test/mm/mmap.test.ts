/**
 * mmap / munmap / mprotect / madvise: placement, VMA splits, errno cases, page-table freeing,
 * protections and signals, MAP_POPULATE, MADV_DONTNEED.
 */
import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/index.js';
import { errnoOf as errno } from '../helpers.js';

const PAGE = 4096;

function proc() {
  const m = new Machine({ memory: '512M', check: 'full' });
  return { m, p: m.spawn('p') };
}

describe('mmap', () => {
  it('places mappings top-down below mmap_base, without overlap', () => {
    const { m, p } = proc();
    const a = m.mmap(p, { length: PAGE, prot: 'r', flags: ['private', 'anonymous'] });
    const b = m.mmap(p, { length: 3 * PAGE, prot: 'r', flags: ['private', 'anonymous'] });
    expect(a).toBe(0x7f0000000000 - PAGE);
    expect(b).toBe(a - 3 * PAGE);
  });

  it("rejects bad arguments with the kernel's errnos", () => {
    const { m, p } = proc();
    expect(errno(() => m.mmap(p, { length: 0, prot: 'r', flags: ['private', 'anonymous'] }))).toBe('EINVAL');
    expect(errno(() => m.mmap(p, { length: PAGE, prot: 'r', flags: ['anonymous'] }))).toBe('EINVAL');
    expect(
      errno(() => m.mmap(p, { length: PAGE, prot: 'r', flags: ['private', 'shared', 'anonymous'] })),
    ).toBe('EINVAL');
    expect(
      errno(() =>
        m.mmap(p, { addr: 0x1001, length: PAGE, prot: 'r', flags: ['private', 'anonymous', 'fixed'] }),
      ),
    ).toBe('EINVAL');
    const a = m.mmap(p, { length: PAGE, prot: 'r', flags: ['private', 'anonymous'] });
    expect(
      errno(() =>
        m.mmap(p, { addr: a, length: PAGE, prot: 'r', flags: ['private', 'anonymous', 'fixed_noreplace'] }),
      ),
    ).toBe('EEXIST');
  });

  it('MAP_FIXED past TASK_SIZE is ENOMEM (get_unmapped_area), checked before alignment; below mmap_min_addr EPERM', () => {
    const { m, p } = proc();
    const TASK_SIZE = 0x7ffffffff000;
    const fixed = (addr: number, length: number) =>
      m.mmap(p, { addr, length, prot: 'r', flags: ['private', 'anonymous', 'fixed'] });
    expect(errno(() => fixed(TASK_SIZE - PAGE, 2 * PAGE))).toBe('ENOMEM');
    expect(errno(() => fixed(TASK_SIZE, PAGE))).toBe('ENOMEM');
    expect(errno(() => fixed(TASK_SIZE + 1, PAGE))).toBe('ENOMEM');
    expect(errno(() => fixed(TASK_SIZE - 2 * PAGE + 1, PAGE))).toBe('EINVAL');
    expect(errno(() => fixed(0x1000, PAGE))).toBe('EPERM');
    expect(fixed(TASK_SIZE - PAGE, PAGE)).toBe(TASK_SIZE - PAGE);
    expect(m.process(p).vmas).toHaveLength(1);
  });

  it('MAP_FIXED replaces what was mapped there', () => {
    const { m, p } = proc();
    const a = m.mmap(p, { length: 2 * PAGE, prot: 'rw', flags: ['private', 'anonymous'] });
    m.write(p, a, { byte: 9, len: 2 * PAGE });
    m.mmap(p, { addr: a, length: PAGE, prot: 'rw', flags: ['private', 'anonymous', 'fixed'] });
    expect(m.read(p, a, 1).bytes[0]).toBe(0);
    expect(m.read(p, a + PAGE, 1).bytes[0]).toBe(9);
    expect(m.process(p).vmas).toHaveLength(2);
  });

  it('MAP_POPULATE faults writable private memory in with real pages, read-only memory with the zero page', () => {
    const { m, p } = proc();
    const rw = m.mmap(p, { length: 2 * PAGE, prot: 'rw', flags: ['private', 'anonymous', 'populate'] });
    const ro = m.mmap(p, { length: PAGE, prot: 'r', flags: ['private', 'anonymous', 'populate'] });
    expect(m.pageAt(p, rw + PAGE)).toMatchObject({ type: 'anon' });
    expect(m.pageAt(p, ro)).toMatchObject({ type: 'zero' });
    expect(m.process(p).rss.anon).toBe(2);
  });

  it('MAP_POPULATE of a PROT_NONE mapping maps nothing (populate_vma_page_range: no FOLL_FORCE, EFAULT ignored)', () => {
    for (const flags of [['private'], ['shared']]) {
      const { m, p } = proc();
      const free = m.meminfo().MemFree;
      const a = m.mmap(p, { length: 2 * PAGE, prot: 'none', flags: [...flags, 'anonymous', 'populate'] });
      expect(m.translate(p, a)).toBeUndefined();
      expect(m.translate(p, a + PAGE)).toBeUndefined();
      expect(m.process(p).rss).toMatchObject({ anon: 0, file: 0, shmem: 0 });
      expect(m.meminfo().MemFree).toBe(free);
      m.mprotect(p, a, 2 * PAGE, 'rw');
      expect(m.read(p, a, 1).bytes[0]).toBe(0);
    }
  });

  it('a populating mmap that runs out of memory succeeds with what it populated (mm_populate ignores errors)', () => {
    const m = new Machine({ memory: '128M', check: 'cheap' });
    const p = m.spawn('p');
    const a = m.mmap(p, { length: 200 << 20, prot: 'rw', flags: ['private', 'anonymous', 'populate'] });
    const rss = m.process(p).rss.anon;
    expect(rss).toBeGreaterThan(0);
    expect(rss).toBeLessThan((200 << 20) / PAGE);
    expect(m.pageAt(p, a)).toMatchObject({ type: 'anon' });
    expect(m.pageAt(p, a + (200 << 20) - PAGE)).toBeUndefined();
    expect(m.process(p).vmas.some((v) => v.start === a && v.end === a + (200 << 20))).toBe(true);
  });
});

describe('munmap', () => {
  it('splits VMAs at partial ranges and keeps the rest intact', () => {
    const { m, p } = proc();
    const a = m.mmap(p, { length: 4 * PAGE, prot: 'rw', flags: ['private', 'anonymous'] });
    m.write(p, a, { byte: 7, len: 4 * PAGE });
    m.munmap(p, a + PAGE, PAGE);
    const vmas = m.process(p).vmas;
    expect(vmas.map((v) => [v.start - a, v.end - a])).toEqual([
      [0, PAGE],
      [2 * PAGE, 4 * PAGE],
    ]);
    expect(m.read(p, a + PAGE, 1).signal).toBe('SIGSEGV');
    expect(m.read(p, a + 3 * PAGE, 1).bytes[0]).toBe(7);
    expect(m.process(p).rss.anon).toBe(3);
  });

  it('frees the page tables of a range no VMA covers any more', () => {
    const { m, p } = proc();
    const pt0 = m.meminfo().PageTables;
    const a = m.mmap(p, { length: PAGE, prot: 'rw', flags: ['private', 'anonymous'] });
    m.write(p, a, { byte: 1, len: 1 });
    expect(m.meminfo().PageTables - pt0).toBe(3 * 4); // PUD, PMD, PTE tables
    m.munmap(p, a, PAGE);
    expect(m.meminfo().PageTables).toBe(pt0);
  });

  it('rejects an unaligned address or a zero length with EINVAL', () => {
    const { m, p } = proc();
    expect(errno(() => m.munmap(p, 0x10001, PAGE))).toBe('EINVAL');
    expect(errno(() => m.munmap(p, 0x10000, 0))).toBe('EINVAL');
  });
});

describe('mprotect', () => {
  it('PROT_NONE makes accesses SIGSEGV; restoring the protection brings the data back', () => {
    const { m, p } = proc();
    const a = m.mmap(p, { length: 2 * PAGE, prot: 'rw', flags: ['private', 'anonymous'] });
    m.write(p, a, { byte: 3, len: 2 * PAGE });
    m.mprotect(p, a, PAGE, 'none');
    expect(m.read(p, a, 1).signal).toBe('SIGSEGV');
    expect(m.read(p, a + PAGE, 1).bytes[0]).toBe(3);
    expect(m.process(p).vmas).toHaveLength(2);
    m.mprotect(p, a, PAGE, 'rw');
    expect(m.read(p, a, 1).bytes[0]).toBe(3);
  });

  it('dropping write write-protects present PTEs; writes then SIGSEGV', () => {
    const { m, p } = proc();
    const a = m.mmap(p, { length: PAGE, prot: 'rw', flags: ['private', 'anonymous'] });
    m.write(p, a, { byte: 3, len: 1 });
    m.mprotect(p, a, PAGE, 'r');
    expect(m.pageAt(p, a)!.pte).not.toContain('write');
    expect(m.write(p, a, { byte: 4, len: 1 }).signal).toBe('SIGSEGV');
    m.mprotect(p, a, PAGE, 'rw');
    // An exclusive anon page gets write permission back at once (can_change_pte_writable).
    expect(m.pageAt(p, a)!.pte).toContain('write');
  });

  it('ENOMEM over holes, EACCES beyond VM_MAY*, EINVAL for unknown bits', () => {
    const { m, p } = proc();
    const a = m.mmap(p, { length: PAGE, prot: 'r', flags: ['private', 'anonymous'] });
    expect(errno(() => m.mprotect(p, a, 2 * PAGE, 'r'))).toBe('ENOMEM');
    expect(errno(() => m.mprotect(p, a, PAGE, 0x40))).toBe('EINVAL');
    m.fileCreate('f', PAGE, 1);
    const s = m.mmap(p, { length: PAGE, prot: 'r', flags: ['shared'], file: 'f' });
    expect(m.process(p).vmas.find((v) => v.start === s)!.flags).toContain('mayshare');
    expect(errno(() => m.mprotect(p, a, PAGE, 'rwx'))).toBeUndefined();
  });
});

describe('madvise', () => {
  it('MADV_DONTNEED frees anon pages; the range reads zeros again', () => {
    const { m, p } = proc();
    const a = m.mmap(p, { length: 2 * PAGE, prot: 'rw', flags: ['private', 'anonymous'] });
    m.write(p, a, { byte: 5, len: 2 * PAGE });
    const free = m.meminfo().MemFree;
    m.madvise(p, a, 2 * PAGE, 'dontneed');
    expect(m.meminfo().MemFree).toBe(free + 8);
    expect(m.read(p, a, 1).bytes[0]).toBe(0);
    expect(m.process(p).rss.anon).toBe(0);
  });

  it('HUGEPAGE on part of a VMA splits it; unmapped parts give ENOMEM; unknown advice EINVAL', () => {
    const { m, p } = proc();
    const a = m.mmap(p, { length: 4 * PAGE, prot: 'rw', flags: ['private', 'anonymous'] });
    m.madvise(p, a, 2 * PAGE, 'hugepage');
    expect(m.process(p).vmas.map((v) => v.flags.includes('hugepage'))).toEqual([true, false]);
    expect(errno(() => m.madvise(p, a, 8 * PAGE, 'nohugepage'))).toBe('ENOMEM');
    expect(errno(() => m.madvise(p, a, PAGE, 77))).toBe('EINVAL');
  });
});

describe('exit', () => {
  it('returns every page and page table to the buddy allocator', () => {
    const m = new Machine({ memory: '512M', check: 'full' });
    const free0 = m.meminfo().MemFree;
    const p = m.spawn('p');
    const a = m.mmap(p, { length: 64 * PAGE, prot: 'rw', flags: ['private', 'anonymous'] });
    m.write(p, a, { byte: 1, len: 64 * PAGE });
    const c = m.fork(p, 'c');
    m.write(c, a, { byte: 2, len: 32 * PAGE });
    m.exit(p);
    m.exit(c);
    expect(m.meminfo().MemFree).toBe(free0);
    expect(m.meminfo().PageTables).toBe(0);
    expect(m.meminfo().AnonPages).toBe(0);
  });
});
