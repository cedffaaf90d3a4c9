/**
 * GUP's inline run: the pages of one PTE table that get_user_pages() / pin_user_pages() can take
 * without the general follow_page_pte() path, grabbed in one loop (gup.ts collect() calls it for
 * every table it enters).
 *
 * Models: mm/gup.c — follow_page_pte() and try_grab_folio() for a present, writable, non-special
 * PTE of an anon folio, and folio_is_longterm_pinnable() (mm.h) for FOLL_LONGTERM, as one pass.
 */

import { longtermPinnable } from './gup_longterm.js';
import type { Kernel } from './kernel.js';
import { INT32_FRAMES, MT, PFN_SECTION_SHIFT, SMALL_ANON_WORD, TYPE_MASK } from './memdesc.js';
import type { Mm } from './mm_types.js';
import { ENTRY_UNIT, PTE } from './pgtable.js';
import { PAGE_SIZE, PAGEBLOCK_ORDER, PAGES_PER_SECTION } from './types.js';

// The run's constants as this module's own bindings: V8 reloads an imported binding (checking
// it is initialised) at every use inside a loop, while it folds a module's own const away. On
// the bench host the imported ones doubled the loop's time.
const RUN_UNIT = ENTRY_UNIT;
const RUN_MASK = PTE.PRESENT | PTE.WRITE | PTE.SPECIAL;
const RUN_WANT = PTE.PRESENT | PTE.WRITE;
const RUN_PAGE = PAGE_SIZE;
const RUN_SECTION_SHIFT = PFN_SECTION_SHIFT;
const RUN_SECTION_MASK = PAGES_PER_SECTION - 1;
const RUN_TYPE_MASK = TYPE_MASK;
const RUN_ANON = MT.ANON;
const RUN_SMALL = SMALL_ANON_WORD;
const RUN_BLOCK_ORDER = PAGEBLOCK_ORDER;

/**
 * follow_page_pte() and try_grab_folio() inline over the run of present, writable, non-special
 * PTEs of anon folios from `slot` (the bulk of any big pin): none of them needs a fault, an
 * unshare or a refusal, so gup.ts's followPage() would only confirm it. `pinning`: FOLL_PIN;
 * `getting`: FOLL_GET. Stops at `end`, at `nrPages` or
 * at the first entry that needs the general path; returns the count of pages taken so far. Each
 * page is grabbed as it is found: one pass over the walk's arrays, not a second over its result.
 */
export function grabRun(
  k: Kernel,
  mm: Mm,
  pinning: boolean,
  getting: boolean,
  out: Float64Array,
  rows: Int32Array,
  n: number,
  nrPages: number,
  slot: number,
  addr: number,
  end: number,
  unpinnable: number[] | undefined,
): number {
  const ents = k.ptdesc.entries;
  const refcount = k.folios.refcount;
  const memmap = k.pa.memmap;
  const pins = k.pins;
  const smallRefs = pins.policy.smallPinRefs;
  let truth: Int32Array | undefined;
  // Frames from 2^31 on (machines past 8 TiB) take the general path: the run's arithmetic is int32.
  const maxPfn = Math.min(k.pa.maxPfn, INT32_FRAMES);
  const from = n;
  let section = -1;
  let words: Uint32Array | undefined;
  // folio_is_longterm_pinnable() of an anon folio's frame is its pageblock's answer: once per block.
  let block = -1;
  let blockOk = true;
  for (; n < nrPages && addr < end; n++, slot++, addr += RUN_PAGE) {
    const e = ents[slot];
    const pfn = Math.floor(e / RUN_UNIT);
    const bits = e - pfn * RUN_UNIT;
    if ((bits & RUN_MASK) !== RUN_WANT || pfn >= maxPfn) break;
    const p = pfn | 0;
    if (p >> RUN_SECTION_SHIFT !== section) {
      section = p >> RUN_SECTION_SHIFT;
      words = memmap.sectionWords(section);
      if (words !== undefined && pinning) truth = pins.truthOf(section);
    }
    if (words === undefined) break;
    // An anon folio of any order (its frames' type is the folio's kind, the memmap check holds).
    const w = (p & RUN_SECTION_MASK) << 1;
    const word = words[w];
    if ((word & RUN_TYPE_MASK) !== RUN_ANON) break;
    const row = words[w + 1];
    if (refcount[row] <= 0) break;
    out[n] = pfn;
    rows[n] = row;
    // try_grab_folio(): a pin is the truth's count and the design's part, inline where that is
    // only references on a small folio; FOLL_GET one reference.
    if (pinning) {
      (truth as Int32Array)[p & RUN_SECTION_MASK]++;
      if (smallRefs !== undefined && word === RUN_SMALL) refcount[row] += smallRefs;
      else pins.policy.pin(row, pfn, mm, addr);
    } else if (getting) refcount[row]++;
    if (unpinnable !== undefined) {
      if (p >> RUN_BLOCK_ORDER !== block) {
        block = p >> RUN_BLOCK_ORDER;
        blockOk = longtermPinnable(k, pfn);
      }
      if (!blockOk) unpinnable.push(pfn);
    }
  }
  if (pinning) pins.pinnedInline(n - from);
  return n;
}
