/**
 * The browser tests' setup: the web app built once per test process (vite, with the config
 * `npm run build` uses), and Debian's Chromium driven by playwright-core. No browser is ever
 * downloaded; a machine without /usr/bin/chromium fails these tests loudly (`.ci/run` installs it).
 */
import fs from 'node:fs';
import path from 'node:path';
import { type Browser, chromium } from 'playwright-core';

export const ROOT = path.resolve(import.meta.dirname, '../..');
export const CHROMIUM = process.env.PAGELAB_CHROMIUM ?? '/usr/bin/chromium';
export const SCREENSHOTS = path.join(ROOT, '.cache/screenshots');

let built: Promise<string> | undefined;

/**
 * Build web/ once per test process, with the config `npm run build` uses, into a folder of this
 * process's own (test files run in parallel: none may empty another's dist/web). Returns it.
 */
export function buildWeb(): Promise<string> {
  built ??= (async () => {
    const { build } = await import('vite');
    const outDir = path.join(ROOT, '.cache', `web-test-${process.pid}`);
    await build({ configFile: path.join(ROOT, 'web/vite.config.ts'), logLevel: 'error', build: { outDir } });
    return outDir;
  })();
  return built;
}

/** Remove this process's build. */
export function removeBuild(dir: string | undefined): void {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
}

export async function launch(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM))
    throw new Error(
      `the browser tests need Chromium at ${CHROMIUM} (apt-get install -y chromium); none is downloaded`,
    );
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
