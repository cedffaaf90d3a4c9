/**
 * The oracle's per-size THP knobs: a scenario's `machine: { thp: { 64K: always, ... } }` becomes
 * hugepages-<size>kB/enabled for the run, and every one of those files holds what it held before
 * — after a run that agrees and after a probe that dies half way (having seen the knobs set).
 */
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/machine/config.js';
import { wantedKnobs } from '../../src/oracle/knobs.js';
import { acquireOracleLock } from '../../src/oracle/lock.js';
import { runOracle } from '../../src/oracle/oracle.js';
import { probeFileName } from '../../src/oracle/probe.js';
import { parseScenario, type Scenario } from '../../src/scenario/parse.js';
import { disagreements, liveTitle, UNAVAILABLE } from './helpers.js';

const THP = '/sys/kernel/mm/transparent_hugepage';
const hasSizes = existsSync(join(THP, 'hugepages-64kB', 'enabled'));

const SCENARIO = `name: mthp knobs
machine: { memory: 512M, thp: { 16K: always, 64K: madvise, 2M: never } }
steps:
  - { op: spawn, name: p }
  - { op: mmap, proc: p, name: mem, size: 2M, prot: rw, flags: [private, anonymous] }
  - { op: write, proc: p, addr: mem, len: 4K, byte: 0x01 }
  - { op: expect, page: { proc: p, addr: mem+12K }, state: { order: 2 } }
`;

function scenario(): Scenario {
  const r = parseScenario(SCENARIO, 'knobs.yaml');
  if (!r.ok) throw new Error(r.errors[0].message);
  return r.scenario;
}

/** Every anonymous size's `enabled` file and the top-level one, as the host has them now. */
const hostThp = () =>
  Object.fromEntries(
    [
      'enabled',
      ...readdirSync(THP)
        .filter((d) => existsSync(join(THP, d, 'enabled')))
        .map((d) => `${d}/enabled`),
    ].map((f) => [f, readFileSync(join(THP, f), 'utf8').trim()]),
  );

/**
 * hostThp() read while holding the host's oracle lock: other test files run oracle scenarios in
 * parallel, and between taking the lock and giving it back a run has the knobs set.
 */
function settledHostThp() {
  const lock = acquireOracleLock(600_000);
  try {
    return hostThp();
  } finally {
    lock.release();
  }
}

describe.skipIf(!hasSizes)('the per-size knobs a configuration asks for', () => {
  it('each named size gets its mode, 2M its own, the unnamed sizes never', () => {
    const want = new Map(
      wantedKnobs(resolveConfig({ thp: { '16K': 'always', '64K': 'madvise', '2M': 'never' } })),
    );
    expect(want.get(join(THP, 'hugepages-16kB/enabled'))).toBe('always');
    expect(want.get(join(THP, 'hugepages-64kB/enabled'))).toBe('madvise');
    expect(want.get(join(THP, 'hugepages-2048kB/enabled'))).toBe('never');
    expect(want.get(join(THP, 'hugepages-1024kB/enabled'))).toBe('never');
    expect(want.get(join(THP, 'enabled'))).toBe('madvise');
    // The string form keeps the boot defaults: 2M inherits, the smaller sizes are off.
    const plain = new Map(wantedKnobs(resolveConfig({ thp: 'always' })));
    expect(plain.get(join(THP, 'hugepages-2048kB/enabled'))).toBe('inherit');
    expect(plain.get(join(THP, 'hugepages-32kB/enabled'))).toBe('never');
    expect(plain.get(join(THP, 'enabled'))).toBe('always');
  });
});

describe.skipIf(UNAVAILABLE !== undefined || !hasSizes)(
  liveTitle("the oracle's THP size knobs leave the host as it found them"),
  () => {
    let before: Record<string, string> | undefined;
    beforeAll(() => {
      before = settledHostThp();
    });
    afterEach(() => {
      delete process.env.PAGELAB_CACHE;
    });

    it('after a run that agrees (the kernel gave the 16K folio the model did)', () => {
      const r = runOracle(scenario(), { lockWaitMs: 600_000 });
      expect(disagreements(r)).toEqual([]);
      expect(r.exitCode).toBe(0);
      expect(r.knobs).toContainEqual(
        expect.objectContaining({ path: join(THP, 'hugepages-16kB/enabled'), set: 'always' }),
      );
      expect(settledHostThp()).toEqual(before);
    });

    it('after a probe that dies half way, having seen the knobs set', () => {
      const dir = mkdtempSync(join(tmpdir(), 'pagelab-knobs-'));
      try {
        const exe = join(dir, probeFileName(readFileSync('src/oracle/probe.c')));
        writeFileSync(
          exe,
          `#!/bin/sh\ncat ${THP}/hugepages-16kB/enabled ${THP}/hugepages-64kB/enabled > ${dir}/seen\nexit 3\n`,
        );
        chmodSync(exe, 0o755);
        process.env.PAGELAB_CACHE = dir;
        expect(() => runOracle(scenario(), { lockWaitMs: 600_000 })).toThrow(/the probe .* failed/);
        expect(readFileSync(join(dir, 'seen'), 'utf8')).toMatch(
          /^\[always\] inherit madvise never\n.*\[madvise\]/,
        );
        expect(settledHostThp()).toEqual(before);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  },
);
