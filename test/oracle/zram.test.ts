/**
 * Host hygiene of the oracle's swap: a scenario with `machine: { swap }` borrows zram0 as swap,
 * and the host's swap state (/proc/swaps, zram0's disksize, whether the zram module is there) is
 * the same before and after — after a run that agrees, a run whose probe fails half way, a
 * process killed by SIGTERM while the device is set up, and a refusal because zram0 is busy.
 */
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { acquireOracleLock } from '../../src/oracle/lock.js';
import { runOracle } from '../../src/oracle/oracle.js';
import { probeFileName } from '../../src/oracle/probe.js';
import { activeSwaps, zramDisksize } from '../../src/oracle/zram.js';
import { parseScenario, type Scenario } from '../../src/scenario/parse.js';
import { liveTitle, UNAVAILABLE } from './helpers.js';

const SCENARIO = `name: swap hygiene
machine: { memory: 512M, swap: 64M }
steps:
  - { op: spawn, name: p }
  - { op: mmap, proc: p, name: mem, size: 8K, prot: rw, flags: [private, anonymous] }
  - { op: madvise, proc: p, addr: mem, len: 8K, advice: nohugepage }
  - { op: write, proc: p, addr: mem, len: 8K, byte: 0x01 }
  - { op: pageout, proc: p, addr: mem, len: 8K }
  - { op: read, proc: p, addr: mem, len: 1 }
`;

function scenario(): Scenario {
  const r = parseScenario(SCENARIO, 'hygiene.yaml');
  if (!r.ok) throw new Error('bad scenario');
  return r.scenario;
}

/** What the host's swap looks like: the devices swapped on, zram0's size, the module's presence. */
const hostSwap = () => ({
  swaps: activeSwaps(),
  disksize: zramDisksize(),
  zram: existsSync('/sys/block/zram0'),
});

const canZram = UNAVAILABLE === undefined && (existsSync('/sys/block/zram0') || existsSync('/sbin/modprobe'));

/**
 * hostSwap() read while holding the host's oracle lock: the ported selftests run in parallel, and
 * between taking the lock and giving it back a swapped-out scenario has zram0 set up.
 */
function settledHostSwap() {
  const lock = acquireOracleLock(600_000);
  try {
    return hostSwap();
  } finally {
    lock.release();
  }
}

describe.skipIf(!canZram)(liveTitle("the oracle's swap leaves the host's swap as it found it"), () => {
  let before: ReturnType<typeof hostSwap> | undefined;
  beforeAll(() => {
    before = settledHostSwap();
  });
  afterEach(() => {
    delete process.env.PAGELAB_CACHE;
  });

  it('after a run that agrees (and the run did swap: the kernel showed swapped pages)', () => {
    const r = runOracle(scenario(), { lockWaitMs: 120_000 });
    expect(r.exitCode).toBe(0);
    const pageout = r.steps.find((s) => s.op === 'pageout')!;
    expect(pageout.rows.every((row) => row.kernel.startsWith('swapped'))).toBe(true);
    expect(r.knobs.map((k) => k.path)).toEqual(
      expect.arrayContaining(['/sys/block/zram0/disksize', 'swapon /dev/zram0']),
    );
    expect(settledHostSwap()).toEqual(before);
  });

  it('after a run whose probe fails half way, with zram0 swapped on while it ran', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pagelab-hygiene-'));
    try {
      // A probe that looks at the host's swap, then dies: the run fails after the setup.
      const src = readFileSync('src/oracle/probe.c');
      const exe = join(dir, probeFileName(src));
      writeFileSync(exe, `#!/bin/sh\ncat /proc/swaps > ${dir}/seen\nexit 3\n`);
      chmodSync(exe, 0o755);
      process.env.PAGELAB_CACHE = dir;
      expect(() => runOracle(scenario(), { lockWaitMs: 120_000 })).toThrow(/the probe .* failed/);
      expect(readFileSync(join(dir, 'seen'), 'utf8')).toContain('/dev/zram0');
      expect(settledHostSwap()).toEqual(before);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('after SIGTERM to a process that had set zram0 up', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pagelab-hygiene-'));
    try {
      const bundle = join(dir, 'zram.mjs');
      execFileSync('node_modules/.bin/esbuild', [
        'src/oracle/zram.ts',
        '--bundle',
        '--platform=node',
        '--format=esm',
        `--outfile=${bundle}`,
      ]);
      const child = spawn(
        'node',
        [
          '-e',
          `import('${bundle}').then((z) => { z.setupSwap(1 << 24); console.log('ready'); setInterval(() => {}, 1000); })`,
        ],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      await new Promise<void>((resolve) =>
        child.stdout.on('data', (d) => String(d).includes('ready') && resolve()),
      );
      expect(activeSwaps()).toContain('/dev/zram0');
      const code = await new Promise<number | null>((resolve) => {
        child.on('exit', (c) => resolve(c));
        child.kill('SIGTERM');
      });
      expect(code).toBe(143);
      expect(hostSwap()).toEqual(before);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('refuses, changing nothing, when zram0 is in use by someone else', () => {
    if (!existsSync('/sys/block/zram0')) execFileSync('modprobe', ['zram']);
    writeFileSync('/sys/block/zram0/disksize', String(1 << 24));
    try {
      expect(() => runOracle(scenario(), { lockWaitMs: 120_000 })).toThrow(/zram0 is in use by someone else/);
      expect(zramDisksize()).toBe(1 << 24);
    } finally {
      writeFileSync('/sys/block/zram0/reset', '1');
      if (!before?.zram) execFileSync('modprobe', ['-r', 'zram']);
    }
    expect(hostSwap()).toEqual(before);
  });
});
