import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { acquireOracleLock } from '../../src/oracle/lock.js';
import { OracleBusy, oracleUnavailableReason } from '../../src/oracle/probe.js';
import { scratchDir } from '../helpers.js';
import { liveTitle, UNAVAILABLE } from './helpers.js';

const dir = scratchDir('pagelab-lock-');
let n = 0;
const fresh = () => join(dir, `lock${n++}`);

/** A PID that is certainly not running: a child that has exited. */
async function deadPid(): Promise<number> {
  const c = spawn(process.execPath, ['-e', '0']);
  await new Promise((r) => c.on('exit', r));
  return c.pid!;
}

describe('the oracle lock', () => {
  it('is a file holding the PID while held, gone when released', () => {
    const path = fresh();
    const lock = acquireOracleLock(0, path);
    expect(readFileSync(path, 'utf8')).toBe(`${process.pid}\n`);
    lock.release();
    expect(existsSync(path)).toBe(false);
    lock.release(); // idempotent
  });

  it('refuses a second holder at once, naming the PID that holds it', () => {
    const path = fresh();
    const lock = acquireOracleLock(0, path);
    expect(() => acquireOracleLock(0, path)).toThrow(OracleBusy);
    expect(() => acquireOracleLock(0, path)).toThrow(`another oracle run (pid ${process.pid}) holds ${path}`);
    lock.release();
    acquireOracleLock(0, path).release();
  });

  it('waits up to the time it is given, then still refuses', () => {
    const path = fresh();
    const lock = acquireOracleLock(0, path);
    const t = Date.now();
    expect(() => acquireOracleLock(300, path)).toThrow(OracleBusy);
    expect(Date.now() - t).toBeGreaterThanOrEqual(290);
    lock.release();
  });

  it('takes over a stale lock whose process is gone', async () => {
    const path = fresh();
    writeFileSync(path, `${await deadPid()}\n`);
    const lock = acquireOracleLock(0, path);
    expect(readFileSync(path, 'utf8')).toBe(`${process.pid}\n`);
    lock.release();
  });
});

describe('why the oracle cannot run', () => {
  it('names a missing /proc/kpageflags as a kernel without CONFIG_PROC_PAGE_MONITOR', () => {
    expect(oracleUnavailableReason(join(dir, 'no-kpageflags'))).toMatch(
      /no-kpageflags does not exist: this kernel was built without CONFIG_PROC_PAGE_MONITOR$/,
    );
  });
});

describe.skipIf(UNAVAILABLE !== undefined)(
  liveTitle('pagelab oracle while another run holds the lock'),
  () => {
    it('exits 2 with one line naming the holder, and touches nothing', async () => {
      const path = fresh();
      const lock = acquireOracleLock(0, path);
      process.env.PAGELAB_ORACLE_LOCK = path;
      let out = '';
      let err = '';
      try {
        const code = await main(['oracle', 'examples/oracle/write-fault.yaml'], {
          out: (s) => (out += s),
          err: (s) => (err += s),
        });
        expect(code).toBe(2);
      } finally {
        delete process.env.PAGELAB_ORACLE_LOCK;
        lock.release();
      }
      expect(out).toBe('');
      expect(err).toBe(
        `pagelab: oracle unavailable: another oracle run (pid ${process.pid}) holds ${path}: the THP and KSM knobs are global, so one run at a time (--wait SECONDS waits for it)\n`,
      );
    });
  },
);
