/**
 * Faults, the zero page, COW reuse versus copy (kernel-semantics §5, §6 and §16 cases 8, 11-14).
 */
import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/index.js';
import { MMF } from '../../src/mm/mm_types.js';

const PAGE = 4096;

function setup() {
  const m = new Machine({ memory: '512M', check: 'full' });
  const p = m.spawn('p');
  const buf = m.mmap(p, { length: 4 * PAGE, prot: 'rw', flags: ['private', 'anonymous'], name: 'buf' });
  return { m, p, buf };
}

/** The folio row behind a user address (for poking at refcounts the way GUP would). */
function rowAt(m: Machine, pid: number, addr: number): number {
  const t = m.translate(pid, addr);
  if (!t) throw new Error('not mapped');
  return m.kernel.folios.pageRow(t.pfn);
}

describe('anonymous faults and the zero page (§6)', () => {
  it('a read fault maps the shared zero page: special, read-only, no counts touched', () => {
    const { m, p, buf } = setup();
    const zeroBefore = m.page(m.zeroPfn);
    expect(m.read(p, buf, 16).bytes).toEqual(new Uint8Array(16));
    const t = m.translate(p, buf)!;
    expect(t.pfn).toBe(m.zeroPfn);
    expect(t.flags).toContain('special');
    expect(t.flags).not.toContain('write');
    expect(m.page(m.zeroPfn)).toEqual(zeroBefore);
    expect(m.process(p).rss.anon).toBe(0);
  });

  it('a write fault allocates a new exclusive anon folio mapped writable and dirty', () => {
    const { m, p, buf } = setup();
    m.write(p, buf, { byte: 0x5a, len: 1 });
    const pg = m.pageAt(p, buf)!;
    expect(pg).toMatchObject({ type: 'anon', refcount: 1, mapcount: 1, anonExclusive: true });
    expect(pg.pte).toContain('write');
    expect(pg.pte).toContain('dirty');
    expect(m.process(p).rss.anon).toBe(1);
    expect(m.read(p, buf, 2).bytes).toEqual(new Uint8Array([0x5a, 0]));
  });

  it('case 14: a write to a zero-page PTE maps a zeroed new page and leaves the zero page alone', () => {
    const { m, p, buf } = setup();
    m.read(p, buf, 1);
    const zeroBefore = m.page(m.zeroPfn);
    m.write(p, buf + 8, { byte: 0x77, len: 1 });
    const pg = m.pageAt(p, buf)!;
    expect(pg.pfn).not.toBe(m.zeroPfn);
    expect(pg).toMatchObject({ type: 'anon', refcount: 1, mapcount: 1, anonExclusive: true });
    expect(pg.pte).toContain('write');
    expect(m.read(p, buf, 9).bytes).toEqual(new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 0x77]));
    expect(m.page(m.zeroPfn)).toEqual(zeroBefore);
  });
});

describe('fork and COW (§4, §5)', () => {
  it('fork shares anon pages: mapcount 2, refcount 2, exclusivity cleared, both PTEs read-only', () => {
    const { m, p, buf } = setup();
    m.write(p, buf, { byte: 0x11, len: PAGE });
    const c = m.fork(p, 'c');
    const pp = m.pageAt(p, buf)!;
    const cp = m.pageAt(c, buf)!;
    expect(cp.pfn).toBe(pp.pfn);
    expect(pp).toMatchObject({ refcount: 2, mapcount: 2, anonExclusive: false });
    expect(pp.pte).not.toContain('write');
    expect(cp.pte).not.toContain('write');
    expect(cp.pte).not.toContain('young');
    expect(m.process(c).rss.anon).toBe(1);
  });

  it('a write after fork copies; the other side keeps the old bytes', () => {
    const { m, p, buf } = setup();
    m.write(p, buf, { byte: 0x11, len: PAGE });
    const c = m.fork(p, 'c');
    const old = m.translate(p, buf)!.pfn;
    m.write(p, buf, { byte: 0x22, len: 1 });
    expect(m.translate(p, buf)!.pfn).not.toBe(old);
    expect(m.translate(c, buf)!.pfn).toBe(old);
    expect(m.read(c, buf, 2).bytes).toEqual(new Uint8Array([0x11, 0x11]));
    expect(m.read(p, buf, 2).bytes).toEqual(new Uint8Array([0x22, 0x11]));
    expect(m.page(old)).toMatchObject({ refcount: 1, mapcount: 1 });
  });

  it('case 11: the sole reference holder reuses its page after the child exits (no copy, exclusive again)', () => {
    const { m, p, buf } = setup();
    m.write(p, buf, { byte: 0x11, len: PAGE });
    const c = m.fork(p, 'c');
    m.exit(c);
    const before = m.pageAt(p, buf)!;
    expect(before).toMatchObject({ refcount: 1, mapcount: 1, anonExclusive: false });
    expect(before.pte).not.toContain('write');
    const copies = m.vmstat().pagelab_cow_copy;
    m.write(p, buf, { byte: 0x33, len: 1 });
    const after = m.pageAt(p, buf)!;
    expect(after.pfn).toBe(before.pfn);
    expect(after.anonExclusive).toBe(true);
    expect(after.pte).toContain('write');
    expect(m.vmstat().pagelab_cow_copy).toBe(copies);
  });

  it('case 12: an extra reference (refcount 2) forces a copy; the old page loses one mapping and one reference', () => {
    const { m, p, buf } = setup();
    m.write(p, buf, { byte: 0x11, len: PAGE });
    const c = m.fork(p, 'c');
    m.exit(c);
    const row = rowAt(m, p, buf);
    const old = m.translate(p, buf)!.pfn;
    m.kernel.folios.refAdd(m.kernel.folios.handleOf(row), 1); // a FOLL_GET reference, e.g. vmsplice
    expect(m.page(old)).toMatchObject({ refcount: 2, mapcount: 1, anonExclusive: false });
    m.write(p, buf, { byte: 0x44, len: 1 });
    expect(m.translate(p, buf)!.pfn).not.toBe(old);
    expect(m.page(old)).toMatchObject({ refcount: 1, mapcount: 0 });
    expect(m.pageAt(p, buf)).toMatchObject({ refcount: 1, mapcount: 1, anonExclusive: true });
    m.kernel.folios.put(m.kernel.folios.handleOf(row));
    m.check('full');
  });

  it('case 8: 2000 FOLL_GET references without MMF_HAS_PINNED are shared at fork, not copied', () => {
    const { m, p, buf } = setup();
    m.write(p, buf, { byte: 0x11, len: PAGE });
    const row = rowAt(m, p, buf);
    const f = m.kernel.folios;
    f.refAdd(f.handleOf(row), 2000);
    const c = m.fork(p, 'c');
    const pp = m.pageAt(p, buf)!;
    expect(m.translate(c, buf)!.pfn).toBe(pp.pfn);
    expect(pp).toMatchObject({ mapcount: 2, anonExclusive: false, refcount: 2002 });
    expect(pp.pte).not.toContain('write');
    expect(m.pageAt(c, buf)!.pte).not.toContain('write');
    expect(m.vmstat().pagelab_fork_copy).toBe(0);
  });

  it('R4.2: a maybe-pinned exclusive page is copied for the child at fork; the parent PTE stays writable', () => {
    const { m, p, buf } = setup();
    m.write(p, buf, { byte: 0x11, len: PAGE });
    const row = rowAt(m, p, buf);
    const f = m.kernel.folios;
    // What pin_user_pages leaves behind: +1024 on a small folio and MMF_HAS_PINNED on the mm.
    f.refAdd(f.handleOf(row), 1024);
    m.kernel.processes.get(p)!.mm.flags |= MMF.HAS_PINNED;
    const c = m.fork(p, 'c');
    const pp = m.pageAt(p, buf)!;
    const cp = m.pageAt(c, buf)!;
    expect(cp.pfn).not.toBe(pp.pfn);
    expect(pp).toMatchObject({ anonExclusive: true, mapcount: 1 });
    expect(pp.pte).toContain('write');
    expect(cp).toMatchObject({ anonExclusive: true, mapcount: 1, refcount: 1 });
    expect(m.read(c, buf, 1).bytes[0]).toBe(0x11);
    expect(m.vmstat().pagelab_fork_copy).toBe(1);
    // The parent keeps writing into the pinned page; the child's copy is a snapshot.
    m.write(p, buf, { byte: 0x22, len: 1 });
    expect(m.translate(p, buf)!.pfn).toBe(pp.pfn);
    expect(m.read(c, buf, 1).bytes[0]).toBe(0x11);
    f.put(f.handleOf(row), 1024);
  });

  it('R4.1: VMAs without an anon_vma are not copied; DONTCOPY VMAs vanish; WIPEONFORK ones start empty', () => {
    const { m, p, buf } = setup();
    const untouched = m.mmap(p, { length: PAGE, prot: 'rw', flags: ['private', 'anonymous'] });
    const dontfork = m.mmap(p, { length: PAGE, prot: 'rw', flags: ['private', 'anonymous'] });
    const wipe = m.mmap(p, { length: PAGE, prot: 'rw', flags: ['private', 'anonymous'] });
    m.write(p, buf, { byte: 1, len: 1 });
    m.write(p, dontfork, { byte: 2, len: 1 });
    m.write(p, wipe, { byte: 3, len: 1 });
    m.madvise(p, dontfork, PAGE, 'dontfork');
    m.madvise(p, wipe, PAGE, 'wipeonfork');
    m.read(p, untouched, 1); // only the zero page, so no anon_vma: nothing to copy
    const c = m.fork(p, 'c');
    expect(m.translate(c, untouched)).toBeUndefined();
    expect(m.process(c).vmas.some((v) => v.start === dontfork)).toBe(false);
    expect(m.read(c, dontfork, 1).signal).toBe('SIGSEGV');
    expect(m.translate(c, wipe)).toBeUndefined();
    expect(m.read(c, wipe, 1).bytes[0]).toBe(0);
    expect(m.read(p, wipe, 1).bytes[0]).toBe(3);
    expect(m.read(c, buf, 1).bytes[0]).toBe(1);
  });
});

describe('large folios at PTE level (§5.4)', () => {
  it('case 13: a PTE-mapped large folio mapped once, not exclusive, is copied rather than reused', () => {
    const m = new Machine({ memory: '512M', check: 'full' });
    const p = m.spawn('p');
    const len = 2 << 20;
    const buf = m.mmap(p, { length: len, prot: 'rw', flags: ['private', 'anonymous'] });
    m.madvise(p, buf, len, 'hugepage');
    m.write(p, buf, { byte: 0x11, len: 1 });
    expect(m.pageAt(p, buf)).toMatchObject({ order: 9, level: 'pmd' });
    const c = m.fork(p, 'c');
    m.exit(c);
    // Keep one page: the PMD is split, 511 PTEs zapped; large mapcount 1, refcount 1.
    m.munmap(p, buf + PAGE, len - PAGE);
    const before = m.pageAt(p, buf)!;
    expect(before).toMatchObject({ order: 9, level: 'pte', refcount: 1, mapcount: 1, anonExclusive: false });
    m.write(p, buf, { byte: 0x22, len: 1 });
    const after = m.pageAt(p, buf)!;
    expect(after.pfn).not.toBe(before.pfn);
    expect(after).toMatchObject({ order: 0, anonExclusive: true });
    expect(m.read(p, buf, 2).bytes).toEqual(new Uint8Array([0x22, 0]));
  });
});
