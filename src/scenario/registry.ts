/**
 * Everything a scenario file can say, in one place. A mechanism joins the language as one module:
 *
 * 1. `ops/<mechanism>.ts` exports its ops, each `defineOp({ name, doc, fields, binds, analyse, run })`:
 *    `fields` is a zod shape built from fields.ts (strict: unknown keys are errors by themselves);
 *    `binds` names the key whose label the step defines (`as`); `analyse` declares the labels the
 *    step uses (`ctx.use(name, kinds, path)`) so unknown names fail at parse time with a position;
 *    `run` calls the Machine and returns `{ summary, binding }` (or `{ checks, failures }` when the
 *    op checks something itself, like a read's bytes). Errors the model throws are matched with
 *    `expect_error` by the runner.
 * 2. List those ops in OPS below.
 * 3. If it brings something new to check, an `expect/<thing>.ts` (defineExpectation) in
 *    EXPECTATIONS; a new way of naming a page (the `{ proc, addr }` form) in PAGE_REF_FORMS of
 *    page_ref.ts; a report section (the per-process VMA bars) in PROCESS_MAP_SECTIONS.
 */
import { accountingExpectation } from './expect/accounting.js';
import { buddyinfoExpectation } from './expect/buddyinfo.js';
import { countersExpectation } from './expect/counters.js';
import { devmemExpectation } from './expect/devmem.js';
import { pageExpectation } from './expect/page.js';
import { pinScoreExpectation, processExpectation } from './expect/process.js';
import { slabinfoExpectation } from './expect/slabinfo.js';
import { vmNormalPageExpectation } from './expect/vm_normal_page.js';
import { COMPACTION_OPS } from './ops/compaction.js';
import { DRIVER_OPS } from './ops/driver.js';
import { dump } from './ops/dump.js';
import { makeExpectOp } from './ops/expect.js';
import { FILE_OPS } from './ops/file.js';
import { GUP_OPS } from './ops/gup.js';
import { KSM_OPS } from './ops/ksm.js';
import { MREMAP_OPS } from './ops/mremap.js';
import { ODIRECT_OPS } from './ops/odirect.js';
import { PAGE_ALLOC_OPS } from './ops/page_alloc.js';
import { PGTABLE_OPS } from './ops/pgtable.js';
import { PROC_MEM_OPS } from './ops/proc_mem.js';
import { SLAB_OPS } from './ops/slab.js';
import { USERFAULTFD_OPS } from './ops/userfaultfd.js';
import { VM_OPS } from './ops/vm.js';
import { processMapSection } from './process_map.js';
import {
  accountingSection,
  meminfoSection,
  pagesByTypeSection,
  type ReportSection,
  slabinfoSection,
  vmstatSection,
} from './report.js';
import type { Expectation, Op } from './step.js';

/** What `expect` can check; each owns some of its keys. */
export const EXPECTATIONS: readonly Expectation[] = [
  pageExpectation,
  countersExpectation,
  buddyinfoExpectation,
  slabinfoExpectation,
  accountingExpectation,
  processExpectation,
  pinScoreExpectation,
  vmNormalPageExpectation,
  devmemExpectation,
];

/** Every op that exists, in the order `pagelab schema` lists them. */
export const OPS: readonly Op[] = [
  ...PAGE_ALLOC_OPS,
  ...SLAB_OPS,
  ...PGTABLE_OPS,
  ...VM_OPS,
  ...MREMAP_OPS,
  ...USERFAULTFD_OPS,
  ...KSM_OPS,
  ...FILE_OPS,
  ...GUP_OPS,
  ...ODIRECT_OPS,
  ...PROC_MEM_OPS,
  ...DRIVER_OPS,
  ...COMPACTION_OPS,
  makeExpectOp(EXPECTATIONS),
  dump,
];

export const OPS_BY_NAME: ReadonlyMap<string, Op> = new Map(OPS.map((o) => [o.name, o]));

/** Each process's VMAs drawn as bars with what maps where. */
const PROCESS_MAP_SECTIONS: readonly ReportSection[] = [processMapSection];

/** The final report, in order. */
export const REPORT_SECTIONS: readonly ReportSection[] = [
  ...PROCESS_MAP_SECTIONS,
  pagesByTypeSection,
  meminfoSection,
  vmstatSection,
  slabinfoSection,
  accountingSection,
];
