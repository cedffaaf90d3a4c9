/**
 * The floor: the least typed-array work per page the model's own data layout allows, in JS on
 * this machine — what the vm and gup suites' per-page times are measured against (Performance
 * issue: "keep a floor benchmark so the distance to the limit is always visible").
 *
 * Each loop does only what the operation cannot avoid over pagelab's layout: PTEs as doubles
 * (`pfn * 4096 + bits`), the memdesc word pair per frame, the folio pool's refcount, mapcount
 * and flags columns. No validation, no special cases, no rmap beyond the counters, no freeing
 * beyond a stack push — so no real implementation reaches it; the gap says what the rest costs.
 */
import { median, QUICK, type SuiteResult } from './util.js';

const PAGES = 1 << 18; // 1 GiB of 4 KiB pages, as the vm suite
const RUNS = QUICK ? 5 : 15;
const WRITE = 2;
const YOUNG = 16;
const EXCL = 1 << 11;
const BIAS = 1024;

/** The model's arrays for PAGES mapped pages, one folio per frame. */
function layout() {
  const src = new Float64Array(PAGES);
  const dst = new Float64Array(PAGES);
  const memmap = new Uint32Array(PAGES * 2);
  const refcount = new Int32Array(PAGES);
  const mapcount = new Int32Array(PAGES);
  const flags = new Int32Array(PAGES);
  const freed = new Float64Array(PAGES);
  const pinned = new Float64Array(PAGES);
  const reset = () => {
    for (let i = 0; i < PAGES; i++) {
      src[i] = i * 4096 + 0x7f;
      memmap[i * 2] = 2;
      memmap[i * 2 + 1] = i;
      refcount[i] = 1;
      mapcount[i] = 0;
      flags[i] = EXCL;
    }
  };
  reset();
  return { src, dst, memmap, refcount, mapcount, flags, freed, pinned, reset };
}

type Layout = ReturnType<typeof layout>;

/** copy_present_pte at its least: share the folio, write-protect both entries. */
function fork(l: Layout): void {
  const { src, dst, memmap, refcount, mapcount, flags } = l;
  for (let i = 0; i < PAGES; i++) {
    const e = src[i];
    if (e === 0) continue;
    const pfn = Math.floor(e / 4096);
    const row = memmap[pfn * 2 + 1];
    flags[row] &= ~EXCL;
    mapcount[row]++;
    refcount[row]++;
    src[i] = e - WRITE;
    dst[i] = e - WRITE - YOUNG;
  }
}

/** zap_pte_range at its least: clear, unmap, drop the reference, stack the frame when it frees. */
function zap(l: Layout, table: Float64Array): void {
  const { memmap, refcount, mapcount, freed } = l;
  let nf = 0;
  for (let i = 0; i < PAGES; i++) {
    const e = table[i];
    if (e === 0) continue;
    table[i] = 0;
    const pfn = Math.floor(e / 4096);
    const row = memmap[pfn * 2 + 1];
    mapcount[row]--;
    if (--refcount[row] === 0) freed[nf++] = pfn;
  }
}

/** try_grab_folio(FOLL_PIN) at its least: the bias on the refcount, the frame recorded. */
function pin(l: Layout): void {
  const { src, memmap, refcount, pinned } = l;
  for (let i = 0; i < PAGES / 4; i++) {
    const pfn = Math.floor(src[i] / 4096);
    refcount[memmap[pfn * 2 + 1]] += BIAS;
    pinned[i] = pfn;
  }
}

function unpin(l: Layout): void {
  const { memmap, refcount, pinned } = l;
  for (let i = 0; i < PAGES / 4; i++) refcount[memmap[pinned[i] * 2 + 1]] -= BIAS;
}

/** Nanoseconds per page of each floor loop, medians of RUNS (pin/unpin over 65,536 pages). */
export function floorNs(): Record<'fork' | 'zap' | 'pin' | 'unpin', number> {
  const l = layout();
  const t: Record<string, number[]> = { fork: [], zap: [], pin: [], unpin: [] };
  const time = (name: string, pages: number, fn: () => void) => {
    const s = performance.now();
    fn();
    t[name].push(((performance.now() - s) * 1e6) / pages);
  };
  for (let r = 0; r < RUNS + 3; r++) {
    l.reset();
    time('fork', PAGES, () => fork(l));
    time('zap', PAGES, () => zap(l, l.dst));
    time('pin', PAGES / 4, () => pin(l));
    time('unpin', PAGES / 4, () => unpin(l));
  }
  // The first rounds compile the loops; medians over the rest.
  const m = (xs: number[]) => median(xs.slice(3));
  return { fork: m(t.fork), zap: m(t.zap), pin: m(t.pin), unpin: m(t.unpin) };
}

export function runFloor(): SuiteResult {
  const ns = floorNs();
  return {
    tables: [
      {
        title: `The floor: minimal typed-array loops over the model's layout (ns per page, median of ${RUNS})`,
        columns: ['loop', 'ns/page'],
        rows: Object.entries(ns).map(([k, v]) => [k, v.toFixed(1)]),
        notes: [
          'bench/floor.ts: what no implementation over this layout can beat; vm and gup quote their distance to it',
        ],
      },
    ],
    targets: [],
  };
}
