/**
 * Synthetic owners for a replayed capture's anon folios. kpageflags says a frame is an anon folio
 * but not which process maps it, so a replay's anon folios have no mapping: nothing explains
 * their reference and compaction or memory failure can do nothing with them. This gives them
 * owners that are made up but consistent: one process per `anonPerProcess` folios, each with one
 * private anonymous VMA in which every folio is mapped exactly once by PTEs, with its anon_vma,
 * index, mapcount, refcount (one per mapped page) and PG_anon_exclusive as a write fault would
 * have left them (do_anonymous_page: folio_add_new_anon_rmap, set_ptes).
 *
 * What is synthetic (and printed with the replay): the processes (named `snapshot-anon-N`), the
 * virtual addresses, that each folio has exactly one mapping (the capture's kpagecount may say
 * more: the forked child's shares are not rebuilt), that large folios are mapped by PTEs even
 * where the capture had a PMD mapping, and the page tables, which are new frames taken from the
 * free memory (on top of the capture's own, ownerless, page-table pages). KSM pages are mapped
 * as plain anon pages. File and shmem folios keep no owner.
 *
 * Kernel analogue: none; the pieces are do_mmap(), anon_vma_prepare() and the anonymous fault's
 * rmap and PTE updates.
 */
import type { Machine } from '../machine/machine.js';
import { spawn } from '../mm/fork.js';
import { anonVmaPrepare, userBits } from '../mm/internal.js';
import { MT } from '../mm/memdesc.js';
import { findVma, MAP, MM_ANONPAGES, PROT } from '../mm/mm_types.js';
import { doMmap } from '../mm/mmap.js';
import { levelIndex, mkEntry, PMD_SIZE, PT_LEVEL } from '../mm/pgtable.js';
import { addNewAnonRmap } from '../mm/rmap.js';
import { PAGE_SIZE } from '../mm/types.js';

export interface OwnerOptions {
  /** Anon folios per synthetic process. Default 4096. */
  anonPerProcess?: number;
}

export interface Owners {
  processes: number;
  anonFolios: number;
  notes: string[];
}

/** Map every unmapped anon folio of a replayed machine into synthetic processes (see the header). */
export function addSyntheticOwners(m: Machine, opts: OwnerOptions = {}): Owners {
  const per = opts.anonPerProcess ?? 4096;
  if (!Number.isInteger(per) || per < 1) throw new RangeError('anonPerProcess must be a positive integer');
  const k = m.kernel;
  const f = k.folios;
  const rows: number[] = [];
  for (const row of f.liveRows()) if (f.kind[row] === MT.ANON && f.mapcountOf(row) === 0) rows.push(row);
  rows.sort((a, b) => f.pfn[a] - f.pfn[b]);
  let processes = 0;
  for (let i = 0; i < rows.length; i += per) {
    mapIntoProcess(m, rows.slice(i, i + per), `snapshot-anon-${processes + 1}`);
    processes++;
  }
  const notes = [
    `synthetic owners: ${rows.length.toLocaleString('en-US')} anon folios mapped once each by ${processes} made-up processes (snapshot-anon-N, ${per} folios each) at made-up addresses, large folios by PTEs; their page tables are new frames; file, shmem and hugetlb folios have no owner`,
  ];
  return { processes, anonFolios: rows.length, notes };
}

/** One synthetic process mapping `rows` in one anonymous VMA, each folio at an address aligned to its size (up to a PMD). */
function mapIntoProcess(m: Machine, rows: number[], name: string): void {
  const k = m.kernel;
  const f = k.folios;
  const offsets: number[] = [];
  let len = 0;
  for (const row of rows) {
    const size = f.nrPages(row) * PAGE_SIZE;
    const align = Math.min(size, PMD_SIZE);
    len = Math.ceil(len / align) * align;
    offsets.push(len);
    len += size;
  }
  // A multiple of PMD_SIZE so do_mmap aligns the start to a PMD (thp_get_unmapped_area).
  len = Math.ceil(len / PMD_SIZE) * PMD_SIZE;
  const proc = spawn(k, name);
  const start = doMmap(k, proc, {
    length: len,
    prot: PROT.READ | PROT.WRITE,
    flags: MAP.PRIVATE | MAP.ANONYMOUS,
  });
  const vma = findVma(proc.mm, start)!;
  anonVmaPrepare(k, vma);
  const pd = k.ptdesc;
  const bits = userBits(vma, true);
  rows.forEach((row, j) => {
    const addr = start + offsets[j];
    const n = f.nrPages(row);
    const pfn = f.pfn[row];
    for (let i = 0; i < n; i++) {
      const a = addr + i * PAGE_SIZE;
      const pte = pd.tableFor(proc.mm.pgd, a, PT_LEVEL.PTE, true);
      pd.set(pte, levelIndex(a, PT_LEVEL.PTE), mkEntry(pfn + i, bits));
    }
    // The allocation's reference becomes the first mapping's; each further PTE takes one more.
    f.refcount[row] += n - 1;
    addNewAnonRmap(k, row, vma, addr, false);
    proc.mm.rss[MM_ANONPAGES] += n;
  });
}
