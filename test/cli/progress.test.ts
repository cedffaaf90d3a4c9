/**
 * Progress on long work (progress.ts): drawn on a terminal only, only after the work has run a
 * while, redrawn in place and erased at the end; never in a pipe. The last test runs the built
 * bin under a real pseudo-terminal (script(1)).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Io } from '../../src/cli/io.js';
import { main } from '../../src/cli/main.js';
import { progress } from '../../src/cli/progress.js';

function io(tty: boolean, progressAfterMs = 0): Io & { text: () => string } {
  let err = '';
  return { out: () => {}, err: (s) => (err += s), tty, progressAfterMs, text: () => err };
}

const dir = mkdtempSync(join(resolve('.cache'), 'progress-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * A scenario of `n` rounds that each fault in `size` of a fresh mapping; with `unmap` each round
 * also unmaps it, so the work grows with `n` while the machine stays small.
 */
function scenario(n: number, size: string, unmap = false): string {
  const steps = ['  - { op: spawn, name: p }'];
  for (let i = 0; i < n; i++) {
    steps.push(
      `  - { op: mmap, proc: p, name: r${i}, size: ${size}, prot: rw, flags: [private, anonymous] }`,
    );
    steps.push(`  - { op: write, proc: p, addr: r${i}, len: ${size}, byte: 1 }`);
    if (unmap) steps.push(`  - { op: munmap, proc: p, addr: r${i}, len: ${size} }`);
  }
  const path = join(dir, `s${n}.yaml`);
  const memory = unmap ? '1G' : '8G';
  writeFileSync(
    path,
    [
      'name: long',
      `machine: { memory: ${memory}, contents: false, check: off }`,
      'steps:',
      ...steps,
      '',
    ].join('\n'),
  );
  return path;
}

describe('progress lines', () => {
  it('on a terminal: done/total and a percentage, redrawn in place, erased at the end', () => {
    const t = io(true);
    const bar = progress(t, 'pagelab run x.yaml', 'steps');
    bar.update(250, 1000);
    expect(t.text()).toBe('\rpagelab run x.yaml: 250/1,000 steps (25%)\x1b[K');
    bar.update(260, 1000); // within 100 ms of the last draw: not redrawn
    expect(t.text()).toBe('\rpagelab run x.yaml: 250/1,000 steps (25%)\x1b[K');
    bar.end();
    expect(t.text().endsWith('\r\x1b[K')).toBe(true);
  });

  it('not on a terminal, or before the work has run a second: nothing at all', () => {
    const pipe = io(false);
    const a = progress(pipe, 'x', 'steps');
    a.update(1, 2);
    a.end();
    expect(pipe.text()).toBe('');
    const quick = io(true, 1000);
    const b = progress(quick, 'x', 'steps');
    b.update(1, 2);
    b.end();
    expect(quick.text()).toBe('');
  });

  it('pagelab run draws the step count on a terminal and leaves stderr clean without one', async () => {
    const file = scenario(3, '1M');
    const tty = io(true);
    expect(await main(['run', file], tty)).toBe(0);
    expect(tty.text()).toMatch(new RegExp(`^\\rpagelab run ${file}: \\d+/7 steps \\(\\d+%\\)\\x1b\\[K`));
    expect(tty.text().endsWith('\r\x1b[K')).toBe(true);
    const pipe = io(false);
    expect(await main(['run', file], pipe)).toBe(0);
    expect(pipe.text()).toBe('');
  });

  it('an unknown total shows the count without a percentage', () => {
    const t = io(true);
    const bar = progress(t, 'pagelab snapshot', 'MiB read');
    bar.update(512, 0);
    expect(t.text()).toBe('\rpagelab snapshot: 512 MiB read\x1b[K');
  });

  it('pagelab compare counts the runs done on a terminal (serially; the pool in compare_pool.test.ts)', async () => {
    const file = scenario(2, '1M');
    for (const jobs of ['1', '2']) {
      const tty = io(true);
      expect(await main(['compare', '--jobs', jobs, file], tty)).toBe(0);
      // Every pin-count design is a run; the last drawn count is at most the total.
      expect(tty.text().startsWith('\rpagelab compare: ')).toBe(true);
      expect(tty.text()).toMatch(/^\spagelab compare: \d+\/\d+ runs \(\d+%\)/);
      expect(tty.text()).toContain('%)\x1b[K');
      expect(tty.text().endsWith('\r\x1b[K')).toBe(true);
      const pipe = io(false);
      expect(await main(['compare', '--jobs', jobs, file], pipe)).toBe(0);
      expect(pipe.text()).toBe('');
    }
  });

  it('pagelab oracle counts the scenarios on a terminal and erases the line before any message', async () => {
    // Not oracle-able (a machine-only op), so it never reaches the host: the line is drawn, then
    // erased before the file's one-line refusal.
    const path = join(dir, 'not-oracle.yaml');
    writeFileSync(path, ['name: x', 'steps:', '  - { op: alloc_pages, order: 0, as: a }', ''].join('\n'));
    const tty = io(true);
    expect(await main(['oracle', path], tty)).toBe(2);
    expect(tty.text().startsWith('\rpagelab oracle: 0/1 scenarios (0%)\x1b[K\r\x1b[K')).toBe(true);
    expect(tty.text()).toContain('not oracle-able');
  });

  it('the built bin under a real terminal shows progress on a run that takes over a second', () => {
    const out = join(dir, 'dist');
    execFileSync(process.execPath, [
      'node_modules/typescript/bin/tsc',
      '-p',
      'tsconfig.build.json',
      '--outDir',
      out,
    ]);
    // 64 rounds of faulting 256 MiB: 16 GiB of writes, several seconds here, so still well over
    // the one-second threshold on a machine a few times faster.
    const file = scenario(64, '256M', true);
    const bin = join(out, 'cli/bin.js');
    // script(1) gives the child a pty for stdin/stdout/stderr; its typescript goes to /dev/null.
    const r = spawnSync(
      'script',
      ['-qec', `${process.execPath} ${bin} run ${file} >/dev/null`, '/dev/null'],
      {
        encoding: 'utf8',
      },
    );
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/pagelab run .*s64\.yaml: \d+\/193 steps \(\d+%\)/);
    expect(r.stdout.startsWith('\rpagelab run ')).toBe(true);
    expect(r.stdout.endsWith('\r\x1b[K')).toBe(true);
  }, 120_000);
});
