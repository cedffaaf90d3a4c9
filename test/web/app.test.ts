/// <reference lib="dom" />
/**
 * The web visualiser in a real Chromium, against `pagelab serve`: the page loads clean, an
 * example runs and steps, the heatmap paints a frame in its type's colour, a click shows the
 * same dump_page() text as `pagelab explain --pfn`, a VMA click the same walk as `explain --proc
 * --addr`, bad YAML shows its line:col, and a screenshot of each view lands in .cache/screenshots.
 *
 * Performance: the first render of a 1 TiB machine's scenario (parse, run, cells, paint) under 1 s
 * (best of three runs), and pan/zoom frames under 33 ms (median of a drag's frames) at every zoom
 * level, from the whole machine down to single frames; the numbers go to .cache/perf.json.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { explainCommand } from '../../src/cli/explain_command.js';
import { type RunningServer, startServer } from '../../src/cli/serve_command.js';
import { MT_NAMES } from '../../src/mm/memdesc.js';
import { formatDiagnostic } from '../../src/scenario/diagnostics.js';
import { parseScenario } from '../../src/scenario/parse.js';
import { runScenario } from '../../src/scenario/run.js';
import { TYPE_COLORS } from '../../web/src/colors.js';
import { buildWeb, launch, ROOT, removeBuild, SCREENSHOTS } from './browser.js';
import { viewTests } from './views.js';

let server: RunningServer;
let webRoot: string | undefined;
let browser: Browser;
let page: Page;
const consoleErrors: string[] = [];
const EXAMPLE = 'cow-after-fork.yaml';
const EXAMPLE_FILE = path.join(ROOT, 'examples', EXAMPLE);

/** What `pagelab explain ARGS` prints on stdout. */
function cli(o: Parameters<typeof explainCommand>[1]): string {
  let out = '';
  const code = explainCommand(EXAMPLE_FILE, o, { out: (s) => (out += s), err: (s) => (out += s) });
  expect(code).toBe(0);
  return out.trimEnd();
}

/** The anon frame process p's buf maps after the last step, found by the model in Node. */
function anonFrame(): number {
  const p = parseScenario(fs.readFileSync(EXAMPLE_FILE, 'utf8'), EXAMPLE_FILE);
  if (!p.ok) throw new Error('example does not parse');
  const r = runScenario(p.scenario);
  const pid = r.labels.num('p');
  const buf = r.labels.num('buf');
  const at = r.machine!.pageAt(pid, buf)!;
  expect(at.type).toBe('anon');
  return at.pfn;
}

interface Probe {
  ready: boolean;
  firstRenderMs: number;
  frameTimes: number[];
  pixelOf(pfn: number): { x: number; y: number } | undefined;
}

async function ready(url: string): Promise<void> {
  await page.goto(url);
  await page.waitForFunction(() => {
    const p = (window as unknown as { __pagelab?: Probe }).__pagelab;
    return p?.ready && p.firstRenderMs > 0;
  });
}

async function canvasPixel(x: number, y: number): Promise<string> {
  return page.evaluate(
    ([x, y]) => {
      const c = document.querySelector('canvas[data-testid=heatmap]') as HTMLCanvasElement;
      const d = c.getContext('2d')!.getImageData(x, y, 1, 1).data;
      return `#${[d[0], d[1], d[2]].map((v) => v.toString(16).padStart(2, '0')).join('')}`;
    },
    [x, y],
  );
}

beforeAll(async () => {
  webRoot = await buildWeb();
  server = await startServer({ port: 0, webRoot });
  browser = await launch();
  page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => consoleErrors.push(e.message));
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  removeBuild(webRoot);
});

describe('the web visualiser in Chromium', () => {
  it('loads the default example, runs it, and steps with the keys and the scrubber', async () => {
    await ready(server.url);
    const label = page.getByTestId('step-label');
    await expect.poll(() => label.textContent()).toBe('step 17/17');
    expect(await page.locator('[data-testid=steps] li').count()).toBe(18);
    await page.locator('body').click({ position: { x: 5, y: 5 } });
    await page.keyboard.press('ArrowLeft');
    await expect.poll(() => label.textContent()).toBe('step 16/17');
    await page.keyboard.press('ArrowRight');
    await expect.poll(() => label.textContent()).toBe('step 17/17');
    await page.getByTestId('scrubber').fill('5');
    await expect.poll(() => label.textContent()).toBe('step 5/17');
    expect(await page.locator('[data-testid=steps] li.current').textContent()).toContain('5 fork: p -> c');
    await expect.poll(() => new URL(page.url()).searchParams.get('step')).toBe('5');
    await page.screenshot({ path: path.join(SCREENSHOTS, 'scenario.png'), fullPage: true });
  });

  it("paints a frame in its type's colour and a click shows explain --pfn's text", async () => {
    const pfn = anonFrame();
    const start = pfn - (pfn % 512);
    await ready(`${server.url}?scenario=${EXAMPLE}&z=-3&start=${start}`);
    const at = await page.evaluate(
      (p) => (window as unknown as { __pagelab: Probe }).__pagelab.pixelOf(p),
      pfn,
    );
    if (!at) throw new Error(`pfn ${pfn} is off the map`);
    expect(at).toBeDefined();
    expect(await canvasPixel(at.x, at.y)).toBe(TYPE_COLORS[MT_NAMES.indexOf('anon')]);
    await page.getByTestId('heatmap').click({ position: { x: at.x, y: at.y } });
    const dump = page.getByTestId('dump');
    await dump.waitFor();
    expect(await dump.textContent()).toBe(cli({ pfn: String(pfn) }));
    await expect.poll(() => new URL(page.url()).searchParams.get('pfn')).toBe(`0x${pfn.toString(16)}`);
    await page.getByTestId('heatmap').hover({ position: { x: at.x, y: at.y } });
    await expect
      .poll(() => page.getByTestId('hover').textContent())
      .toContain(`pfn 0x${pfn.toString(16)} · anon · order 0`);
    await page.locator('.heatmap').screenshot({ path: path.join(SCREENSHOTS, 'heatmap.png') });
    await dump.screenshot({ path: path.join(SCREENSHOTS, 'dump.png') });
  });

  it("a click on a VMA shows explain --proc --addr's walk", async () => {
    const vma = page.locator('[data-testid=vma][data-pid="1"]').first();
    const start = Number(await vma.getAttribute('data-start'));
    await vma.click({ position: { x: 2, y: 5 } });
    const walk = page.getByTestId('walk');
    await walk.waitFor();
    expect(await walk.textContent()).toBe(cli({ proc: 'p', addr: `0x${start.toString(16)}` }));
    await page.getByTestId('procs').screenshot({ path: path.join(SCREENSHOTS, 'processes.png') });
  });

  it('restores the scenario, step, frame and zoom from the URL', async () => {
    const pfn = anonFrame();
    await ready(`${server.url}?scenario=${EXAMPLE}&step=5&pfn=0x${pfn.toString(16)}&z=-2&start=0x100`);
    await expect.poll(() => page.getByTestId('step-label').textContent()).toBe('step 5/17');
    const view = await page.evaluate(
      () => (window as unknown as { __pagelab: { view: unknown } }).__pagelab.view,
    );
    expect(view).toEqual({ z: -2, start: 0x100 });
    await expect.poll(() => page.getByTestId('dump').textContent()).toBe(cli({ after: 5, pfn: String(pfn) }));
  });

  it('shows a bad YAML problem at its line:col as it is typed', async () => {
    const problems = page.getByTestId('problems');
    const cases: [string, RegExp][] = [
      ['name: bad\nmachine: { memory: 1G }\nsteps:\n  - { op: folio_alloc, order: banana }\n', /:4:\d+ /],
      ['name: bad\nmachine: { memory: 1G }\nsteps:\n  - { op: folio_alloc, order: [unclosed\n', /:\d+:\d+: /],
    ];
    for (const [bad, where] of cases) {
      const want = parseScenario(bad, EXAMPLE);
      if (want.ok) throw new Error('the bad YAML parsed');
      const first = formatDiagnostic(want.errors[0]);
      expect(first).toMatch(where);
      await page.getByTestId('yaml').fill(bad);
      await expect.poll(() => problems.locator('li').first().textContent()).toBe(first);
    }
    await page.locator('.editor').screenshot({ path: path.join(SCREENSHOTS, 'bad-yaml.png') });
  });
});

viewTests(() => ({ page, url: server.url }));

interface PerfProbe {
  ready: boolean;
  firstRenderMs: number;
  frameTimes: number[];
  workerTimes: number[];
  view: { z: number; start: number };
}
const perfProbe = () => page.evaluate(() => (window as unknown as { __pagelab: PerfProbe }).__pagelab);
const STRICT = process.env.PAGELAB_PERF === 'strict';
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const idle = () => page.waitForSelector('canvas[data-painted]');

/** Drag at each zoom level from the current one down to the deepest, one wheel notch a level. */
async function panZoom(zoom: () => Promise<number>) {
  const box = (await page.getByTestId('heatmap').boundingBox())!;
  const perLevel: Record<string, number> = {};
  const workerLevel: Record<string, number> = {};
  const worstLevel: Record<string, number> = {};
  const allFrames: number[] = [];
  await page.mouse.move(box.x + 3, box.y + 3);
  for (let level = 0; level < 16; level++) {
    const z = await zoom();
    await page.evaluate(() => {
      const p = (window as unknown as { __pagelab: PerfProbe }).__pagelab;
      p.frameTimes.length = 0;
      p.workerTimes.length = 0;
    });
    await page.mouse.move(box.x + 200, box.y + 100);
    await page.mouse.down();
    for (let s = 1; s <= 12; s++) await page.mouse.move(box.x + 200 - s * 10, box.y + 100 - s * 4);
    await page.mouse.up();
    await idle();
    await page.mouse.move(box.x + 3, box.y + 3);
    await page.mouse.wheel(0, -100);
    await idle();
    const { frameTimes, workerTimes } = await perfProbe();
    perLevel[`z=${z}`] = median(frameTimes);
    allFrames.push(...frameTimes);
    worstLevel[`z=${z}`] = Math.max(...frameTimes);
    workerLevel[`z=${z}`] = median(workerTimes);
    if ((await zoom()) === z) break; // the deepest zoom
  }
  return {
    medianFrameMsPerZoom: perLevel,
    medianWorkerMsPerZoom: workerLevel,
    worstFrameMsPerZoom: worstLevel,
    slowestMedianFrameMs: Math.max(...Object.values(perLevel)),
    medianFrameMs: median(allFrames),
  };
}
/** What the performance tests measured, written to .cache/perf.json. */
const perf: Record<string, unknown> = {};

describe('performance in Chromium', () => {
  it('renders a 1 TiB scenario under 1 s and pans and zooms under 33 ms a frame', async () => {
    await page.goto(server.url);
    await page.waitForFunction(() => (window as unknown as { __pagelab?: PerfProbe }).__pagelab?.ready);
    const yaml = fs.readFileSync(path.join(ROOT, 'test/web/fixtures/one-tib.yaml'), 'utf8');
    await page.getByTestId('yaml').fill(yaml);
    await expect.poll(() => page.getByTestId('problems').textContent()).toBe('');
    const firsts: number[] = [];
    for (let i = 0; i < 3; i++) {
      await page.getByTestId('run').click();
      await page.waitForFunction(
        () => (window as unknown as { __pagelab: PerfProbe }).__pagelab.firstRenderMs > 0,
      );
      firsts.push((await perfProbe()).firstRenderMs);
      await idle();
    }
    await page.screenshot({ path: path.join(SCREENSHOTS, 'one-tib.png'), fullPage: true });
    await page.getByRole('button', { name: 'whole machine' }).click();
    await idle();
    expect((await perfProbe()).view.z).toBe(9); // 2^28 frames on 1024 x 512 pixels
    const levels = await panZoom(async () => (await perfProbe()).view.z);
    const result = { firstRenderMs: firsts, ...levels };
    perf.oneTiB = result;
    fs.writeFileSync(path.join(ROOT, '.cache/perf.json'), `${JSON.stringify(perf, null, 2)}\n`);
    console.log(JSON.stringify(result));
    expect(Object.keys(levels.medianFrameMsPerZoom).length).toBeGreaterThanOrEqual(12);
    expect(Math.min(...firsts)).toBeLessThan(1000);
    // Inside `npm test` the other test files load both cores, and their stalls are not the app's:
    // every frame counts in the overall median, and a zoom level's median only has to stay within
    // 3x. `npm run test:perf` runs this file alone, where each level's median must be under 33 ms.
    expect(result.medianFrameMs).toBeLessThan(33);
    expect(result.slowestMedianFrameMs).toBeLessThan(STRICT ? 33 : 100);
  });

  it('renders the shipped capture (6.5 M frames, gzip) under 1 s and pans and zooms under 33 ms a frame', async () => {
    await page.goto(`${server.url}?view=snapshot`);
    const files = ['loaded.kpageflags.gz', 'loaded.iomem.txt'].map((f) =>
      path.join(ROOT, 'examples/snapshots', f),
    );
    const capture = () =>
      page.evaluate(
        () =>
          (
            window as unknown as {
              __pagelab: { captureProbe: { firstRenderMs: number; view: { z: number }; parts: unknown } };
            }
          ).__pagelab.captureProbe,
      );
    const firsts: number[] = [];
    const parts: unknown[] = [];
    for (let i = 0; i < 3; i++) {
      // The same files again are no change to the input: empty it first.
      await page.getByTestId('capture-file').setInputFiles([]);
      await page.getByTestId('capture-file').setInputFiles(files);
      await page.waitForFunction(
        () =>
          (window as unknown as { __pagelab: { captureProbe: { firstRenderMs: number } } }).__pagelab
            .captureProbe.firstRenderMs > 0,
        undefined,
        { timeout: 30_000 },
      );
      firsts.push((await capture()).firstRenderMs);
      parts.push((await capture()).parts);
      await idle();
    }
    expect((await capture()).view.z).toBe(4); // 6,553,600 frames on 1024 x 512 pixels
    const levels = await panZoom(async () => (await capture()).view.z);
    const result = { firstRenderMs: firsts, workerParts: parts, ...levels };
    perf.capture = result;
    fs.writeFileSync(path.join(ROOT, '.cache/perf.json'), `${JSON.stringify(perf, null, 2)}\n`);
    console.log(JSON.stringify(result));
    expect(Object.keys(levels.medianFrameMsPerZoom).length).toBe(9); // z = 4 ... -4
    // Reading is most of it (gunzip and 52 MB into columns, then the classification), and it is
    // what slows most when the other test files share both cores: under 1 s in `test:perf`, 3 s
    // inside `npm test`.
    expect(Math.min(...firsts)).toBeLessThan(STRICT ? 1000 : 3000);
    expect(result.medianFrameMs).toBeLessThan(33);
    expect(result.slowestMedianFrameMs).toBeLessThan(STRICT ? 33 : 100);
  });
});

describe('the whole session', () => {
  it('logged no console error', () => {
    expect(consoleErrors).toEqual([]);
  });
});
