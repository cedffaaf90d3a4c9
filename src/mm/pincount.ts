/**
 * How DMA pins are counted, and how folio_maybe_dma_pinned() answers: the policy interface, the
 * ground truth every policy is scored against, and Linux's own policy.
 *
 * Models: try_grab_folio / gup_put_folio / folio_maybe_dma_pinned (include/linux/mm.h, mm/gup.c). Linux adds GUP_PIN_COUNTING_BIAS (1024) to the refcount of a small
 * folio per pin and keeps an exact _pincount in large folios. The alternatives argued upstream live
 * in src/designs/pincount.ts and implement the same interface.
 *
 * Whatever the policy, the model also keeps the exact number of pins on every page (a count
 * array per 128 MiB section that has ever held a pin), so each answer can be scored: true or
 * false positive, true or false negative.
 */
import { type FolioPool, GUP_PIN_COUNTING_BIAS } from './folio.js';
import { NO_LARGE } from './folio_large.js';
import { pfnToSection } from './memdesc.js';
import type { Mm } from './mm_types.js';
import { mod, PAGE_SIZE, PAGES_PER_SECTION } from './types.js';

/**
 * folio_maybe_dma_pinned() as Linux answers it: the exact _pincount for large folios, the
 * refcount bias test for small ones (false positives at >= 1024 plain references, never false
 * negatives). Pin-count designs in src/designs/ may answer differently.
 */
export function folioMaybeDmaPinnedLinux(f: FolioPool, row: number): boolean {
  const lg = f.large[row];
  if (lg !== NO_LARGE) return f.pincount[lg] > 0;
  return f.refcount[row] >>> 0 >= GUP_PIN_COUNTING_BIAS;
}

/** Where a pin was taken, for policies that count per mapping. */
export interface PinSite {
  mm: Mm;
  addr: number;
}

/** A pin-count design: how a pin changes the descriptors, and how "maybe pinned?" is answered. */
export interface PinPolicy {
  readonly name: string;
  /** Take one pin on page `pfn` of folio `row` through the mapping at `addr` of `mm` (a reference is part of it). */
  pin(row: number, pfn: number, mm: Mm, addr: number): void;
  unpin(row: number, pfn: number, mm: Mm, addr: number): void;
  /**
   * Set when pinning a page of a small folio is only this many references, and unpinning only
   * drops them: a walk and a release then do it inline (pin_user_pages, unpin_user_pages).
   */
  readonly smallPinRefs?: number;
  /** References one pin holds on folio `row` (Linux: GUP_PIN_COUNTING_BIAS on a small folio, 1 on a large one). */
  refsPerPin(row: number): number;
  /** folio_maybe_dma_pinned() for page `pfn`; `site` is given when the caller knows the mapping. */
  maybePinned(row: number, pfn: number, site?: PinSite): boolean;
  /** Set when maybePinned() answers for the whole folio whichever page is asked (Linux's counts). */
  readonly perFolio?: boolean;
  /** The frames of a freed folio: forget per-page state. */
  freed?(pfn: number, nrPages: number): void;
  /** Metadata bytes the design spends beyond the layout's descriptors. */
  metadataBytes(): number;
  /** What a reader should know about the design, one line. */
  readonly summary: string;
}

/** Linux: the refcount bias on small folios, the exact _pincount on large ones. */
export class BiasPinPolicy implements PinPolicy {
  readonly name = 'bias';
  readonly summary = 'Linux: +1024 on the refcount of small folios, exact _pincount in large folios';
  readonly smallPinRefs = GUP_PIN_COUNTING_BIAS;
  readonly perFolio = true;

  constructor(private readonly f: FolioPool) {}

  pin(row: number): void {
    const lg = this.f.large[row];
    if (lg < 0) this.f.refcount[row] += GUP_PIN_COUNTING_BIAS;
    else {
      this.f.refcount[row]++;
      this.f.pincount[lg]++;
    }
  }

  unpin(row: number): void {
    const lg = this.f.large[row];
    if (lg < 0) {
      // Not the last references (the mapping holds one): no free to check for.
      const left = this.f.refcount[row] - GUP_PIN_COUNTING_BIAS;
      if (left > 0) this.f.refcount[row] = left;
      else this.f.putRow(row, GUP_PIN_COUNTING_BIAS);
    } else {
      this.f.pincount[lg]--;
      this.f.putRow(row);
    }
  }

  refsPerPin(row: number): number {
    return this.f.large[row] < 0 ? GUP_PIN_COUNTING_BIAS : 1;
  }

  maybePinned(row: number): boolean {
    return folioMaybeDmaPinnedLinux(this.f, row);
  }

  metadataBytes(): number {
    return 0;
  }
}

const NO_COUNTS: Int32Array = new Int32Array(0);

/** Answers scored against the truth. */
export interface PinScore {
  truePositives: number;
  falsePositives: number;
  falseNegatives: number;
  trueNegatives: number;
}

/** Pins as the policy counts them, plus the exact truth per page and the score of every answer. */
export class PinTracker {
  /** Exact pins per frame (the truth), one Int32Array per section that ever held a pin. */
  private readonly truth = new Map<number, Int32Array>();
  /** Pins live right now, over all pages. */
  livePins = 0;
  readonly score: PinScore = { truePositives: 0, falsePositives: 0, falseNegatives: 0, trueNegatives: 0 };
  pinsTaken = 0;

  constructor(readonly policy: PinPolicy) {}

  private lastSection = -1;
  private lastCounts: Int32Array | undefined;

  /** The truth's counts for the section of `pfn` (the last one cached: runs stay in one section). */
  private countsFor(pfn: number): Int32Array {
    const s = pfnToSection(pfn);
    return s === this.lastSection ? (this.lastCounts as Int32Array) : this.sectionCounts(s);
  }

  /** The truth's counts for section `s`, created on first use. */
  private sectionCounts(s: number): Int32Array {
    let a = this.truth.get(s);
    if (!a) {
      a = new Int32Array(PAGES_PER_SECTION);
      this.truth.set(s, a);
    }
    this.lastSection = s;
    this.lastCounts = a;
    return a;
  }

  pin(row: number, pfn: number, mm: Mm, addr: number): void {
    this.policy.pin(row, pfn, mm, addr);
    this.tally(pfn, 1);
  }

  unpin(row: number, pfn: number, mm: Mm, addr: number): void {
    this.tally(pfn, -1);
    this.policy.unpin(row, pfn, mm, addr);
  }

  /**
   * For a walk that pins pages inline as it finds them (gup.ts grabRun, the bulk of any big pin):
   * the truth's counts of section `section`, to which the walk adds 1 at each pinned frame's
   * index in it. The walk does the design's part itself (policy.smallPinRefs on a small folio,
   * policy.pin() otherwise) and reports how many it pinned with pinnedInline().
   */
  truthOf(section: number): Int32Array {
    return section === this.lastSection ? (this.lastCounts as Int32Array) : this.sectionCounts(section);
  }

  /** `n` pins taken inline (truthOf). */
  pinnedInline(n: number): void {
    this.livePins += n;
    this.pinsTaken += n;
  }

  /**
   * unpin() of every folio page of a GUP handle (rows ≥ 0; the others are not folios and are
   * released by their owners), in one loop: the truth, and the design's part inline where it is
   * only references off a small folio that keeps some (smallPinRefs). Returns how many were folio pages.
   */
  unpinAll(f: FolioPool, rows: Int32Array, pfns: Float64Array, mm: Mm, start: number): number {
    const { large, refcount } = f;
    const refs = this.policy.smallPinRefs ?? 0x7fffffff;
    let lo = 0;
    let hi = 0;
    let counts = NO_COUNTS; // lo = hi = 0: the first page looks its section up
    let n = 0;
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i];
      if (row < 0) continue;
      const pfn = pfns[i];
      if (pfn < lo || pfn >= hi) {
        counts = this.countsFor(pfn);
        lo = this.lastSection * PAGES_PER_SECTION;
        hi = lo + PAGES_PER_SECTION;
      }
      counts[(pfn - lo) | 0]--;
      n++;
      const left = refcount[row] - refs;
      if (left > 0 && large[row] < 0) refcount[row] = left;
      else this.policy.unpin(row, pfn, mm, start + i * PAGE_SIZE);
    }
    this.livePins -= n;
    return n;
  }

  /**
   * Record a pin taken (+1) or dropped (-1) in the truth only: for pages with no folio for a
   * design to count on (vmalloc pages pin through their own refcount bias, vmalloc.ts).
   */
  tally(pfn: number, delta: 1 | -1): void {
    const a = this.countsFor(pfn);
    a[pfn - this.lastSection * PAGES_PER_SECTION] += delta;
    this.livePins += delta;
    if (delta > 0) this.pinsTaken++;
  }

  /** The design's folio_maybe_dma_pinned() answer, unscored: for views that must not perturb the score. */
  answer(row: number, pfn: number): boolean {
    return this.policy.maybePinned(row, pfn);
  }

  /** Exact pins on a page right now. */
  pinsOn(pfn: number): number {
    if (this.livePins === 0) return 0;
    return this.truth.get(pfnToSection(pfn))?.[mod(pfn, PAGES_PER_SECTION)] ?? 0;
  }

  /**
   * folio_maybe_dma_pinned() of the whole folio `row`, `n` frames from `pfn` (what fork of a
   * PMD, reclaim and migration ask): a design that answers per page says yes if it would for
   * any page of it. Scored once, against whether any page of it is pinned.
   */
  maybePinnedFolio(row: number, pfn: number, n: number, site?: PinSite): boolean {
    let answer = false;
    const pages = this.policy.perFolio ? 1 : n;
    for (let i = 0; i < pages && !answer; i++)
      answer = this.policy.maybePinned(
        row,
        pfn + i,
        site && { mm: site.mm, addr: site.addr + i * PAGE_SIZE },
      );
    let real = false;
    for (let i = 0; i < n && !real && this.livePins > 0; i++) real = this.pinsOn(pfn + i) > 0;
    this.scoreAnswer(answer, real);
    return answer;
  }

  private scoreAnswer(answer: boolean, real: boolean): void {
    if (answer && real) this.score.truePositives++;
    else if (answer) this.score.falsePositives++;
    else if (real) this.score.falseNegatives++;
    else this.score.trueNegatives++;
  }

  /** The policy's answer for page `pfn`, scored against whether that page is pinned. */
  maybePinned(row: number, pfn: number, site?: PinSite): boolean {
    const answer = this.policy.maybePinned(row, pfn, site);
    this.scoreAnswer(answer, this.pinsOn(pfn) > 0);
    return answer;
  }

  freed(pfn: number, nrPages: number): void {
    this.policy.freed?.(pfn, nrPages);
  }
}
