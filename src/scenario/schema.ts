/**
 * The shape of a scenario file. The parser validates the top level and each step separately (so
 * one bad step does not hide the others); `pagelab schema` prints the whole file's JSON schema,
 * steps as a union discriminated on `op`, for editors to complete and check.
 */
import { z } from 'zod';
import { machineSchema } from './machine_config.js';
import { OPS } from './registry.js';

/** The top level; `machine` and `steps` are validated on their own, with better positions. */
export const topLevelSchema = z.strictObject({
  name: z.string({ error: 'expected a name for the scenario' }),
  description: z.string({ error: 'expected a description (text)' }).optional(),
  machine: z.unknown().optional(),
  steps: z.array(z.unknown(), { error: 'expected a list of steps' }),
});

export const TOP_LEVEL_KEYS = Object.keys(topLevelSchema.shape);

type StepSchema = (typeof OPS)[number]['schema'];

/** One step of any op that exists. */
export const stepSchema = z.discriminatedUnion(
  'op',
  OPS.map((o) => o.schema) as [StepSchema, ...StepSchema[]],
);

/** A whole scenario file. */
export const scenarioSchema = topLevelSchema.extend({
  machine: machineSchema.optional(),
  steps: z.array(stepSchema),
});

/** The JSON schema of scenario files (what a file may contain, before sizes are converted). */
export function scenarioJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(scenarioSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
}
