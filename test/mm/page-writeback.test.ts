/**
 * Dirtying after GUP (kernel-semantics §12): unpin_user_pages_dirty_lock() and
 * set_page_dirty_lock() reach folio_mark_dirty(), which dispatches by what owns the page — the
 * filemap path (PG_dirty, the inode dirtied, written back later) for a regular file, the noop path
 * (PG_dirty only) for anon, KSM, shmem, driver and device pages; a vmalloc page has no folio.
 */
import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/index.js';
import { PG } from '../../src/mm/folio.js';
import { setPageDirtyLock } from '../../src/mm/page-writeback.js';

const PAGE = 4096;

function dirtyFlag(m: Machine, pfn: number): boolean {
  const f = m.kernel.folios;
  return f.testFlag(f.pageRow(pfn), PG.dirty);
}

describe('unpin_user_pages_dirty_lock / set_page_dirty_lock by page type', () => {
  it('a regular file page: filemap_dirty_folio — PG_dirty, PG_reclaim cleared, the inode dirty, fsync writes the DMA', () => {
    const m = new Machine({ memory: '128M', check: 'full' });
    const p = m.spawn('p');
    m.fileCreate('f', PAGE, 1);
    const a = m.mmap(p, { length: PAGE, prot: 'rw', flags: ['shared'], file: 'f' });
    m.read(p, a, 1);
    const pin = m.pinUserPages(p, a, 1, ['write']);
    const pfn = pin.pfns[0];
    // The FOLL_WRITE fault dirtied it; writeback cleans it while the pin is held.
    expect(m.fileSync('f')).toBeNull();
    m.kernel.folios.setFlag(m.kernel.folios.pageRow(pfn), PG.reclaim);
    m.dmaWrite(pin.id, { byte: 0x77, len: 16 });
    expect(m.fileInfo('f').dirty).toBe(false);
    expect(dirtyFlag(m, pfn)).toBe(false);
    m.unpinUserPages(pin.id, { dirty: true });
    expect(dirtyFlag(m, pfn)).toBe(true);
    expect(m.kernel.folios.testFlag(m.kernel.folios.pageRow(pfn), PG.reclaim)).toBe(false);
    expect(m.fileInfo('f').dirty).toBe(true);
    expect(m.fileSync('f')).toBeNull();
    expect(m.fileContents('f', 0, 1)[0]).toBe(0x77);
  });

  it('without dirty, the DMA into a file page is lost to writeback: nothing marked it dirty', () => {
    const m = new Machine({ memory: '128M' });
    const p = m.spawn('p');
    m.fileCreate('f', PAGE, 1);
    const a = m.mmap(p, { length: PAGE, prot: 'r', flags: ['shared'], file: 'f' });
    m.read(p, a, 1);
    const pin = m.pinUserPages(p, a, 1, []);
    m.dmaWrite(pin.id, { byte: 0x77, len: 16 });
    m.unpinUserPages(pin.id);
    m.fileSync('f');
    expect(m.fileContents('f', 0, 1)[0]).toBe(1);
  });

  it('an anon page: noop_dirty_folio — PG_dirty only', () => {
    const m = new Machine({ memory: '128M', thp: 'never' });
    const p = m.spawn('p');
    const a = m.mmap(p, { length: PAGE, prot: 'rw', flags: ['private', 'anonymous'] });
    m.write(p, a, { byte: 1, len: 1 });
    const pin = m.pinUserPages(p, a, 1, ['write']);
    expect(dirtyFlag(m, pin.pfns[0])).toBe(false);
    m.unpinUserPages(pin.id, { dirty: true });
    expect(dirtyFlag(m, pin.pfns[0])).toBe(true);
    expect(setPageDirtyLock(m.kernel, pin.pfns[0])).toEqual({ newly: false, path: 'noop' });
  });

  it('a KSM page: folio_mapping is NULL, the noop path; it stays a KSM page', () => {
    const m = new Machine({ memory: '128M', thp: 'never' });
    const p = m.spawn('p');
    const a = m.mmap(p, { length: 2 * PAGE, prot: 'rw', flags: ['private', 'anonymous'] });
    m.write(p, a, { byte: 9, len: 2 * PAGE });
    m.madvise(p, a, 2 * PAGE, 'mergeable');
    expect(m.ksmScan()).toBe(1);
    // A read-only FOLL_PIN would unshare it (R5.6): direct I/O's FOLL_GET + set_page_dirty_lock.
    const got = m.getUserPages(p, a, 1, []);
    const row = m.kernel.folios.pageRow(got.pfns[0]);
    expect(m.kernel.folios.testFlag(row, PG.ksm)).toBe(true);
    m.kernel.folios.clearFlag(row, PG.dirty);
    expect(setPageDirtyLock(m.kernel, got.pfns[0])).toEqual({ newly: true, path: 'noop' });
    m.putUserPages(got.id);
    expect(m.kernel.folios.testFlag(row, PG.dirty)).toBe(true);
    expect(m.kernel.folios.testFlag(row, PG.ksm)).toBe(true);
  });

  it('a shmem page: PG_dirty, but no inode to write back (shmem has no backing store)', () => {
    const m = new Machine({ memory: '128M', thp: 'never' });
    const p = m.spawn('p');
    const a = m.mmap(p, { length: PAGE, prot: 'rw', flags: ['shared', 'anonymous'] });
    m.read(p, a, 1);
    const pin = m.pinUserPages(p, a, 1, ['write']);
    const row = m.kernel.folios.pageRow(pin.pfns[0]);
    expect(m.kernel.folios.testFlag(row, PG.swapbacked)).toBe(true);
    m.unpinUserPages(pin.id, { dirty: true });
    expect(dirtyFlag(m, pin.pfns[0])).toBe(true);
    expect(setPageDirtyLock(m.kernel, pin.pfns[0]).path).toBe('noop');
    const shmem = m.kernel.pagecache.byMappingId(m.kernel.folios.mapping[row])!;
    expect(shmem.dirty).toBe(false);
  });

  it('a driver page and a device (ZONE_DEVICE) page: no address_space, the noop path', () => {
    const m = new Machine({ memory: '128M' });
    const drv = m.allocPages(0);
    expect(setPageDirtyLock(m.kernel, drv)).toEqual({ newly: true, path: 'noop' });
    expect(dirtyFlag(m, drv)).toBe(true);
    const map = m.memremapPages('1M', { mode: 'eager' });
    const dev = m.pagemapInfo(map.id).startPfn;
    expect(setPageDirtyLock(m.kernel, dev)).toEqual({ newly: true, path: 'noop' });
  });

  it('a vmalloc page has no folio: nothing to dirty (the model keeps no page flags for scamem pages)', () => {
    const m = new Machine({ memory: '128M' });
    const kv = m.vmallocUser(PAGE);
    expect(setPageDirtyLock(m.kernel, m.vmallocToPfn(kv))).toEqual({ newly: false, path: 'none' });
    expect(setPageDirtyLock(m.kernel, m.zeroPfn).path).toBe('none');
  });
});
