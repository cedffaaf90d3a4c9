/**
 * `expect: { page: P, state: {...} }` — what dump_page() would say about one frame: its type,
 * order, counts, flags, where it sits (node, zone, migratetype), and which frame it is.
 *
 * `frame: F` binds the label F to the page's frame the first time it is met and afterwards checks
 * that the page is on that same frame, so "reused, not copied" can be asserted without knowing
 * PFNs; `same_frame_as` / `not_same_frame_as` compare with another page.
 */
import { z } from 'zod';
import type { PageInfo, SwapEntryInfo } from '../../machine/types.js';
import { PG } from '../../mm/folio.js';
import { MT_NAMES } from '../../mm/memdesc.js';
import { MIGRATE_NAMES, ZONE_NAMES } from '../../mm/mmzone.js';
import type { Path } from '../diagnostics.js';
import { hex, labelName, oneOf, order, uint } from '../fields.js';
import { analysePageRef, pageName, pageRef, resolvePage } from '../page_ref.js';
import type { ResolvedPage } from '../page_ref_form.js';
import { defineExpectation, type Failure, type RunContext } from '../step.js';

/** Types as `page()` reports them: a free frame is `buddy`, never the memdesc's internal `none`. */
const PAGE_TYPES = MT_NAMES.filter((n) => n !== 'none') as [string, ...string[]];
const FLAG_NAMES = Object.keys(PG) as [keyof typeof PG, ...(keyof typeof PG)[]];
const flagList = () => z.array(oneOf(FLAG_NAMES, 'page flags from'));
const int = () => z.number({ error: 'expected a whole number' }).int({ error: 'expected a whole number' });

const pageState = z
  .strictObject({
    type: oneOf(PAGE_TYPES, 'a memory type:'),
    order: order(),
    refcount: int(),
    mapcount: int(),
    /** folio_mapcount(): mappings of any page of the folio. */
    folio_mapcount: int(),
    pincount: uint(),
    /** Exact pins on this page (the model's truth, whatever the pin-count design records). */
    pins: uint(),
    maybe_dma_pinned: z.boolean(),
    anon_exclusive: z.boolean(),
    /** Exactly these flags. */
    flags: flagList(),
    /** At least these flags. */
    flags_set: flagList(),
    /** None of these flags. */
    flags_clear: flagList(),
    zone: oneOf(ZONE_NAMES, 'a zone:'),
    node: uint('a node number'),
    migratetype: oneOf(MIGRATE_NAMES, 'a migratetype:'),
    frame: labelName(),
    /** The address holds a swap entry (pagemap's PM_SWAP), not a page. */
    swapped: z.boolean(),
    /** swap_map's count of that entry's slot: how many page-table entries name it. */
    swap_count: uint(),
    /**
     * pagemap's PM_UFFD_WP (bit 57): the entry is write-protected by userfaultfd — a present
     * page, a swap entry, or a uffd-wp marker where nothing is mapped. Needs a user address.
     */
    uffd_wp: z.boolean(),
    same_frame_as: pageRef,
    not_same_frame_as: pageRef,
  })
  .partial();

type PageState = z.output<typeof pageState>;

const flagNames = (flags: number): string[] =>
  FLAG_NAMES.filter((f) => PG[f] !== 0 && (flags & PG[f]) === PG[f]);

const flagsText = (names: readonly string[]) => (names.length ? names.join('|') : 'none');

/** Plain fields: the expectation key, and the PageInfo value it compares with. */
const SCALARS: readonly [keyof PageState, (p: PageInfo) => string | number | boolean][] = [
  ['type', (p) => p.type],
  ['order', (p) => p.order],
  ['refcount', (p) => p.refcount],
  ['mapcount', (p) => p.mapcount],
  ['folio_mapcount', (p) => p.folioMapcount],
  ['pincount', (p) => p.pincount],
  ['pins', (p) => p.pins],
  ['maybe_dma_pinned', (p) => p.maybeDmaPinned],
  ['anon_exclusive', (p) => p.anonExclusive],
  ['zone', (p) => p.zone],
  ['node', (p) => p.nid],
  ['migratetype', (p) => p.migratetype],
];

/** Compares one page with its expected state; every difference is one failure. */
function checkState(
  page: ResolvedPage,
  want: PageState,
  ctx: RunContext,
): { checks: number; failures: Failure[] } {
  if (page.swap) return checkSwapped(page, page.swap, want);
  if (page.pfn < 0) return checkUnmapped(page, want);
  const info = page.info ?? ctx.m.page(page.pfn);
  const failures: Failure[] = [];
  let checks = 0;
  const fail = (key: string, message: string) =>
    failures.push({ path: ['state', key], message: `${pageName(page)}: ${message}` });
  if (want.swapped !== undefined) {
    checks++;
    if (want.swapped) fail('swapped', 'is mapped, not swapped out');
  }
  if (want.swap_count !== undefined) {
    checks++;
    fail('swap_count', 'is not swapped out, so it has no swap count');
  }
  if (want.uffd_wp !== undefined) {
    checks++;
    if (!page.uffd) fail('uffd_wp', 'uffd_wp is a pagemap bit: name the page by { proc, addr }');
    else if (page.uffd.uffdWp !== want.uffd_wp)
      fail('uffd_wp', `uffd_wp is ${page.uffd.uffdWp}, expected ${want.uffd_wp}`);
  }
  for (const [key, actual] of SCALARS) {
    if (want[key] === undefined) continue;
    checks++;
    if (actual(info) !== want[key]) fail(key, `${key} is ${actual(info)}, expected ${want[key]}`);
  }
  const have = flagNames(info.flags);
  if (want.flags) {
    checks++;
    const exact = FLAG_NAMES.filter((f) => want.flags!.includes(f));
    if (exact.join('|') !== have.join('|'))
      fail('flags', `flags are ${flagsText(have)}, expected ${flagsText(exact)}`);
  }
  if (want.flags_set) {
    checks++;
    const missing = want.flags_set.filter((f) => !have.includes(f));
    if (missing.length) fail('flags_set', `flags are ${flagsText(have)}, missing ${missing.join('|')}`);
  }
  if (want.flags_clear) {
    checks++;
    const present = want.flags_clear.filter((f) => have.includes(f));
    if (present.length)
      fail('flags_clear', `flags are ${flagsText(have)}, expected ${present.join('|')} clear`);
  }
  if (want.frame !== undefined) checks += checkFrame(page, want.frame, ctx, fail);
  for (const key of ['same_frame_as', 'not_same_frame_as'] as const) {
    const ref = want[key];
    if (ref === undefined) continue;
    checks++;
    const other = resolvePage(ref, ctx, ['state', key]);
    const same = other.pfn === page.pfn;
    if (key === 'same_frame_as' && !same) fail(key, `is not on the frame of ${pageName(other)}`);
    if (key === 'not_same_frame_as' && same) fail(key, `shares its frame with ${other.name}`);
  }
  return { checks, failures };
}

/**
 * A swapped-out address: `swapped`, `anon_exclusive` (the entry's pte_swp_exclusive marker) and
 * `swap_count` are checked; any other key fails, since no page is there to have it.
 */
function checkSwapped(
  page: ResolvedPage,
  swap: SwapEntryInfo,
  want: PageState,
): { checks: number; failures: Failure[] } {
  const failures: Failure[] = [];
  const fail = (key: string, message: string) =>
    failures.push({ path: ['state', key], message: `${page.name}: ${message}` });
  let checks = 0;
  for (const key of Object.keys(want) as (keyof PageState)[]) {
    checks++;
    if (key === 'swapped') {
      if (!want.swapped) fail(key, `is swapped out (slot ${swap.offset})`);
    } else if (key === 'anon_exclusive') {
      if (want.anon_exclusive !== swap.exclusive)
        fail(key, `swap entry's exclusive marker is ${swap.exclusive}, expected ${want.anon_exclusive}`);
    } else if (key === 'swap_count') {
      if (want.swap_count !== swap.count)
        fail(key, `swap count is ${swap.count}, expected ${want.swap_count}`);
    } else if (key === 'uffd_wp') {
      const got = page.uffd?.uffdWp ?? false;
      if (got !== want.uffd_wp) fail(key, `swap entry's uffd-wp bit is ${got}, expected ${want.uffd_wp}`);
    } else fail(key, `is swapped out (slot ${swap.offset}): there is no page to have a ${key}`);
  }
  return { checks, failures };
}

/**
 * An address with no page and no swap entry: only `uffd_wp` can be checked —
 * a uffd-wp marker answers true, an empty entry false; anything else fails, there being no page.
 */
function checkUnmapped(page: ResolvedPage, want: PageState): { checks: number; failures: Failure[] } {
  const failures: Failure[] = [];
  const what = page.uffd?.marker ? 'holds a uffd-wp marker, no page' : 'nothing is mapped there';
  let checks = 0;
  for (const key of Object.keys(want) as (keyof PageState)[]) {
    checks++;
    if (key === 'uffd_wp' && page.uffd) {
      if (page.uffd.uffdWp !== want.uffd_wp)
        failures.push({
          path: ['state', key],
          message: `${page.name}: ${what}, uffd_wp is ${page.uffd.uffdWp}`,
        });
    } else
      failures.push({
        path: key === 'uffd_wp' ? ['state', key] : ['page'],
        message: `${page.name}: ${what}`,
      });
  }
  return { checks, failures };
}

/** Bind the frame label on first sight (0 checks), compare with it afterwards (1 check). */
function checkFrame(
  page: ResolvedPage,
  name: string,
  ctx: RunContext,
  fail: (k: string, m: string) => void,
): number {
  if (!ctx.labels.has(name)) {
    const pfn = page.pfn;
    ctx.labels.bind(name, { kind: 'frame', value: pfn, frames: () => ({ pfn, count: 1 }) });
    return 0;
  }
  const was = ctx.labels.num(name);
  if (was !== page.pfn) fail('frame', `is no longer on frame ${name} (pfn ${hex(was)})`);
  return 1;
}

export const pageExpectation = defineExpectation({
  fields: { page: pageRef.optional(), state: pageState.optional() },
  analyse: (a, ctx) => {
    if (a.page !== undefined && a.state === undefined)
      ctx.error(['page'], 'page needs a state to expect of it');
    if (a.state !== undefined && a.page === undefined) ctx.error(['state'], 'state needs a page to check');
    if (a.page !== undefined) analysePageRef(a.page, ['page'], ctx);
    const s = a.state;
    if (s === undefined) return;
    if (Object.keys(s).length === 0) ctx.error(['state'], 'state lists nothing to check');
    if (s.frame !== undefined) {
      const path: Path = ['state', 'frame'];
      if (ctx.lookup(s.frame) === undefined) ctx.define(s.frame, { kind: 'frame', memory: true }, path);
      else ctx.use(s.frame, ['frame'], path);
    }
    if (s.same_frame_as !== undefined) analysePageRef(s.same_frame_as, ['state', 'same_frame_as'], ctx);
    if (s.not_same_frame_as !== undefined)
      analysePageRef(s.not_same_frame_as, ['state', 'not_same_frame_as'], ctx);
  },
  check: (a, ctx) => {
    if (a.page === undefined || a.state === undefined) return { checks: 0, failures: [] };
    return checkState(resolvePage(a.page, ctx, ['page']), a.state, ctx);
  },
});
