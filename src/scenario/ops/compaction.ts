/**
 * Ops of the PFN-to-owner consumers: `compact` (/proc/sys/vm/compact_memory, or a zone's
 * compaction for an order: mm/compaction.c), `memory_failure` (mm/memory-failure.c, by frame or by
 * the frame a process address maps), `unpoison_memory` and `soft_offline`.
 */
import { z } from 'zod';
import { COMPACT_SKIPS } from '../../mm/compaction.js';
import { MF_NAMES } from '../../mm/memory-failure.js';
import { ZONE_NAMES } from '../../mm/mmzone.js';
import { MAX_PAGE_ORDER } from '../../mm/types.js';
import { resolveAddr } from '../address.js';
import { hex, labelName, nid, oneOf, uint } from '../fields.js';
import { analysePageRef, pageName, pageRef, resolvePage } from '../page_ref.js';
import { defineOp, type Failure, type RunContext } from '../step.js';

/** Compare one value of a result with what the step expected. */
function want(failures: Failure[], key: string, have: unknown, expected: unknown): void {
  if (expected !== undefined && have !== expected)
    failures.push({
      path: ['expect', key],
      message: `${key} is ${String(have)}, expected ${String(expected)}`,
    });
}

const compactExpect = z.strictObject({
  migrated: uint('a page count').optional(),
  /** At least this many pages moved. */
  migrated_at_least: uint('a page count').optional(),
  failed: uint('a page count').optional(),
  outcome: oneOf(['success', 'complete', 'skipped']).optional(),
  skipped: z.partialRecord(z.enum(COMPACT_SKIPS), uint('a page count')).optional(),
  pin_false_positives: uint('a page count').optional(),
});

export const compactOp = defineOp({
  name: 'compact',
  doc: 'compact_node() (/proc/sys/vm/compact_memory): migrate movable pages to the zone end; with order, stop once a block of it is free',
  fields: {
    node: nid().optional(),
    zone: oneOf(ZONE_NAMES, 'a zone:').optional(),
    order: uint('an order')
      .max(MAX_PAGE_ORDER, { error: `expected an order 0..${MAX_PAGE_ORDER}` })
      .optional(),
    expect: compactExpect.optional(),
  },
  run: (a, { m }) => {
    const reports = m.compact({ node: a.node, zone: a.zone, order: a.order });
    const sum = (f: (r: (typeof reports)[number]) => number) => reports.reduce((s, r) => s + f(r), 0);
    const failures: Failure[] = [];
    const e = a.expect;
    if (e) {
      want(
        failures,
        'migrated',
        sum((r) => r.migrated),
        e.migrated,
      );
      want(
        failures,
        'failed',
        sum((r) => r.failed),
        e.failed,
      );
      want(
        failures,
        'pin_false_positives',
        sum((r) => r.pinFalsePositives),
        e.pin_false_positives,
      );
      if (e.migrated_at_least !== undefined && sum((r) => r.migrated) < e.migrated_at_least)
        failures.push({
          path: ['expect', 'migrated_at_least'],
          message: `migrated ${sum((r) => r.migrated)} pages, expected at least ${e.migrated_at_least}`,
        });
      if (e.outcome !== undefined && !reports.every((r) => r.outcome === e.outcome))
        failures.push({
          path: ['expect', 'outcome'],
          message: `outcome ${reports.map((r) => r.outcome).join(', ')}, expected ${e.outcome}`,
        });
      for (const [why, n] of Object.entries(e.skipped ?? {}))
        want(
          failures,
          `skipped.${why}`,
          sum((r) => r.skipped[why as keyof (typeof reports)[0]['skipped']]),
          n,
        );
    }
    const lines = reports.map(
      (r) =>
        `node ${r.nid} ${r.zone}: ${r.outcome}, migrated ${r.migrated}, failed ${r.failed}, ` +
        `free order-${r.indexOrder}+ blocks ${r.freeBlocksBefore} -> ${r.freeBlocksAfter}, ` +
        `unusable index ${(r.unusableBefore / 1000).toFixed(3)} -> ${(r.unusableAfter / 1000).toFixed(3)}`,
    );
    return {
      summary: `${sum((r) => r.migrated)} page(s) migrated in ${reports.length} zone(s)`,
      output: lines.join('\n'),
      checks: e ? 1 : 0,
      failures,
    };
  },
});

const RESULTS = ['MF_RECOVERED', 'MF_DELAYED', 'MF_FAILED', 'MF_IGNORED'] as const;
const SIGNAL_CODES = ['BUS_MCEERR_AR', 'BUS_MCEERR_AO'] as const;

export const memoryFailureOp = defineOp({
  name: 'memory_failure',
  doc: 'memory_failure(pfn, flags): the frame poisoned and handled by what it is (mm/memory-failure.c)',
  fields: {
    page: pageRef.optional(),
    /** A frame by number, RAM or not (device memory, pfn maps). */
    pfn: uint('a page frame number').optional(),
    flags: z.array(oneOf(MF_NAMES, 'memory_failure flags from')).default([]),
    early_kill: z.boolean().optional(),
    expect: z
      .strictObject({
        result: oneOf(RESULTS, 'a result:').optional(),
        type: z.string().optional(),
        errno: z.union([z.string(), z.null()]).optional(),
        signals: z
          .array(z.strictObject({ proc: labelName(), code: oneOf(SIGNAL_CODES, 'a code:') }))
          .optional(),
      })
      .optional(),
  },
  analyse: (a, ctx) => {
    if ((a.page === undefined) === (a.pfn === undefined)) ctx.error([], 'give exactly one of page and pfn');
    if (a.page !== undefined) analysePageRef(a.page, ['page'], ctx);
    for (const [i, s] of (a.expect?.signals ?? []).entries())
      ctx.use(s.proc, ['process'], ['expect', 'signals', i, 'proc']);
  },
  run: (a, ctx) => {
    const { m } = ctx;
    let req: Parameters<typeof m.memoryFailure>[0];
    let name: string;
    const user =
      typeof a.page === 'object' && a.page !== null && 'proc' in a.page
        ? (a.page as { proc: string; addr: string | number })
        : undefined;
    if (user) {
      // The {proc, addr} form: that process is the one whose access raised the error.
      const at = resolveAddr(user.addr, ctx, ['page', 'addr']);
      req = { pid: ctx.labels.num(user.proc), addr: at, flags: a.flags, earlyKill: a.early_kill };
      name = `${user.proc}:${hex(at)}`;
    } else {
      const pfn = a.pfn ?? resolvePage(a.page!, ctx, ['page']).pfn;
      req = { pfn, flags: a.flags, earlyKill: a.early_kill };
      name = a.page !== undefined ? pageName(resolvePage(a.page, ctx, ['page'])) : `pfn ${hex(pfn)}`;
    }
    const r = m.memoryFailure(req);
    const pidName = new Map<number, string>();
    for (const p of m.processes()) pidName.set(p.pid, p.name);
    const failures: Failure[] = [];
    const e = a.expect;
    if (e) {
      want(failures, 'result', r.result, e.result);
      want(failures, 'type', r.type, e.type);
      if (e.errno !== undefined) want(failures, 'errno', r.errno, e.errno);
      if (e.signals) {
        const have = r.signals.map((s) => `${labelOf(ctx, s.pid) ?? s.pid}:${s.code}`).sort();
        const expected = e.signals.map((s) => `${s.proc}:${s.code}`).sort();
        if (have.join() !== expected.join())
          failures.push({
            path: ['expect', 'signals'],
            message: `signals [${have.join(', ')}], expected [${expected.join(', ')}]`,
          });
      }
    }
    const sig = r.signals.map((s) => `${pidName.get(s.pid) ?? s.pid} ${s.code}`).join(', ');
    return {
      summary: `${name}: ${r.type} ${r.result}${r.errno ? ` (-${r.errno})` : ''}${sig ? `; SIGBUS ${sig}` : ''}`,
      checks: e ? 1 : 0,
      failures,
    };
  },
});

/** The label a scenario gave the process with this pid. */
function labelOf(ctx: RunContext, pid: number): string | undefined {
  for (const [name, b] of ctx.labels.entries()) if (b.kind === 'process' && b.value === pid) return name;
  return undefined;
}

export const unpoisonOp = defineOp({
  name: 'unpoison_memory',
  doc: 'unpoison_memory(pfn): a poisoned free frame back to the allocator (software injections only)',
  fields: { page: pageRef },
  analyse: (a, ctx) => analysePageRef(a.page, ['page'], ctx),
  run: (a, ctx) => {
    const p = resolvePage(a.page, ctx, ['page']);
    ctx.m.unpoisonMemory(p.pfn);
    return { summary: pageName(p) };
  },
});

export const softOfflineOp = defineOp({
  name: 'soft_offline',
  doc: 'soft_offline_page(pfn): migrate the page away, then poison the free frame; nobody is signalled',
  fields: { page: pageRef },
  analyse: (a, ctx) => analysePageRef(a.page, ['page'], ctx),
  run: (a, ctx) => {
    const p = resolvePage(a.page, ctx, ['page']);
    ctx.m.softOfflinePage(p.pfn);
    return { summary: pageName(p) };
  },
});

export const COMPACTION_OPS = [compactOp, memoryFailureOp, unpoisonOp, softOfflineOp];
