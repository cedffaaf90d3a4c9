import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { OPS } from '../../src/scenario/registry.js';
import { scenarioJsonSchema } from '../../src/scenario/schema.js';

interface JsonSchema {
  properties: Record<string, { items?: { oneOf?: { properties: { op: { const: string } } }[] } }>;
  required: string[];
  $defs?: Record<string, unknown>;
}

describe('the JSON schema of scenario files', () => {
  const schema = scenarioJsonSchema() as unknown as JsonSchema;
  const ops = (schema.properties.steps.items?.oneOf ?? []).map((o) => o.properties.op.const);

  it('lists every op of the registry as a step, and none of those not implemented yet', () => {
    expect(ops).toEqual(OPS.map((o) => o.name));
  });

  it('requires name and steps, and defines the page reference once', () => {
    expect(schema.required).toEqual(['name', 'steps']);
    expect(Object.keys(schema.properties)).toEqual(['name', 'description', 'machine', 'steps']);
    expect(schema.$defs?.page).toBeDefined();
  });

  it('every shipped example is valid under the published schema, as an editor would check it', () => {
    const validate = new Ajv2020({ strict: false, allErrors: true }).compile(scenarioJsonSchema());
    const files = ['examples', 'examples/oracle', 'examples/oracle/selftests'].flatMap((d) =>
      readdirSync(d)
        .filter((f) => f.endsWith('.yaml'))
        .map((f) => join(d, f)),
    );
    expect(files.length).toBeGreaterThan(30);
    const invalid = files.flatMap((f) =>
      validate(parse(readFileSync(f, 'utf8')))
        ? []
        : [`${f}: ${JSON.stringify(validate.errors?.slice(0, 3))}`],
    );
    expect(invalid).toEqual([]);
  });

  it('offers machine.thp as a top-level mode or as per-size modes keyed 16K to 2M', () => {
    const machine = schema.properties.machine as unknown as {
      properties: { thp: { anyOf: { enum?: string[]; properties?: Record<string, { enum: string[] }> }[] } };
    };
    const [mode, sizes] = machine.properties.thp.anyOf;
    expect(mode.enum).toEqual(['always', 'madvise', 'never']);
    expect(Object.keys(sizes.properties!)).toEqual([
      'enabled',
      '16K',
      '32K',
      '64K',
      '128K',
      '256K',
      '512K',
      '1M',
      '2M',
    ]);
    expect(sizes.properties!['64K'].enum).toEqual(['always', 'madvise', 'inherit', 'never']);
  });
});
