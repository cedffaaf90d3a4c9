/**
 * The facade of the PFN-to-owner consumers: compaction (/proc/sys/vm/compact_memory, a zone's
 * compaction for an order) and memory failure (memory_failure, unpoison_memory, soft offline),
 * with the argument checks a user's input needs. Mechanisms: src/mm/compaction.ts and
 * src/mm/memory-failure.ts.
 */
import { type CompactResult, compactNode, fragmentation } from '../mm/compaction.js';
import type { Kernel } from '../mm/kernel.js';
import {
  MF,
  type MfFlagName,
  type MfOutcome,
  memoryFailure as mmMemoryFailure,
  softOfflinePage as mmSoftOffline,
  unpoisonMemory as mmUnpoison,
  pfnAt,
} from '../mm/memory-failure.js';
import { MAX_PAGE_ORDER, PAGEBLOCK_ORDER } from '../mm/types.js';
import { InputError } from './config.js';
import { findProcess } from './task_mmu.js';

/** What `compact` reports per zone: the run, and the fragmentation at `order` before and after. */
export interface CompactReport extends CompactResult {
  /** The order the indices are computed for (the request's, or a pageblock's for compact_memory). */
  indexOrder: number;
  /** unusable_free_index in thousandths: free memory that cannot serve the order. */
  unusableBefore: number;
  unusableAfter: number;
  /** __fragmentation_index in thousandths (-1000: the order can be served now). */
  fragIndexBefore: number;
  fragIndexAfter: number;
  /** Free blocks of at least `indexOrder`, before and after. */
  freeBlocksBefore: number;
  freeBlocksAfter: number;
}

export interface CompactRequest {
  /** Node to compact (all nodes when absent). */
  node?: number;
  /** Zone name (DMA32, Normal, Movable); every zone of the node when absent. */
  zone?: string;
  /** Stop at a free block of this order; -1 or absent: the whole zone (compact_memory). */
  order?: number;
}

function blocksAtLeast(k: Kernel, nid: number, zone: string, order: number): number {
  const z = k.pa.nodes[nid].zones.find((zz) => zz.name === zone)!;
  let n = 0;
  for (let o = order; o <= MAX_PAGE_ORDER; o++) n += z.freeBlocks(o);
  return n;
}

/** Compaction of a node (or all), a zone, for an order or the whole zone. */
export function compact(k: Kernel, req: CompactRequest = {}): CompactReport[] {
  const order = req.order ?? -1;
  if (!Number.isInteger(order) || order < -1 || order > 10)
    throw new InputError(`order must be -1..10, got ${order}`);
  const nodes = req.node === undefined ? k.pa.nodes.map((n) => n.nid) : [req.node];
  for (const nid of nodes)
    if (!Number.isInteger(nid) || nid < 0 || nid >= k.pa.nodes.length)
      throw new InputError(`node ${nid} does not exist`);
  if (req.zone !== undefined && !nodes.some((nid) => k.pa.nodes[nid].zones.some((z) => z.name === req.zone)))
    throw new InputError(`no zone ${req.zone} on the node(s) given`);
  const indexOrder = order >= 0 ? order : PAGEBLOCK_ORDER;
  const out: CompactReport[] = [];
  for (const nid of nodes) {
    const zones = k.pa.nodes[nid].zones.filter((z) => req.zone === undefined || z.name === req.zone);
    const before = zones.map((z) => ({
      ...fragmentation(z, indexOrder),
      blocks: blocksAtLeast(k, nid, z.name, indexOrder),
    }));
    const results = compactNode(k, nid, order, req.zone);
    results.forEach((r, i) => {
      const z = zones[i];
      const after = fragmentation(z, indexOrder);
      out.push({
        ...r,
        indexOrder,
        unusableBefore: before[i].unusable,
        unusableAfter: after.unusable,
        fragIndexBefore: before[i].fragIndex,
        fragIndexAfter: after.fragIndex,
        freeBlocksBefore: before[i].blocks,
        freeBlocksAfter: blocksAtLeast(k, nid, z.name, indexOrder),
      });
    });
  }
  return out;
}

export interface MemoryFailureRequest {
  pfn?: number;
  /** The accessing process and the address it touched (the error's virtual address). */
  pid?: number;
  addr?: number;
  flags?: readonly MfFlagName[];
  /** vm.memory_failure_early_kill for this and later failures. */
  earlyKill?: boolean;
}

const FLAG_BITS: Record<MfFlagName, number> = {
  action_required: MF.ACTION_REQUIRED,
  must_kill: MF.MUST_KILL,
  sw_simulated: MF.SW_SIMULATED,
};

/** memory_failure() by frame, or by the frame a process address maps. */
export function memoryFailure(k: Kernel, req: MemoryFailureRequest): MfOutcome {
  let flags = 0;
  for (const name of req.flags ?? []) {
    if (!(name in FLAG_BITS)) throw new InputError(`unknown memory_failure flag ${name}`);
    flags |= FLAG_BITS[name];
  }
  if (req.earlyKill !== undefined) k.hwpoison.earlyKill = req.earlyKill;
  let pfn = req.pfn;
  if (req.addr !== undefined) {
    if (req.pid === undefined) throw new InputError('addr needs the process');
    pfn = pfnAt(k, findProcess(k, req.pid).mm, req.addr);
  }
  if (pfn === undefined || !Number.isInteger(pfn) || pfn < 0)
    throw new InputError('give a pfn, or a process and an address');
  if (flags & MF.ACTION_REQUIRED && req.pid === undefined)
    throw new InputError('action_required needs the accessing process');
  return mmMemoryFailure(k, pfn, flags, req.pid);
}

export function unpoisonMemory(k: Kernel, pfn: number): void {
  mmUnpoison(k, pfn);
}

export function softOfflinePage(k: Kernel, pfn: number): void {
  mmSoftOffline(k, pfn);
}
