/**
 * File mappings and the page cache: private COW to anon, shared dirtying (R5.2, R12), SIGBUS past
 * EOF, truncate, fsync writeback, shmem.
 */
import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/index.js';
import { PG } from '../../src/mm/folio.js';

const PAGE = 4096;

function withFile(size = 3 * PAGE, byte = 0xab) {
  const m = new Machine({ memory: '512M', check: 'full' });
  m.fileCreate('data', size, byte);
  const p = m.spawn('p');
  return { m, p };
}

describe('private file mappings', () => {
  it('a read maps the page-cache folio read-only and charges file rss', () => {
    const { m, p } = withFile();
    const a = m.mmap(p, { length: 3 * PAGE, prot: 'rw', flags: ['private'], file: 'data' });
    expect(m.read(p, a, 2).bytes).toEqual(new Uint8Array([0xab, 0xab]));
    const pg = m.pageAt(p, a)!;
    expect(pg).toMatchObject({ type: 'file', refcount: 2, mapcount: 1 });
    expect(pg.pte).not.toContain('write');
    expect(m.process(p).rss).toMatchObject({ file: 1, anon: 0 });
  });

  it('a write to a mapped file page copies it to anon (R5.3); the page cache is untouched', () => {
    const { m, p } = withFile();
    const a = m.mmap(p, { length: 3 * PAGE, prot: 'rw', flags: ['private'], file: 'data' });
    m.read(p, a, 1);
    const cached = m.translate(p, a)!.pfn;
    m.write(p, a, { byte: 0x01, len: 1 });
    const pg = m.pageAt(p, a)!;
    expect(pg.pfn).not.toBe(cached);
    expect(pg).toMatchObject({ type: 'anon', anonExclusive: true });
    expect(m.process(p).rss).toMatchObject({ file: 0, anon: 1 });
    expect(m.page(cached)).toMatchObject({ type: 'file', refcount: 1, mapcount: 0 });
    expect(m.read(p, a, 2).bytes).toEqual(new Uint8Array([0x01, 0xab]));
    expect(m.fileContents('data', 0, 1)[0]).toBe(0xab);
  });

  it('a write to an unmapped file page takes do_cow_fault: an anon copy at once', () => {
    const { m, p } = withFile();
    const a = m.mmap(p, { length: 3 * PAGE, prot: 'rw', flags: ['private'], file: 'data' });
    m.write(p, a + PAGE, { byte: 0x02, len: 1 });
    expect(m.pageAt(p, a + PAGE)).toMatchObject({ type: 'anon', mapcount: 1 });
    expect(m.read(p, a + PAGE, 2).bytes).toEqual(new Uint8Array([0x02, 0xab]));
    expect(m.fileInfo('data').cached).toBe(1);
  });

  it('an access past the end of the file is SIGBUS; past the VMA it is SIGSEGV', () => {
    const { m, p } = withFile(PAGE + 10);
    const a = m.mmap(p, { length: 3 * PAGE, prot: 'r', flags: ['private'], file: 'data' });
    expect(m.read(p, a + PAGE, 11).bytes).toEqual(new Uint8Array([...new Array(10).fill(0xab), 0]));
    expect(m.read(p, a + 2 * PAGE, 1).signal).toBe('SIGBUS');
    expect(m.read(p, a + 3 * PAGE, 1).signal).toBe('SIGSEGV');
    expect(m.process(p).signals.map((s) => s.signal)).toEqual(['SIGBUS', 'SIGSEGV']);
  });
});

describe('shared file mappings', () => {
  it('a read maps read-only (writenotify); the first write dirties folio and inode without copying', () => {
    const { m, p } = withFile();
    const a = m.mmap(p, { length: 3 * PAGE, prot: 'rw', flags: ['shared'], file: 'data' });
    m.read(p, a, 1);
    const pfn = m.translate(p, a)!.pfn;
    expect(m.pageAt(p, a)!.pte).not.toContain('write');
    expect(m.fileInfo('data').dirty).toBe(false);
    m.write(p, a, { byte: 0x5, len: 1 });
    const pg = m.pageAt(p, a)!;
    expect(pg.pfn).toBe(pfn);
    expect(pg.flagNames).toContain('dirty');
    expect(m.fileInfo('data').dirty).toBe(true);
    expect(m.fileContents('data', 0, 1)[0]).toBe(0xab);
    expect(m.fileSync('data')).toBeNull();
    expect(m.fileContents('data', 0, 2)).toEqual(new Uint8Array([0x5, 0xab]));
    expect(m.page(pfn).flagNames).not.toContain('dirty');
  });

  it("two processes sharing a file mapping see each other's writes", () => {
    const { m, p } = withFile();
    const q = m.spawn('q');
    const a = m.mmap(p, { length: PAGE, prot: 'rw', flags: ['shared'], file: 'data' });
    const b = m.mmap(q, { length: PAGE, prot: 'rw', flags: ['shared'], file: 'data' });
    m.write(p, a, { byte: 0x77, len: 1 });
    expect(m.read(q, b, 1).bytes[0]).toBe(0x77);
    expect(m.pageAt(q, b)).toMatchObject({ mapcount: 2, refcount: 3 });
  });

  it('R12: unmapping a dirty shared PTE of a clean folio marks the folio dirty (zap)', () => {
    const { m, p } = withFile();
    const a = m.mmap(p, { length: PAGE, prot: 'rw', flags: ['shared'], file: 'data' });
    m.write(p, a, { byte: 0x66, len: 1 });
    const pfn = m.translate(p, a)!.pfn;
    // Corrupt on purpose: only the PTE says dirty now, so only zap can tell the folio.
    const { folios } = m.kernel;
    folios.clearFlag(folios.row(m.pageFolio(pfn)), PG.dirty);
    expect(m.page(pfn).flagNames).not.toContain('dirty');
    m.munmap(p, a, PAGE);
    expect(m.page(pfn).flagNames).toContain('dirty');
    expect(m.fileInfo('data').dirty).toBe(true);
  });

  it('writeback write-protects and cleans the PTEs (folio_mkclean): a store after fsync faults, redirties, and the next fsync writes it', () => {
    const { m, p } = withFile();
    const a = m.mmap(p, { length: PAGE, prot: 'rw', flags: ['shared'], file: 'data' });
    m.write(p, a, { byte: 0x66, len: 1 });
    const pfn = m.translate(p, a)!.pfn;
    m.fileSync('data');
    expect(m.fileContents('data', 0, 1)[0]).toBe(0x66);
    const pte = m.pageAt(p, a)!.pte;
    expect(pte).not.toContain('write');
    expect(pte).not.toContain('dirty');
    const faults = m.vmstat().pgfault;
    m.write(p, a + 1, { byte: 0x77, len: 1 });
    expect(m.vmstat().pgfault).toBe(faults + 1);
    expect(m.page(pfn).flagNames).toContain('dirty');
    expect(m.fileInfo('data').dirty).toBe(true);
    m.fileSync('data');
    expect(m.fileContents('data', 0, 3)).toEqual(new Uint8Array([0x66, 0x77, 0xab]));
    // Unmapping the now clean PTE leaves the folio clean.
    m.munmap(p, a, PAGE);
    expect(m.page(pfn).flagNames).not.toContain('dirty');
    expect(m.fileInfo('data').dirty).toBe(false);
  });

  it('truncate zaps mappings beyond the new end (SIGBUS afterwards) and drops their cache pages', () => {
    const { m, p } = withFile();
    const a = m.mmap(p, { length: 3 * PAGE, prot: 'rw', flags: ['shared'], file: 'data' });
    m.read(p, a, 3 * PAGE);
    expect(m.fileInfo('data').cached).toBe(3);
    m.fileTruncate('data', PAGE + 1);
    expect(m.translate(p, a + 2 * PAGE)).toBeUndefined();
    expect(m.read(p, a + 2 * PAGE, 1).signal).toBe('SIGBUS');
    expect(m.read(p, a + PAGE, 2).bytes).toEqual(new Uint8Array([0xab, 0]));
    expect(m.fileInfo('data').cached).toBe(2);
    expect(m.process(p).rss.file).toBe(2);
  });
});

describe('shared anonymous memory (shmem)', () => {
  it('is shared across fork: writes from either side are visible to both, rss counts shmem', () => {
    const m = new Machine({ memory: '512M', check: 'full' });
    const p = m.spawn('p');
    const a = m.mmap(p, { length: PAGE, prot: 'rw', flags: ['shared', 'anonymous'] });
    m.write(p, a, { byte: 1, len: 1 });
    const c = m.fork(p, 'c');
    m.write(c, a, { byte: 2, len: 1 });
    expect(m.read(p, a, 1).bytes[0]).toBe(2);
    expect(m.translate(c, a)!.pfn).toBe(m.translate(p, a)!.pfn);
    expect(m.process(p).rss).toMatchObject({ shmem: 1, anon: 0 });
    expect(m.process(c).rss.shmem).toBe(1);
  });
});

describe('memfd files (shmem: memfd_create + write)', () => {
  function memfd(byte?: number) {
    const m = new Machine({ memory: '512M', check: 'full' });
    m.fileCreate('mfd', 2 * PAGE, byte, { memfd: true });
    return { m, p: m.spawn('p') };
  }

  it('written bytes sit in the page cache at once, dirty and counted as Shmem; unwritten pages are holes', () => {
    const { m } = memfd(0x5a);
    expect(m.fileInfo('mfd')).toMatchObject({ cached: 2, dirty: true });
    expect(m.meminfo().Shmem).toBe(8);
    expect(m.fileContents('mfd', PAGE, 2)).toEqual(new Uint8Array([0x5a, 0x5a]));
    const holes = memfd();
    expect(holes.m.fileInfo('mfd').cached).toBe(0);
    expect(holes.m.meminfo().Shmem).toBe(0);
  });

  it('a shared writable mapping is not dirty-tracked: a read fault maps the page writable (no writenotify)', () => {
    const { m, p } = memfd(1);
    const a = m.mmap(p, { length: 2 * PAGE, prot: 'rw', flags: ['shared'], file: 'mfd' });
    m.read(p, a, 1);
    expect(m.pageAt(p, a)!.pte).toContain('write');
    expect(m.process(p).rss).toMatchObject({ shmem: 1, file: 0 });
    m.fileCreate('disk', PAGE, 1);
    const d = m.mmap(p, { length: PAGE, prot: 'rw', flags: ['shared'], file: 'disk' });
    m.read(p, d, 1);
    expect(m.pageAt(p, d)!.pte).not.toContain('write');
  });

  it('fsync is noop_fsync: the folios stay dirty and nothing changes', () => {
    const { m, p } = memfd(1);
    const a = m.mmap(p, { length: 2 * PAGE, prot: 'rw', flags: ['shared'], file: 'mfd' });
    m.write(p, a, { byte: 7, len: 1 });
    expect(m.fileSync('mfd')).toBeNull();
    expect(m.fileInfo('mfd').dirty).toBe(true);
    expect(m.pageAt(p, a)!.pte).toContain('write');
    expect(m.fileContents('mfd', 0, 2)).toEqual(new Uint8Array([7, 1]));
  });

  it('a long-term R/W pin of a shared memfd mapping works; of a shared disk file it is EFAULT (gup_longterm.c)', () => {
    const { m, p } = memfd(0);
    const a = m.mmap(p, { length: PAGE, prot: 'rw', flags: ['shared'], file: 'mfd' });
    m.write(p, a, { byte: 0, len: PAGE });
    const pin = m.pinUserPages(p, a, 1, ['write', 'longterm']);
    expect(m.pageAt(p, a)!.pins).toBe(1);
    m.unpinUserPages(pin.id);
    m.fileCreate('disk', PAGE, 0);
    const d = m.mmap(p, { length: PAGE, prot: 'rw', flags: ['shared'], file: 'disk' });
    m.write(p, d, { byte: 0, len: PAGE });
    expect(() => m.pinUserPages(p, d, 1, ['write', 'longterm'])).toThrow(/EFAULT/);
    // In a private mapping the write pin COWs into an anonymous page first: allowed for both.
    for (const f of ['mfd', 'disk']) {
      const q = m.mmap(p, { length: PAGE, prot: 'rw', flags: ['private'], file: f });
      const h = m.pinUserPages(p, q, 1, ['write', 'longterm']);
      expect(m.pageAt(p, q)).toMatchObject({ type: 'anon', pins: 1 });
      m.unpinUserPages(h.id);
    }
  });

  it('a second file of the same name is refused, memfd or not', () => {
    const { m } = memfd();
    expect(() => m.fileCreate('mfd', PAGE)).toThrow(/already exists/);
  });
});

describe('bytes past end-of-file', () => {
  it('stored through a shared mapping are not file data when a truncate grows a disk file', () => {
    const m = new Machine({ memory: '512M', check: 'full' });
    m.fileCreate('f', 100, 0x11);
    const p = m.spawn('p');
    const a = m.mmap(p, { length: PAGE, prot: 'rw', flags: ['shared'], file: 'f' });
    m.write(p, a + 200, { byte: 0x78, len: 1 });
    expect(m.read(p, a + 200, 1).bytes[0]).toBe(0x78); // the page holds it until then
    m.fileTruncate('f', PAGE);
    expect(m.read(p, a + 200, 1).bytes[0]).toBe(0);
    expect(m.read(p, a + 99, 2).bytes).toEqual(new Uint8Array([0x11, 0]));
    expect(m.fileContents('f', 200, 1)[0]).toBe(0);
  });

  it('of a memfd become file data when it grows: shmem_setattr zeroes nothing (as Linux 6.18 does)', () => {
    const m = new Machine({ memory: '512M', check: 'full' });
    m.fileCreate('f', 100, 0x11, { memfd: true });
    const p = m.spawn('p');
    const a = m.mmap(p, { length: PAGE, prot: 'rw', flags: ['shared'], file: 'f' });
    m.write(p, a + 200, { byte: 0x78, len: 1 });
    m.fileSync('f');
    m.fileTruncate('f', PAGE);
    expect(m.read(p, a + 200, 1).bytes[0]).toBe(0x78);
    expect(m.fileContents('f', 200, 1)[0]).toBe(0x78);
  });

  it('are zeroed in the page by writeback and never reach the disk (block_write_full_folio)', () => {
    const m = new Machine({ memory: '512M', check: 'full' });
    m.fileCreate('f', 100, 0x11);
    const p = m.spawn('p');
    const a = m.mmap(p, { length: PAGE, prot: 'rw', flags: ['shared'], file: 'f' });
    m.write(p, a + 50, { byte: 0x22, len: 100 });
    m.fileSync('f');
    expect(m.read(p, a + 99, 2).bytes).toEqual(new Uint8Array([0x22, 0]));
    expect(m.fileContents('f', 99, 2)).toEqual(new Uint8Array([0x22, 0]));
  });
});
