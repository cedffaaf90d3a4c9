/**
 * The pfn_lookup design axis: `memmap` (the frame's word says what it is) against `vma` (no type
 * per frame: GUP dirties through the VMA it kept, compaction moves only what the maps reach,
 * memory failure searches every map). Each consumer's unhandled frames and work are counted.
 */
import { describe, expect, it } from 'vitest';
import { Machine, PFN_LOOKUPS } from '../../src/index.js';
import { PG } from '../../src/mm/folio.js';
import { parseScenario } from '../../src/scenario/parse.js';

const PAGE = 4096;

function machine(pfn_lookup: 'memmap' | 'vma') {
  const m = new Machine({ memory: '128M', thp: 'never', check: 'full', pfn_lookup });
  return { m, p: m.spawn('p') };
}

const dirty = (m: Machine, pfn: number) => m.kernel.folios.testFlag(m.kernel.folios.pageRow(pfn), PG.dirty);
const ev = (m: Machine, name: string) => m.vmstat()[`pagelab_lookup_${name}`];

describe('pfn_lookup: configuration', () => {
  it('memmap by default; vma from the config and from a scenario machine section; anything else refused', () => {
    expect(PFN_LOOKUPS).toEqual(['memmap', 'vma']);
    expect(new Machine({ memory: '128M' }).kernel.pfnLookup.name).toBe('memmap');
    expect(machine('vma').m.kernel.pfnLookup.name).toBe('vma');
    expect(() => new Machine({ memory: '128M', pfn_lookup: 'rmap' as never })).toThrow(/pfn_lookup: 'rmap'/);
    const s = parseScenario('name: x\nmachine: { memory: 128M, pfn_lookup: vma }\nsteps: []\n', 'x.yaml');
    expect(s.ok && s.scenario.machine?.pfn_lookup).toBe('vma');
    const bad = parseScenario('name: x\nmachine: { pfn_lookup: rmap }\nsteps: []\n', 'x.yaml');
    expect(bad.ok).toBe(false);
  });
});

describe('pfn_lookup: GUP dirtying (unpin_user_pages_dirty_lock)', () => {
  for (const lookup of PFN_LOOKUPS)
    it(`${lookup}: anon and shared-file pages are dirtied by their path (file: the inode too)`, () => {
      const { m, p } = machine(lookup);
      const a = m.mmap(p, { length: PAGE, prot: 'rw', flags: ['private', 'anonymous'] });
      m.write(p, a, { byte: 1, len: 1 });
      m.fileCreate('f', PAGE, 9);
      const fa = m.mmap(p, { length: PAGE, prot: 'rw', flags: ['shared'], file: 'f' });
      m.read(p, fa, 1);
      const pin = m.pinUserPages(p, a, 1, ['write']);
      const fpin = m.pinUserPages(p, fa, 1, ['write']);
      const [apfn, fpfn] = [pin.pfns[0], fpin.pfns[0]];
      m.unpinUserPages(pin.id, { dirty: true });
      m.unpinUserPages(fpin.id, { dirty: true });
      expect([dirty(m, apfn), dirty(m, fpfn), m.fileInfo('f').dirty]).toEqual([true, true, true]);
      expect(ev(m, 'gup_unhandled')).toBe(0);
      // memmap reads one word a page; vma looks up the VMA, and the page cache for the file page.
      expect(ev(m, 'gup_visited')).toBe(lookup === 'memmap' ? 2 : 3);
    });

  it('vma: a COW copy in a private file mapping is found not to be the page-cache page: the anon path', () => {
    const { m, p } = machine('vma');
    m.fileCreate('f', PAGE, 9);
    const fa = m.mmap(p, { length: PAGE, prot: 'rw', flags: ['private'], file: 'f' });
    m.read(p, fa, 1);
    m.write(p, fa, { byte: 2, len: 1 });
    const pin = m.pinUserPages(p, fa, 1, ['write']);
    m.unpinUserPages(pin.id, { dirty: true });
    expect(dirty(m, pin.pfns[0])).toBe(true);
    expect(m.fileInfo('f').dirty).toBe(false);
    expect(ev(m, 'gup_unhandled')).toBe(0);
  });

  it('the VMA is gone (munmap while pinned): memmap still dirties the page, vma cannot place it', () => {
    const dirtied = PFN_LOOKUPS.map((lookup) => {
      const { m, p } = machine(lookup);
      m.fileCreate('f', PAGE, 9);
      const fa = m.mmap(p, { length: PAGE, prot: 'rw', flags: ['shared'], file: 'f' });
      m.read(p, fa, 1);
      const pin = m.pinUserPages(p, fa, 1, ['write']);
      // Written back and clean (folio_mkclean): the device's later write is what needs the dirtying.
      m.fileSync('f');
      m.munmap(p, fa, PAGE);
      const pfn = pin.pfns[0];
      m.unpinUserPages(pin.id, { dirty: true });
      return [dirty(m, pfn), m.fileInfo('f').dirty, ev(m, 'gup_unhandled')];
    });
    expect(dirtied).toEqual([
      [true, true, 0],
      [false, false, 1],
    ]);
  });
});

/** 1 page in 2 of a large anon region freed, and a pinned page whose mapping is gone. */
function fragmentedWithOrphan(lookup: 'memmap' | 'vma') {
  const m = new Machine({ memory: '128M', thp: 'never', check: 'off', pfn_lookup: lookup });
  const p = m.spawn('p');
  const n = 4096;
  const a = m.mmap(p, { length: n * PAGE, prot: 'rw', flags: ['private', 'anonymous'] });
  for (let i = 0; i < n; i++) m.write(p, a + i * PAGE, { byte: (i * 7) & 0xff, len: 1 });
  for (let i = 0; i < n; i += 2) m.madvise(p, a + i * PAGE, PAGE, 'dontneed');
  return { m, p, a, n };
}

describe('pfn_lookup: compaction', () => {
  it('vma moves what the page tables reach, but classifies nothing else: free, slab, page tables are unreachable', () => {
    const [mm, vm] = PFN_LOOKUPS.map((l) => {
      const w = fragmentedWithOrphan(l);
      w.m.kmemCacheCreate('c', 256);
      w.m.kmemCacheAlloc('c');
      return { ...w, r: w.m.compact({ zone: 'DMA32' })[0] };
    });
    expect(vm.r.migrated).toBe(mm.r.migrated);
    expect(mm.r.migrated).toBeGreaterThan(1000);
    expect(mm.r.skipped.unreachable).toBe(0);
    expect(vm.r.skipped.unreachable).toBeGreaterThan(0);
    expect(vm.r.unreachable.buddy).toBeGreaterThan(0);
    expect(Object.keys(vm.r.unreachable)).toEqual(expect.arrayContaining(['buddy']));
    expect(ev(vm.m, 'compact_unhandled')).toBe(vm.r.skipped.unreachable);
    // The walk visits every page-table entry of every VMA and every page-cache entry first.
    expect(vm.r.lookupVisited).toBeGreaterThanOrEqual(vm.n);
    expect(mm.r.lookupVisited).toBe(mm.r.migrateScanned);
    // The bytes moved with the pages either way.
    for (const w of [mm, vm])
      for (let i = 1; i < w.n; i += 2) expect(w.m.read(w.p, w.a + i * PAGE, 1).bytes[0]).toBe((i * 7) & 0xff);
  });

  it('vma: unmapped page-cache pages are reached through the page cache, unmapped pinned anon pages are not', () => {
    const { m, p } = fragmentedWithOrphan('vma');
    m.fileCreate('f', 64 * PAGE, 3);
    const fa = m.mmap(p, { length: 64 * PAGE, prot: 'r', flags: ['shared'], file: 'f' });
    m.read(p, fa, 64 * PAGE);
    m.munmap(p, fa, 64 * PAGE);
    const a = m.mmap(p, { length: PAGE, prot: 'rw', flags: ['private', 'anonymous'] });
    m.write(p, a, { byte: 1, len: 1 });
    const orphan = m.pinUserPages(p, a, 1, ['write']).pfns[0];
    m.munmap(p, a, PAGE);
    const k = m.kernel;
    const file = k.pagecache.files.get('f')!;
    const zone = k.pa.zoneOf(orphan);
    const reach = k.pfnLookup.compactReach(k, zone)!;
    for (let i = 0; i < 64; i++) {
      const pfn = k.folios.pfn[k.pagecache.lookup(file, i)];
      if (zone.contains(pfn)) expect(reach[pfn - zone.startPfn]).toBe(1);
    }
    expect(reach[orphan - zone.startPfn]).toBe(0);
    expect(reach[m.translate(p, m.processes()[0].vmas[0].start + PAGE)!.pfn - zone.startPfn]).toBe(1);
  });
});

describe('pfn_lookup: memory failure', () => {
  it('a mapped anon page: the same outcome, found by a search of every page table', () => {
    const out = PFN_LOOKUPS.map((l) => {
      const { m, p } = machine(l);
      const a = m.mmap(p, { length: 16 * PAGE, prot: 'rw', flags: ['private', 'anonymous'] });
      m.write(p, a, { byte: 1, len: 16 * PAGE });
      const r = m.memoryFailure({ pfn: m.translate(p, a + 5 * PAGE)!.pfn });
      return [r.type, r.result, r.lookupVisited];
    });
    expect(out[0]).toEqual(['dirty_lru', 'MF_RECOVERED', 1]);
    expect(out[1].slice(0, 2)).toEqual(['dirty_lru', 'MF_RECOVERED']);
    expect(out[1][2]).toBeGreaterThanOrEqual(16);
  });

  it('slab, page tables and free frames are found in the kernel maps: the same outcomes, more work', () => {
    for (const l of PFN_LOOKUPS) {
      const { m, p } = machine(l);
      const a = m.mmap(p, { length: PAGE, prot: 'rw', flags: ['private', 'anonymous'] });
      m.write(p, a, { byte: 1, len: 1 });
      m.kmemCacheCreate('c', 128);
      const slab = Math.floor(m.kmemCacheAlloc('c') / PAGE) % 2 ** 36;
      const pt = m.walk(p, a).find((s) => s.level === 'pte')!.tablePfn;
      const got = [slab, pt, 0x2345].map((pfn) => {
        const r = m.memoryFailure({ pfn, flags: ['sw_simulated'] });
        return [r.type, r.result];
      });
      expect(got).toEqual([
        ['get_hwpoison', 'MF_IGNORED'],
        ['get_hwpoison', 'MF_IGNORED'],
        ['buddy', 'MF_RECOVERED'],
      ]);
      expect(ev(m, 'mf_unhandled')).toBe(0);
      if (l === 'vma') expect(ev(m, 'mf_visited')).toBeGreaterThan(3);
      else expect(ev(m, 'mf_visited')).toBe(3);
    }
  });

  it('a page only a pin holds (its mapping gone): memmap handles it, vma finds no owner (unknown, IGNORED)', () => {
    const out = PFN_LOOKUPS.map((l) => {
      const { m, p } = machine(l);
      const a = m.mmap(p, { length: PAGE, prot: 'rw', flags: ['private', 'anonymous'] });
      m.write(p, a, { byte: 1, len: 1 });
      const pin = m.pinUserPages(p, a, 1, ['write']);
      m.munmap(p, a, PAGE);
      const pfn = pin.pfns[0];
      const r = m.memoryFailure({ pfn });
      const unhandled = ev(m, 'mf_unhandled');
      // Either way the frame is retired when the pin lets go of it.
      m.unpinUserPages(pin.id);
      return [r.type, r.result, unhandled, m.page(pfn).type];
    });
    expect(out).toEqual([
      ['clean_lru', 'MF_RECOVERED', 0, 'hwpoison'],
      ['unknown', 'MF_IGNORED', 1, 'hwpoison'],
    ]);
  });
});
