/**
 * Ops of the page allocator and folios: alloc_pages, free_pages, folio_alloc, folio_get,
 * folio_put, drain_all_pages (mm/page_alloc.c, include/linux/mm.h).
 */

import type { FolioId } from '../../machine/ids.js';
import type { Machine } from '../../machine/machine.js';
import { GFP_HIGHUSER_MOVABLE, GFP_KERNEL } from '../../mm/mmzone.js';
import { count, gfpFlags, gfpWord, hex, labelName, nid, oneOf, order } from '../fields.js';
import type { Binding } from '../labels.js';
import { analysePageRef, pageName, pageRef, resolvePage } from '../page_ref.js';
import { defineOp, type RunContext } from '../step.js';
import { analyseCount, asText, pfnsText, repeat } from './bulk.js';

function pagesBinding(pfn: number, ord: number): Binding {
  return { kind: 'pages', value: pfn, frames: () => ({ pfn, count: 1 << ord }) };
}

function folioBinding(h: FolioId, ord: number): Binding {
  return { kind: 'folio', value: h, frames: (m: Machine) => ({ pfn: m.folioPfn(h), count: 1 << ord }) };
}

export const allocPages = defineOp({
  name: 'alloc_pages',
  doc: 'alloc_pages(gfp, order): 2^order frames for a driver, refcount 1, no owner type',
  fields: {
    order: order().default(0),
    gfp: gfpFlags().optional(),
    nid: nid().optional(),
    count: count().optional(),
    as: labelName().optional(),
  },
  binds: { key: 'as', kind: 'pages', memory: true },
  analyse: analyseCount,
  run: (a, ctx) => {
    const gfp = gfpWord(a.gfp, GFP_KERNEL);
    const pfns = repeat(a.count ?? 1, ctx, () => ctx.m.allocPages(a.order, { gfp, nid: a.nid }));
    return {
      summary: `order ${a.order} -> ${pfnsText(pfns)}${asText(a.as)}`,
      binding: pagesBinding(pfns[0], a.order),
    };
  },
});

export const freePages = defineOp({
  name: 'free_pages',
  doc: '__free_pages(page, order): drop the reference alloc_pages returned; frees at refcount 0',
  fields: { page: pageRef, order: order().optional() },
  analyse: (a, ctx) => {
    analysePageRef(a.page, ['page'], ctx);
    if (a.order === undefined && typeof a.page !== 'string')
      ctx.error(['order'], 'order is required unless page is a label (whose size gives it)');
  },
  run: (a, ctx) => {
    const p = resolvePage(a.page, ctx, ['page']);
    const ord = a.order ?? labelOrder(a.page as string, ctx);
    ctx.m.freePages(p.pfn, ord);
    return { summary: `${pageName(p)} order ${ord}` };
  },
});

function labelOrder(name: string, ctx: RunContext): number {
  return Math.log2(ctx.labels.get(name).frames!(ctx.m).count);
}

export const folioAlloc = defineOp({
  name: 'folio_alloc',
  doc: 'folio_alloc(gfp, order): an anon or file folio of 2^order pages, refcount 1',
  fields: {
    order: order().default(0),
    kind: oneOf(['anon', 'file']).default('anon'),
    gfp: gfpFlags().optional(),
    nid: nid().optional(),
    count: count().optional(),
    as: labelName().optional(),
  },
  binds: { key: 'as', kind: 'folio', memory: true },
  analyse: analyseCount,
  run: (a, ctx) => {
    const { m } = ctx;
    const gfp = gfpWord(a.gfp, GFP_HIGHUSER_MOVABLE);
    const folios = repeat(a.count ?? 1, ctx, () => m.folioAlloc(a.order, { kind: a.kind, gfp, nid: a.nid }));
    return {
      summary: `${a.kind} order ${a.order} -> ${pfnsText(folios.map((h) => m.folioPfn(h)))}${asText(a.as)}`,
      binding: folioBinding(folios[0], a.order),
    };
  },
});

/** The folio handle a `folio` or `pages` label stands for (alloc_pages memory is a folio too). */
function folioOf(name: string, ctx: RunContext): FolioId {
  const b = ctx.labels.get(name);
  return b.kind === 'folio' ? (b.value as FolioId) : ctx.m.pageFolio(b.value as number);
}

const FOLIO_LABELS = ['folio', 'pages'] as const;

export const folioGet = defineOp({
  name: 'folio_get',
  doc: 'folio_get(folio): take a reference',
  fields: { folio: labelName() },
  analyse: (a, ctx) => void ctx.use(a.folio, FOLIO_LABELS, ['folio']),
  run: (a, ctx) => {
    const h = folioOf(a.folio, ctx);
    ctx.m.folioGet(h);
    return { summary: `${a.folio} -> refcount ${ctx.m.page(ctx.m.folioPfn(h)).refcount}` };
  },
});

export const folioPut = defineOp({
  name: 'folio_put',
  doc: 'folio_put(folio): drop a reference; at refcount 0 the folio goes back to the buddy allocator',
  fields: { folio: labelName() },
  analyse: (a, ctx) => void ctx.use(a.folio, FOLIO_LABELS, ['folio']),
  run: (a, ctx) => {
    const { m } = ctx;
    const h = folioOf(a.folio, ctx);
    const pfn = m.folioPfn(h);
    m.folioPut(h);
    const after = m.page(pfn);
    const what = after.type === 'buddy' ? `freed pfn ${hex(pfn)}` : `refcount ${after.refcount}`;
    return { summary: `${a.folio} -> ${what}` };
  },
});

export const drainAllPages = defineOp({
  name: 'drain_all_pages',
  doc: 'drain_all_pages(NULL): every block on the per-CPU lists back to the buddy lists (machine option pcp)',
  fields: {},
  run: (_a, { m }) => ({ summary: `${m.drainAllPages()} page(s) drained` }),
});

export const PAGE_ALLOC_OPS = [allocPages, freePages, folioAlloc, folioGet, folioPut, drainAllPages];
