/**
 * KSM ops: `ksm_scan` — ksmd runs one full pass (mm/ksm.c ksm_do_scan, to convergence), merging
 * identical anonymous pages of the regions made `madvise: mergeable` into shared, write-protected
 * KSM pages. The advice itself is the `madvise` op's (`mergeable`, `unmergeable`).
 */
import { defineOp } from '../step.js';

export const ksmScanOp = defineOp({
  name: 'ksm_scan',
  doc: 'ksmd runs one full pass: identical anon pages of MADV_MERGEABLE regions merge into KSM pages',
  fields: {},
  run: (_a, { m }) => {
    const merged = m.ksmScan();
    const s = m.ksmStats();
    return {
      summary: `${merged} page(s) merged; pages_shared ${s.pagesShared}, pages_sharing ${s.pagesSharing}`,
    };
  },
});

export const KSM_OPS = [ksmScanOp] as const;
