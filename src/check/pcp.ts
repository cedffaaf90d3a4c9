/**
 * Invariants of the per-CPU page lists (src/mm/pcp.ts), as free_pcppages_bulk's and
 * __rmqueue_pcplist's VM_BUG_ONs and check_new_pages() would see them.
 *
 * cheap: each zone's pcp->count is what its lists hold and stays under the limits the lists allow.
 * full: every listed block is aligned, inside its zone, on the list of its order, untyped in the
 * memmap (not PageBuddy, no owner) and listed once.
 */
import { MT, MT_NAMES, mdType } from '../mm/memdesc.js';
import { NR_PCP_LISTS } from '../mm/mmzone.js';
import type { PageAlloc } from '../mm/page_alloc.js';
import { findFreeBlock } from '../mm/page_isolation.js';
import { pcpBlocks, pindexToOrder } from '../mm/pcp.js';
import { hex, type Violations } from './violation.js';

/** The lists' lengths add up to pcp->count. O(zones × lists). */
export function checkPcpCounts(pa: PageAlloc, v: Violations): void {
  for (const z of pa.zones) {
    const pcp = z.pcp;
    let n = 0;
    for (let i = 0; i < NR_PCP_LISTS; i++) n += pcp.lists[i].length << pindexToOrder(i);
    if (n !== pcp.count)
      v.push(`zone ${z.nid}/${z.name}: pcp lists hold ${n} pages but pcp->count is ${pcp.count}`);
  }
}

/** Walk every pcp list; returns head pfn -> order of each listed block. */
export function checkPcpLists(pa: PageAlloc, v: Violations): Map<number, number> {
  const heads = new Map<number, number>();
  for (const z of pa.zones) {
    for (const { pfn, order } of pcpBlocks(z)) {
      const n = 1 << order;
      if (pfn % n !== 0) v.push(`pcp block ${hex(pfn)} of order ${order} is misaligned`, { pfn });
      if (!z.contains(pfn) || !z.contains(pfn + n - 1))
        v.push(`pcp block ${hex(pfn)} crosses zone ${z.name}`, { pfn });
      if (heads.has(pfn)) v.push(`pcp block ${hex(pfn)} is listed twice`, { pfn });
      heads.set(pfn, order);
      if (findFreeBlock(pa, pfn)) v.push(`pcp block ${hex(pfn)} is also inside a free buddy block`, { pfn });
      for (let p = pfn; p < pfn + n; p++) {
        const t = mdType(pa.memmap.lo(p));
        if (t !== MT.NONE) {
          v.push(`frame ${hex(p)} of pcp block ${hex(pfn)} is typed ${MT_NAMES[t]}`, { pfn: p });
          break;
        }
      }
    }
  }
  return heads;
}
