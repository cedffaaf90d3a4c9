/**
 * /proc/PID/mem (mem_rw -> __access_remote_vm): GUP with FOLL_FORCE. A forced write into
 * read-only private memory COWs into an exclusive anonymous page, which stays read-only to the
 * process (mkdirty.c: setting a PTE dirty must not make it writable); shared and file pages are
 * never written through.
 */
import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/index.js';

const PAGE = 4096;
const HPAGE = 2 << 20;

function machine() {
  const m = new Machine({ memory: '1G', check: 'full', thp: 'madvise' });
  return { m, p: m.spawn('p') };
}

describe('forced writes (mkdirty.c)', () => {
  it('into the shared zero page of a read-only mapping: an exclusive anon copy, still read-only (SIGSEGV on store)', () => {
    const { m, p } = machine();
    const a = m.mmap(p, { length: PAGE, prot: 'r', flags: ['private', 'anonymous'] });
    expect(m.read(p, a, 1).bytes[0]).toBe(0);
    const zero = m.translate(p, a)!.pfn;
    expect(m.memWrite(p, a, new Uint8Array([1]))).toBe(1);
    const pg = m.pageAt(p, a)!;
    expect(pg.pfn).not.toBe(zero);
    expect(pg).toMatchObject({ type: 'anon', anonExclusive: true, refcount: 1, mapcount: 1 });
    expect(pg.pte).not.toContain('write');
    expect(m.write(p, a, { byte: 2, len: 1 }).signal).toBe('SIGSEGV');
    expect(m.read(p, a, 1).bytes[0]).toBe(1);
  });

  it('into an unpopulated read-only THP range: a THP, read-only to the process', () => {
    const { m, p } = machine();
    const raw = m.mmap(p, { length: 2 * HPAGE, prot: 'r', flags: ['private', 'anonymous'] });
    const a = Math.ceil(raw / HPAGE) * HPAGE;
    m.madvise(p, a, HPAGE, 'hugepage');
    m.memWrite(p, a, new Uint8Array([1]));
    expect(m.pageAt(p, a + HPAGE - PAGE)).toMatchObject({ type: 'anon', order: 9 });
    expect(m.write(p, a, { byte: 2, len: 1 }).signal).toBe('SIGSEGV');
    expect(m.read(p, a, 1).bytes[0]).toBe(1);
  });

  it('into a read-only private file mapping: COW, the page cache and a shared mapping keep the old bytes', () => {
    const { m, p } = machine();
    m.fileCreate('f', PAGE, 0x11);
    const priv = m.mmap(p, { length: PAGE, prot: 'r', flags: ['private'], file: 'f' });
    const shared = m.mmap(p, { length: PAGE, prot: 'r', flags: ['shared'], file: 'f' });
    m.read(p, shared, 1);
    m.memWrite(p, priv, { byte: 0x22, len: 2 });
    expect(m.pageAt(p, priv)).toMatchObject({ type: 'anon', anonExclusive: true });
    expect(m.read(p, priv, 3).bytes).toEqual(new Uint8Array([0x22, 0x22, 0x11]));
    expect(m.read(p, shared, 1).bytes[0]).toBe(0x11);
    expect(m.fileInfo('f').dirty).toBe(false);
    m.fileSync('f');
    expect(m.fileContents('f', 0, 1)[0]).toBe(0x11);
  });

  it('into a read-only shared mapping: nothing written, EIO (check_vma_flags: not a COW mapping)', () => {
    const { m, p } = machine();
    m.fileCreate('f', PAGE, 0x11);
    const shared = m.mmap(p, { length: PAGE, prot: 'r', flags: ['shared'], file: 'f' });
    expect(() => m.memWrite(p, shared, { byte: 0x22, len: 1 })).toThrow(/EIO/);
    expect(m.read(p, shared, 1).bytes[0]).toBe(0x11);
  });

  it('into a writable page: written in place and the folio dirtied, like any store', () => {
    const { m, p } = machine();
    m.fileCreate('f', PAGE, 0);
    const shared = m.mmap(p, { length: PAGE, prot: 'rw', flags: ['shared'], file: 'f' });
    m.memWrite(p, shared, new Uint8Array([9, 8]));
    expect(m.fileInfo('f').dirty).toBe(true);
    m.fileSync('f');
    expect(m.fileContents('f', 0, 2)).toEqual(new Uint8Array([9, 8]));
  });
});

describe('forced reads', () => {
  it('read PROT_NONE memory (FOLL_FORCE and VM_MAYREAD), stopping short at an unmapped page', () => {
    const { m, p } = machine();
    const a = m.mmap(p, { length: 2 * PAGE, prot: 'rw', flags: ['private', 'anonymous'] });
    m.write(p, a, { byte: 0x33, len: PAGE });
    m.munmap(p, a + PAGE, PAGE);
    m.mprotect(p, a, PAGE, 'none');
    expect(m.read(p, a, 1).signal).toBe('SIGSEGV');
    expect(m.memRead(p, a + PAGE - 2, 4)).toEqual(new Uint8Array([0x33, 0x33]));
    expect(() => m.memRead(p, a + PAGE, 1)).toThrow(/EIO/);
  });
});
