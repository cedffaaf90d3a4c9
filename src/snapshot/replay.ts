/**
 * Replaying a capture into a model Machine: a machine of the capture's memmap size holding the
 * same descriptors — every folio with its kind and order, every slab, every page table — built
 * through the public Machine API only, so its accounting() can be checked against the price
 * computed from the capture (src/snapshot/price.ts).
 *
 * Kernel analogue: none; this is the bridge from fs/proc/page.c's view to pagelab's model.
 *
 * What cannot be reproduced, and what is done instead (also returned as `notes`):
 * - placement: the public API allocates where the buddy allocator chooses, so frames are not at
 *   their captured PFNs and free memory is not fragmented as in the capture; holes (the PCI
 *   hole) are not modelled: the machine's RAM is the capture's memmap PFNs, contiguous;
 * - hugetlb: pagelab has no hugetlb pool; each hugetlb folio is a file-kind folio of its order
 *   (priced the same: a large folio descriptor, no anon-exclusive bitmap);
 * - KSM pages are order-0 anon folios (not merged: no process maps them); mappings, mapcounts,
 *   page contents, zones and the kernel's own compound pages are not replayed;
 * - slabs: one cache whose objects fill whole slabs, enough of them for the captured slab count
 *   (slab orders and caches are not in kpageflags).
 */
import { Machine } from '../machine/machine.js';
import { PAGE_SIZE, PAGES_PER_SECTION } from '../mm/types.js';
import { type Classification, classify, FRAME, type Frame } from './classify.js';
import type { Snapshot } from './read.js';

export const REPLAY_NOTES: readonly string[] = [
  'frames are placed by the model allocator, not at their captured PFNs; free memory is not fragmented as captured',
  "holes are not modelled: RAM = the capture's memmap PFNs, contiguous",
  'hugetlb folios are file-kind folios of the same order (pagelab has no hugetlb pool)',
  'KSM pages are order-0 anon folios; mappings, mapcounts, page contents and zones are not replayed',
  'slabs come from one cache sized to give the captured slab count; kernel compound pages are left out (no descriptor under either layout)',
];

const FOLIO_KIND: Partial<Record<Frame, 'anon' | 'file'>> = {
  [FRAME.ANON]: 'anon',
  [FRAME.KSM]: 'anon',
  [FRAME.FILE]: 'file',
  [FRAME.SHMEM]: 'file',
  [FRAME.HUGETLB]: 'file',
};

export interface Replay {
  machine: Machine;
  notes: readonly string[];
}

/** Build a Machine shaped like the capture (see the header for what is and is not reproduced). */
export function machineFromSnapshot(s: Snapshot, c: Classification = classify(s)): Replay {
  const section = PAGES_PER_SECTION * PAGE_SIZE;
  const memory = Math.ceil((c.memmapPfns * PAGE_SIZE) / section) * section;
  const m = new Machine({ memory, check: 'off', contents: false });
  const base = m.census();

  for (const [key, n] of c.objects) {
    const [f, order] = key.split(':').map(Number) as [Frame, number];
    const kind = FOLIO_KIND[f];
    if (!kind) continue;
    for (let i = 0; i < n; i++) m.folioAlloc(order, { kind });
  }

  let ptdescs = 0;
  let slabs = 0;
  for (const [key, n] of c.objects) {
    const f = Number(key.split(':')[0]);
    if (f === FRAME.PGTABLE) ptdescs += n;
    if (f === FRAME.SLAB) slabs += n;
  }
  for (let i = base.ptdescs; i < ptdescs; i++) m.pagetableAlloc(1);

  const want = slabs - base.slabs;
  if (want > 0) {
    const name = 'snapshot_replay';
    m.kmemCacheCreate(name, 512);
    m.kmemCacheAlloc(name);
    const row = m.slabinfo().find((r) => r.name === name);
    const perSlab = row?.objPerSlab ?? 1;
    for (let i = 1; i < want * perSlab; i++) m.kmemCacheAlloc(name);
  }
  return { machine: m, notes: REPLAY_NOTES };
}
