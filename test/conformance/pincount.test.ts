/** Every pin-count design against the pin-count conformance suite (test/conformance/pincount.ts). */
import { runPinConformance } from './pincount.js';

const SHARES_AT_FORK = 'may answer not-pinned for a pinned page, so fork shares it — the point of the design';

runPinConformance({ design: 'bias' });
runPinConformance({ design: 'exact' });
runPinConformance({ design: 'shadow' });
runPinConformance({ design: 'sticky' });
runPinConformance({
  design: 'ptable',
  skip: [
    {
      reason: SHARES_AT_FORK,
      tests: ['the pinned page stays with the parent across fork; the device sees the parent'],
    },
  ],
});
runPinConformance({
  design: 'ptebit',
  skip: [
    {
      reason: SHARES_AT_FORK,
      tests: ['the pinned page stays with the parent across fork; the device sees the parent'],
    },
  ],
});
