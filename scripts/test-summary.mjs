// Print "N passed, N failed" from Vitest's JSON report; exit 1 if the report is missing or
// any test failed. Used by .ci/run (CI reads this line, not Vitest's own summary).
import { readFileSync } from 'node:fs';

const file = process.argv[2] ?? '.cache/vitest.json';
let report;
try {
  report = JSON.parse(readFileSync(file, 'utf8'));
} catch (e) {
  console.log('0 passed, 1 failed');
  console.error(`test-summary: no Vitest report at ${file} (${e.message})`);
  process.exit(1);
}
const passed = report.numPassedTests ?? 0;
const failed = (report.numFailedTests ?? 0) + (report.numRuntimeErrorTestSuites ?? 0);
const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
