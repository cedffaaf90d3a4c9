/**
 * `pagelab demo`: a built-in demo, no scenario file needed. Boots a 4 GiB machine, allocates a mix of folios,
 * slabs, page-table pages and driver pages the way a small running system would, and prints the
 * machine report with the metadata accounting under both layouts.
 */
import { Machine } from '../index.js';
import { slabinfoText } from '../scenario/procfs.js';
import { bootReport, machineJson } from './report.js';

/** The demo's machine, built. */
export function demoMachine(memory = '4G'): Machine {
  const m = new Machine({ memory, check: 'off' });
  // A process's worth of anon memory: small folios and two PMD-sized THPs.
  for (let i = 0; i < 2000; i++) m.folioAlloc(0);
  for (let i = 0; i < 2; i++) m.folioAlloc(9);
  // Page cache: some order-2 file folios (readahead) and small ones.
  for (let i = 0; i < 300; i++) m.folioAlloc(2, { kind: 'file' });
  for (let i = 0; i < 1000; i++) m.folioAlloc(0, { kind: 'file' });
  // Kernel objects: dentries, inodes, kmallocs of several sizes, one large kmalloc.
  m.kmemCacheCreate('dentry', 192, { reclaimable: true });
  m.kmemCacheCreate('inode_cache', 600, { reclaimable: true });
  for (let i = 0; i < 3000; i++) m.kmemCacheAlloc('dentry');
  for (let i = 0; i < 1200; i++) m.kmemCacheAlloc('inode_cache');
  for (const size of [24, 64, 200, 1000, 3000]) for (let i = 0; i < 400; i++) m.kmalloc(size);
  m.kmalloc(64 * 1024);
  // Page tables for a few processes: one PGD, PUD and PMD each, and some PTE tables.
  for (let p = 0; p < 8; p++) {
    for (const level of [4, 3, 2]) m.pagetableAlloc(level);
    for (let i = 0; i < 6; i++) m.pagetableAlloc(1);
  }
  // A driver's DMA buffer.
  m.allocPages(4);
  m.check('full');
  return m;
}

export function runDemo(memory = '4G'): string {
  const m = demoMachine(memory);
  return [bootReport(m), '', 'slabinfo:', slabinfoText(m)].join('\n');
}

/** `demo --json`. */
export function demoJson(memory = '4G'): Record<string, unknown> {
  const m = demoMachine(memory);
  return { ...machineJson(m), slabinfo: m.slabinfo() };
}
