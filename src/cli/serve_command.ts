/**
 * `pagelab serve`: the web visualiser. The server only serves files — the built app (dist/web)
 * and examples/ (the scenario files and the sample capture) — and the model runs in the browser,
 * in a Web Worker.
 *
 * Bound to 127.0.0.1 unless --host says otherwise (with a warning: the app has no
 * authentication, and anyone who reaches it reads examples/). Every request path is decoded once
 * and refused if it still holds a `%` (double encoding), a `..` segment, a backslash or a NUL;
 * what is left is resolved under its root and must stay there after symlinks are followed. Only
 * GET and HEAD are answered, without a body; request targets and headers are bounded.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { type HttpBindings, serve } from '@hono/node-server';
import { Hono } from 'hono';
import type { Io } from './io.js';
import { UsageError } from './usage_error.js';

export interface ServeOptions {
  port?: number;
  host?: string;
  open?: boolean;
  /** The built app (default: dist/web beside this file's dist/cli). */
  webRoot?: string;
  /** Scenario files (default: the package's examples/). */
  examplesRoot?: string;
}

export interface RunningServer {
  url: string;
  close(): Promise<void>;
}

const MAX_TARGET = 2048;
const MAX_HEADER_BYTES = 8192;

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.yaml': 'text/yaml; charset=utf-8',
  // The sample capture of examples/snapshots/: its README and /proc texts shown as text, and the
  // compressed capture as data (no content-encoding: the page decompresses it as a picked file).
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/plain; charset=utf-8',
  '.gz': 'application/gzip',
  '.zst': 'application/zstd',
  '.map': 'application/json',
  '.woff2': 'font/woff2',
};

const here = path.dirname(fileURLToPath(import.meta.url));
/** dist/cli -> dist/web; src/cli (tests) -> dist/web as well. */
export const DEFAULT_WEB_ROOT = path.resolve(here, '../../dist/web');
export const DEFAULT_EXAMPLES_ROOT = path.resolve(here, '../../examples');

/** The decoded, checked path relative to a root, or undefined when it must be refused. */
export function safeRelative(rawPath: string): string | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(rawPath);
  } catch {
    return undefined;
  }
  if (/[%\\\0]/.test(decoded)) return undefined;
  const segments = decoded.split('/').filter((s) => s !== '');
  if (segments.some((s) => s === '..' || s === '.' || s.startsWith('.'))) return undefined;
  return segments.join('/');
}

/** A regular file under `root` (after symlinks), or undefined. */
function fileUnder(root: string, rel: string): string | undefined {
  const abs = path.resolve(root, rel);
  try {
    const real = fs.realpathSync(abs);
    const realRoot = fs.realpathSync(root);
    if (real !== realRoot && !real.startsWith(realRoot + path.sep)) return undefined;
    return fs.statSync(real).isFile() ? real : undefined;
  } catch {
    return undefined;
  }
}

/** Every .yaml under examples/, as paths relative to it. */
function exampleList(root: string): string[] {
  if (!fs.existsSync(root)) return [];
  return (fs.readdirSync(root, { recursive: true }) as string[])
    .map((f) => f.split(path.sep).join('/'))
    .filter((f) => f.endsWith('.yaml'))
    .sort();
}

export function buildApp(webRoot: string, examplesRoot: string): Hono<{ Bindings: HttpBindings }> {
  const app = new Hono<{ Bindings: HttpBindings }>();
  app.use('*', async (c, next) => {
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD') return c.text('method not allowed', 405);
    const len = c.req.header('content-length');
    if ((len !== undefined && len !== '0') || c.req.header('transfer-encoding'))
      return c.text('request bodies are not accepted', 413);
    const raw = c.env?.incoming?.url ?? new URL(c.req.url).pathname;
    if (raw.length > MAX_TARGET) return c.text('request target too long', 414);
    await next();
  });
  app.get('*', (c) => {
    const raw = (c.env?.incoming?.url ?? new URL(c.req.url).pathname).split(/[?#]/)[0];
    const rel = safeRelative(raw);
    if (rel === undefined) return c.text('refused', 403);
    if (rel === 'examples' || rel === 'examples/index.json') return c.json(exampleList(examplesRoot));
    const [root, inRoot] = rel.startsWith('examples/')
      ? [examplesRoot, rel.slice('examples/'.length)]
      : [webRoot, rel === '' ? 'index.html' : rel];
    const file = fileUnder(root, inRoot);
    if (!file) return c.text('not found', 404);
    const type = MIME[path.extname(file)] ?? 'application/octet-stream';
    const body = fs.readFileSync(file);
    return c.body(body, 200, { 'content-type': type, 'cache-control': 'no-cache' });
  });
  return app;
}

export function startServer(o: ServeOptions = {}): Promise<RunningServer> {
  const webRoot = o.webRoot ?? DEFAULT_WEB_ROOT;
  const examplesRoot = o.examplesRoot ?? DEFAULT_EXAMPLES_ROOT;
  if (!fs.existsSync(path.join(webRoot, 'index.html')))
    throw new UsageError(`the web app is not built (${webRoot}): run npm run build`);
  const app = buildApp(webRoot, examplesRoot);
  const host = o.host ?? '127.0.0.1';
  return new Promise((resolve, reject) => {
    const server = serve(
      {
        fetch: app.fetch,
        port: o.port ?? 5177,
        hostname: host,
        serverOptions: { maxHeaderSize: MAX_HEADER_BYTES, requestTimeout: 10_000 },
      },
      (info: AddressInfo) => {
        const shown = info.family === 'IPv6' ? `[${info.address}]` : info.address;
        resolve({
          url: `http://${shown}:${info.port}/`,
          close: () => new Promise((done) => server.close(() => done())),
        });
      },
    );
    server.on('error', reject);
  });
}

function openBrowser(url: string): void {
  const cmd = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'start' : 'xdg-open';
  const child = spawn(cmd, [url], { stdio: 'ignore', detached: true });
  child.on('error', () => {});
  child.unref();
}

export async function serveCommand(o: ServeOptions, io: Io): Promise<RunningServer> {
  const host = o.host ?? '127.0.0.1';
  if (!['127.0.0.1', 'localhost', '::1'].includes(host))
    io.err(
      `pagelab serve: warning: listening on ${host}, not loopback: anyone who reaches it can use the app and read examples/\n`,
    );
  const s = await startServer(o);
  io.out(`pagelab serve: ${s.url}\n`);
  if (o.open) openBrowser(s.url);
  return s;
}
