/**
 * Ops of page-table pages: pagetable_alloc and pagetable_free (include/linux/mm.h). Until
 * processes exist these are tables nobody walks; they still take frames and descriptors, which is
 * what the accounting compares.
 */
import type { PtdescId } from '../../machine/ids.js';
import { count, hex, labelName, nid, oneOf } from '../fields.js';
import { defineOp } from '../step.js';
import { analyseCount, asText, pfnsText, repeat } from './bulk.js';

/** Levels leaf first, as the Machine numbers them (1 = PTE ... 4 = PGD). */
const LEVELS = ['pte', 'pmd', 'pud', 'pgd'] as const;

export const pagetableAlloc = defineOp({
  name: 'pagetable_alloc',
  doc: 'pagetable_alloc() + ctor: a zeroed page-table page of the given level, described by a ptdesc',
  fields: {
    level: oneOf(LEVELS, 'a page-table level:'),
    nid: nid().optional(),
    count: count().optional(),
    as: labelName().optional(),
  },
  binds: { key: 'as', kind: 'table', memory: true },
  analyse: analyseCount,
  run: (a, ctx) => {
    const { m } = ctx;
    const level = LEVELS.indexOf(a.level) + 1;
    const tables = repeat(a.count ?? 1, ctx, () => m.pagetableAlloc(level, { nid: a.nid }));
    const h = tables[0];
    return {
      summary: `${a.level} -> ${pfnsText(tables.map((t) => m.pagetablePfn(t)))}${asText(a.as)}`,
      binding: { kind: 'table', value: h, frames: (mach) => ({ pfn: mach.pagetablePfn(h), count: 1 }) },
    };
  },
});

export const pagetableFree = defineOp({
  name: 'pagetable_free',
  doc: 'pagetable_dtor() + pagetable_free(): give an empty page-table page back',
  fields: { table: labelName() },
  analyse: (a, ctx) => void ctx.use(a.table, ['table'], ['table']),
  run: (a, { m, labels }) => {
    const h = labels.num<PtdescId>(a.table);
    const pfn = m.pagetablePfn(h);
    m.pagetableFree(h);
    return { summary: `${a.table} (pfn ${hex(pfn)})` };
  },
});

export const PGTABLE_OPS = [pagetableAlloc, pagetableFree];
