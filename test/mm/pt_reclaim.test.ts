/**
 * CONFIG_PT_RECLAIM (mm/pt_reclaim.c, zap_pte_range in mm/memory.c; default y on x86-64 since
 * 6.14): MADV_DONTNEED frees a PTE table at once when its zap covered the whole table and left
 * every entry none. A zap of part of a table, an entry the zap keeps (a uffd-wp marker), or any
 * other zap (a truncate's; munmap and exit free tables through free_pgtables) leaves the table.
 */
import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/index.js';

const PAGE = 4096;
const PMD = 2 << 20;
/** A 2 MiB-aligned address, so a region starts on a PTE table's first entry. */
const AT = 0x4000_0000;

function setup() {
  const m = new Machine({ memory: '1G', check: 'full', thp: 'never' });
  const p = m.spawn('p');
  return { m, p };
}

const anonAt = (m: Machine, p: number, addr: number, len: number) =>
  m.mmap(p, { addr, length: len, prot: 'rw', flags: ['private', 'anonymous', 'fixed'] });
/** Kibibytes of page tables the machine holds (meminfo PageTables). */
const tables = (m: Machine) => m.meminfo().PageTables;
/** The deepest level the walk of `addr` reaches: 'pte' while its PTE table exists. */
const deepest = (m: Machine, p: number, addr: number) => m.walk(p, addr).at(-1)?.level;

describe('MADV_DONTNEED frees the PTE tables it empties (CONFIG_PT_RECLAIM)', () => {
  it('frees a table whose 2 MiB it zapped whole; a fault allocates one again', () => {
    const { m, p } = setup();
    const a = anonAt(m, p, AT, 2 * PMD);
    m.write(p, a, { byte: 7, len: 2 * PMD });
    const before = tables(m);
    expect(deepest(m, p, a)).toBe('pte');
    m.madvise(p, a, PMD, 'dontneed');
    expect(tables(m)).toBe(before - 4);
    expect(deepest(m, p, a)).not.toBe('pte');
    // The second table, not zapped, still maps its pages.
    expect(m.read(p, a + PMD, 1).bytes[0]).toBe(7);
    expect(m.read(p, a, 1).bytes[0]).toBe(0);
    m.write(p, a, { byte: 1, len: 1 });
    expect(tables(m)).toBe(before);
    m.check('full');
  });

  it('keeps a table the zap covered only in part, even when it leaves the table empty', () => {
    const { m, p } = setup();
    const a = anonAt(m, p, AT, 2 * PMD);
    // Pages only in [1 MiB, 3 MiB): a zap of just that range empties both tables, but covers
    // neither whole (reclaim_pt_is_enabled: end - start >= PMD_SIZE per table).
    m.write(p, a + PMD / 2, { byte: 3, len: PMD });
    const before = tables(m);
    m.madvise(p, a + PMD / 2, PMD, 'dontneed');
    expect(tables(m)).toBe(before);
    expect(deepest(m, p, a + PMD / 2)).toBe('pte');
    // A zap of all 4 MiB covers each table whole: both go.
    m.madvise(p, a, 2 * PMD, 'dontneed');
    expect(tables(m)).toBe(before - 8);
    m.check('full');
  });

  it('keeps a table the zap left a uffd-wp marker in (any_skipped)', () => {
    const { m, p } = setup();
    m.fileCreate('shm', PMD, 0, { memfd: true });
    const s = m.mmap(p, { addr: AT, length: PMD, prot: 'rw', flags: ['shared', 'fixed'], file: 'shm' });
    m.write(p, s, { byte: 2, len: PMD });
    m.uffdOpen(p);
    m.uffdRegister(p, s, PMD);
    m.uffdWriteprotect(p, s, PAGE, { wp: true });
    const before = tables(m);
    m.madvise(p, s, PMD, 'dontneed');
    expect(m.uffdWpAt(p, s)).toEqual({ uffdWp: true, marker: true });
    expect(tables(m)).toBe(before);
    m.check('full');
  });

  it('is MADV_DONTNEED only: a truncate that zaps a whole table leaves it (no reclaim_pt)', () => {
    const { m, p } = setup();
    m.fileCreate('f', PMD);
    const s = m.mmap(p, { addr: AT, length: PMD, prot: 'rw', flags: ['shared', 'fixed'], file: 'f' });
    m.write(p, s, { byte: 4, len: PMD });
    const before = tables(m);
    m.fileTruncate('f', 0);
    expect(m.translate(p, s)).toBeUndefined();
    expect(tables(m)).toBe(before);
    expect(deepest(m, p, s)).toBe('pte');
    m.check('full');
  });
});
