/**
 * MADV_COLLAPSE (src/mm/khugepaged.ts; mm/khugepaged.c madvise_collapse): one test per rule, each
 * failing if the rule were wrong, plus a property over random PTE tables (written, untouched,
 * zero-page, swapped, shared with a child, pieces of a PTE-mapped THP): a collapse keeps every byte
 * of both processes, leaves 512 pages of rss and check level full satisfied, and frees every
 * old page nobody else maps. The errnos are the ones Linux 6.18 gave on this host
 * (examples/oracle/madv-collapse-errnos.yaml runs them on the kernel too).
 */
import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/index.js';
import { madviseCollapseErrno, thpVmaAllowableCollapse } from '../../src/mm/khugepaged.js';
import { findVma } from '../../src/mm/mm_types.js';
import { PT_LEVEL, PTE, withBits } from '../../src/mm/pgtable.js';
import { errnoOf } from '../helpers.js';

const PAGE = 4096;
const M2 = 2 << 20;

function setup(
  opts: { thp?: 'never' | 'madvise' | 'always'; swap?: string; memory?: string; check?: 'full' | 'off' } = {},
) {
  const m = new Machine({
    memory: opts.memory ?? '512M',
    check: opts.check ?? 'full',
    thp: opts.thp ?? 'never',
    swap: opts.swap,
  });
  const p = m.spawn('p');
  const anon = (length: number, prot = 'rw') => m.mmap(p, { length, prot, flags: ['private', 'anonymous'] });
  return { m, p, anon };
}

const level = (m: Machine, p: number, a: number) => m.pageAt(p, a)?.level;
const bytesAre = (m: Machine, p: number, a: number, len: number, b: number) =>
  m.read(p, a, len).bytes.every((x) => x === b);

describe('MADV_COLLAPSE: what it makes', () => {
  it('copies a full PTE table into a new exclusive THP mapped by one PMD, whatever enabled says', () => {
    const { m, p, anon } = setup({ thp: 'never' });
    const a = anon(M2);
    for (let i = 0; i < 16; i++) m.write(p, a + i * (M2 / 16), { byte: i + 1, len: M2 / 16 });
    const old = m.translate(p, a)!.pfn;
    m.madvise(p, a, M2, 'collapse');
    const info = m.pageAt(p, a)!;
    expect(info).toMatchObject({ level: 'pmd', order: 9, anonExclusive: true });
    expect(m.translate(p, a)!.pfn).not.toBe(old);
    for (let i = 0; i < 16; i++) expect(bytesAre(m, p, a + i * (M2 / 16), M2 / 16, i + 1)).toBe(true);
    expect(m.process(p).rss.anon).toBe(512);
    expect(m.vmstat().thp_collapse_alloc).toBe(1);
  });

  it('after MADV_DONTNEED of the whole PMD range freed its PTE table, a collapse there is SCAN_PMD_NONE: EINVAL', () => {
    const { m, p, anon } = setup();
    const a = anon(M2);
    m.write(p, a, { byte: 7, len: M2 });
    m.madvise(p, a, M2, 'dontneed');
    expect(m.walk(p, a).at(-1)!.level).not.toBe('pte');
    expect(errnoOf(() => m.madvise(p, a, M2, 'collapse'))).toBe('EINVAL');
    // A PTE table still there (one page touched again) collapses.
    m.write(p, a, { byte: 8, len: PAGE });
    m.madvise(p, a, M2, 'collapse');
    expect(level(m, p, a)).toBe('pmd');
  });

  it('zero-fills none and zero-page PTEs and charges them to the rss the THP takes over', () => {
    const { m, p, anon } = setup();
    const a = anon(M2);
    m.write(p, a, { byte: 7, len: PAGE });
    m.read(p, a + PAGE, PAGE);
    expect(m.process(p).rss.anon).toBe(1);
    m.collapse(p, a, M2);
    expect(level(m, p, a)).toBe('pmd');
    expect(bytesAre(m, p, a, PAGE, 7)).toBe(true);
    expect(bytesAre(m, p, a + PAGE, M2 - PAGE, 0)).toBe(true);
    expect(m.process(p).rss.anon).toBe(512);
  });

  it('needs no writable PTE (6.18): a read-only range collapses into a read-only PMD', () => {
    const { m, p, anon } = setup();
    const a = anon(M2);
    m.write(p, a, { byte: 3, len: M2 });
    m.mprotect(p, a, M2, 'r');
    m.collapse(p, a, M2);
    expect(level(m, p, a)).toBe('pmd');
    expect(m.write(p, a, { byte: 4, len: 1 }).signal).toBe('SIGSEGV');
  });

  it('swaps swap entries in first, however many (no max_ptes_swap)', () => {
    const { m, p, anon } = setup({ swap: '64M' });
    const a = anon(M2);
    m.write(p, a, { byte: 9, len: M2 });
    m.pageout(p, a, 300 * PAGE);
    expect(m.process(p).rss.swap).toBe(300);
    m.collapse(p, a, M2);
    expect(level(m, p, a)).toBe('pmd');
    expect(m.process(p).rss).toMatchObject({ anon: 512, swap: 0 });
    expect(bytesAre(m, p, a, M2, 9)).toBe(true);
    expect(m.meminfo().SwapFree).toBe(m.meminfo().SwapTotal);
  });

  it('copies pages shared with a child (no max_ptes_shared) and leaves the child its own', () => {
    const { m, p, anon } = setup();
    const a = anon(M2);
    m.write(p, a, { byte: 5, len: M2 });
    const c = m.fork(p);
    const shared = m.translate(c, a)!.pfn;
    m.collapse(p, a, M2);
    expect(m.translate(c, a)!.pfn).toBe(shared);
    expect(m.pageAt(c, a)).toMatchObject({ level: 'pte', mapcount: 1 });
    m.write(p, a, { byte: 6, len: M2 });
    expect(bytesAre(m, c, a, M2, 5)).toBe(true);
  });

  it('leaves a PMD leaf as it is and counts it collapsed, allocating nothing', () => {
    const { m, p, anon } = setup({ thp: 'madvise', memory: '1G' });
    const a = anon(M2);
    m.madvise(p, a, M2, 'hugepage');
    m.read(p, a, 1);
    m.collapse(p, a, M2);
    expect(m.pageAt(p, a)).toMatchObject({ level: 'pmd', type: 'zero' });
    m.write(p, a, { byte: 1, len: 1 });
    const thp = m.translate(p, a)!.pfn;
    m.collapse(p, a, M2);
    expect(m.translate(p, a)!.pfn).toBe(thp);
    expect(m.vmstat().thp_collapse_alloc).toBe(0);
  });

  it('is done for a range holding no whole PMD, in a VMA that could hold one', () => {
    const { m, p, anon } = setup();
    const a = anon(M2);
    m.write(p, a, { byte: 1, len: PAGE });
    m.collapse(p, a, PAGE);
    expect(level(m, p, a)).toBe('pte');
  });

  it('merges the neighbours Linux merged before collapsing across them', () => {
    const { m, p, anon } = setup();
    const a = anon(M2);
    m.write(p, a, { byte: 1, len: M2 });
    m.madvise(p, a, PAGE, 'nohugepage');
    m.madvise(p, a, M2, 'nohugepage');
    m.madvise(p, a, M2, 'hugepage');
    expect(m.process(p).vmas.length).toBe(2);
    m.collapse(p, a, M2);
    expect(m.process(p).vmas.length).toBe(1);
    m.exit(p);
    expect(m.vmstat().thp_split_pmd).toBe(0);
  });
});

describe('MADV_COLLAPSE: what refuses it, with the errno madvise_collapse_errno gives', () => {
  it('refuses VM_NOHUGEPAGE, a VMA without room for a PMD, and one with no anon_vma: EINVAL', () => {
    const { m, p, anon } = setup();
    const a = anon(M2);
    m.write(p, a, { byte: 1, len: M2 });
    m.madvise(p, a, M2, 'nohugepage');
    expect(errnoOf(() => m.collapse(p, a, M2))).toBe('EINVAL');
    const small = anon(M2 - PAGE);
    m.write(p, small, { byte: 1, len: PAGE });
    expect(errnoOf(() => m.collapse(p, small, PAGE))).toBe('EINVAL');
    const read = anon(M2);
    m.read(p, read, PAGE);
    expect(errnoOf(() => m.collapse(p, read, M2))).toBe('EINVAL');
    expect(m.vmstat().thp_collapse_alloc).toBe(0);
  });

  it('answers thp_vma_allowable_order from the VMA, not from the sysfs setting', () => {
    const { m, p, anon } = setup({ thp: 'never' });
    const a = anon(M2);
    m.write(p, a, { byte: 1, len: 1 });
    const vma = findVma(m.kernel.processes.get(p)!.mm, a)!;
    expect(thpVmaAllowableCollapse(vma)).toBe(true);
    vma.flags |= 1 << 30; // VM_NOHUGEPAGE
    expect(thpVmaAllowableCollapse(vma)).toBe(false);
  });

  it('fails isolation of a page referenced beyond its mappings (EAGAIN) and goes on to the next PMD', () => {
    const { m, p, anon } = setup();
    const a = anon(2 * M2);
    m.write(p, a, { byte: 2, len: 2 * M2 });
    const pipe = m.getUserPages(p, a, 1, []).id;
    expect(errnoOf(() => m.collapse(p, a, 2 * M2))).toBe('EAGAIN');
    expect(level(m, p, a)).toBe('pte');
    expect(level(m, p, a + M2)).toBe('pmd');
    m.putUserPages(pipe);
    m.collapse(p, a, 2 * M2);
    expect(level(m, p, a)).toBe('pmd');
  });

  it('stops at a none PMD entry (EINVAL) but not at a missing PMD table', () => {
    const { m, p, anon } = setup();
    const a = anon(2 * M2);
    m.write(p, a + M2, { byte: 1, len: M2 });
    expect(errnoOf(() => m.collapse(p, a, 2 * M2))).toBe('EINVAL');
    expect(level(m, p, a + M2)).toBe('pte');
  });

  it('collapses both sides of a hole, then says ENOMEM', () => {
    const { m, p, anon } = setup();
    const a = anon(3 * M2);
    m.write(p, a, { byte: 1, len: 3 * M2 });
    m.munmap(p, a + M2, PAGE);
    expect(errnoOf(() => m.collapse(p, a, 3 * M2))).toBe('ENOMEM');
    expect(level(m, p, a)).toBe('pmd');
    expect(level(m, p, a + 2 * M2)).toBe('pmd');
  });

  it('refuses a uffd-wp armed PTE or swap entry (SCAN_PTE_UFFD_WP), leaving the table as it was', () => {
    const { m, p, anon } = setup({ swap: '16M' });
    const a = anon(M2);
    m.write(p, a, { byte: 1, len: M2 });
    const k = m.kernel;
    const mm = k.processes.get(p)!.mm;
    const pte = k.ptdesc.tableFor(mm.pgd, a, PT_LEVEL.PTE, false);
    k.ptdesc.set(pte, 3, withBits(k.ptdesc.get(pte, 3), PTE.UFFD_WP, 0));
    expect(errnoOf(() => m.collapse(p, a, M2))).toBe('EINVAL');
    k.ptdesc.set(pte, 3, withBits(k.ptdesc.get(pte, 3), 0, PTE.UFFD_WP));
    m.pageout(p, a + 5 * PAGE, PAGE);
    k.ptdesc.set(pte, 5, withBits(k.ptdesc.get(pte, 5), PTE.UFFD_WP, 0));
    expect(errnoOf(() => m.collapse(p, a, M2))).toBe('EINVAL');
    expect(m.process(p).rss.swap).toBe(1);
    expect(m.vmstat().thp_collapse_alloc).toBe(0);
  });

  it('gives up on a hwpoison entry after allocating (do_swap_page fails): EINVAL, the THP counted and freed', () => {
    const { m, p, anon } = setup();
    const a = anon(M2);
    m.write(p, a, { byte: 1, len: M2 });
    m.memoryFailure({ pfn: m.translate(p, a + PAGE)!.pfn, flags: ['sw_simulated'] });
    expect(m.translate(p, a + PAGE)).toBeUndefined();
    const free = m.meminfo().MemFree;
    expect(errnoOf(() => m.collapse(p, a, M2))).toBe('EINVAL');
    expect(m.vmstat().thp_collapse_alloc).toBe(1);
    expect(m.meminfo().MemFree).toBe(free);
  });

  it('is ENOMEM when no huge page can be allocated, with thp_collapse_alloc_failed counted', () => {
    // Checks off while memory is used up (thousands of faults); the collapse is checked after.
    const { m, p, anon } = setup({ memory: '128M', check: 'off' });
    const a = anon(M2);
    m.write(p, a, { byte: 1, len: M2 });
    // Use memory up until less than 2 MiB is free: no order-9 block can exist, compaction or not.
    const hog = anon(128 << 20);
    let off = 0;
    for (; m.meminfo().MemFree >= 6144; off += M2) m.write(p, hog + off, { byte: 1, len: M2 });
    for (; m.meminfo().MemFree >= 2048; off += 64 * PAGE) m.write(p, hog + off, { byte: 1, len: 64 * PAGE });
    expect(errnoOf(() => m.collapse(p, a, M2))).toBe('ENOMEM');
    expect(m.vmstat().thp_collapse_alloc_failed).toBe(1);
    expect(level(m, p, a)).toBe('pte');
    m.check('full');
  });

  it('refuses shmem, which it does not model, before changing anything (EOPNOTSUPP)', () => {
    const { m, p, anon } = setup();
    const a = anon(M2);
    m.write(p, a, { byte: 1, len: M2 });
    const s = m.mmap(p, { length: M2, prot: 'rw', flags: ['shared', 'anonymous'] });
    m.write(p, s, { byte: 2, len: PAGE });
    const lo = Math.min(a, s);
    const hi = Math.max(a, s) + M2;
    expect(errnoOf(() => m.collapse(p, lo, hi - lo))).toBe('EOPNOTSUPP');
    expect(errnoOf(() => m.collapse(p, s, M2))).toBe('EOPNOTSUPP');
    expect(level(m, p, a)).toBe('pte');
    expect(m.vmstat().thp_collapse_alloc).toBe(0);
  });

  it('maps each scan result to madvise_collapse_errno()', () => {
    expect(madviseCollapseErrno('alloc_huge_page_fail')).toBe('ENOMEM');
    expect(madviseCollapseErrno('page_count')).toBe('EAGAIN');
    expect(madviseCollapseErrno('page_lru')).toBe('EAGAIN');
    for (const r of ['pmd_none', 'pmd_null', 'page_null', 'pte_uffd_wp', 'fail', 'page_anon'] as const)
      expect(madviseCollapseErrno(r)).toBe('EINVAL');
  });
});

type Cell = 'none' | 'write' | 'zero' | 'swap' | 'shared';
const cell = fc.constantFrom<Cell>('none', 'write', 'zero', 'swap', 'shared');

test.prop([fc.array(cell, { minLength: 16, maxLength: 16 }), fc.boolean(), fc.boolean()], { numRuns: 15 })(
  'a collapse keeps every byte of every process, 512 pages of rss, and frees the old pages only it mapped',
  (cells, thpFirst, rewrite) => {
    const m = new Machine({ memory: '256M', swap: '32M', check: 'full', thp: 'madvise' });
    const p = m.spawn('p');
    const a = m.mmap(p, { length: M2, prot: 'rw', flags: ['private', 'anonymous'] });
    // Sixteen 128 KiB stripes, each in one state; optionally start from a PTE-mapped THP.
    const stripe = M2 / 16;
    const want: number[] = Array(16).fill(0);
    if (thpFirst) {
      m.madvise(p, a, M2, 'hugepage');
      m.write(p, a, { byte: 0xee, len: M2 });
      m.mprotect(p, a + PAGE, PAGE, 'r');
      m.mprotect(p, a + PAGE, PAGE, 'rw');
      want.fill(0xee);
    }
    const sharedStripes = cells.flatMap((c, i) => (c === 'shared' ? [i] : []));
    cells.forEach((c, i) => {
      const at = a + i * stripe;
      if (c === 'none') {
        m.madvise(p, at, stripe, 'dontneed');
        want[i] = 0;
      } else if (c === 'zero') {
        m.madvise(p, at, stripe, 'dontneed');
        m.read(p, at, stripe);
        want[i] = 0;
      } else if (c !== 'shared') {
        m.write(p, at, { byte: i + 1, len: stripe });
        want[i] = i + 1;
      }
    });
    if (rewrite) m.write(p, a, { byte: 0x42, len: 2 * PAGE });
    const child = sharedStripes.length ? m.fork(p) : undefined;
    cells.forEach((c, i) => {
      if (c === 'swap') m.pageout(p, a + i * stripe, stripe);
    });
    const childWant = [...want];
    m.collapse(p, a, M2);
    expect(m.pageAt(p, a + M2 / 2)).toMatchObject({ level: 'pmd', order: 9 });
    expect(m.process(p).rss).toMatchObject({ anon: 512, swap: 0 });
    for (let i = 0; i < 16; i++) {
      const head = i === 0 && rewrite ? 0x42 : want[i];
      expect(m.read(p, a + i * stripe, PAGE).bytes[0]).toBe(head);
      expect(bytesAre(m, p, a + i * stripe + 2 * PAGE, stripe - 2 * PAGE, want[i])).toBe(true);
    }
    if (child !== undefined) {
      m.write(p, a, { byte: 0x99, len: M2 });
      for (const i of sharedStripes) {
        const head = i === 0 && rewrite ? 0x42 : childWant[i];
        expect(m.read(child, a + i * stripe, PAGE).bytes[0]).toBe(head);
      }
      m.exit(child);
    }
    const before = m.meminfo().MemFree;
    m.exit(p);
    expect(m.meminfo().MemFree - before).toBeGreaterThanOrEqual(M2 / 1024);
    expect(m.meminfo().SwapFree).toBe(m.meminfo().SwapTotal);
  },
);
