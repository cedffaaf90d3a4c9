/**
 * Compaction (kernel-semantics §11, case 25): the two scanners, isolate_migratepages_block's skip
 * rules, migration through the rmap that keeps bytes, counts and mappings, direct compaction for a
 * failing high-order allocation, the skip hints and the fragmentation indices.
 */

import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/index.js';
import {
  type CompactControl,
  type CompactResult,
  compactZone,
  fragmentation,
  isolateMigratepagesBlock,
} from '../../src/mm/compaction.js';
import { PG } from '../../src/mm/folio.js';
import type { Kernel } from '../../src/mm/kernel.js';
import { GFP, MIGRATE } from '../../src/mm/mmzone.js';
import { setMigratetypeIsolate, unsetMigratetypeIsolate } from '../../src/mm/page_isolation.js';
import { PAGEBLOCK_PAGES } from '../../src/mm/types.js';
import { expectErrno } from '../helpers.js';

const PAGE = 4096;

/** A machine whose DMA32 zone is full of anon pages, every other one then freed: order-0 holes everywhere. */
function fragmented(opts: { memory?: string; pincount?: 'bias' | 'sticky' } = {}) {
  const m = new Machine({
    memory: opts.memory ?? '128M',
    thp: 'never',
    check: 'off',
    pincount: opts.pincount,
  });
  const p = m.spawn('p');
  const free = m.meminfo().MemFree * 1024;
  const len = Math.floor((free * 0.9) / PAGE) * PAGE;
  const a = m.mmap(p, { length: len, prot: 'rw', flags: ['private', 'anonymous'] });
  const n = len / PAGE;
  for (let i = 0; i < n; i++) m.write(p, a + i * PAGE, { byte: (i * 7) & 0xff, len: 1 });
  for (let i = 0; i < n; i += 2) m.madvise(p, a + i * PAGE, PAGE, 'dontneed');
  return { m, p, a, n };
}

/** Allocate blocks of `order` until none is left. */
function drain(m: Machine, order: number): void {
  for (;;) {
    try {
      m.allocPages(order, { gfp: GFP.MOVABLE });
    } catch {
      return;
    }
  }
}

function bytesIntact(m: Machine, p: number, a: number, n: number): boolean {
  for (let i = 1; i < n; i += 2) if (m.read(p, a + i * PAGE, 1).bytes[0] !== ((i * 7) & 0xff)) return false;
  return true;
}

function cc(k: Kernel, over: Partial<CompactControl> = {}): CompactControl {
  return {
    zone: k.pa.nodes[0].zones[0],
    order: -1,
    mode: 'sync',
    direct: false,
    migratetype: MIGRATE.MOVABLE,
    allowCma: true,
    unevictable: false,
    ...over,
  };
}

const emptyResult = (k: Kernel): CompactResult => compactZone(k, cc(k, { order: 0 }));

describe('compact_memory', () => {
  it('moves pages from the zone start to its end: order-9 blocks appear, every byte and mapping stays', () => {
    const { m, p, a, n } = fragmented();
    const before = m.buddyinfo()[0].free;
    const [r] = m.compact({ zone: 'DMA32' });
    expect(r.migrated).toBeGreaterThan(1000);
    expect(r.outcome).toBe('complete');
    expect(r.freeBlocksAfter).toBeGreaterThan(r.freeBlocksBefore + 10);
    expect(r.unusableAfter).toBeLessThan(r.unusableBefore);
    expect(m.buddyinfo()[0].free[9] + 2 * m.buddyinfo()[0].free[10]).toBeGreaterThan(
      before[9] + 2 * before[10],
    );
    expect(bytesIntact(m, p, a, n)).toBe(true);
    m.check('full');
    const v = m.vmstat();
    expect(v.compact_migrate_scanned).toBe(r.migrateScanned);
    expect(v.compact_free_scanned).toBe(r.freeScanned);
    expect(v.pgmigrate_success).toBe(r.migrated);
  });

  it('rewrites every mapping of a page shared after fork; refcount and mapcount move with it', () => {
    const { m, p, a, n } = fragmented();
    const c = m.fork(p, 'c');
    const i = 1;
    const from = m.translate(p, a + i * PAGE)!.pfn;
    const was = m.page(from);
    m.compact({});
    const to = m.translate(p, a + i * PAGE)!.pfn;
    expect(to).not.toBe(from);
    expect(m.translate(c, a + i * PAGE)!.pfn).toBe(to);
    const now = m.page(to);
    expect([now.refcount, now.mapcount]).toEqual([was.refcount, was.mapcount]);
    expect(
      m
        .rmap(to)
        .map((h) => h.pid)
        .sort(),
    ).toEqual([p, c].sort());
    expect(bytesIntact(m, c, a, n)).toBe(true);
    m.check('full');
  });

  it('never moves a pinned page; moves a page a sticky pin design still calls pinned only not (false positive)', () => {
    const bias = fragmented();
    const pin = bias.m.pinUserPages(bias.p, bias.a + PAGE, 1, ['write', 'longterm']);
    const pinned = pin.pfns[0];
    const [r] = bias.m.compact({ zone: 'DMA32' });
    expect(bias.m.translate(bias.p, bias.a + PAGE)!.pfn).toBe(pinned);
    expect(r.skipped.pinned).toBeGreaterThanOrEqual(1);
    expect(r.pinFalsePositives).toBe(0);

    const sticky = fragmented({ pincount: 'sticky' });
    const h = sticky.m.pinUserPages(sticky.p, sticky.a + PAGE, 1, ['write']);
    sticky.m.unpinUserPages(h.id);
    const [s] = sticky.m.compact({ zone: 'DMA32' });
    // Unpinned, but the design's bit says "maybe pinned": the page stays where it was.
    expect(sticky.m.translate(sticky.p, sticky.a + PAGE)!.pfn).toBe(h.pfns[0]);
    expect(s.pinFalsePositives).toBe(1);
  });

  it('the unusable free space index and the fragmentation index follow mm/vmstat.c', () => {
    const m = new Machine({ memory: '128M' });
    const z = m.kernel.pa.nodes[0].zones[0];
    // Free memory at boot is 1 order-8, 1 order-9 and 27 order-10 blocks.
    expect(fragmentation(z, 0)).toEqual({ unusable: 0, fragIndex: -1000 });
    const free = 256 + 512 + 27 * 1024;
    expect(fragmentation(z, 9).unusable).toBe(Math.floor((256 * 1000) / free));
    expect(fragmentation(z, 10).fragIndex).toBe(-1000);
  });
});

describe('isolate_migratepages_block (§11)', () => {
  it('case 25: of a pinned anon page, a slab page, a free page and a clean LRU file page, only the file page is isolated', () => {
    const m = new Machine({ memory: '128M', thp: 'never' });
    const k = m.kernel;
    const p = m.spawn('p');
    const a = m.mmap(p, { length: PAGE, prot: 'rw', flags: ['private', 'anonymous'] });
    m.write(p, a, { byte: 1, len: 1 });
    m.pinUserPages(p, a, 1, ['write']);
    m.fileCreate('f', PAGE, 5);
    const fa = m.mmap(p, { length: PAGE, prot: 'r', flags: ['shared'], file: 'f' });
    m.read(p, fa, 1);
    m.kmemCacheCreate('c', 64);
    const slabPfn = Math.floor(m.kmemCacheAlloc('c') / PAGE) % 2 ** 36;
    const anon = m.translate(p, a)!.pfn;
    const file = m.translate(p, fa)!.pfn;
    const res = emptyResult(k);
    const blocks = new Set([anon, file, slabPfn].map((x) => Math.floor(x / PAGEBLOCK_PAGES)));
    const isolated: number[] = [];
    for (const b of blocks) isolated.push(...isolateMigratepagesBlock(k, cc(k), b * PAGEBLOCK_PAGES, res));
    expect(isolated.map((row) => k.folios.pfn[row])).toEqual([file]);
    expect(res.skipped.pinned).toBe(1);
    expect(res.skipped.buddy).toBeGreaterThan(0);
    expect(res.skipped.non_lru).toBeGreaterThan(0);
    for (const row of isolated) k.folios.setFlag(row, PG.lru);
  });

  it('rule 5: a folio larger than a pageblock is counted once, its pages in each block it covers', () => {
    const m = new Machine({ memory: '128M', thp: 'never' });
    const k = m.kernel;
    const pfn = m.folioPfn(m.folioAlloc(10));
    const res = emptyResult(k);
    for (const b of [pfn, pfn + PAGEBLOCK_PAGES]) isolateMigratepagesBlock(k, cc(k), b, res);
    expect(res.skipped.huge).toBe(1024);
  });

  it('skips GUP-referenced anon pages (rule 9) but isolates referenced file pages, which then fail to migrate', () => {
    const { m, p, a } = fragmented();
    m.getUserPages(p, a + PAGE, 1);
    m.fileCreate('f', PAGE, 5);
    const fa = m.mmap(p, { length: PAGE, prot: 'r', flags: ['shared'], file: 'f' });
    m.getUserPages(p, fa, 1);
    const filePfn = m.translate(p, fa)!.pfn;
    const anonPfn = m.translate(p, a + PAGE)!.pfn;
    const [r] = m.compact({ zone: 'DMA32' });
    expect(r.skipped.extra_refs).toBe(1);
    expect(m.translate(p, a + PAGE)!.pfn).toBe(anonPfn);
    expect(m.translate(p, fa)!.pfn).toBe(filePfn);
    m.check('full');
  });

  it('skips unevictable pages unless the caller isolates them, writeback in async mode, poisoned pages', () => {
    const m = new Machine({ memory: '128M', thp: 'never' });
    const k = m.kernel;
    const p = m.spawn('p');
    const a = m.mmap(p, { length: 3 * PAGE, prot: 'rw', flags: ['private', 'anonymous'] });
    m.write(p, a, { byte: 1, len: 3 * PAGE });
    const rows = [0, 1, 2].map((i) => k.folios.pageRow(m.translate(p, a + i * PAGE)!.pfn));
    k.folios.setFlag(rows[0], PG.mlocked);
    k.folios.setFlag(rows[1], PG.writeback);
    k.folios.setFlag(rows[2], PG.hwpoison);
    const start = Math.floor(k.folios.pfn[rows[0]] / PAGEBLOCK_PAGES) * PAGEBLOCK_PAGES;
    const r1 = emptyResult(k);
    const got = isolateMigratepagesBlock(k, cc(k, { mode: 'async' }), start, r1);
    expect([r1.skipped.unevictable, r1.skipped.writeback, r1.skipped.hwpoison]).toEqual([1, 1, 1]);
    for (const row of got) k.folios.setFlag(row, PG.lru);
    const r2 = emptyResult(k);
    const got2 = isolateMigratepagesBlock(k, cc(k, { mode: 'sync', unevictable: true }), start, r2);
    expect(got2).toContain(rows[0]);
    expect(got2).toContain(rows[1]);
    expect(got2).not.toContain(rows[2]);
    for (const row of got2) k.folios.setFlag(row, PG.lru);
    k.folios.clearFlag(rows[2], PG.hwpoison);
  });

  it('skips a THP (rule 5) and pageblocks that are isolated, or CMA for a request that may not use CMA', () => {
    const m = new Machine({ memory: '256M', thp: 'always', cma: '16M' });
    const k = m.kernel;
    const p = m.spawn('p');
    const a = m.mmap(p, { length: 4 << 20, prot: 'rw', flags: ['private', 'anonymous'] });
    m.write(p, a + (2 << 20), { byte: 1, len: 1 });
    const thp = m.translate(p, a + (2 << 20))!;
    expect(thp.level).toBe('pmd');
    const r = emptyResult(k);
    isolateMigratepagesBlock(k, cc(k), Math.floor(thp.pfn / PAGEBLOCK_PAGES) * PAGEBLOCK_PAGES, r);
    expect(r.skipped.huge).toBe(PAGEBLOCK_PAGES);
    const z = k.pa.zoneOf(thp.pfn);
    const cmaBlocks = [...k.pa.pageblockMt].filter((mt) => mt === MIGRATE.CMA).length;
    const res = compactZone(k, cc(k, { zone: z, direct: true, allowCma: false }));
    expect(res.skipped.cma_block).toBe(cmaBlocks);
    setMigratetypeIsolate(k.pa, thp.pfn);
    const res2 = compactZone(k, cc(k, { zone: z }));
    expect(res2.skipped.isolated_block).toBe(1);
    unsetMigratetypeIsolate(k.pa, thp.pfn);
  });
});

describe('direct compaction', () => {
  it('a failing order-9 allocation with __GFP_DIRECT_RECLAIM compacts and then succeeds; without, ENOMEM', () => {
    const { m, p, a, n } = fragmented();
    drain(m, 9);
    expectErrno(() => m.allocPages(9, { gfp: GFP.MOVABLE }), 'ENOMEM');
    const pfn = m.allocPages(9, { gfp: GFP.MOVABLE | GFP.DIRECT_RECLAIM });
    expect(m.page(pfn).order).toBe(9);
    const v = m.vmstat();
    expect([v.compact_stall, v.compact_success, v.compact_fail]).toEqual([1, 1, 0]);
    expect(bytesIntact(m, p, a, n)).toBe(true);
    m.check('full');
  });

  it('marks a pageblock it could take nothing from as skip, and the next direct compaction passes it over', () => {
    const { m, p, a, n } = fragmented();
    const k = m.kernel;
    // Pin the pages of the lowest pageblocks holding anon pages, where the migrate scanner starts.
    const byPfn = [];
    for (let i = 1; i < n; i += 2) byPfn.push({ i, pfn: m.translate(p, a + i * PAGE)!.pfn });
    byPfn.sort((x, y) => x.pfn - y.pfn);
    const pinned = byPfn.slice(0, 1024).map(({ i }) => m.pinUserPages(p, a + i * PAGE, 1, ['write']).pfns[0]);
    drain(m, 9);
    const first = compactZone(k, cc(k, { direct: true, order: 9 }));
    expect(first.outcome).toBe('success');
    const blocks = new Set(pinned.map((x) => Math.floor(x / PAGEBLOCK_PAGES)));
    expect([...blocks].some((b) => k.compaction.skip[b] === 1)).toBe(true);
    drain(m, 9);
    const again = compactZone(k, cc(k, { direct: true, order: 9 }));
    expect(again.skipped.skip_hint).toBeGreaterThan(0);
    // compact_memory ignores the hints.
    const full = compactZone(k, cc(k));
    expect(full.skipped.skip_hint).toBe(0);
    m.check('full');
  });
});
