/**
 * The oracle's knobs come back when its process is interrupted (issue 13): an oracle run of a
 * scenario without swap is sent SIGTERM or SIGINT, by PID, while its probe runs with the knobs
 * set; host_restore.ts puts every knob back and the process exits with 128 + the signal's number.
 * Without the handler the default action kills node at once, leaving ksm/pages_to_scan and the
 * rest as the run set them. The probe is a stand-in (a script under the probe's cached name) that
 * says it started, then sleeps: the run is mid-probe for as long as the test needs.
 */
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { acquireOracleLock } from '../../src/oracle/lock.js';
import { probeFileName } from '../../src/oracle/probe.js';
import { buildCli, hostKnobs, liveTitle, UNAVAILABLE } from './helpers.js';

const SCENARIO = `name: interrupted
machine: { memory: 512M }
steps:
  - { op: spawn, name: p }
  - { op: mmap, proc: p, name: mem, size: 8K, prot: rw, flags: [private, anonymous] }
  - { op: write, proc: p, addr: mem, len: 8K, byte: 1 }
`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The knobs as they are when no oracle run holds the host's lock (every run restores before releasing it). */
function idleKnobs(): Record<string, string> {
  const lock = acquireOracleLock(600_000);
  try {
    return hostKnobs();
  } finally {
    lock.release();
  }
}

describe.skipIf(UNAVAILABLE !== undefined)(liveTitle('an interrupted oracle run puts the knobs back'), () => {
  const dir = mkdtempSync(join(resolve('.cache'), 'oracle-signal-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each([
    ['SIGTERM', 143],
    ['SIGINT', 130],
  ] as const)(
    '%s mid-probe: every knob as before, exit %i',
    async (sig, code) => {
      const bin = existsSync(join(dir, 'bin.mjs')) ? join(dir, 'bin.mjs') : buildCli(dir);
      const cache = mkdtempSync(join(dir, 'cache-'));
      const started = join(cache, 'started');
      const probe = join(cache, probeFileName(readFileSync('src/oracle/probe.c')));
      writeFileSync(probe, `#!/bin/sh\ntouch ${started}\nsleep 5\nexit 3\n`);
      chmodSync(probe, 0o755);
      const file = join(dir, 'interrupted.yaml');
      writeFileSync(file, SCENARIO);
      const before = idleKnobs();
      // --wait: other engineers' oracle runs hold the lock at times; this one waits its turn.
      const child = spawn(process.execPath, [bin, 'oracle', '--wait', '600', file], {
        env: { ...process.env, PAGELAB_CACHE: cache },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const exited = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
      while (!existsSync(started)) await sleep(50);
      // The run set its knobs (ksmd's batch is 1000 pages for the run, the host's default is 100).
      const during = hostKnobs();
      expect(during).not.toEqual(before);
      child.kill(sig);
      // The handler exits 128 + signo. The probe runs synchronously, so the signal waits in libuv's
      // queue until it returns; on a loaded machine the run can end first on its own (here: the
      // stand-in probe's failure, exit 2) — either way after the knobs went back.
      expect([code, 2]).toContain(await exited);
      // Read under the lock: another engineer's run may have its own knobs set right now.
      expect(idleKnobs()).toEqual(before);
    },
    660_000,
  );
});
