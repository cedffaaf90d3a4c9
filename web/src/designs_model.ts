/**
 * The Designs view's numbers, in the worker, from the code the CLI prints them with: `pagelab
 * compare`'s compareScenario() over every pin-count design, the machine's own accounting() of
 * both descriptor layouts at the step shown, and `pagelab devmem`'s devmemTable().
 */
import { devmemTable } from '../../src/designs/devmem.js';
import { PIN_DESIGNS } from '../../src/designs/pincount.js';
import { compareScenario } from '../../src/scenario/compare.js';
import type { Scenario } from '../../src/scenario/parse.js';
import type { RunResult } from '../../src/scenario/run.js';
import type { DesignsData } from './protocol.js';

/** Fractions of a device in use that the devmem chart spans. */
export const DEVMEM_TOUCHED = [0.001, 0.01, 0.1, 0.5, 1];

let cached: { scenario: Scenario; compare: DesignsData['compare'] } | undefined;

export function designsData(s: Scenario, at: RunResult, step: number, deviceBytes: number): DesignsData {
  const t = performance.now();
  // compare runs the whole scenario once per design: once per scenario, not per step.
  if (cached?.scenario !== s) cached = { scenario: s, compare: compareScenario(s, [...PIN_DESIGNS]) };
  const m = at.machine;
  if (!m) throw new Error('no machine at this step');
  return {
    step,
    layouts: m.accounting(),
    compare: cached.compare,
    deviceBytes,
    devmem: devmemTable(deviceBytes, DEVMEM_TOUCHED),
    ms: performance.now() - t,
  };
}
