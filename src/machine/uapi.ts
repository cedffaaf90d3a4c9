/**
 * The user-space vocabulary of the kernel's interfaces: FOLL_*, MAP_*, MADV_*, MREMAP_*, PROT_*,
 * UFFD_FEATURE_* and the THP modes by name, each list derived from the flag table the model
 * implements (gup.ts, mm_types.ts, mremap.ts, userfaultfd.ts),
 * so adding a flag there is the only edit: the scenario schema, the CLI and the Machine read these.
 *
 * Names are the kernel's without the prefix, lower case (`longterm`, `dontneed`); the kernel's own
 * spelling (`FOLL_LONGTERM`, `MADV_DONTNEED`) is accepted as well.
 */
import { FOLL } from '../mm/gup.js';

export { THP_SIZE_MODES } from '../mm/huge_mm.js';
export { THP_MODES } from '../mm/kernel.js';

import { MTHP_MIN_ORDER, orderKb } from '../mm/huge_mm.js';
import { HPAGE_PMD_ORDER } from '../mm/types.js';

/** The anonymous THP sizes by name, 16K to the PMD size 2M (the hugepages-<size>kB directories). */
export const THP_SIZE_NAMES = Array.from({ length: HPAGE_PMD_ORDER - MTHP_MIN_ORDER + 1 }, (_, i) => {
  const kb = orderKb(MTHP_MIN_ORDER + i);
  return kb >= 1024 ? `${kb / 1024}M` : `${kb}K`;
});

import { MADV, MAP, PROT } from '../mm/mm_types.js';
import { MREMAP } from '../mm/mremap.js';
import { UFFD_API_FEATURES } from '../mm/userfaultfd.js';
import { InputError } from './config.js';

type Lower<T extends string> = Lowercase<T>;
const lowerKeys = <T extends Record<string, number>>(table: T) =>
  Object.keys(table).map((k) => k.toLowerCase()) as [Lower<keyof T & string>, ...Lower<keyof T & string>[]];

/** Every FOLL_* flag of gup.ts, by name. */
export const FOLL_NAMES = lowerKeys(FOLL);
/** Every MAP_* flag of mm_types.ts, by name. */
export const MAP_NAMES = lowerKeys(MAP);
/** Every MADV_* advice of mm_types.ts, by name. */
export const MADV_NAMES = lowerKeys(MADV);
/** Every MREMAP_* flag of mremap.ts, by name. */
export const MREMAP_NAMES = lowerKeys(MREMAP);
/** Every UFFD_FEATURE_* UFFDIO_API accepts (userfaultfd.ts), by name. */
export const UFFD_FEATURE_NAMES = lowerKeys(UFFD_API_FEATURES);
/** PROT_* as letters: 'none' and every combination of r, w, x in that order. */
export const PROT_NAMES = ['none', 'r', 'w', 'x', 'rw', 'rx', 'wx', 'rwx'] as const;

/** Look a name up in a flag table, accepting `name`, `NAME` and the kernel's `PREFIX_NAME`. */
function lookup(table: Record<string, number>, prefix: string, name: string): number | undefined {
  const key = name.toUpperCase();
  return table[key.startsWith(`${prefix}_`) ? key.slice(prefix.length + 1) : key];
}

function parseNames(table: Record<string, number>, prefix: string, what: string, names: string[]): number {
  let bits = 0;
  for (const name of names) {
    const bit = lookup(table, prefix, name);
    if (bit === undefined)
      throw new InputError(`unknown ${what} '${name}' (known: ${lowerKeys(table).join(', ')})`);
    bits |= bit;
  }
  return bits;
}

/** FOLL_* from bits or names ('write', 'force', 'longterm', 'nofault', ...). */
export function parseFollFlags(flags: number | string[]): number {
  return typeof flags === 'number' ? flags : parseNames(FOLL, 'FOLL', 'FOLL flag', flags);
}

/** MAP_* from bits or names ('private', 'anonymous', 'fixed', 'populate', ...). */
export function parseMapFlags(flags: number | string[]): number {
  return typeof flags === 'number' ? flags : parseNames(MAP, 'MAP', 'mmap flag', flags);
}

/** MREMAP_* from bits or names ('maymove', 'fixed', 'dontunmap'). */
export function parseMremapFlags(flags: number | string[]): number {
  return typeof flags === 'number' ? flags : parseNames(MREMAP, 'MREMAP', 'mremap flag', flags);
}

/** UFFD_FEATURE_* from bits or names ('wp_async', 'event_fork', 'wp_unpopulated', ...). */
export function parseUffdFeatures(features: number | string[]): number {
  return typeof features === 'number'
    ? features
    : parseNames(UFFD_API_FEATURES, 'UFFD_FEATURE', 'userfaultfd feature', features);
}

/** MADV_* from its value or its name ('dontneed', 'MADV_HUGEPAGE', ...). */
export function parseAdvice(advice: number | string): number {
  return typeof advice === 'number' ? advice : parseNames(MADV, 'MADV', 'madvise advice', [advice]);
}

/** PROT_* from bits or letters ('r', 'w', 'x'; 'none' or '---' for PROT_NONE). */
export function parseProt(prot: number | string): number {
  if (typeof prot === 'number') return prot;
  if (prot === 'none' || prot === '---') return PROT.NONE;
  let p = 0;
  for (const ch of prot) {
    if (ch === 'r') p |= PROT.READ;
    else if (ch === 'w') p |= PROT.WRITE;
    else if (ch === 'x') p |= PROT.EXEC;
    else if (ch !== '-') throw new InputError(`bad prot '${prot}': use letters r, w, x or 'none'`);
  }
  return p;
}
