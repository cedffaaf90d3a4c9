/**
 * The Snapshot view: a /proc/kpageflags capture (raw, .gz or .zst; with its /proc/iomem to tell
 * holes from RAM) picked or dropped here, read and classified in the worker by src/snapshot's
 * code, shown on the heatmap by frame type, with the census and the price of both layouts.
 */
import { useMemo, useRef, useState } from 'preact/hooks';
import type { CaptureSummary } from './capture.js';
import { bytesText } from './charts.js';
import type { ModelClient } from './client.js';
import { CAPTURE_PALETTE } from './colors.js';
import { clampView, Heatmap, type MapSource, type MapView, pixelOf, zFit } from './heatmap.js';

const num = (n: number) => n.toLocaleString('en-US');

/** The last capture's timings and the map's view, for the tests and the performance readout. */
export const captureProbe = {
  started: 0,
  firstRenderMs: 0,
  view: { z: 0, start: 0 } as MapView,
  pixelOf: (pfn: number) => pixelOf(captureProbe.view, pfn),
  /** The worker's parts of the last load: read (decompress into columns), classify + price, cells. */
  parts: { readMs: 0, classifyMs: 0, cellsMs: 0 },
};

/**
 * Which of the given files is the capture and which its iomem (by name, as `pagelab snapshot`
 * finds companions); a kpagecount or another text file is not a kpageflags capture.
 */
export function pickFiles(files: File[]): { flags?: File; iomem?: File; why?: string } {
  const iomem = files.find((f) => /iomem/.test(f.name));
  const flags = files.find((f) => f !== iomem && !/kpagecount|\.txt$/.test(f.name));
  if (flags) return { flags, iomem };
  const count = files.find((f) => /kpagecount/.test(f.name));
  return {
    why: count
      ? `${count.name} is a kpagecount file (map counts): give its kpageflags file`
      : 'no kpageflags file among the files given (only text files)',
  };
}

/** The capture shipped in examples/snapshots/ (its README says what machine it is). */
export const SAMPLE_DIR = 'examples/snapshots/';
export const SAMPLE_FILES = ['loaded.kpageflags.gz', 'loaded.iomem.txt'];

/** The sample's files fetched from the server, as the Files a picker would give. */
export async function sampleFiles(): Promise<File[]> {
  return Promise.all(
    SAMPLE_FILES.map(async (name) => {
      const res = await fetch(SAMPLE_DIR + name);
      if (!res.ok) throw new Error(`${SAMPLE_DIR}${name}: ${res.status} ${res.statusText}`.trim());
      return new File([await res.blob()], name);
    }),
  );
}

export function CaptureView({ client }: { client: ModelClient }) {
  const [summary, setSummary] = useState<(CaptureSummary & { cellsMs: number }) | null>(null);
  const [busy, setBusy] = useState('');
  const [error, setError] = useState('');
  const [view, setView] = useState<MapView>({ z: 0, start: 0 });
  const [selected, setSelected] = useState<number | undefined>();
  const [info, setInfo] = useState('');
  const [over, setOver] = useState(false);
  const [pageTypes, setPageTypes] = useState('');
  const version = useRef(0);
  captureProbe.view = view;

  const load = async (files: File[]) => {
    if (files.length === 0) return; // an emptied file input
    const { flags, iomem, why } = pickFiles(files);
    if (!flags) return setError(why ?? '');
    setError('');
    setBusy(`reading ${flags.name}${iomem ? ` with ${iomem.name}` : ''}…`);
    captureProbe.started = performance.now();
    captureProbe.firstRenderMs = 0;
    try {
      const s = await client.call('capture', { file: flags, iomem });
      captureProbe.parts = { readMs: s.readMs, classifyMs: s.classifyMs, cellsMs: s.cellsMs };
      version.current++;
      setSummary(s);
      setPageTypes('');
      setSelected(undefined);
      setInfo('');
      setView(clampView({ z: zFit(s.nrPfns), start: 0 }, s.nrPfns));
    } catch (e) {
      setSummary(null);
      setError((e as Error).message);
    } finally {
      setBusy('');
    }
  };

  const loadSample = async () => {
    setError('');
    setBusy(`fetching ${SAMPLE_FILES.join(' and ')}…`);
    let files: File[];
    try {
      files = await sampleFiles();
    } catch (e) {
      setBusy('');
      return setError((e as Error).message);
    }
    await load(files);
  };

  const source = useMemo<MapSource | null>(
    () =>
      summary && {
        maxPfn: summary.nrPfns,
        palette: CAPTURE_PALETTE,
        hint: 'hover a frame for its type and kpageflags; wheel to zoom, drag to pan',
        cells: (start, fpc, count) => client.call('captureCells', { start, fpc, count }),
        describe: (pfn) => client.call('captureInfo', { pfn }),
      },
    [summary],
  );

  const p = summary?.price;
  return (
    <>
      <div class="left">
        <section class="capture" data-testid="capture">
          <h2>Real machine: a /proc/kpageflags capture</h2>
          <label
            class={`dropzone${over ? ' over' : ''}`}
            data-testid="capture-drop"
            onDragOver={(e) => {
              e.preventDefault();
              setOver(true);
            }}
            onDragLeave={() => setOver(false)}
            onDrop={(e) => {
              e.preventDefault();
              setOver(false);
              void load([...(e.dataTransfer?.files ?? [])]);
            }}
          >
            Drop a kpageflags file here (raw, .gz or .zst), with its iomem.txt, or pick them:{' '}
            <input
              type="file"
              multiple
              data-testid="capture-file"
              onChange={(e) => void load([...((e.target as HTMLInputElement).files ?? [])])}
            />
          </label>
          <p>
            <button
              type="button"
              data-testid="capture-sample"
              disabled={!!busy}
              onClick={() => void loadSample()}
            >
              Load the sample capture
            </button>{' '}
            <span class="muted">
              a 24 GiB Linux 6.18 x86-64 VM running THP, KSM, tmpfs and hugetlb (
              <a href={`${SAMPLE_DIR}README.md`} target="_blank" rel="noreferrer">
                what ran on it
              </a>
              )
            </span>
          </p>
          <p class="muted">
            Save one with <code>sudo cat /proc/kpageflags | gzip &gt; host.kpageflags.gz</code> and{' '}
            <code>sudo cat /proc/iomem &gt; host.iomem.txt</code>. Nothing leaves the browser.
          </p>
          {busy && <p class="muted">{busy}</p>}
          {error && (
            <p class="problems" data-testid="capture-error">
              {error}
            </p>
          )}
        </section>
        {summary && p && (
          <section class="census" data-testid="census">
            <p>
              <b>{summary.name}</b> ({summary.format}, {bytesText(summary.bytes)}): {num(summary.nrPfns)}{' '}
              PFNs, {num(summary.memmapPfns)} with a memmap
              {summary.usedIomem ? ' (per iomem)' : ' (no iomem: every PFN but NOPAGE)'}; read{' '}
              {summary.readMs.toFixed(0)} ms, classified {summary.classifyMs.toFixed(0)} ms
            </p>
            <table class="census">
              <thead>
                <tr>
                  <th>type</th>
                  <th>pages</th>
                  <th>MiB</th>
                  <th>objects</th>
                </tr>
              </thead>
              <tbody>
                {summary.census.map((r) => (
                  <tr key={r.type} data-type={r.type}>
                    <td>
                      <span class="swatch" style={{ background: CAPTURE_PALETTE.colors[r.frame] }} />
                      {r.type}
                    </td>
                    <td>{num(r.pages)}</td>
                    <td>{((r.pages * 4096) / 2 ** 20).toFixed(1)}</td>
                    <td>{num(r.objects)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            <h2>Metadata on both layouts</h2>
            <table class="census" data-testid="price">
              <thead>
                <tr>
                  <th>type</th>
                  <th>pages</th>
                  <th>descriptors</th>
                  <th>struct page</th>
                  <th>memdesc</th>
                </tr>
              </thead>
              <tbody>
                {p.rows.map((r) => (
                  <tr key={r.type}>
                    <td>{r.type}</td>
                    <td>{num(r.pages)}</td>
                    <td>{num(r.descriptors)}</td>
                    <td>{bytesText(r.structPageBytes)}</td>
                    <td>{bytesText(r.memdescWordBytes + r.memdescDescriptorBytes)}</td>
                  </tr>
                ))}
                <tr class="total" data-testid="price-total">
                  <td>total</td>
                  <td>{num(p.memmapPfns)}</td>
                  <td />
                  <td data-bytes={p.structPage}>{bytesText(p.structPage)}</td>
                  <td data-bytes={p.memdesc}>{bytesText(p.memdesc)}</td>
                </tr>
              </tbody>
            </table>
            <p>
              memdesc saves {bytesText(p.structPage - p.memdesc)} (
              {((1 - p.memdesc / p.structPage) * 100).toFixed(1)}%); {(p.memdesc / p.memmapPfns).toFixed(2)} B
              a PFN instead of 64. With HVO on hugetlb: struct page {bytesText(p.structPageHvo)}, memdesc{' '}
              {bytesText(p.memdescHvo)}.
            </p>
            <details>
              <summary>how it is priced</summary>
              <ul class="muted">
                {p.method.map((m) => (
                  <li key={m}>{m}</li>
                ))}
              </ul>
            </details>
            <details
              key={version.current}
              onToggle={(e) => {
                if ((e.target as HTMLDetailsElement).open && !pageTypes)
                  void client
                    .call('capturePageTypes', {})
                    .then(setPageTypes, (err: Error) => setPageTypes(err.message));
              }}
            >
              <summary>page-types -F summary</summary>
              <pre data-testid="page-types">{pageTypes || 'counting…'}</pre>
            </details>
          </section>
        )}
      </div>
      <div class="right">
        {source && summary && (
          <Heatmap
            source={source}
            version={version.current}
            view={view}
            onView={setView}
            selected={selected}
            onSelect={(pfn) => {
              setSelected(pfn);
              void client.call('captureInfo', { pfn }).then(setInfo);
            }}
            onPainted={() => {
              if (captureProbe.started) captureProbe.firstRenderMs = performance.now() - captureProbe.started;
              captureProbe.started = 0;
            }}
          />
        )}
        {info && (
          <pre class="dump" data-testid="capture-info">
            {info}
          </pre>
        )}
      </div>
    </>
  );
}
