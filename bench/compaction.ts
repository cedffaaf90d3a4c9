/**
 * Compaction of a fragmented 16 GiB zone (PFN-to-owner issue, Benchmark): ZONE_NORMAL filled with
 * anon pages in 64 KiB chunks, every other chunk freed (half of every pageblock free, no order-9
 * block left), then /proc/sys/vm/compact_memory on that zone. Reports pages migrated per second
 * and the free order-9+ blocks and unusable free space index before and after.
 */
import { Machine } from '../src/index.js';
import { fmtMs, gc, progress, QUICK, type SuiteResult } from './util.js';

const ZONE_GIB = QUICK ? 2 : 16;

export function runCompaction(): SuiteResult {
  // 4 GiB of DMA32 below ZONE_NORMAL: memory = 4 GiB + the zone.
  const m = new Machine({ memory: `${4 + ZONE_GIB}G`, thp: 'never', check: 'off', contents: false });
  const zone = m.zoneinfo().find((z) => z.zone === 'Normal')!;
  const p = m.spawn('fill');
  const chunk = 64 << 10;
  const freeBytes = zone.free * 4096;
  const len = Math.floor(freeBytes / chunk) * chunk;
  progress(`compaction: filling a ${ZONE_GIB} GiB ZONE_NORMAL`);
  const a = m.mmap(p, { length: len, prot: 'rw', flags: ['private', 'anonymous'] });
  m.touch(p, a, len, { write: true });
  for (let off = 0; off < len; off += 2 * chunk) m.madvise(p, a + off, chunk, 'dontneed');
  gc();
  progress('compaction: compact_memory on Normal');
  const t = performance.now();
  const [r] = m.compact({ zone: 'Normal' });
  const ms = performance.now() - t;
  const perSec = r.migrated / (ms / 1000);
  return {
    tables: [
      {
        title: `Compaction of a fragmented ${ZONE_GIB} GiB zone (compact_memory)`,
        columns: ['metric', 'value'],
        rows: [
          ['pages migrated', String(r.migrated)],
          ['migrate / free scanner pages', `${r.migrateScanned} / ${r.freeScanned}`],
          ['time', fmtMs(ms)],
          ['pages migrated per second', Math.round(perSec).toLocaleString('en-US')],
          ['free order-9+ blocks', `${r.freeBlocksBefore} -> ${r.freeBlocksAfter}`],
          [
            'unusable free space index (order 9)',
            `${(r.unusableBefore / 1000).toFixed(3)} -> ${(r.unusableAfter / 1000).toFixed(3)}`,
          ],
        ],
        notes: ['contents off (every page reads as zeros), check off; one run'],
      },
    ],
    targets: [],
  };
}
