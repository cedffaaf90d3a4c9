/**
 * `runOracle`: one scenario on the real kernel (through the probe) and on the model, compared.
 * This is the only part of the oracle that touches the host's state (the sysfs knobs).
 */
import { resolveConfig } from '../machine/config.js';
import type { Scenario } from '../scenario/parse.js';
import { compare } from './compare.js';
import { applyKnobs, restoreKnobs, wantedKnobs } from './knobs.js';
import { runModel } from './model.js';
import { runProbe } from './probe.js';
import { planScenario } from './translate.js';
import type { OracleResult, Verdict } from './types.js';

export interface OracleOptions {
  /** Change the model's machine (e.g. a pin-count design), to show the oracle catching a wrong model. */
  model?: Partial<Scenario['machine']>;
}

/** Throws NotOracleable for a scenario the kernel cannot run, OracleUnavailable where no oracle can run. */
export function runOracle(s: Scenario, opts: OracleOptions = {}): OracleResult {
  const plan = planScenario(s);
  const knobs = applyKnobs(wantedKnobs(resolveConfig(s.machine)));
  let kernel: ReturnType<typeof runProbe>;
  try {
    kernel = runProbe(plan);
  } finally {
    restoreKnobs(knobs);
  }
  const model = runModel(s, plan, opts.model);
  const steps = compare(plan.steps, kernel, model);
  const counts: Record<Verdict, number> = { agree: 0, disagree: 0, inconclusive: 0 };
  for (const st of steps) {
    counts[st.outcome.verdict]++;
    for (const r of st.rows) counts[r.verdict] += r.last - r.first + 1;
  }
  return { file: s.file, name: s.name, knobs, steps, counts, exitCode: counts.disagree > 0 ? 1 : 0 };
}
