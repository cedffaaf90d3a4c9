/**
 * The `dump` op: print what the kernel would show at this point — dump_page() for a page, or
 * /proc views — under the step's line. It changes nothing.
 */
import { z } from 'zod';
import { oneOf } from '../fields.js';
import { analysePageRef, pageName, pageRef, resolvePage } from '../page_ref.js';
import { PROC_VIEWS, type ProcView } from '../procfs.js';
import { defineOp } from '../step.js';

const VIEWS = Object.keys(PROC_VIEWS) as [ProcView, ...ProcView[]];
const view = () => oneOf(VIEWS, 'one of');

export const dump = defineOp({
  name: 'dump',
  doc: `print dump_page() of a page and/or /proc views (${VIEWS.join(', ')})`,
  fields: { page: pageRef.optional(), what: z.union([view(), z.array(view())]).optional() },
  analyse: (a, ctx) => {
    if (a.page === undefined && a.what === undefined) ctx.error([], 'dump needs a page, a what, or both');
    if (a.page !== undefined) analysePageRef(a.page, ['page'], ctx);
  },
  run: (a, ctx) => {
    const parts: string[] = [];
    const names: string[] = [];
    if (a.page !== undefined) {
      const p = resolvePage(a.page, ctx, ['page']);
      names.push(pageName(p));
      parts.push(ctx.m.dumpPage(p.pfn));
    }
    for (const v of a.what === undefined ? [] : [a.what].flat()) {
      names.push(v);
      parts.push(`${v}:\n${PROC_VIEWS[v](ctx.m)}`);
    }
    return { summary: names.join(', '), output: parts.join('\n') };
  },
});
