/**
 * `expect: { accounting: { memdesc: { total_bytes: 2M, types: { anon: { descriptors: 3 } } } } }` —
 * the metadata bytes each descriptor layout needs for what the machine holds now (src/designs/),
 * so a scenario can state what memdescs save over struct page on the same work.
 */
import { z } from 'zod';
import { LAYOUTS, type LayoutAccounting } from '../../designs/layout.js';
import { MT_NAMES } from '../../mm/memdesc.js';
import { size, uint } from '../fields.js';
import { defineExpectation, type Failure } from '../step.js';

type TypeRow = LayoutAccounting['perType'][number];

const TYPE_COLUMNS: readonly [string, (t: TypeRow) => number][] = [
  ['pages', (t) => t.pages],
  ['descriptors', (t) => t.descriptors],
  ['memmap_bytes', (t) => t.memmapBytes],
  ['descriptor_bytes', (t) => t.descriptorBytes],
];

const LAYOUT_COLUMNS: readonly [string, (a: LayoutAccounting) => number][] = [
  ['total_bytes', (a) => a.totalBytes],
  ['memmap_bytes', (a) => a.memmapBytes],
  ['descriptor_bytes', (a) => a.descriptorBytes],
];

const typeRow = z.strictObject({
  pages: uint().optional(),
  descriptors: uint().optional(),
  memmap_bytes: size().optional(),
  descriptor_bytes: size().optional(),
});

const layoutRow = z.strictObject({
  total_bytes: size().optional(),
  memmap_bytes: size().optional(),
  descriptor_bytes: size().optional(),
  types: z
    .strictObject(
      Object.fromEntries(MT_NAMES.filter((n) => n !== 'none').map((n) => [n, typeRow.optional()])),
    )
    .optional(),
});

/** Columns that differ, as `name is X, expected Y`. */
function diff<T>(
  cols: readonly [string, (r: T) => number][],
  have: T,
  want: Record<string, unknown>,
): string[] {
  return cols
    .filter(([k, get]) => want[k] !== undefined && get(have) !== want[k])
    .map(([k, get]) => `${k} is ${get(have)}, expected ${want[k]}`);
}

const NO_ROW: TypeRow = { type: '', pages: 0, descriptors: 0, memmapBytes: 0, descriptorBytes: 0 };

export const accountingExpectation = defineExpectation({
  fields: {
    accounting: z.strictObject(Object.fromEntries(LAYOUTS.map((l) => [l, layoutRow.optional()]))).optional(),
  },
  check: (a, { m }) => {
    const failures: Failure[] = [];
    let checks = 0;
    const acc = m.accounting();
    for (const [layout, want] of Object.entries(a.accounting ?? {})) {
      if (!want) continue;
      checks++;
      const have = acc.find((x) => x.layout === layout)!;
      const wrong = diff(LAYOUT_COLUMNS, have, want);
      for (const [type, wantType] of Object.entries(want.types ?? {})) {
        if (!wantType) continue;
        // A type with no pages and no descriptors has no row: it counts as zeros.
        const row = have.perType.find((t) => t.type === type) ?? NO_ROW;
        wrong.push(...diff(TYPE_COLUMNS, row, wantType).map((d) => `${type} ${d}`));
      }
      if (wrong.length)
        failures.push({ path: ['accounting', layout], message: `${layout}: ${wrong.join('; ')}` });
    }
    return { checks, failures };
  },
});
