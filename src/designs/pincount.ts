/**
 * Pin-count designs: the ways of answering folio_maybe_dma_pinned() argued on linux-mm, runnable
 * side by side on the same work.
 *
 * - `bias`   Linux since 5.7: +1024 on the refcount of a small folio, exact _pincount in large
 *            ones (src/mm/pincount.ts). False positives at >= 1024 plain references and for every
 *            page of a large folio with one pinned page; never a false negative.
 * - `exact`  an exact pin count in every folio descriptor, as detached memdescs allow: 4 bytes
 *            per small folio. Still per folio, so a large folio's unpinned pages answer yes.
 * - `ptable` one counter per page-table page (the 2021 "count pins in the PMD page" idea): the
 *            table that mapped the page when it was pinned holds the count, so the answer is per
 *            2 MiB of one process's address space (PTE tables) or per 1 GiB (a pinned PMD-mapped
 *            THP counts in its PMD table). Mappings change under pins: when a pinned THP's PMD is
 *            split, its pages move to a new PTE table whose counter is zero — a false negative,
 *            and fork then shares a pinned page (test/designs/pincount.test.ts shows it).
 * - `shadow` an exact per-page count in a second per-page descriptor (the 2021 "two adjacent
 *            struct pages" idea): exact per page, at 64 bytes per frame with struct page.
 * - `sticky` a per-page "was ever pinned" bit, never cleared while the page lives: no false
 *            negatives, and every page once pinned answers yes until it is freed.
 * - `ptebit` a software PTE bit (the "shadow PTE" idea of the same thread): set on the PTE a pin
 *            was taken through, cleared on unpin. Two pins through one PTE and one unpin clear it
 *            while the other pin is live — a false negative.
 *
 * Every design takes one folio reference per pin besides its own bookkeeping, so a pinned page
 * cannot be freed under the device. Where the decision is about a whole folio (fork of a
 * PMD-mapped THP, try_to_unmap and shrink_folio_list in reclaim, compaction:
 * Kernel.folioMaybeDmaPinned), a design that answers per page answers yes when it would for any
 * page of the folio, and that answer is scored once. Where it is per PTE (fork's
 * copy_present_pte), a per-page design answers for that page: the precision it buys, as Linux,
 * asking of the folio, copies every exclusive page of a PTE-mapped large folio with one pinned.
 */
import type { FolioPool } from '../mm/folio.js';
import type { Kernel } from '../mm/kernel.js';
import type { Mm } from '../mm/mm_types.js';
import { entryBits, entryPfn, levelIndex, PT_LEVEL, PTE, PTRS_PER_TABLE, withBits } from '../mm/pgtable.js';
import { BiasPinPolicy, type PinPolicy, type PinSite } from '../mm/pincount.js';
import { rmapWalk } from '../mm/rmap.js';
import type { LayoutName } from './layout.js';

export const PIN_DESIGNS = ['bias', 'exact', 'ptable', 'shadow', 'sticky', 'ptebit'] as const;
export type PinDesign = (typeof PIN_DESIGNS)[number];

/** Designs that can answer "not pinned" for a pinned page. */
export const UNSAFE_PIN_DESIGNS: readonly PinDesign[] = ['ptable', 'ptebit'];

function bump(m: Map<number, number>, key: number, d: number): void {
  const n = (m.get(key) ?? 0) + d;
  if (n === 0) m.delete(key);
  else m.set(key, n);
}

/** Base for designs that hold one plain reference per pin. */
abstract class RefPinPolicy implements PinPolicy {
  abstract readonly name: string;
  abstract readonly summary: string;
  constructor(protected readonly f: FolioPool) {}
  pin(row: number, pfn: number, mm: Mm, addr: number): void {
    this.f.refcount[row]++;
    this.record(row, pfn, { mm, addr }, 1);
  }
  unpin(row: number, pfn: number, mm: Mm, addr: number): void {
    this.record(row, pfn, { mm, addr }, -1);
    this.f.putRow(row);
  }
  refsPerPin(): number {
    return 1;
  }
  protected abstract record(row: number, pfn: number, site: PinSite, delta: number): void;
  abstract maybePinned(row: number, pfn: number, site?: PinSite): boolean;
  abstract metadataBytes(): number;
}

/** An exact count per folio, kept with the folio's first frame. */
class ExactPinPolicy extends RefPinPolicy {
  readonly name = 'exact';
  readonly summary = 'an exact pin count in every folio descriptor (4 bytes per small folio under memdescs)';
  private readonly count = new Map<number, number>();
  protected record(row: number, _pfn: number, _site: PinSite, delta: number): void {
    bump(this.count, this.f.pfn[row], delta);
  }
  maybePinned(row: number): boolean {
    return this.count.has(this.f.pfn[row]);
  }
  freed(pfn: number): void {
    this.count.delete(pfn);
  }
  metadataBytes(): number {
    let small = 0;
    for (const row of this.f.liveRows()) if (!this.f.isLarge(row)) small++;
    return 4 * small;
  }
}

/** One counter per page-table page: the table that mapped the page when it was pinned. */
class PtablePinPolicy extends RefPinPolicy {
  readonly name = 'ptable';
  readonly summary =
    'a pin counter per page-table page: "maybe pinned" per 2 MiB (or 1 GiB) of one address space';
  private readonly count = new Map<number, number>();
  /** Unpins that found no table mapping the page any more: counts that can never drop. */
  lost = 0;
  constructor(
    f: FolioPool,
    private readonly k: Kernel,
  ) {
    super(f);
  }
  private tableAt(site: PinSite, pfn: number): number {
    const pd = this.k.ptdesc;
    const slot = pd.leafSlot(site.mm.pgd, site.addr);
    if (slot < 0) return -1;
    const e = pd.entries[slot];
    const mapped = entryPfn(e) + (pd.leafLevel === PT_LEVEL.PMD ? levelIndex(site.addr, PT_LEVEL.PTE) : 0);
    return mapped === pfn ? Math.floor(slot / PTRS_PER_TABLE) : -1;
  }
  protected record(_row: number, pfn: number, site: PinSite, delta: number): void {
    const table = this.tableAt(site, pfn);
    if (table < 0) {
      if (delta < 0) this.lost++;
      return;
    }
    bump(this.count, table, delta);
  }
  maybePinned(row: number, pfn: number, site?: PinSite): boolean {
    if (site) {
      const table = this.tableAt(site, pfn);
      return table >= 0 && (this.count.get(table) ?? 0) > 0;
    }
    return rmapWalk(this.k, row).some((h) => {
      if (h.level === 'pte' && h.pfn !== pfn) return false;
      const at = h.level === 'pmd' ? { mm: h.mm, addr: h.addr + (pfn - h.pfn) * 4096 } : h;
      return (this.count.get(this.tableAt(at, pfn)) ?? 0) > 0;
    });
  }
  metadataBytes(): number {
    return 4 * this.k.ptdesc.live;
  }
}

/** An exact count per page, as a second descriptor beside every frame would hold it. */
class ShadowPinPolicy extends RefPinPolicy {
  readonly name = 'shadow';
  readonly summary = 'an exact per-page pin count in a second per-page descriptor';
  private readonly count = new Map<number, number>();
  constructor(
    f: FolioPool,
    private readonly presentPages: number,
    private readonly layout: LayoutName,
  ) {
    super(f);
  }
  protected record(_row: number, pfn: number, _site: PinSite, delta: number): void {
    bump(this.count, pfn, delta);
  }
  maybePinned(_row: number, pfn: number): boolean {
    return this.count.has(pfn);
  }
  metadataBytes(): number {
    // A second struct page for every frame, or a 4-byte count per frame beside 8-byte memdescs.
    return this.presentPages * (this.layout === 'struct-page' ? 64 : 4);
  }
}

/** A per-page bit set on the first pin and never cleared until the page is freed. */
class StickyPinPolicy extends RefPinPolicy {
  readonly name = 'sticky';
  readonly summary = 'a per-page "was ever pinned" bit, cleared only when the page is freed';
  private readonly ever = new Set<number>();
  constructor(
    f: FolioPool,
    private readonly presentPages: number,
  ) {
    super(f);
  }
  protected record(_row: number, pfn: number, _site: PinSite, delta: number): void {
    if (delta > 0) this.ever.add(pfn);
  }
  maybePinned(_row: number, pfn: number): boolean {
    return this.ever.has(pfn);
  }
  freed(pfn: number, nrPages: number): void {
    for (let i = 0; i < nrPages; i++) this.ever.delete(pfn + i);
  }
  metadataBytes(): number {
    return Math.ceil(this.presentPages / 8);
  }
}

/** A software bit in the PTE a pin was taken through; any unpin through it clears it. */
class PteBitPinPolicy extends RefPinPolicy {
  readonly name = 'ptebit';
  readonly summary = 'a software "pinned" PTE bit, set on pin and cleared on unpin';
  constructor(
    f: FolioPool,
    private readonly k: Kernel,
  ) {
    super(f);
  }
  private slotAt(site: PinSite, pfn: number): number {
    const pd = this.k.ptdesc;
    const slot = pd.leafSlot(site.mm.pgd, site.addr);
    if (slot < 0 || pd.leafLevel !== 1 || entryPfn(pd.entries[slot]) !== pfn) return -1;
    return slot;
  }
  protected record(_row: number, pfn: number, site: PinSite, delta: number): void {
    const slot = this.slotAt(site, pfn);
    if (slot < 0) return;
    const e = this.k.ptdesc.entries[slot];
    const has = (entryBits(e) & PTE.SW1) !== 0;
    if (delta > 0 && !has) this.k.ptdesc.entries[slot] = withBits(e, PTE.SW1, 0);
    if (delta < 0 && has) this.k.ptdesc.entries[slot] = withBits(e, 0, PTE.SW1);
  }
  maybePinned(row: number, pfn: number, site?: PinSite): boolean {
    const marked = (s: PinSite, p: number) => {
      const slot = this.slotAt(s, p);
      return slot >= 0 && (entryBits(this.k.ptdesc.entries[slot]) & PTE.SW1) !== 0;
    };
    if (site) return marked(site, pfn);
    return rmapWalk(this.k, row).some((h) => h.pfn === pfn && marked(h, pfn));
  }
  metadataBytes(): number {
    return 0;
  }
}

/** The policy object for a design on one kernel. */
export function makePinPolicy(design: PinDesign, k: Kernel, layout: LayoutName): PinPolicy {
  const present = k.pa.maxPfn;
  switch (design) {
    case 'bias':
      return new BiasPinPolicy(k.folios);
    case 'exact':
      return new ExactPinPolicy(k.folios);
    case 'ptable':
      return new PtablePinPolicy(k.folios, k);
    case 'shadow':
      return new ShadowPinPolicy(k.folios, present, layout);
    case 'sticky':
      return new StickyPinPolicy(k.folios, present);
    case 'ptebit':
      return new PteBitPinPolicy(k.folios, k);
  }
}
