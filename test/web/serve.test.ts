/**
 * `pagelab serve` as a file server: the built app and examples/ only, nothing around them
 * however the path is spelled, only GET/HEAD, bounded requests, loopback by default.
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import {
  DEFAULT_EXAMPLES_ROOT,
  type RunningServer,
  safeRelative,
  serveCommand,
  startServer,
} from '../../src/cli/serve_command.js';

let server: RunningServer;
let webRoot: string | undefined;

function raw(
  path: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; body: string }> {
  const u = new URL(server.url);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: u.hostname, port: u.port, path, method: opts.method ?? 'GET', headers: opts.headers },
      (res) => {
        let body = '';
        res.on('data', (d) => {
          body += d;
        });
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

beforeAll(async () => {
  // A stand-in for dist/web: the server serves whatever the build left there.
  webRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'pagelab-web-'));
  fs.mkdirSync(path.join(webRoot, 'assets'));
  fs.writeFileSync(path.join(webRoot, 'index.html'), '<!doctype html><div id="app"></div>');
  fs.writeFileSync(path.join(webRoot, 'assets', 'app.js'), 'export {};');
  server = await startServer({ port: 0, webRoot });
});

afterAll(async () => {
  await server?.close();
  if (webRoot) fs.rmSync(webRoot, { recursive: true, force: true });
});

describe('pagelab serve', () => {
  it('binds 127.0.0.1 by default and serves the app and the examples', async () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const index = await raw('/');
    expect(index.status).toBe(200);
    expect(index.body).toContain('<div id="app">');
    const list = JSON.parse((await raw('/examples/')).body) as string[];
    expect(list).toContain('cow-after-fork.yaml');
    expect(list.some((x) => x.startsWith('oracle/'))).toBe(true);
    const js = await raw('/assets/app.js');
    expect(js.status).toBe(200);
    const yaml = await raw('/examples/cow-after-fork.yaml');
    expect(yaml.status).toBe(200);
    expect(yaml.body).toContain('steps:');
  });

  it('serves the sample capture of examples/snapshots/ byte for byte, not content-encoded', async () => {
    for (const [name, type] of [
      ['loaded.kpageflags.gz', 'application/gzip'],
      ['loaded.iomem.txt', 'text/plain; charset=utf-8'],
      ['README.md', 'text/plain; charset=utf-8'],
    ]) {
      const res = await fetch(new URL(`examples/snapshots/${name}`, server.url));
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe(type);
      expect(res.headers.get('content-encoding')).toBeNull();
      const file = fs.readFileSync(path.join(DEFAULT_EXAMPLES_ROOT, 'snapshots', name));
      expect(Buffer.from(await res.arrayBuffer()).equals(file)).toBe(true);
    }
    // The scenario list is scenarios only: the capture's files are not in it.
    const list = JSON.parse((await raw('/examples/')).body) as string[];
    expect(list.filter((x) => x.startsWith('snapshots/'))).toEqual([]);
  });

  const traversals = [
    '/../package.json',
    '/..%2fpackage.json',
    '/%2e%2e/package.json',
    '/%2E%2E%2Fpackage.json',
    '/%252e%252e/package.json',
    '/%252e%252e%252fpackage.json',
    '/examples/../package.json',
    '/examples/%2e%2e/package.json',
    '/examples/..%2f..%2fpackage.json',
    '/examples/%252e%252e%252f%252e%252e%252fpackage.json',
    '/assets/..%5c..%5cpackage.json',
    '/examples/..\\..\\package.json',
    '/examples/cow-after-fork.yaml%00.html',
    '/.git/config',
    '/examples/%2e%2e%2f%2e%2e%2fsrc%2fcli%2fmain.ts',
    '/%c0%ae%c0%ae/package.json',
    '/examples/snapshots/../../package.json',
    '/examples/snapshots/%2e%2e/%2e%2e/package.json',
    '/examples/snapshots/%252e%252e%252f%252e%252e%252fpackage.json',
  ];
  it.each(traversals)('refuses %s', async (path) => {
    const r = await raw(path);
    expect([400, 403, 404]).toContain(r.status);
    expect(r.body).not.toContain('"name": "pagelab"');
    expect(r.body).not.toContain('buildProgram');
    expect(r.body).not.toContain('[core]');
  });

  it('decodes once and refuses what is left encoded or climbs', () => {
    expect(safeRelative('/examples/a%20b.yaml')).toBe('examples/a b.yaml');
    expect(safeRelative('/%252e%252e/x')).toBeUndefined();
    expect(safeRelative('/a/%2e%2e/x')).toBeUndefined();
    expect(safeRelative('/a/%ZZ')).toBeUndefined();
  });

  it('answers GET and HEAD only, with no request body, and bounds targets and headers', async () => {
    expect((await raw('/', { method: 'POST', body: 'x' })).status).toBe(405);
    expect((await raw('/', { method: 'PUT' })).status).toBe(405);
    expect((await raw('/', { headers: { 'content-length': '5' }, body: 'hello' })).status).toBe(413);
    expect((await raw(`/${'a'.repeat(3000)}`)).status).toBe(414);
    expect((await raw('/', { headers: { 'x-big': 'b'.repeat(20_000) } })).status).toBe(431);
    expect((await raw('/', { method: 'HEAD' })).status).toBe(200);
  });

  it('the command prints its address, and warns when it binds beyond loopback', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const io = { out: (s: string) => out.push(s), err: (s: string) => err.push(s) };
    expect(await main(['serve', '--help'], io)).toBe(0);
    expect(out.join('')).toContain('--port <n>');
    out.length = 0;
    const local = await serveCommand({ port: 0, webRoot }, io);
    expect(out.join('')).toMatch(/^pagelab serve: http:\/\/127\.0\.0\.1:\d+\/\n$/);
    expect(err).toEqual([]);
    await local.close();
    const wide = await serveCommand({ port: 0, host: '0.0.0.0', webRoot }, io);
    expect(err.join('')).toContain('warning: listening on 0.0.0.0, not loopback');
    await wide.close();
  });
});
