/**
 * The Designs view: what `pagelab compare` and `pagelab devmem` print, as charts, for the loaded
 * scenario — metadata under struct page against memdesc at the step shown (per memory type),
 * each pin-count design's folio_maybe_dma_pinned() answers against the truth, its own metadata,
 * the copies fork made and the migrations that failed, and the device memmap costs.
 */
import { useEffect, useState } from 'preact/hooks';
import { BarChart, bytesText, LogLineChart } from './charts.js';
import type { ModelClient } from './client.js';
import type { DesignsData } from './protocol.js';

export const DEVICE_SIZES: [string, number][] = [
  ['64 GiB', 2 ** 36],
  ['1 TiB', 2 ** 40],
  ['16 TiB', 2 ** 44],
];

const LAYOUT_COLORS: Record<string, string> = { 'struct-page': '#e15759', memdesc: '#4e79a7' };
const DEVMEM_COLORS = ['#e15759', '#f28e2b', '#edc948', '#4e79a7', '#76b7b2', '#59a14f'];

interface Props {
  client: ModelClient;
  /** Changes with every step and scenario. */
  version: number;
}

export function Designs({ client, version }: Props) {
  const [deviceBytes, setDeviceBytes] = useState(2 ** 40);
  const [data, setData] = useState<DesignsData | null>(null);
  const [error, setError] = useState('');
  useEffect(() => {
    client.call('designs', { deviceBytes }).then(
      (d) => {
        setData(d);
        setError('');
      },
      (e: Error) => setError(e.message),
    );
  }, [version, deviceBytes]);
  if (error) return <section class="error">{error}</section>;
  if (!data) return <section class="muted">computing the designs…</section>;

  const types = [...new Set(data.layouts.flatMap((l) => l.perType.map((t) => t.type)))];
  const layoutSeries = data.layouts.map((l) => ({
    label: `${l.layout} (${bytesText(l.totalBytes)})`,
    color: LAYOUT_COLORS[l.layout] ?? '#999',
    values: types.map((ty) => {
      const row = l.perType.find((t) => t.type === ty);
      return row ? row.memmapBytes + row.descriptorBytes : 0;
    }),
  }));
  const sp = byName(data, 'struct-page');
  const saving = sp > 0 ? ` · memdesc ${(100 * (1 - byName(data, 'memdesc') / sp)).toFixed(1)}% smaller` : '';
  const rows = data.compare.designs;
  const designs = rows.map((d) => `${d.design}${d.declaredUnsafe ? ' (unsafe)' : ''}`);
  const devLines = [...new Set(data.devmem.map((r) => `${r.layout}:${r.mode}`))];
  const touched = [...new Set(data.devmem.map((r) => r.touched))];

  return (
    <section class="designs" data-testid="designs" data-step={data.step}>
      <h2>Designs</h2>
      <p class="muted">
        {data.compare.name}: layouts at step {data.step}; the pin designs over the whole run (as{' '}
        <code>pagelab compare</code>); computed in {data.ms.toFixed(0)} ms
      </p>
      {data.compare.inputErrors.map((e) => (
        <div class="error" key={e}>
          {e}
        </div>
      ))}
      <div class="charts">
        <BarChart
          id="layout"
          title={`metadata by memory type, struct page vs memdesc${saving}`}
          categories={types}
          series={layoutSeries}
          unit="bytes"
        />
        <BarChart
          id="pin-answers"
          title="folio_maybe_dma_pinned() against the truth, per pin design"
          categories={designs}
          series={[
            { label: 'true+', color: '#59a14f', values: rows.map((d) => d.truePositives) },
            { label: 'false+ (needless copy)', color: '#f28e2b', values: rows.map((d) => d.falsePositives) },
            { label: 'false− (unsafe)', color: '#b00020', values: rows.map((d) => d.falseNegatives) },
            { label: 'true−', color: '#bab0ac', values: rows.map((d) => d.trueNegatives) },
          ]}
          unit="count"
        />
        <BarChart
          id="pin-metadata"
          title="each pin design's own metadata beyond Linux's fields"
          categories={designs}
          series={[{ label: 'metadata', color: '#4e79a7', values: rows.map((d) => d.metadataBytes) }]}
          unit="bytes"
        />
        <BarChart
          id="fork-copies"
          title="fork copies of maybe-pinned pages and failed migrations, per pin design"
          categories={designs}
          series={[
            { label: 'fork copies', color: '#b07aa1', values: rows.map((d) => d.forkCopies) },
            { label: 'migration fails', color: '#9c755f', values: rows.map((d) => d.migrationSkips) },
          ]}
          unit="count"
        />
        <div>
          <label class="row">
            device memory
            <select
              data-testid="device-size"
              value={String(deviceBytes)}
              onChange={(e) => setDeviceBytes(Number((e.target as HTMLSelectElement).value))}
            >
              {DEVICE_SIZES.map(([n, v]) => (
                <option key={n} value={String(v)}>
                  {n}
                </option>
              ))}
            </select>
          </label>
          <LogLineChart
            id="devmem"
            title={`device memmap metadata of ${bytesText(data.deviceBytes)} (as pagelab devmem)`}
            x={touched}
            xLabel="pfns in use"
            series={devLines.map((key, i) => {
              const [layout, mode] = key.split(':');
              return {
                label: `${layout} ${mode}`,
                color: DEVMEM_COLORS[i % DEVMEM_COLORS.length],
                values: touched.map(
                  (t) =>
                    data.devmem.find((r) => r.layout === layout && r.mode === mode && r.touched === t)
                      ?.totalBytes ?? 0,
                ),
              };
            })}
          />
        </div>
      </div>
    </section>
  );
}

function byName(d: DesignsData, layout: string): number {
  return d.layouts.find((l) => l.layout === layout)?.totalBytes ?? 0;
}
