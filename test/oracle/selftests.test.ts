import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runOracle } from '../../src/oracle/oracle.js';
import { planScenario } from '../../src/oracle/translate.js';
import { disagreements, liveTitle, loadScenario, UNAVAILABLE } from './helpers.js';

// The kernel's own mm selftests ported to oracle scenarios (docs/selftests.md has the matrix).
const DIR = 'examples/oracle/selftests';
const files = readdirSync(DIR).filter((f) => f.endsWith('.yaml'));

describe('the ported selftests', () => {
  it('are at least the 60 issue 11 asks for, each naming its selftest and case', () => {
    expect(files.length).toBeGreaterThanOrEqual(60);
    for (const f of files) {
      const text = readFileSync(join(DIR, f), 'utf8');
      expect(text, f).toMatch(/^# Ported from tools\/testing\/selftests\/mm\/[a-z_-]+\.c: "/);
      // Every one is something the kernel side can run.
      expect(() => planScenario(loadScenario(join(DIR, f))), f).not.toThrow();
    }
  });

  it('each appear in the matrix of docs/selftests.md', () => {
    const doc = readFileSync('docs/selftests.md', 'utf8');
    for (const f of files) expect(doc, f).toContain(f.replace(/\.yaml$/, ''));
  });
});

describe.skipIf(UNAVAILABLE !== undefined)(liveTitle('the ported selftests against the live kernel'), () => {
  it.each(files)('%s agrees with the kernel on every page after every step', (name) => {
    // Other oracle runs on this host (another checkout's tests) hold the lock for a while: wait.
    const r = runOracle(loadScenario(join(DIR, name)), { lockWaitMs: 600_000 });
    expect(disagreements(r)).toEqual([]);
    expect(r.exitCode).toBe(0);
    expect(r.counts.agree).toBeGreaterThan(0);
  });
});
