import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatDiagnostic } from '../../src/scenario/diagnostics.js';
import { failureText } from '../../src/scenario/format.js';
import { parseScenario } from '../../src/scenario/parse.js';
import { runScenario } from '../../src/scenario/run.js';

const DIR = 'examples';
// Subdirectories too: examples/oracle/ holds the scenarios the real kernel also runs.
const files = readdirSync(DIR, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.yaml'));

describe('examples/', () => {
  it('has scenarios, among them the showcase npm start runs', () => {
    expect(files).toContain('memdesc-vs-struct-page.yaml');
  });

  it.each(files)('%s parses and every expectation in it holds', (name) => {
    const file = join(DIR, name);
    const parsed = parseScenario(readFileSync(file, 'utf8'), file);
    if (!parsed.ok) throw new Error(parsed.errors.map(formatDiagnostic).join('\n'));
    const r = runScenario(parsed.scenario);
    expect(r.failures.map((f) => failureText(file, f))).toEqual([]);
    expect(r.inputErrors).toEqual([]);
    expect(r.exitCode).toBe(0);
    expect(r.expectations).toBeGreaterThan(0);
  });
});
