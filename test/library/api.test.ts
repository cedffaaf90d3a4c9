import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  formatDiagnostic,
  Machine,
  type MachineConfig,
  parseScenario,
  runScenario,
  runText,
  scenarioReport,
} from '../../src/index.js';

describe('new Machine({...})', () => {
  it('refuses an unknown config key with ConfigError, naming the nearest key', () => {
    const bad = { memroy: '1G' } as unknown as MachineConfig;
    expect(() => new Machine(bad)).toThrow(ConfigError);
    expect(() => new Machine(bad)).toThrow(
      /^unknown config key 'memroy': did you mean 'memory'\? \(known: memory, nodes,/,
    );
    expect(new Machine({ memory: '1G', thp: 'never' }).config.memory).toBe(1 << 30);
  });
});

describe('the scenario API from the library entry', () => {
  it('parses, runs and reports a scenario as plain data', () => {
    const file = 'examples/refcounts-and-reuse.yaml';
    const parsed = parseScenario(readFileSync(file, 'utf8'), file);
    if (!parsed.ok) throw new Error(parsed.errors.map(formatDiagnostic).join('\n'));
    const r = runScenario(parsed.scenario);
    const report = JSON.parse(JSON.stringify(scenarioReport(r)));
    expect(report.exitCode).toBe(0);
    expect(report.name).toBe(parsed.scenario.name);
    expect(report.steps).toHaveLength(parsed.scenario.steps.length);
    expect(report.report.map((s: { id: string }) => s.id)).toContain('meminfo');
    expect(runText(r)).toMatch(/\nPASS {2}\d+ steps/);
  });

  it('gives every problem of a bad scenario as diagnostics', () => {
    const parsed = parseScenario('name: t\nsteps:\n  - { op: folio_aloc }\n', 'x.yaml');
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.errors.map(formatDiagnostic)).toEqual([
      expect.stringMatching(
        /^x\.yaml:3:11 step 1: op: unknown op 'folio_aloc': did you mean 'folio_alloc'\?/,
      ),
    ]);
  });

  it('a failing expectation is data too: exit code 1 and the failure at its position', () => {
    const text =
      'name: t\nmachine: { memory: 128M }\nsteps:\n  - { op: folio_alloc, as: f }\n  - { op: expect, page: f, state: { refcount: 2 } }\n';
    const parsed = parseScenario(text, 'y.yaml');
    if (!parsed.ok) throw new Error('should parse');
    const report = scenarioReport(runScenario(parsed.scenario));
    expect(report.exitCode).toBe(1);
    expect(report.failures).toEqual([
      expect.objectContaining({
        step: 2,
        op: 'expect',
        message: expect.stringContaining('refcount is 1, expected 2'),
      }),
    ]);
  });
});

describe('npm run docs', () => {
  it('TypeDoc builds the API reference from src/index.ts without errors', () => {
    const out = execFileSync('npx', ['typedoc', '--emit', 'none', '--logLevel', 'Error'], {
      encoding: 'utf8',
    });
    expect(out).not.toMatch(/\[error\]/);
    expect(JSON.parse(readFileSync('package.json', 'utf8')).scripts.docs).toBe('typedoc');
  }, 180_000);
});
