/**
 * One oracle run at a time per host: the THP and KSM knobs in /sys are global, so two runs would
 * set and restore them under each other. The lock is a file created exclusively (O_EXCL) holding
 * the holder's PID; a lock whose PID is no longer alive is stale and taken over. It is released
 * when the run ends, and on process exit if the run never got there.
 */
import { closeSync, existsSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OracleBusy, OracleUnavailable } from './errors.js';

/** Where the lock lives: one path per host ($PAGELAB_ORACLE_LOCK overrides it, for tests). */
export function lockPath(): string {
  if (process.env.PAGELAB_ORACLE_LOCK) return process.env.PAGELAB_ORACLE_LOCK;
  return join(existsSync('/run/lock') ? '/run/lock' : tmpdir(), 'pagelab-oracle.lock');
}

/** The PID written in a lock file, or undefined if it holds none (being written, or garbage). */
function holder(path: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(path, 'utf8'), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const sleep = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/** A held lock: `release()` removes it (idempotent). */
export interface OracleLock {
  path: string;
  release(): void;
}

/** Try once: the lock, or the PID holding it (0 while its holder is still writing it). */
function tryLock(path: string): OracleLock | number {
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o644);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EEXIST') throw new OracleUnavailable(`cannot create the oracle lock ${path} (${code})`);
    const pid = holder(path);
    if (pid !== undefined && !alive(pid)) {
      // Stale: its holder died without releasing it. Remove it and race for it again.
      try {
        unlinkSync(path);
      } catch {}
      return tryLock(path);
    }
    return pid ?? 0;
  }
  writeSync(fd, `${process.pid}\n`);
  closeSync(fd);
  let held = true;
  const release = () => {
    if (!held) return;
    held = false;
    process.off('exit', release);
    if (holder(path) === process.pid) unlinkSync(path);
  };
  process.on('exit', release);
  return { path, release };
}

/**
 * Take the host's oracle lock, waiting up to `waitMs` for another run to finish; OracleBusy names
 * the holder when it is still held then.
 */
export function acquireOracleLock(waitMs = 0, path = lockPath()): OracleLock {
  const deadline = Date.now() + waitMs;
  let empty = 0;
  for (;;) {
    const r = tryLock(path);
    if (typeof r !== 'number') return r;
    // A file with no PID for a while is left over from a holder that died while writing it.
    if (r === 0 && ++empty > 20) {
      try {
        unlinkSync(path);
      } catch {}
      continue;
    }
    if (Date.now() >= deadline)
      throw new OracleBusy(
        `another oracle run${r ? ` (pid ${r})` : ''} holds ${path}: the THP and KSM knobs are global, so one run at a time${waitMs ? '' : ' (--wait SECONDS waits for it)'}`,
      );
    sleep(Math.min(100, Math.max(1, deadline - Date.now())));
  }
}
