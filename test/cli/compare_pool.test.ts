/**
 * `pagelab compare` on its worker pool gives the serial output, byte for byte. The worker runs
 * compiled JavaScript (dist/cli/compare_worker.js in the package); from source it is bundled
 * here with esbuild, its packages left to node_modules.
 */
import { mkdirSync } from 'node:fs';
import { build } from 'esbuild';
import { beforeAll, describe, expect, it } from 'vitest';
import { compareCommand, parseAxes } from '../../src/cli/compare_command.js';
import { poolSize } from '../../src/cli/compare_pool.js';

const WORKER = '.cache/compare-pool/compare_worker.mjs';

async function compare(jobs: number, workerFile?: string, tty = false) {
  let out = '';
  let err = '';
  const files = [
    'examples/pinned-page-across-fork.yaml',
    'examples/compaction.yaml',
    'examples/memory-failure.yaml',
  ];
  const axes = parseAxes({ design: 'memdesc,struct-page', pincount: 'bias,exact', pfnLookup: 'memmap,vma' });
  const code = await compareCommand(
    files,
    axes,
    { out: (s) => (out += s), err: (s) => (err += s), tty, progressAfterMs: 0 },
    { jobs, workerFile },
  );
  return { code, out, err };
}

beforeAll(async () => {
  mkdirSync('.cache/compare-pool', { recursive: true });
  await build({
    entryPoints: ['src/cli/compare_worker.ts'],
    bundle: true,
    platform: 'node',
    format: 'esm',
    packages: 'external',
    outfile: WORKER,
    logLevel: 'silent',
  });
}, 60_000);

describe('pagelab compare on a worker pool', () => {
  it('two worker threads give exactly the serial output and exit code', async () => {
    const serial = await compare(1);
    const pooled = await compare(2, WORKER);
    expect(serial.err).toBe('');
    expect(pooled.err).toBe('');
    expect(pooled.code).toBe(serial.code);
    expect(pooled.out).toBe(serial.out);
    expect(serial.out.split('\n').filter((l) => /^(memdesc|struct-page) /.test(l))).toHaveLength(24);
  }, 120_000);

  it('on a terminal, the pool counts the runs as workers finish them, to the last of 24', async () => {
    const pooled = await compare(2, WORKER, true);
    expect(pooled.err.startsWith('\rpagelab compare: ')).toBe(true);
    expect(pooled.err).toMatch(/^\spagelab compare: \d+\/24 runs \(\d+%\)/);
    expect(pooled.err).toContain('%)\x1b[K');
    expect(pooled.err.endsWith('\r\x1b[K')).toBe(true);
  }, 120_000);

  it('as many threads as combinations at most, one at least', () => {
    expect(poolSize(3, 8)).toBe(3);
    expect(poolSize(8, 2)).toBe(2);
    expect(poolSize(0)).toBe(1);
  });
});
