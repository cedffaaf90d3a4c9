/**
 * Charts with uPlot: grouped bars over named categories (designs, memory types) and lines over a
 * logarithmic x (devmem's touched fraction). uPlot draws one shared x array, so a bar group is
 * laid out as consecutive x slots — slot `group * (n + 1) + series` — with each series present only
 * in its own slots (null elsewhere) and one empty slot between groups; the axis names each
 * group at its centre. Every chart registers its uPlot instance in `charts` for the tests.
 */
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface BarSeries {
  label: string;
  color: string;
  values: number[];
}

export type Unit = 'bytes' | 'count';

/** The charts on the page by id, for the tests and the console. */
export const charts: Record<string, uPlot> = {};

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** `0 B`, `12 KiB`, `1.5 GiB`. */
export function bytesText(b: number): string {
  let v = b;
  let i = 0;
  while (Math.abs(v) >= 1024 && i < UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : +v.toFixed(v >= 100 ? 0 : 1)} ${UNITS[i]}`;
}

const COUNT_INCRS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9];

/** Ticks on a log axis at the powers of `step` inside the range (uPlot's own fill the decades). */
const powers = (step: number) => (_u: uPlot, _axis: number, min: number, max: number) => {
  const out: number[] = [];
  for (let v = step ** Math.ceil(Math.log(min) / Math.log(step) - 1e-9); v <= max * (1 + 1e-9); v *= step)
    out.push(v);
  return out;
};

const valueText = (unit: Unit, v: number | null | undefined) =>
  v === null || v === undefined ? '—' : unit === 'bytes' ? bytesText(v) : v.toLocaleString('en-US');

/** x slots and per-series data for grouped bars. */
export function groupedData(groups: number, series: BarSeries[]): uPlot.AlignedData {
  const w = series.length + 1;
  const n = groups * w - 1;
  const x = Array.from({ length: n }, (_, i) => i);
  const ys = series.map((s, j) =>
    x.map((i) => (i % w === j && i < groups * w ? s.values[(i / w) | 0] : null)),
  );
  return [x, ...ys];
}

function useChart(id: string, make: (el: HTMLElement) => uPlot, deps: unknown[]) {
  const el = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!el.current) return;
    const u = make(el.current);
    charts[id] = u;
    el.current.setAttribute('data-drawn', '1');
    return () => {
      u.destroy();
      delete charts[id];
    };
  }, deps);
  return el;
}

interface BarProps {
  id: string;
  title: string;
  categories: string[];
  series: BarSeries[];
  unit: Unit;
  width?: number;
}

export function BarChart({ id, title, categories, series, unit, width = 520 }: BarProps) {
  const el = useChart(
    id,
    (target) => {
      const w = series.length + 1;
      const bars = uPlot.paths.bars!({ size: [0.9, 60], align: 0 });
      const opts: uPlot.Options = {
        title,
        width,
        height: 220,
        scales: {
          x: { time: false, range: (_u, min, max) => [min - 0.6, max + 0.6] },
          y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.08 : 1] },
        },
        legend: { live: true },
        cursor: { points: { show: false } },
        axes: [
          {
            splits: () => categories.map((_, g) => g * w + (series.length - 1) / 2),
            values: (_u, splits) =>
              splits.map((s) => categories[Math.round((s - (series.length - 1) / 2) / w)] ?? ''),
            grid: { show: false },
          },
          {
            values: (_u, splits) => splits.map((v) => (v == null ? '' : valueText(unit, v))),
            size: 70,
            // Counts are whole: no tick at 0.25 of a pin.
            incrs: unit === 'count' ? COUNT_INCRS : undefined,
          },
        ],
        series: [
          { label: 'slot', value: (_u, v) => (v === null ? '' : (categories[Math.floor(v / w)] ?? '')) },
          ...series.map(
            (s): uPlot.Series => ({
              label: s.label,
              fill: s.color,
              stroke: s.color,
              paths: bars,
              points: { show: false },
              value: (_u, v, _s, idx) => (idx === null ? '—' : valueText(unit, v)),
            }),
          ),
        ],
      };
      return new uPlot(opts, groupedData(categories.length, series), target);
    },
    [id, title, unit, width, JSON.stringify(categories), JSON.stringify(series)],
  );
  return <div class="chart" data-testid={`chart-${id}`} ref={el} />;
}

interface LineProps {
  id: string;
  title: string;
  x: number[];
  xLabel: string;
  series: BarSeries[];
  width?: number;
}

/** Lines on log-log axes, in bytes (devmem's costs against the fraction of a device in use). */
export function LogLineChart({ id, title, x, xLabel, series, width = 520 }: LineProps) {
  const el = useChart(
    id,
    (target) =>
      new uPlot(
        {
          title,
          width,
          height: 240,
          scales: { x: { time: false, distr: 3 }, y: { distr: 3, log: 2 } },
          axes: [
            {
              label: xLabel,
              splits: powers(10),
              values: (_u, splits) => splits.map((v) => (v == null ? '' : `${+(v * 100).toPrecision(2)}%`)),
            },
            // uPlot hands null for a tick it drops for lack of room.
            {
              splits: powers(8),
              values: (_u, splits) => splits.map((v) => (v == null ? '' : bytesText(v))),
              size: 70,
            },
          ],
          series: [
            { label: xLabel, value: (_u, v) => (v === null ? '' : `${+(v * 100).toPrecision(3)}%`) },
            ...series.map(
              (s): uPlot.Series => ({
                label: s.label,
                stroke: s.color,
                width: 2,
                // A log scale cannot show 0: a cost of nothing is no line, and 0 B in the legend.
                value: (_u, v, _s, idx) => (idx === null ? '—' : v === null ? '0 B' : bytesText(v)),
              }),
            ),
          ],
        },
        [x, ...series.map((s) => s.values.map((v) => (v > 0 ? v : null)))],
        target,
      ),
    [id, title, width, JSON.stringify(x), JSON.stringify(series)],
  );
  return <div class="chart" data-testid={`chart-${id}`} ref={el} />;
}
