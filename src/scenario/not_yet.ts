/**
 * Step keys an op does not take yet but will: using one is rejected at parse time with "not
 * implemented yet: ..." and what the key is for, never silently ignored. (Every op and machine key
 * the kernel's selftests needed now exists: swap, mremap, MADV_POPULATE, MADV_COLLAPSE, mTHP.)
 */

/** Keys any step will accept later; on an op that does not take them yet, this is the message. */
export const NOT_YET_STEP_KEYS: ReadonlyMap<string, string> = new Map([
  ['expect', 'expect on this op (only user accesses, DMA reads and sync check values or signals)'],
]);
