/// <reference lib="dom" />
/**
 * The Designs and Snapshot views, drag-and-drop and the shared-frame highlight, in the Chromium
 * and against the server of app.test.ts (one build, one browser). Every number the page shows is
 * checked against what the CLI's code computes in Node for the same input.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { devmemTable } from '../../src/designs/devmem.js';
import { PIN_DESIGNS } from '../../src/designs/pincount.js';
import { compareScenario } from '../../src/scenario/compare.js';
import { formatDiagnostic } from '../../src/scenario/diagnostics.js';
import { parseScenario, type Scenario } from '../../src/scenario/parse.js';
import { runScenario } from '../../src/scenario/run.js';
import { type Classification, classify, FRAME, FRAME_NAMES, TAIL } from '../../src/snapshot/classify.js';
import { kpfLongName } from '../../src/snapshot/kpageflags.js';
import { priceMemdesc } from '../../src/snapshot/price.js';
import { readSnapshot, type Snapshot } from '../../src/snapshot/read.js';
import { ROOT, SCREENSHOTS } from './browser.js';

export interface Ctx {
  page: Page;
  url: string;
}

const SNAPSHOTS = path.join(ROOT, 'examples/snapshots');
const COLORS = {
  mark: '#00b3ff',
  shared: '#ff2d9b',
  slab: '#59a14f',
  falseNegative: '#b00020',
};

function scenarioOf(
  file: string,
  text = fs.readFileSync(path.join(ROOT, 'examples', file), 'utf8'),
): Scenario {
  const p = parseScenario(text, file);
  if (!p.ok) throw new Error(`${file} does not parse`);
  return p.scenario;
}

/** The series of a chart as uPlot holds them: label and the non-null values, in order. */
async function chartSeries(page: Page, id: string): Promise<{ label: string; values: number[] }[]> {
  await page.locator(`[data-testid=chart-${id}][data-drawn]`).waitFor();
  return page.evaluate((id) => {
    type Chart = { series: { label: string }[]; data: (number | null)[][] };
    const u = (window as unknown as { __pagelab: { charts: Record<string, Chart> } }).__pagelab.charts[id];
    return u.series.slice(1).map((s, i) => ({
      label: s.label,
      values: (u.data[i + 1] as (number | null)[]).filter((v) => v !== null),
    }));
  }, id);
}

async function canvasPixel(page: Page, selector: string, x: number, y: number): Promise<string> {
  return page.evaluate(
    ([sel, x, y]) => {
      const c = document.querySelector(sel as string) as HTMLCanvasElement;
      const d = c.getContext('2d')!.getImageData(x as number, y as number, 1, 1).data;
      return `#${[d[0], d[1], d[2]].map((v) => v.toString(16).padStart(2, '0')).join('')}`;
    },
    [selector, x, y],
  );
}

/** How many pixels of a chart's canvas have exactly `color`. */
async function pixelsOf(page: Page, id: string, color: string): Promise<number> {
  return page.evaluate(
    ([id, color]) => {
      const c = document.querySelector(`[data-testid=chart-${id}] canvas`) as HTMLCanvasElement;
      const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
      const want = Number.parseInt(color.slice(1), 16);
      let n = 0;
      for (let i = 0; i < d.length; i += 4) if (((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]) === want) n++;
      return n;
    },
    [id, color],
  );
}

/** Drop files (name, bytes) on an element, as a file manager would. */
async function dropFiles(page: Page, selector: string, files: { name: string; bytes: Buffer }[]) {
  const dt = await page.evaluateHandle(
    (fs) => {
      const dt = new DataTransfer();
      for (const f of fs)
        dt.items.add(new File([Uint8Array.from(atob(f.b64), (c) => c.charCodeAt(0))], f.name));
      return dt;
    },
    files.map((f) => ({ name: f.name, b64: f.bytes.toString('base64') })),
  );
  await page.dispatchEvent(selector, 'dragover', { dataTransfer: dt });
  await page.dispatchEvent(selector, 'drop', { dataTransfer: dt });
}

/** Leave the page, so its worker and the capture's arrays go before the next test measures time. */
async function releaseCapture(page: Page): Promise<void> {
  await page.goto('about:blank');
}

async function probe<T>(page: Page, f: string): Promise<T> {
  return page.evaluate(
    (f) => (window as unknown as { __pagelab: Record<string, unknown> }).__pagelab[f],
    f,
  ) as Promise<T>;
}

/** The shipped capture as the CLI's code reads it in Node (once per file): what the page must show. */
let shipped: Promise<{ flags: string; s: Snapshot; c: Classification }> | undefined;
function shippedCapture() {
  const flags = path.join(SNAPSHOTS, 'loaded.kpageflags.gz');
  shipped ??= readSnapshot({ flags, count: null }).then((s) => ({ flags, s, c: classify(s) }));
  return shipped;
}

/** The page has read loaded.kpageflags.gz with its iomem: the census and price are the CLI's. */
async function expectShippedCensus(page: Page): Promise<void> {
  const { c } = await shippedCapture();
  const price = priceMemdesc(c);
  await page.getByTestId('census').waitFor({ timeout: 30_000 });
  expect(await page.locator('[data-testid=census] > p').first().textContent()).toMatch(
    /^loaded\.kpageflags\.gz \(gzip, .*\(per iomem\)/,
  );
  for (const f of [FRAME.FREE, FRAME.SLAB, FRAME.HUGETLB, FRAME.ANON, FRAME.HOLE]) {
    const row = page.locator(`[data-testid=census] tr[data-type="${FRAME_NAMES[f]}"] td`);
    expect(await row.nth(1).textContent()).toBe(c.pages[f].toLocaleString('en-US'));
  }
  // The capture's README: numbers an analyser must reproduce.
  expect([c.pages[FRAME.FREE], c.pages[FRAME.SLAB], c.pages[FRAME.HUGETLB]]).toEqual([807167, 13673, 32768]);
  const total = page.locator('[data-testid=price-total] td');
  expect(Number(await total.nth(3).getAttribute('data-bytes'))).toBe(price.structPage);
  expect(Number(await total.nth(4).getAttribute('data-bytes'))).toBe(price.memdesc);
  await expect
    .poll(async () => (await probe<CaptureProbe>(page, 'captureProbe')).firstRenderMs)
    .toBeGreaterThan(0);
}

/**
 * A slab frame of the shipped capture, zoomed in to 4 pixels a frame with the wheel around it, is
 * painted in the slab colour, and hovering it names its kpageflags.
 */
async function expectSlabFramePainted(page: Page): Promise<void> {
  const { s, c } = await shippedCapture();
  const pfn = c.frames.findIndex((f, i) => f === FRAME.SLAB && i > 0x100000);
  const map = page.getByTestId('heatmap');
  const box = (await map.boundingBox())!;
  const scale = box.width / 1024;
  const pixelOf = () =>
    page.evaluate((p) => (window as unknown as Win).__pagelab.captureProbe.pixelOf(p), pfn);
  for (let i = 0; i < 12 && (await probe<CaptureProbe>(page, 'captureProbe')).view.z > -2; i++) {
    const at = await pixelOf();
    if (!at) throw new Error(`pfn ${pfn} is off the map`);
    await page.mouse.move(box.x + at.x * scale, box.y + at.y * scale);
    await page.mouse.wheel(0, -100);
    await page.locator('canvas[data-testid=heatmap][data-painted]').waitFor();
  }
  const at = (await pixelOf())!;
  expect((await probe<CaptureProbe>(page, 'captureProbe')).view.z).toBe(-2);
  expect(await canvasPixel(page, 'canvas[data-testid=heatmap]', at.x, at.y)).toBe(COLORS.slab);
  await map.hover({ position: { x: at.x * scale, y: at.y * scale } });
  const flagNames = kpfLongName(s.flagsLo[pfn], s.flagsHi[pfn]);
  const tail = c.frames[pfn] & TAIL ? ' (tail)' : '';
  await expect
    .poll(() => page.getByTestId('hover').textContent())
    .toContain(`pfn 0x${pfn.toString(16)} · slab${tail} · 0x`);
  expect(await page.getByTestId('hover').textContent()).toContain(flagNames);
}

export function viewTests(ctx: () => Ctx): void {
  describe('the Designs view', () => {
    it("charts compare's answers, metadata and fork copies per pin design, the layouts and devmem", async () => {
      const { page, url } = ctx();
      const file = 'pin-ptebit-loses-a-pin.yaml';
      await page.goto(`${url}?scenario=${file}&view=designs`);
      const want = compareScenario(scenarioOf(file), [...PIN_DESIGNS]);
      const answers = await chartSeries(page, 'pin-answers');
      expect(answers.map((s) => s.label)).toEqual([
        'true+',
        'false+ (needless copy)',
        'false− (unsafe)',
        'true−',
      ]);
      expect(answers.map((s) => s.values)).toEqual([
        want.designs.map((d) => d.truePositives),
        want.designs.map((d) => d.falsePositives),
        want.designs.map((d) => d.falseNegatives),
        want.designs.map((d) => d.trueNegatives),
      ]);
      // ptebit loses the pin: a false negative that the chart must draw in its colour.
      expect(want.designs.find((d) => d.design === 'ptebit')!.falseNegatives).toBeGreaterThan(0);
      expect(await pixelsOf(page, 'pin-answers', COLORS.falseNegative)).toBeGreaterThan(20);
      const meta = await chartSeries(page, 'pin-metadata');
      expect(meta[0].values).toEqual(want.designs.map((d) => d.metadataBytes));
      const fork = await chartSeries(page, 'fork-copies');
      expect(fork.map((s) => s.values)).toEqual([
        want.designs.map((d) => d.forkCopies),
        want.designs.map((d) => d.migrationSkips),
      ]);
      // The layouts follow the step shown: the last, then step 0 (the machine just booted).
      const layoutsAt = async (until: number) => {
        const acc = runScenario(scenarioOf(file), { until }).machine!.accounting();
        await expect
          .poll(async () => (await page.getByTestId('designs').getAttribute('data-step')) === String(until))
          .toBe(true);
        const got = await chartSeries(page, 'layout');
        const types = [...new Set(acc.flatMap((l) => l.perType.map((t) => t.type)))];
        expect(got.map((s) => s.label)).toEqual(acc.map((l) => expect.stringContaining(l.layout)));
        for (const [i, l] of acc.entries()) {
          const perType = types.map((ty) => {
            const r = l.perType.find((t) => t.type === ty);
            return r ? r.memmapBytes + r.descriptorBytes : 0;
          });
          expect(got[i].values).toEqual(perType);
          expect(perType.reduce((a, b) => a + b, 0)).toBe(l.totalBytes);
        }
      };
      await layoutsAt(scenarioOf(file).steps.length);
      await page.screenshot({ path: path.join(SCREENSHOTS, 'designs.png'), fullPage: true });
      await page.locator('body').click({ position: { x: 5, y: 5 } });
      await page.getByTestId('scrubber').fill('0');
      await layoutsAt(0);
      // devmem: a line per layout and mode, in bytes, over the fraction of pfns in use.
      await page.getByTestId('device-size').selectOption(String(2 ** 44));
      await expect
        .poll(async () => (await chartSeries(page, 'devmem'))[0]?.values[0])
        .toBe(devmemTable(2 ** 44, [0.001])[0].totalBytes);
      const dev = await chartSeries(page, 'devmem');
      const rows = devmemTable(2 ** 44, [0.001, 0.01, 0.1, 0.5, 1]);
      for (const s of dev) {
        const [layout, mode] = s.label.split(' ');
        expect(s.values).toEqual(
          rows
            .filter((r) => r.layout === layout && r.mode === mode && r.totalBytes > 0)
            .map((r) => r.totalBytes),
        );
      }
      expect(dev.map((s) => s.label)).toEqual([...new Set(rows.map((r) => `${r.layout} ${r.mode}`))]);
    });
  });

  describe('the Snapshot view', () => {
    it('reads the shipped capture (gzip) with its iomem and shows its census, price and frame types', async () => {
      const { page, url } = ctx();
      const { flags } = await shippedCapture();
      await page.goto(`${url}?view=snapshot`);
      await page.getByTestId('capture-file').setInputFiles([flags, path.join(SNAPSHOTS, 'loaded.iomem.txt')]);
      await expectShippedCensus(page);
      await page.screenshot({ path: path.join(SCREENSHOTS, 'snapshot.png'), fullPage: true });
      await expectSlabFramePainted(page);
      await page.locator('.heatmap').screenshot({ path: path.join(SCREENSHOTS, 'snapshot-heatmap.png') });
      await releaseCapture(page);
    });

    it('loads the sample capture from the server with one click, offline, as if its files were picked', async () => {
      const { page, url } = ctx();
      await page.goto(`${url}?view=snapshot`);
      const elsewhere: string[] = [];
      const origin = new URL(url).origin;
      page.on('request', (r) => {
        if (/^https?:/.test(r.url()) && new URL(r.url()).origin !== origin) elsewhere.push(r.url());
      });
      const fetched: string[] = [];
      page.on('requestfinished', (r) => fetched.push(new URL(r.url()).pathname));
      await page.getByTestId('capture-sample').click();
      await expectShippedCensus(page);
      expect(fetched).toEqual(
        expect.arrayContaining([
          '/examples/snapshots/loaded.kpageflags.gz',
          '/examples/snapshots/loaded.iomem.txt',
        ]),
      );
      expect(elsewhere).toEqual([]);
      await expectSlabFramePainted(page);
      await releaseCapture(page);
    });

    it('takes a zstd capture dropped on it, and says what is wrong with a file that is not one', async () => {
      const { page, url } = ctx();
      const { c } = await shippedCapture();
      await page.goto(`${url}?view=snapshot`);
      await dropFiles(page, '[data-testid=capture-drop]', [
        {
          name: 'loaded.kpageflags.zst',
          bytes: fs.readFileSync(path.join(SNAPSHOTS, 'loaded.kpageflags.zst')),
        },
        { name: 'loaded.iomem.txt', bytes: fs.readFileSync(path.join(SNAPSHOTS, 'loaded.iomem.txt')) },
      ]);
      await page.getByTestId('census').waitFor({ timeout: 30_000 });
      expect(await page.getByTestId('census').textContent()).toContain('(zstd');
      const total = page.locator('[data-testid=price-total] td');
      expect(Number(await total.nth(4).getAttribute('data-bytes'))).toBe(priceMemdesc(c).memdesc);
      await dropFiles(page, '[data-testid=capture-drop]', [
        { name: 'notes.kpageflags', bytes: Buffer.from('hello') },
      ]);
      await expect
        .poll(() => page.getByTestId('capture-error').textContent())
        .toBe(
          'notes.kpageflags: 5 bytes is not a multiple of 8 (one u64 per PFN): truncated or not a kpageflags/kpagecount capture',
        );
      // kpagecount has the same format and would read as nonsense flags: refused by name.
      await dropFiles(page, '[data-testid=capture-drop]', [
        {
          name: 'loaded.kpagecount.gz',
          bytes: fs.readFileSync(path.join(SNAPSHOTS, 'loaded.kpagecount.gz')),
        },
      ]);
      await expect
        .poll(() => page.getByTestId('capture-error').textContent())
        .toBe('loaded.kpagecount.gz is a kpagecount file (map counts): give its kpageflags file');
      await releaseCapture(page);
    });
  });

  describe('drag-and-drop of a scenario', () => {
    it('runs a YAML file dropped on the editor, and shows its problems under its own name', async () => {
      const { page, url } = ctx();
      await page.goto(url);
      await page.waitForFunction(() => (window as unknown as Win).__pagelab?.ready);
      const yaml = fs.readFileSync(path.join(ROOT, 'examples/refcounts-and-reuse.yaml'), 'utf8');
      const steps = runScenario(scenarioOf('mine.yaml', yaml)).steps.length;
      await dropFiles(page, '[data-testid=yaml]', [{ name: 'mine.yaml', bytes: Buffer.from(yaml) }]);
      await expect.poll(() => page.getByTestId('step-label').textContent()).toBe(`step ${steps}/${steps}`);
      expect(await page.getByTestId('yaml').inputValue()).toBe(yaml);
      expect(await page.getByTestId('example').inputValue()).toBe('');
      expect(await page.locator('[data-testid=example] option:checked').textContent()).toBe(
        'mine.yaml (edited)',
      );
      const bad = 'name: bad\nmachine: { memory: 1G }\nsteps:\n  - { op: folio_alloc, order: banana }\n';
      const p = parseScenario(bad, 'bad.yaml');
      if (p.ok) throw new Error('the bad YAML parsed');
      await dropFiles(page, '[data-testid=yaml]', [{ name: 'bad.yaml', bytes: Buffer.from(bad) }]);
      await expect
        .poll(() => page.getByTestId('problems').locator('li').first().textContent())
        .toBe(formatDiagnostic(p.errors[0]));
    });
  });

  describe('the shared-frame highlight', () => {
    const file = 'cow-after-fork.yaml';
    it("a frame's mappings light up in every process that maps it, a process's frames on the map", async () => {
      const { page, url } = ctx();
      // Step 5: just after fork, p and c map the same two frames of buf.
      const r = runScenario(scenarioOf(file), { until: 5 });
      const m = r.machine!;
      const [p, c] = [r.labels.num('p'), r.labels.num('c')];
      const buf = r.labels.num('buf');
      const pfn = m.translate(c, buf)!.pfn;
      expect(m.translate(p, buf)!.pfn).toBe(pfn);
      // The frame away from the map's edge (its ring must fit), 8 pixels a frame.
      await page.goto(`${url}?scenario=${file}&step=5&z=-3&start=${Math.max(0, pfn - 8)}`);
      await page.waitForFunction(() => (window as unknown as Win).__pagelab?.firstRenderMs > 0);
      const at = (await page.evaluate((q) => (window as unknown as Win).__pagelab.pixelOf(q), pfn))!;
      const map = page.getByTestId('heatmap');
      const box = (await map.boundingBox())!;
      const scale = box.width / 1024;
      await map.hover({ position: { x: at.x * scale, y: at.y * scale } });
      const want = m
        .rmap(pfn)
        .map((x) => `pid ${x.pid} at 0x${x.addr.toString(16)} (${x.level})`)
        .join(', ');
      await expect
        .poll(() => page.getByTestId('mappings').textContent())
        .toBe(`pfn 0x${pfn.toString(16)}: ${want}`);
      for (const pid of [p, c])
        expect(
          await page
            .locator(`[data-testid=vma][data-pid="${pid}"][data-start="${buf}"]`)
            .getAttribute('data-maps'),
        ).toBe(`0x${buf.toString(16)}`);
      expect(await page.locator('.vma.maps-focus').count()).toBe(2);
      await page.getByTestId('procs').screenshot({ path: path.join(SCREENSHOTS, 'shared-frame.png') });

      // Two steps on, p has written its first page and has a copy: c's first frame is its own,
      // the second still shared. Select c: every frame it maps is outlined, the shared one in
      // its own colour (brute force here: each page of each VMA of both processes).
      await page.locator('body').click({ position: { x: 5, y: 5 } });
      await page.keyboard.press('ArrowRight');
      await page.keyboard.press('ArrowRight');
      await expect.poll(() => page.getByTestId('step-label').textContent()).toContain('step 7/');
      const m7 = runScenario(scenarioOf(file), { until: 7 }).machine!;
      const framesOf = (pid: number) => {
        const out = new Set<number>();
        for (const v of m7.process(pid).vmas)
          for (let a = v.start; a < v.end; a += 4096) {
            const t = m7.translate(pid, a);
            if (t) out.add(t.pfn);
          }
        return out;
      };
      const frames = framesOf(c);
      const ofP = framesOf(p);
      const shared = [...frames].filter((f) => ofP.has(f));
      expect([frames.size, shared.length]).toEqual([2, 1]);
      await page.locator(`[data-testid=proc][data-pid="${c}"] [data-testid=proc-select]`).click();
      await expect
        .poll(async () => [...(await probe<number[]>(page, 'marks'))])
        .toEqual([...frames].sort((a, b) => a - b));
      expect(await probe<number[]>(page, 'shared')).toEqual(shared);
      expect(
        await page.locator(`[data-testid=proc][data-pid="${c}"] [data-testid=proc-frames]`).textContent(),
      ).toMatch(/maps 2 frames .*, 1 shared with ?another process/);
      await page.locator('canvas[data-testid=heatmap][data-painted]').waitFor();
      // A ring's coloured line is 6 pixels left or right of the centre of an 8-pixel cell: left of
      // c's own frame (the frame before is not c's: no other ring there), right of the shared one
      // (nor the frame after it).
      const own = [...frames].find((f) => !ofP.has(f))!;
      const [sharedPfn] = shared;
      expect([frames.has(own - 1), frames.has(sharedPfn + 1)]).toEqual([false, false]);
      const ringOf = async (q: number) =>
        (await page.evaluate((x) => (window as unknown as Win).__pagelab.pixelOf(x), q))!;
      const a1 = await ringOf(own);
      const a2 = await ringOf(sharedPfn);
      expect(await canvasPixel(page, 'canvas[data-testid=heatmap]', a1.x - 6, a1.y)).toBe(COLORS.mark);
      expect(await canvasPixel(page, 'canvas[data-testid=heatmap]', a2.x + 6, a2.y)).toBe(COLORS.shared);
      await page.locator('.heatmap').screenshot({ path: path.join(SCREENSHOTS, 'process-frames.png') });
    });
  });
}

interface CaptureProbe {
  started: number;
  firstRenderMs: number;
  view: { z: number; start: number };
}
interface Win {
  __pagelab: {
    ready: boolean;
    firstRenderMs: number;
    pixelOf(pfn: number): { x: number; y: number } | undefined;
    captureProbe: CaptureProbe & { pixelOf(pfn: number): { x: number; y: number } | undefined };
  };
}
