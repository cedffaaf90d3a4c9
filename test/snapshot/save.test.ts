import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { analyseCapture } from '../../src/snapshot/analyse.js';
import { type Manifest, openCaptureDir, saveCapture } from '../../src/snapshot/save.js';
import { scratchDir } from '../helpers.js';
import { fixture } from './fixture.js';

const root = scratchDir('pagelab-save-');

async function run(...argv: string[]) {
  return runOn(false, ...argv);
}

/** With `tty`, stderr is a terminal and progress shows at once. */
async function runOn(tty: boolean, ...argv: string[]) {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (s) => (out += s), err: (s) => (err += s), tty, progressAfterMs: 0 });
  return { code, out, err };
}
const oneLine = (r: { code: number; out: string; err: string }) => {
  expect(r.code).toBe(2);
  expect(r.out).toBe('');
  expect(r.err.trimEnd().includes('\n')).toBe(false);
  return r.err;
};

/** A fake /proc holding the first 2 sections of the shipped capture and its texts. */
function fakeProc(): string {
  const proc = join(root, 'proc');
  if (existsSync(proc)) return proc;
  mkdirSync(proc);
  const n = 2 * 32_768 * 8;
  writeFileSync(
    join(proc, 'kpageflags'),
    gunzipSync(readFileSync(fixture('loaded.kpageflags.gz'))).subarray(0, n),
  );
  writeFileSync(
    join(proc, 'kpagecount'),
    gunzipSync(readFileSync(fixture('loaded.kpagecount.gz'))).subarray(0, n),
  );
  for (const name of ['iomem', 'zoneinfo', 'buddyinfo', 'meminfo'])
    writeFileSync(join(proc, name), readFileSync(fixture(`loaded.${name}.txt`)));
  writeFileSync(join(proc, 'version'), 'Linux version 6.18.0 (fixture)\n');
  return proc;
}

describe('saving a capture (a fake /proc of the shipped one)', () => {
  it('writes gzip kpageflags/kpagecount, the four texts and a manifest whose sizes and sha256 are the files', async () => {
    const proc = fakeProc();
    const dir = join(root, 'a');
    const lines: string[] = [];
    const m = await saveCapture({ dir, proc, progress: (l) => lines.push(l) });
    expect(m.pfns).toBe(65_536);
    expect(m.kernel.version).toBe('Linux version 6.18.0 (fixture)');
    expect(m.pagelab).toBe(JSON.parse(readFileSync('package.json', 'utf8')).version);
    expect(m.files.map((f) => f.name)).toEqual([
      'kpageflags.gz',
      'kpagecount.gz',
      'iomem.txt',
      'zoneinfo.txt',
      'buddyinfo.txt',
      'meminfo.txt',
    ]);
    for (const f of m.files) {
      const b = readFileSync(join(dir, f.name));
      expect(b.length).toBe(f.bytes);
      expect(createHash('sha256').update(b).digest('hex')).toBe(f.sha256);
    }
    // The stored gzip is the /proc bytes exactly.
    expect(
      gunzipSync(readFileSync(join(dir, 'kpageflags.gz'))).equals(readFileSync(join(proc, 'kpageflags'))),
    ).toBe(true);
    expect(JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest).toEqual(m);
    expect(lines.some((l) => l.includes('kpageflags') && l.includes('MiB'))).toBe(true);
  });

  it('the saved directory analyses like the /proc files it came from', async () => {
    const proc = fakeProc();
    const d = await openCaptureDir(join(root, 'a'));
    const saved = await analyseCapture({ flags: d.flags, count: d.count, companions: d.companions });
    const direct = await analyseCapture({
      flags: join(proc, 'kpageflags'),
      count: join(proc, 'kpagecount'),
      companions: { iomem: readFileSync(join(proc, 'iomem'), 'utf8') },
    });
    expect([...(saved.classification?.pages ?? [])]).toEqual([...(direct.classification?.pages ?? [])]);
    expect(saved.classification?.usedIomem).toBe(true);
    const r = await run('snapshot', join(root, 'a'), '--no-map');
    expect(r.code).toBe(0);
    expect(r.out).toContain('65,536 PFNs');
  });

  it('a corrupted or truncated file is one line naming it; so is a missing manifest', async () => {
    const proc = fakeProc();
    for (const [name, damage] of [
      ['kpagecount.gz', (b: Buffer) => b.fill(0x55, 40, 41)],
      ['zoneinfo.txt', (b: Buffer) => b.fill(0x41, 0, 1)],
      ['kpageflags.gz', (b: Buffer) => b.subarray(0, b.length - 9)],
    ] as const) {
      const dir = join(root, `bad-${name}`);
      await saveCapture({ dir, proc });
      const p = join(dir, name);
      writeFileSync(p, damage(Buffer.from(readFileSync(p))));
      const err = oneLine(await run('snapshot', dir));
      expect(err).toContain(p);
      expect(err).toMatch(
        name === 'kpageflags.gz' ? /bytes but manifest\.json says/ : /sha256 does not match/,
      );
    }
    const empty = join(root, 'no-manifest');
    mkdirSync(empty);
    expect(oneLine(await run('snapshot', empty))).toMatch(/without manifest\.json/);
  });

  it('refuses a non-empty directory it did not write unless --force; rewrites its own', async () => {
    const proc = fakeProc();
    const dir = join(root, 'foreign');
    mkdirSync(dir);
    writeFileSync(join(dir, 'notes.txt'), 'mine\n');
    await expect(saveCapture({ dir, proc })).rejects.toThrow(/not empty and not a pagelab capture.*--force/);
    expect(existsSync(join(dir, 'manifest.json'))).toBe(false);
    await saveCapture({ dir, proc, force: true });
    expect(readFileSync(join(dir, 'notes.txt'), 'utf8')).toBe('mine\n');
    // Now it is a capture: saving again needs no --force.
    const again = await saveCapture({ dir, proc });
    expect(again.pfns).toBe(65_536);
    const other = join(root, 'fake-manifest');
    mkdirSync(other);
    writeFileSync(join(other, 'manifest.json'), '{"format":"something else"}');
    await expect(saveCapture({ dir: other, proc })).rejects.toThrow(/not a pagelab capture/);
  });

  it('without root: one line that says so, exit 2, nothing written', async () => {
    const dir = join(root, 'nonroot');
    if (process.geteuid?.() !== 0) {
      expect(oneLine(await run('snapshot', '--save', dir))).toMatch(/needs root/);
      return;
    }
    // As root, drop to nobody for the call (this test file runs in its own process).
    process.seteuid?.(65534);
    let r: Awaited<ReturnType<typeof run>>;
    try {
      r = await run('snapshot', '--save', dir);
    } finally {
      process.seteuid?.(0);
    }
    expect(oneLine(r)).toBe(
      'pagelab: /proc/kpageflags: permission denied: reading it needs root (CAP_SYS_ADMIN)\n',
    );
    expect(existsSync(dir)).toBe(false);
  });

  it('bad combinations are usage errors', async () => {
    oneLine(await run('snapshot', fixture('loaded.kpageflags.gz'), '--save', join(root, 'x')));
    oneLine(await run('snapshot', '--force'));
    oneLine(await run('snapshot', '--save', join(root, 'y'), '--page-types'));
  });
});

describe('the live machine', () => {
  let readable = true;
  try {
    readFileSync('/proc/kpageflags').subarray(0, 0);
  } catch {
    readable = false;
  }
  it.runIf(readable)(
    'pagelab snapshot --save DIR captures it with a manifest, and pagelab snapshot DIR reads it back',
    async () => {
      const dir = join(root, 'live');
      const r = await runOn(true, 'snapshot', '--save', dir);
      expect(r.code).toBe(0);
      // On a terminal it says what it reads; in a pipe (the second save) nothing.
      expect(r.err).toMatch(/\/proc\/kpageflags: .* MiB/);
      const quiet = await run('snapshot', '--save', join(root, 'live-quiet'));
      expect(quiet.code).toBe(0);
      expect(quiet.err).toBe('');
      const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;
      expect(m.kernel.release).toBe((await import('node:os')).release());
      expect(m.pfns % 32_768).toBe(0);
      expect(r.out).toContain(`saved ${m.pfns.toLocaleString('en-US')} PFNs`);
      expect(m.files.map((f) => f.name)).toContain('iomem.txt');
      const back = await run('snapshot', dir, '--json');
      expect(back.code).toBe(0);
      const j = JSON.parse(back.out);
      expect(j.capture.pfns).toBe(m.pfns);
      expect(j.memmapPfns).toBeGreaterThan(0);
    },
    120_000,
  );

  it.runIf(readable)(
    'pagelab snapshot of the live machine counts the MiB read on a terminal, and is silent in a pipe',
    async () => {
      const tty = await runOn(true, 'snapshot', '--page-types');
      expect(tty.code).toBe(0);
      expect(tty.err.startsWith('\rpagelab snapshot: ')).toBe(true);
      expect(tty.err).toMatch(/^\spagelab snapshot: [\d,]+ MiB read/);
      expect(tty.err).toContain('MiB read\x1b[K');
      expect(tty.err.endsWith('\r\x1b[K')).toBe(true);
      const pipe = await run('snapshot', '--page-types');
      expect(pipe.err).toBe('');
    },
    120_000,
  );
});
