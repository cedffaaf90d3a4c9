/**
 * Said once per run, before the tests: whether the tests that need the live kernel (the oracle's,
 * and the package test's oracle run) are skipped here, and why.
 */
import { UNAVAILABLE } from './oracle/helpers.js';

export default function setup(): void {
  if (UNAVAILABLE)
    process.stdout.write(
      `pagelab: oracle tests skipped: ${UNAVAILABLE} (run npm test as root to include them)\n`,
    );
}
