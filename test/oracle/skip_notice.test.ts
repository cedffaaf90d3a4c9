/**
 * `npm test` without root says once, in one line, that the live-kernel tests were skipped and
 * why. Runs Vitest on one small file as an unprivileged user (nobody, through setpriv, when the
 * suite runs as root; as the current user otherwise).
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const isRoot = process.geteuid?.() === 0;
const vitest = [
  'node_modules/vitest/vitest.mjs',
  'run',
  'test/oracle/compare.test.ts',
  '--configLoader',
  'runner',
];

describe('npm test as non-root', () => {
  it('prints one line saying the oracle tests were skipped and why', () => {
    const argv = isRoot
      ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--', process.execPath, ...vitest]
      : [process.execPath, ...vitest];
    const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', env: { ...process.env, CI: 'true' } });
    expect(r.status).toBe(0);
    const lines = r.stdout.split('\n').filter((l) => l.includes('oracle tests skipped'));
    expect(lines).toEqual([
      'pagelab: oracle tests skipped: /proc/kpageflags is not readable (EACCES): needs root on Linux (run npm test as root to include them)',
    ]);
  });
});
