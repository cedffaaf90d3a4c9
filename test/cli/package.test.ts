/**
 * pagelab as a user gets it: `npm pack` (whose prepack builds), the tarball installed into a
 * scratch project, then the README's library snippet, `pagelab --help` and the oracle run from
 * there — and the CLI run by an unprivileged user, who gets one line and exit 2 from the oracle.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { liveTitle, UNAVAILABLE } from '../oracle/helpers.js';

const ROOT = resolve('.');
const project = mkdtempSync(join(tmpdir(), 'pagelab-pack-'));
const bin = join(project, 'node_modules', '.bin', 'pagelab');
const isRoot = process.geteuid?.() === 0;
/** uid/gid of an unprivileged account that exists on every Debian system. */
const NOBODY = 65534;

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(cmd, args, { cwd: project, encoding: 'utf8', env: { ...process.env, ...env } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** Run as an unprivileged user: `nobody` through setpriv when we are root, else as ourselves. */
function unprivileged(args: string[], env: NodeJS.ProcessEnv = {}) {
  if (!isRoot) return run(process.execPath, args, env);
  return run(
    'setpriv',
    [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', '--', process.execPath, ...args],
    env,
  );
}

beforeAll(() => {
  chmodSync(project, 0o755); // mkdtemp makes it 0700; the unprivileged user must reach it
  const tarball = execFileSync('npm', ['pack', '--silent', '--pack-destination', project], {
    cwd: ROOT,
    encoding: 'utf8',
  })
    .trim()
    .split('\n')
    .pop()!;
  writeFileSync(join(project, 'package.json'), '{ "name": "scratch", "private": true, "type": "module" }\n');
  execFileSync(
    'npm',
    ['install', '--prefer-offline', '--no-audit', '--no-fund', '--silent', join(project, tarball)],
    { cwd: project, stdio: 'pipe' },
  );
  copyFileSync('examples/oracle/write-fault.yaml', join(project, 'write-fault.yaml'));
}, 300_000);

afterAll(() => rmSync(project, { recursive: true, force: true }));

describe('the packed, installed package', () => {
  it('ships the built library, the CLI, the probe source and the LICENSE', () => {
    const pkg = join(project, 'node_modules', 'pagelab');
    expect(readFileSync(join(pkg, 'src/oracle/probe.c'), 'utf8')).toBe(
      readFileSync('src/oracle/probe.c', 'utf8'),
    );
    expect(readFileSync(join(pkg, 'LICENSE'), 'utf8')).toMatch(/^MIT License/);
    expect(JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')).license).toBe('MIT');
  });

  it('ships the sample capture that pagelab serve offers, and the installed CLI reads it', () => {
    const dir = join(project, 'node_modules', 'pagelab', 'examples', 'snapshots');
    for (const f of ['loaded.kpageflags.gz', 'loaded.iomem.txt', 'README.md'])
      expect(readFileSync(join(dir, f)).equals(readFileSync(join('examples/snapshots', f)))).toBe(true);
    expect(existsSync(join(dir, 'loaded.kpageflags.zst'))).toBe(false);
    const r = run(bin, ['snapshot', join(dir, 'loaded.kpageflags.gz'), '--page-types']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toBe(readFileSync('examples/snapshots/loaded.page-types.txt', 'utf8'));
  });

  it("runs the README's library snippet", () => {
    const readme = readFileSync('README.md', 'utf8');
    const snippet = /As a library:\n\n```ts\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(snippet).toContain("from 'pagelab'");
    // The snippet as written, then what its last line returned, to see it did the work.
    const last = snippet!.trim().split('\n').pop()!.replace(/;.*$/, '');
    writeFileSync(join(project, 'snippet.mjs'), `${snippet}\nconsole.log(JSON.stringify(${last}));\n`);
    const r = run(process.execPath, ['snippet.mjs']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(
      JSON.parse(r.out)
        .map((a: { layout: string }) => a.layout)
        .sort(),
    ).toEqual(['memdesc', 'struct-page']);
  });

  it('pagelab --help prints the commands, exit 0', () => {
    const r = run(bin, ['--help']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^Usage: pagelab /);
    expect(r.out).toContain('oracle [options] <files...>');
  });

  it('the oracle without a C compiler: one line, exit 2', () => {
    const r = run(bin, ['oracle', 'write-fault.yaml'], {
      CC: '/nonexistent/cc',
      PAGELAB_CACHE: join(project, 'no-cc-cache'),
    });
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toMatch(
      UNAVAILABLE
        ? /^pagelab: oracle unavailable: .*\n$/
        : /^pagelab: oracle unavailable: no C compiler: '\/nonexistent\/cc' was not found.*\n$/,
    );
  });

  it('the oracle as an unprivileged user: one line saying to run it as root, exit 2', () => {
    const r = unprivileged([bin, 'oracle', 'write-fault.yaml']);
    expect(r.out).toBe('');
    expect(r.err).toBe(
      'pagelab: oracle unavailable: /proc/kpageflags is not readable (EACCES): run it as root (sudo where you have it)\n',
    );
    expect(r.code).toBe(2);
  });

  it('the rest of the CLI works for an unprivileged user', () => {
    const r = unprivileged([bin, 'run', 'write-fault.yaml']);
    expect(r.err).toBe('');
    expect(r.out).toMatch(/PASS {2}\d+ steps/);
    expect(r.code).toBe(0);
  });

  describe.skipIf(UNAVAILABLE !== undefined)(liveTitle('as root'), () => {
    it('the oracle compiles the shipped probe and agrees with the kernel', () => {
      const r = run(bin, ['oracle', '--wait', '600', 'write-fault.yaml'], {
        PAGELAB_CACHE: join(project, 'cache'),
      });
      expect(r.err).toBe('');
      expect(r.out).toMatch(
        /\nAGREE \(1 scenario\): \d+ agree, 0 disagree, 0 inconclusive; expectations: (\d+) of \1 held\n$/,
      );
      expect(r.code).toBe(0);
    });
  });
});
