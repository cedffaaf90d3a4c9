/// <reference lib="dom" />
/**
 * Performance in the browser: the first render of a 1 TiB machine's scenario (parse, run, cells,
 * paint) under 1 s (best of three runs), and pan/zoom frames under 33 ms (median of a drag's frames)
 * at every zoom level, from the whole machine down to single frames. The numbers go to .cache/perf.json.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../../src/cli/serve_command.js';
import { buildWeb, launch, ROOT, removeBuild, SCREENSHOTS } from './browser.js';

let server: RunningServer;
let webRoot: string | undefined;
let browser: Browser;
let page: Page;

interface Probe {
  ready: boolean;
  firstRenderMs: number;
  frameTimes: number[];
  workerTimes: number[];
  view: { z: number; start: number };
}
const probe = () => page.evaluate(() => (window as unknown as { __pagelab: Probe }).__pagelab);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const idle = () => page.waitForSelector('canvas[data-painted]');

beforeAll(async () => {
  webRoot = await buildWeb();
  server = await startServer({ port: 0, webRoot });
  browser = await launch();
  page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  removeBuild(webRoot);
});

describe('performance in Chromium', () => {
  it('renders a 1 TiB scenario under 1 s and pans and zooms under 33 ms a frame', async () => {
    await page.goto(server.url);
    await page.waitForFunction(() => (window as unknown as { __pagelab?: Probe }).__pagelab?.ready);
    const yaml = fs.readFileSync(path.join(ROOT, 'test/web/fixtures/one-tib.yaml'), 'utf8');
    await page.getByTestId('yaml').fill(yaml);
    await expect.poll(() => page.getByTestId('problems').textContent()).toBe('');
    const firsts: number[] = [];
    for (let i = 0; i < 3; i++) {
      await page.getByTestId('run').click();
      await page.waitForFunction(
        () => (window as unknown as { __pagelab: Probe }).__pagelab.firstRenderMs > 0,
      );
      firsts.push((await probe()).firstRenderMs);
      await idle();
    }
    await page.screenshot({ path: path.join(SCREENSHOTS, 'one-tib.png'), fullPage: true });
    await page.getByRole('button', { name: 'whole machine' }).click();
    await idle();
    expect((await probe()).view.z).toBe(9); // 2^28 frames on 1024 x 512 pixels
    const box = (await page.getByTestId('heatmap').boundingBox())!;
    const perLevel: Record<string, number> = {};
    const workerLevel: Record<string, number> = {};
    const worstLevel: Record<string, number> = {};
    // Zoom in at a used spot, one level per wheel notch, dragging at each level.
    await page.mouse.move(box.x + 3, box.y + 3);
    for (let level = 0; level < 16; level++) {
      const z = (await probe()).view.z;
      await page.evaluate(() => {
        const p = (window as unknown as { __pagelab: Probe }).__pagelab;
        p.frameTimes.length = 0;
        p.workerTimes.length = 0;
      });
      await page.mouse.move(box.x + 200, box.y + 100);
      await page.mouse.down();
      for (let s = 1; s <= 5; s++) await page.mouse.move(box.x + 200 - s * 20, box.y + 100 - s * 8);
      await page.mouse.up();
      await idle();
      await page.mouse.move(box.x + 3, box.y + 3);
      await page.mouse.wheel(0, -100);
      await idle();
      const { frameTimes, workerTimes } = await probe();
      perLevel[`z=${z}`] = median(frameTimes);
      worstLevel[`z=${z}`] = Math.max(...frameTimes);
      workerLevel[`z=${z}`] = median(workerTimes);
      if ((await probe()).view.z === z) break; // the deepest zoom
    }
    const result = {
      firstRenderMs: firsts,
      medianFrameMsPerZoom: perLevel,
      medianWorkerMsPerZoom: workerLevel,
      worstFrameMsPerZoom: worstLevel,
      slowestMedianFrameMs: Math.max(...Object.values(perLevel)),
    };
    fs.writeFileSync(path.join(ROOT, '.cache/perf.json'), `${JSON.stringify(result, null, 2)}\n`);
    console.log(JSON.stringify(result));
    expect(Object.keys(perLevel).length).toBeGreaterThanOrEqual(12);
    expect(Math.min(...firsts)).toBeLessThan(1000);
    // Medians: a test machine shared with other work has stalls that are not the app's.
    expect(result.slowestMedianFrameMs).toBeLessThan(33);
  });
});
