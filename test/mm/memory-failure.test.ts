/**
 * memory_failure() dispatched by what the frame is (kernel-semantics §10, cases 22-24), the
 * hwpoison entries and signals, unpoison_memory and soft offline.
 */
import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/index.js';
import { PG } from '../../src/mm/folio.js';
import { MT } from '../../src/mm/memdesc.js';
import { findFreeBlock } from '../../src/mm/page_isolation.js';
import { expectErrno } from '../helpers.js';

const PAGE = 4096;

function machine() {
  const m = new Machine({ memory: '128M', thp: 'never', check: 'full' });
  const p = m.spawn('p');
  return { m, p, k: m.kernel };
}

/** A PMD-mapped anon THP at h, its first 3 pages written with 7. */
function thp() {
  const m = new Machine({ memory: '128M', thp: 'always', check: 'full' });
  const p = m.spawn('p');
  const a = m.mmap(p, { length: 4 << 20, prot: 'rw', flags: ['private', 'anonymous'] });
  const h = a + (2 << 20) - (a % (2 << 20));
  m.write(p, h, { byte: 7, len: 3 * PAGE });
  expect(m.translate(p, h + PAGE)!.level).toBe('pmd');
  return { m, p, h };
}

function anonPage(m: Machine, p: number, byte = 1) {
  const a = m.mmap(p, { length: PAGE, prot: 'rw', flags: ['private', 'anonymous'] });
  m.write(p, a, { byte, len: PAGE });
  return { a, pfn: m.translate(p, a)!.pfn };
}

describe('memory_failure', () => {
  it('case 22: a free buddy page is taken off the free lists: BUDDY, RECOVERED, typed hwpoison', () => {
    const { m } = machine();
    const free = m.meminfo().MemFree;
    const pfn = 0x2345;
    expect(m.page(pfn).type).toMatch(/buddy|none/);
    const r = m.memoryFailure({ pfn, flags: ['sw_simulated'] });
    expect([r.type, r.result, r.errno]).toEqual(['buddy', 'MF_RECOVERED', null]);
    expect(m.page(pfn).type).toBe('hwpoison');
    expect(m.meminfo().MemFree).toBe(free - 4);
    expect(m.vmstat().pagelab_nr_hwpoison_pages).toBe(1);
    // Its buddies cannot merge across it: the block it was in stays split.
    expect(findFreeBlock(m.kernel.pa, pfn)).toBeUndefined();
  });

  it('case 23: a slab page is GET_HWPOISON, IGNORED, -EBUSY, and stays a slab page with PG_hwpoison', () => {
    const { m, k } = machine();
    m.kmemCacheCreate('c', 128);
    const pfn = Math.floor(m.kmemCacheAlloc('c') / PAGE) % 2 ** 36;
    expect(m.page(pfn).type).toBe('slab');
    const r = m.memoryFailure({ pfn });
    expect([r.type, r.result, r.errno]).toEqual(['get_hwpoison', 'MF_IGNORED', 'EBUSY']);
    expect(k.hwpoison.pfns.has(pfn)).toBe(true);
    expect(m.page(pfn).type).toBe('slab');
    expect(m.vmstat().memory_failure_ignored).toBe(1);
  });

  it('page tables, vmalloc pages and reserved memory are unrecoverable (IGNORED)', () => {
    const { m, p } = machine();
    anonPage(m, p);
    const pt = m.walk(p, m.processes()[0].vmas[0].start).find((s) => s.level === 'pte')!;
    const kv = m.vmalloc(PAGE);
    for (const pfn of [pt.tablePfn, m.vmallocToPfn(kv), m.zeroPfn]) {
      const r = m.memoryFailure({ pfn, flags: ['sw_simulated'] });
      expect([r.type, r.result]).toEqual(['get_hwpoison', 'MF_IGNORED']);
    }
  });

  it('an anon page is unmapped to a hwpoison entry; the accessing task gets BUS_MCEERR_AR, the next access SIGBUS', () => {
    const { m, p, k } = machine();
    const { a, pfn } = anonPage(m, p, 7);
    const c = m.fork(p, 'c');
    const r = m.memoryFailure({ pid: p, addr: a, flags: ['action_required'] });
    expect([r.type, r.result]).toEqual(['dirty_lru', 'MF_RECOVERED']);
    expect(r.unmapped).toBe(2);
    // Late kill (the default): only the accessor is signalled now.
    expect(r.signals).toEqual([{ pid: p, addr: a, code: 'BUS_MCEERR_AR' }]);
    expect(m.translate(p, a)).toBeUndefined();
    expect(m.read(c, a, 1).signal).toBe('SIGBUS');
    expect(m.read(p, a, 1).signal).toBe('SIGBUS');
    expect(m.page(pfn).type).toBe('hwpoison');
    expect(k.stat.pagesByType[MT.HWPOISON]).toBe(1);
    // fork copies the hwpoison entry; exit clears it.
    const g = m.fork(c, 'g');
    expect(m.read(g, a, 1).signal).toBe('SIGBUS');
    m.exit(g);
  });

  it('with early kill every mapping process gets BUS_MCEERR_AO', () => {
    const { m, p } = machine();
    const { a } = anonPage(m, p);
    const c = m.fork(p, 'c');
    const r = m.memoryFailure({ pid: p, addr: a, earlyKill: true });
    expect(r.signals.map((s) => [s.pid, s.code]).sort()).toEqual(
      [
        [p, 'BUS_MCEERR_AO'],
        [c, 'BUS_MCEERR_AO'],
      ].sort(),
    );
  });

  it('a clean page-cache page is dropped: CLEAN_LRU, RECOVERED, no kill, and the next read refaults from disk', () => {
    const { m, p } = machine();
    m.fileCreate('f', PAGE, 9);
    const fa = m.mmap(p, { length: PAGE, prot: 'r', flags: ['shared'], file: 'f' });
    m.read(p, fa, 1);
    const pfn = m.translate(p, fa)!.pfn;
    const r = m.memoryFailure({ pfn, earlyKill: true });
    expect([r.type, r.result, r.signals.length]).toEqual(['clean_lru', 'MF_RECOVERED', 0]);
    expect(m.fileInfo('f').cached).toBe(0);
    const again = m.read(p, fa, 1);
    expect([again.signal, again.bytes[0]]).toEqual([undefined, 9]);
    expect(m.translate(p, fa)!.pfn).not.toBe(pfn);
  });

  it('a dirty page-cache page: -EIO on the next fsync, DIRTY_LRU, RECOVERED', () => {
    const { m, p } = machine();
    m.fileCreate('f', PAGE, 9);
    const fa = m.mmap(p, { length: PAGE, prot: 'rw', flags: ['shared'], file: 'f' });
    m.write(p, fa, { byte: 3, len: 1 });
    const r = m.memoryFailure({ pfn: m.translate(p, fa)!.pfn });
    expect([r.type, r.result]).toEqual(['dirty_lru', 'MF_RECOVERED']);
    expect(m.fileSync('f')).toBe('EIO');
    expect(m.fileSync('f')).toBeNull();
    expect(m.read(p, fa, 1).signal).toBe('SIGBUS');
  });

  it('case 24: a dirty page-cache page with an extra pin: -EIO recorded, mappers killed, DIRTY_LRU, FAILED', () => {
    const { m, p, k } = machine();
    m.fileCreate('f', PAGE, 9);
    const fa = m.mmap(p, { length: PAGE, prot: 'rw', flags: ['shared'], file: 'f' });
    m.write(p, fa, { byte: 3, len: 1 });
    const pin = m.pinUserPages(p, fa, 1, ['write']);
    const pfn = pin.pfns[0];
    const r = m.memoryFailure({ pfn, earlyKill: true });
    expect([r.type, r.result, r.errno]).toEqual(['dirty_lru', 'MF_FAILED', 'EBUSY']);
    expect(r.signals).toEqual([{ pid: p, addr: fa, code: 'BUS_MCEERR_AO' }]);
    expect(m.fileSync('f')).toBe('EIO');
    // The pin keeps the poisoned page alive; its last reference retires the frame.
    expect(k.folios.testFlag(k.folios.pageRow(pfn), PG.hwpoison)).toBe(true);
    m.unpinUserPages(pin.id);
    expect(m.page(pfn).type).toBe('hwpoison');
  });

  it('a pinned anon page is still unmapped and RECOVERED (the anon shortcut has no extra-ref test)', () => {
    const { m, p } = machine();
    const { a, pfn } = anonPage(m, p);
    const pin = m.pinUserPages(p, a, 1, ['write', 'longterm']);
    const r = m.memoryFailure({ pfn });
    expect(r.result).toBe('MF_RECOVERED');
    expect(m.page(pfn).type).toBe('anon');
    m.unpinUserPages(pin.id);
    expect(m.page(pfn).type).toBe('hwpoison');
  });

  it('a THP cannot split while pinned (can_split_folio): UNSPLIT_THP, FAILED, -EHWPOISON, every mapper killed', () => {
    const { m, p, h } = thp();
    const pin = m.pinUserPages(p, h + 5 * PAGE, 1, ['write']);
    const t = m.translate(p, h + PAGE)!;
    const r = m.memoryFailure({ pfn: t.pfn });
    expect([r.type, r.result, r.errno]).toEqual(['unsplit_thp', 'MF_FAILED', 'EHWPOISON']);
    expect(r.signals.map((s) => s.pid)).toEqual([p]);
    // Nothing was split: still one PMD-mapped folio, flagged has_hwpoisoned.
    expect(m.translate(p, h + PAGE)!.level).toBe('pmd');
    expect(m.vmstat().thp_split_page).toBe(0);
    // When the THP goes, only the poisoned frame is kept out of the allocator.
    m.unpinUserPages(pin.id);
    m.exit(p);
    expect(m.page(t.pfn).type).toBe('hwpoison');
    expect(m.vmstat().pagelab_nr_hwpoison_pages).toBe(1);
  });

  it('a THP with an extra FOLL_GET reference cannot split either: UNSPLIT_THP, FAILED', () => {
    const { m, p, h } = thp();
    const ref = m.getUserPages(p, h, 1);
    const r = m.memoryFailure({ pfn: m.translate(p, h)!.pfn });
    expect([r.type, r.result]).toEqual(['unsplit_thp', 'MF_FAILED']);
    m.putUserPages(ref.id);
  });

  it('a PMD-mapped THP, tail page poisoned: split, only that page unmapped; the other 511 keep frame and bytes', () => {
    const { m, p, h } = thp();
    const before = [0, 1, 2, 511].map((i) => m.translate(p, h + i * PAGE)!.pfn);
    const r = m.memoryFailure({ pid: p, addr: h + PAGE, flags: ['action_required'] });
    expect([r.type, r.result, r.errno]).toEqual(['dirty_lru', 'MF_RECOVERED', null]);
    expect(r.unmapped).toBe(1);
    expect(r.signals).toEqual([{ pid: p, addr: h + PAGE, code: 'BUS_MCEERR_AR' }]);
    expect(m.vmstat().thp_split_page).toBe(1);
    expect(m.read(p, h + PAGE, 1).signal).toBe('SIGBUS');
    for (const i of [0, 2, 511]) {
      const t = m.translate(p, h + i * PAGE)!;
      expect([t.level, t.pfn]).toEqual(['pte', before[[0, 1, 2, 511].indexOf(i)]]);
      expect(m.read(p, h + i * PAGE, 1).bytes[0]).toBe(i === 511 ? 0 : 7);
      expect(m.page(t.pfn).order).toBe(0);
    }
    // The poisoned frame is retired once its folio (now order 0) is freed: exactly one.
    m.exit(p);
    expect(m.page(before[1]).type).toBe('hwpoison');
    expect(m.vmstat().pagelab_nr_hwpoison_pages).toBe(1);
  });

  it('a PTE-mapped THP (a page munmapped), head page poisoned: split; the unmapped page is freed, the rest stay', () => {
    const { m, p, h } = thp();
    const head = m.translate(p, h)!.pfn;
    m.munmap(p, h + 3 * PAGE, PAGE);
    expect(m.translate(p, h)!.level).toBe('pte');
    expect(m.page(head).order).toBe(9);
    const free = m.meminfo().MemFree;
    const r = m.memoryFailure({ pfn: head });
    expect([r.type, r.result]).toEqual(['dirty_lru', 'MF_RECOVERED']);
    // The split freed the page nobody mapped (4 kB); the poisoned head was unmapped and retired.
    expect(m.meminfo().MemFree).toBe(free + 4);
    expect(m.read(p, h, 1).signal).toBe('SIGBUS');
    expect(m.read(p, h + PAGE, 1).bytes[0]).toBe(7);
    expect(m.page(head).type).toBe('hwpoison');
  });

  it('a second failure on the same frame is ALREADY_POISONED, FAILED, -EHWPOISON', () => {
    const { m } = machine();
    m.memoryFailure({ pfn: 0x3000 });
    const r = m.memoryFailure({ pfn: 0x3000 });
    expect([r.type, r.result, r.errno]).toEqual(['already_poisoned', 'MF_FAILED', 'EHWPOISON']);
    expect(m.vmstat().memory_failure_total).toBe(1);
  });

  it('device memory: a populated devdax page is DAX, RECOVERED; an unpopulated lazy pfn has no owner (IGNORED)', () => {
    const { m } = machine();
    const map = m.memremapPages('1M', { mode: 'lazy' });
    const first = m.pagemapInfo(map.id).startPfn;
    expect(m.memoryFailure({ pfn: first + 100 }).result).toBe('MF_IGNORED');
    m.pfnToPagePopulate(first);
    const r = m.memoryFailure({ pfn: first });
    expect([r.type, r.result]).toEqual(['dax', 'MF_RECOVERED']);
  });

  it('a pfn outside every memmap and mapping is -ENXIO', () => {
    const { m } = machine();
    expectErrno(() => m.memoryFailure({ pfn: m.totalPages + 10 }), 'ENXIO');
  });
});

describe('unpoison_memory and soft offline', () => {
  it('unpoison returns an injected free frame to the allocator; refused after a real failure', () => {
    const { m } = machine();
    const free = m.meminfo().MemFree;
    m.memoryFailure({ pfn: 0x2345, flags: ['sw_simulated'] });
    m.unpoisonMemory(0x2345);
    expect(m.meminfo().MemFree).toBe(free);
    expectErrno(() => m.unpoisonMemory(0x2345), 'EBUSY');
    m.memoryFailure({ pfn: 0x2346 });
    expectErrno(() => m.unpoisonMemory(0x2346), 'EOPNOTSUPP');
  });

  it('unpoison refuses a page still in use', () => {
    const { m, p } = machine();
    const { a, pfn } = anonPage(m, p);
    const pin = m.pinUserPages(p, a, 1, ['write']);
    m.memoryFailure({ pfn, flags: ['sw_simulated'] });
    expectErrno(() => m.unpoisonMemory(pfn), 'EBUSY');
    m.unpinUserPages(pin.id);
    m.unpoisonMemory(pfn);
    expect(m.page(pfn).type).toBe('buddy');
  });

  it('soft offline migrates an anon page away, keeps its bytes, and poisons the old frame; nobody is signalled', () => {
    const { m, p, k } = machine();
    const { a, pfn } = anonPage(m, p, 0x5a);
    m.softOfflinePage(pfn);
    expect(m.translate(p, a)!.pfn).not.toBe(pfn);
    expect(m.read(p, a, 1).bytes[0]).toBe(0x5a);
    expect(m.page(pfn).type).toBe('hwpoison');
    expect(k.hwpoison.signals).toEqual([]);
    const pinned = anonPage(m, p);
    m.pinUserPages(p, pinned.a, 1, ['write']);
    expectErrno(() => m.softOfflinePage(pinned.pfn), 'EBUSY');
  });
});
