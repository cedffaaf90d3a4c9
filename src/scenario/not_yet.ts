/**
 * What scenario files will say once the virtual-memory layer exists, and is rejected until then
 * with "not implemented yet: ..." at parse time — never silently ignored. When a mechanism lands,
 * its op module goes into registry.ts and its names leave these lists.
 */
import { z } from 'zod';
import { labelName } from './fields.js';
import { definePageRefForm } from './page_ref_form.js';

/** Ops whose mechanisms do not exist yet. */
export const NOT_YET_OPS: ReadonlySet<string> = new Set([
  // processes and address spaces
  'spawn',
  'fork',
  'exit',
  'mmap',
  'munmap',
  'mprotect',
  'madvise',
  // user accesses
  'read',
  'write',
  // files and the page cache
  'create',
  'truncate',
  'sync',
  // GUP and DMA
  'get',
  'pin',
  'unpin',
  'put',
  'dma_read',
  'dma_write',
  // vmalloc
  'vmalloc',
  'vmalloc_user',
  'vfree',
  // driver mappings
  'remap_pfn_range',
  'vm_insert_page',
  'vmf_insert_pfn',
  'vmf_insert_mixed',
  'remap_vmalloc_range',
  // device memory, compaction, memory failure
  'memremap',
  'compact',
  'memory_failure',
]);

/** Keys of `machine:` for designs not built yet, with what they will configure. */
export const NOT_YET_MACHINE_KEYS: ReadonlyMap<string, string> = new Map([
  ['pincount', 'machine.pincount (pin-count designs)'],
]);

/** Keys any step will accept later; on an op that does not take them yet, this is the message. */
export const NOT_YET_STEP_KEYS: ReadonlyMap<string, string> = new Map([
  ['expect', 'expect on an op step (signals and values read come with processes)'],
]);

export const PROCESSES_NOT_YET = 'processes are not implemented yet';

/** `page: { proc: p, addr: buf }`: accepted by the schema so the message can be precise. */
export const userAddressPageRef = definePageRefForm({
  schema: z.strictObject({ proc: labelName(), addr: z.union([z.string(), z.number()]) }),
  is: (ref) => typeof ref === 'object' && ref !== null && 'proc' in ref,
  analyse: (_ref, path, ctx) =>
    ctx.error(path, `${PROCESSES_NOT_YET}: a page cannot be named by {proc, addr}`),
  resolve: () => {
    throw new Error(PROCESSES_NOT_YET);
  },
});
