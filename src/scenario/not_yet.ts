/**
 * What scenario files will say once the mechanisms of the kernel's selftests exist (none left
 * since swap out and MADV_COLLAPSE landed), rejected until then with "not implemented yet: ..." at parse time — never
 * silently ignored, never answered with a did-you-mean for some other op. When a mechanism lands,
 * its op module goes into registry.ts and its names leave these lists.
 */

/** Ops whose mechanisms do not exist yet. */
export const NOT_YET_OPS: ReadonlySet<string> = new Set<string>();

/** Keys of `machine:` for designs not built yet, with what they will configure. */
export const NOT_YET_MACHINE_KEYS: ReadonlyMap<string, string> = new Map();

/** Keys any step will accept later; on an op that does not take them yet, this is the message. */
export const NOT_YET_STEP_KEYS: ReadonlyMap<string, string> = new Map([
  ['expect', 'expect on this op (only user accesses, DMA reads and sync check values or signals)'],
]);
