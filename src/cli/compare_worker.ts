/**
 * A worker of `pagelab compare`'s pool: one scenario under one combination of the design axes.
 * The scenario travels as its file's text and is parsed here (a parsed Scenario is not plain
 * data); the row comes back as data, exactly what compareCombo() returns in the parent.
 */
import { type Combo, type ComboOutcome, compareCombo } from '../scenario/compare.js';
import { parseScenario } from '../scenario/parse.js';

export interface CompareTask {
  file: string;
  text: string;
  combo: Combo;
}

export default function run(task: CompareTask): ComboOutcome {
  const parsed = parseScenario(task.text, task.file);
  // The parent parsed the same text first: a failure here would be a bug, not bad input.
  if (!parsed.ok) throw new Error(`${task.file} no longer parses in the worker`);
  return compareCombo(parsed.scenario, task.combo);
}
