/**
 * Invariants of pinning, whatever the pin-count design: the truth the model keeps (PinTracker)
 * agrees with the live GUP handles, each pin holds the references its design says it holds, and
 * under a design that never answers "not pinned" for a pinned page, a pinned anon page that is
 * mapped is anon-exclusive — the property COW-after-fork correctness rests on (fork
 * copies a maybe-pinned page instead of sharing it; GUP unshares before pinning).
 *
 * `cheap`: the live pin count equals the pins the live handles hold; exclusivity of pinned anon
 * pages (O(pinned pages)). `full` (with check/vm.ts's mapping tally): refcount ≥ mappings +
 * page-cache references + references per pin × pins.
 */
import { UNSAFE_PIN_DESIGNS } from '../designs/pincount.js';
import type { Kernel } from '../mm/kernel.js';
import { MT } from '../mm/memdesc.js';
import type { Violations } from './violation.js';

/** Pins the live FOLL_PIN handles hold on frames that take pins (the zero pages do not). */
function handlePins(k: Kernel): number {
  let n = 0;
  for (const h of k.gup.values()) {
    if (!h.pin || h.released) continue;
    for (const pfn of h.pfns) if (!k.pa.isZeroPfn(pfn)) n++;
  }
  return n;
}

/** Is page `pfn` of anon folio `row` exclusive the way its mapping says (a PMD: its head's bit)? */
function exclusive(k: Kernel, row: number, pfn: number): boolean {
  const f = k.folios;
  if (f.isLarge(row) && f.entireMapcountOf(row) > 0) return f.pageAnonExclusive(row, f.pfn[row]);
  return f.pageAnonExclusive(row, pfn);
}

/**
 * Every live handle's kept folio rows are the rows its frames have now (the release trusts them:
 * a folio with a reference held is neither split nor migrated).
 */
function checkHandleRows(k: Kernel, v: Violations): void {
  const { memmap } = k.pa;
  for (const h of k.gup.values()) {
    if (h.released) continue;
    for (let i = 0; i < h.pfns.length; i++) {
      const pfn = h.pfns[i]!;
      const now = k.pa.isZeroPfn(pfn) ? -1 : Math.max(memmap.folioRow(pfn), -1);
      if (h.rows[i] !== now)
        v.add('gup: handle rows', `GUP handle ${h.id} keeps row ${h.rows[i]} for a frame of row ${now}`, {
          pfn,
        });
    }
  }
}

export function checkPins(k: Kernel, v: Violations): void {
  checkHandleRows(k, v);
  const live = k.pins.livePins;
  const held = handlePins(k);
  if (live !== held)
    v.add('pins: live count', `the pin truth counts ${live} live pins, the live GUP handles hold ${held}`);
  if (UNSAFE_PIN_DESIGNS.includes(k.pins.policy.name as never)) return;
  const f = k.folios;
  for (const h of k.gup.values()) {
    if (!h.pin || h.released) continue;
    for (const pfn of h.pfns) {
      if (k.pa.isZeroPfn(pfn) || !k.pa.memmap.pfnValid(pfn)) continue;
      const row = f.pageRow(pfn);
      if (row < 0 || f.kind[row] !== MT.ANON || f.pageMapcountOf(row, pfn) === 0) continue;
      if (!exclusive(k, row, pfn))
        v.add('pins: pinned anon page not exclusive', 'a pinned, mapped anon page is not anon-exclusive', {
          pfn,
        });
    }
  }
}

/** References the pins on folio `row` hold under the design (for the full refcount check). */
export function pinReferences(k: Kernel, row: number): number {
  const f = k.folios;
  let pins = 0;
  for (let i = 0, pfn = f.pfn[row], n = f.nrPages(row); i < n; i++) pins += k.pins.pinsOn(pfn + i);
  return pins * k.pins.policy.refsPerPin(row);
}
