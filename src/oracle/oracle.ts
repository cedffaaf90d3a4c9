/**
 * `runOracle`: one scenario on the real kernel (through the probe) and on the model, compared.
 * This is the only part of the oracle that touches the host's state (the sysfs knobs, and the zram
 * device a scenario with swap borrows).
 */
import { ConfigError, resolveConfig } from '../machine/config.js';
import { Machine } from '../machine/machine.js';
import type { Scenario } from '../scenario/parse.js';
import { runScenario } from '../scenario/run.js';
import { compare } from './compare.js';
import { OracleBadInput, OracleUnavailable } from './errors.js';
import { applyKnobs, restoreKnobs, wantedKnobs } from './knobs.js';
import { acquireOracleLock } from './lock.js';
import { runModel } from './model.js';
import { type KernelRun, oracleUnavailableReason, runProbe } from './probe.js';
import { type OraclePlan, planScenario } from './translate.js';
import type { ExpectationResult, Knob, OracleResult, Verdict } from './types.js';
import { setupSwap, teardownSwap } from './zram.js';

export interface OracleOptions {
  /** Change the model's machine (e.g. a pin-count design), to show the oracle catching a wrong model. */
  model?: Partial<Scenario['machine']>;
  /** How long to wait for another oracle run on this host to finish (default 0: fail at once). */
  lockWaitMs?: number;
}

/** Run the plan through the probe with the knobs it needs set, holding the host's lock meanwhile. */
function onKernel(plan: OraclePlan, s: Scenario, lockWaitMs: number): { kernel: KernelRun; knobs: Knob[] } {
  const lock = acquireOracleLock(lockWaitMs);
  try {
    const config = resolveConfig(s.machine);
    const knobs = applyKnobs(wantedKnobs(config));
    try {
      // A scenario with swap gets the host's zram device as its swap for the run (zram.ts).
      const swap = config.swap > 0 ? setupSwap(config.swap) : null;
      try {
        return { kernel: runProbe(plan), knobs: [...knobs, ...(swap?.knobs ?? [])] };
      } finally {
        if (swap) teardownSwap(swap);
      }
    } finally {
      restoreKnobs(knobs);
    }
  } finally {
    lock.release();
  }
}

/**
 * Throws NotOracleable for a scenario the kernel cannot run, OracleBadInput for a machine the model
 * cannot boot, OracleUnavailable where no oracle can run (OracleBusy while another run holds the
 * host's lock), all before any knob is touched.
 */
export function runOracle(s: Scenario, opts: OracleOptions = {}): OracleResult {
  const plan = planScenario(s);
  bootModel(s);
  const why = oracleUnavailableReason();
  if (why) throw new OracleUnavailable(why);
  const { kernel, knobs } = onKernel(plan, s, opts.lockWaitMs ?? 0);
  const model = runModel(s, plan, opts.model);
  const steps = compare(plan.steps, kernel, model);
  const counts: Record<Verdict, number> = { agree: 0, disagree: 0, inconclusive: 0 };
  for (const st of steps) {
    counts[st.outcome.verdict]++;
    for (const r of st.rows) counts[r.verdict] += r.last - r.first + 1;
    for (const c of st.counters) counts[c.verdict]++;
  }
  const expectations = modelExpectations(s, opts.model);
  const failed = counts.disagree > 0 || expectations.failures.length > 0;
  return { file: s.file, name: s.name, knobs, steps, counts, expectations, exitCode: failed ? 1 : 0 };
}

/**
 * Boot the model's machine once before the kernel side runs: a machine the model cannot build
 * (more nodes than sections, a reserved range past the end of memory...) is bad input, and finding
 * it after the probe ran would report a disagreement the kernel had no part in, with the host's
 * knobs changed for nothing.
 */
function bootModel(s: Scenario): void {
  try {
    new Machine(s.machine);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    const pos = s.locate(['machine']);
    throw new OracleBadInput(`${s.file}:${pos.line}:${pos.col} machine: ${e.message}`);
  }
}

/** The scenario's own expectations, on one full run of the model (as `pagelab run` checks them). */
function modelExpectations(s: Scenario, override: Partial<Scenario['machine']> = {}): ExpectationResult {
  const r = runScenario({ ...s, machine: { ...s.machine, ...override } });
  const failures = r.failures.map((f) => ({
    step: f.step,
    op: f.op,
    line: f.pos.line,
    col: f.pos.col,
    message: f.message,
  }));
  return {
    checked: r.expectations,
    held: Math.max(0, r.expectations - failures.length),
    failures,
    stoppedAt: r.stoppedAt,
  };
}
