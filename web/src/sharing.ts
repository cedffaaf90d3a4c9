/**
 * Who maps what, for the shared-frame highlight: the reverse map of one frame (rmap_walk, as
 * Machine.rmap answers it) and the frames one process maps, found by walking its page tables
 * VMA by VMA and skipping whatever an empty table entry covers, so a sparse terabyte VMA costs
 * its populated tables only.
 */
import type { Machine } from '../../src/machine/machine.js';
import type { Mapping, ProcFrames } from './protocol.js';

/** Bytes one entry covers at each level of the walk. */
const SPAN: Record<string, number> = { pte: 2 ** 12, pmd: 2 ** 21, pud: 2 ** 30, pgd: 2 ** 39 };
/** Frames listed for one process at most (the map outlines them one by one). */
export const PROC_FRAMES_MAX = 1 << 14;

export function frameMappings(m: Machine, pfn: number): Mapping[] {
  return m.rmap(pfn).map((r) => ({ pid: r.pid, addr: r.addr, level: r.level }));
}

export function processFrames(m: Machine, pid: number): ProcFrames {
  const seen = new Set<number>();
  let truncated = false;
  const add = (pfn: number) => {
    if (seen.size >= PROC_FRAMES_MAX) truncated = true;
    else seen.add(pfn);
  };
  for (const v of m.process(pid).vmas) {
    let addr = v.start;
    while (addr < v.end && !truncated) {
      const steps = m.walk(pid, addr);
      const last = steps[steps.length - 1];
      const span = SPAN[last?.level ?? 'pgd'] ?? SPAN.pgd;
      const next = Math.min(v.end, Math.floor(addr / span) * span + span);
      if (last?.leaf && last.present && last.pfn !== undefined) {
        // A PMD leaf maps 512 frames from its first: count the ones inside the VMA.
        const base = last.pfn + (last.level === 'pte' ? 0 : (addr % span) / 4096);
        for (let a = addr, p = base; a < next; a += 4096, p++) add(p);
      }
      addr = next;
    }
  }
  const frames = [...seen].sort((a, b) => a - b);
  // Shared: another live process maps it too.
  const shared = frames.filter((pfn) => m.rmap(pfn).some((r) => r.pid !== pid));
  return { pid, frames, shared, truncated };
}
