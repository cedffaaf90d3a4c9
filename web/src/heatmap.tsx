/**
 * The memmap heatmap: every frame of the machine, row after row, coloured by type. Zoom `z`:
 * below 0 a frame is a 2^-z pixel square; from 0 up a pixel is a cell of 2^z frames, drawn as its
 * most common used type. The worker computes the cells; this paints them and handles wheel zoom
 * around the cursor, drag to pan, hover and click.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import type { ModelClient } from './client.js';
import { TYPE_COLORS, TYPE_NAMES, TYPE_RGBA } from './colors.js';
import { HOLE } from './protocol.js';

export const MAP_W = 1024;
export const MAP_H = 512;
export const Z_MIN = -4;

export interface MapView {
  z: number;
  start: number;
}

/** The zoom that shows the whole machine as large as it fits. */
export function zFit(maxPfn: number): number {
  const ratio = Math.max(1, maxPfn) / (MAP_W * MAP_H);
  if (ratio > 1) return Math.ceil(Math.log2(ratio));
  return Math.max(Z_MIN, -Math.floor(Math.log2(1 / ratio) / 2));
}

export function geometry(v: MapView) {
  const cellPx = v.z < 0 ? 2 ** -v.z : 1;
  const fpc = v.z < 0 ? 1 : 2 ** v.z;
  const cols = MAP_W / cellPx;
  const rows = MAP_H / cellPx;
  return { cellPx, fpc, cols, rows };
}

/** The pfn under canvas pixel (x, y). */
export function pfnAt(v: MapView, x: number, y: number): number {
  const g = geometry(v);
  const c = Math.floor(x / g.cellPx);
  const r = Math.floor(y / g.cellPx);
  return v.start + (r * g.cols + c) * g.fpc;
}

/** The centre pixel of the cell holding `pfn`, or undefined when it is off the map. */
export function pixelOf(v: MapView, pfn: number): { x: number; y: number } | undefined {
  const g = geometry(v);
  const i = Math.floor((pfn - v.start) / g.fpc);
  if (i < 0 || i >= g.cols * g.rows) return undefined;
  return {
    x: (i % g.cols) * g.cellPx + Math.floor(g.cellPx / 2),
    y: Math.floor(i / g.cols) * g.cellPx + Math.floor(g.cellPx / 2),
  };
}

export function clampView(v: MapView, maxPfn: number): MapView {
  const z = Math.max(Z_MIN, Math.min(zFit(maxPfn), Math.round(v.z)));
  const { fpc } = geometry({ z, start: 0 });
  const start = Math.max(0, Math.min(Math.floor(v.start / fpc) * fpc, Math.max(0, maxPfn - fpc)));
  return { z, start };
}

interface Props {
  client: ModelClient;
  maxPfn: number;
  /** Changes whenever the machine state does (a new step). */
  version: number;
  view: MapView;
  onView: (v: MapView) => void;
  selected?: number;
  onSelect: (pfn: number) => void;
  /** Called after each paint. */
  onPainted?: () => void;
}

/** Frame times of the heatmap (request to painted), for the performance readout and the tests. */
export const frameTimes: number[] = [];
/** The worker's part of each frame (computing the cells). */
export const workerTimes: number[] = [];

export function Heatmap({ client, maxPfn, version, view, onView, selected, onSelect, onPainted }: Props) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const busy = useRef(false);
  const want = useRef<{ view: MapView; version: number; selected?: number } | null>(null);
  const drag = useRef<{ x: number; y: number; start: number; moved: boolean } | null>(null);
  const [hover, setHover] = useState('');
  const [lastMs, setLastMs] = useState(0);
  const image = useRef<ImageData | null>(null);

  const paint = async () => {
    if (busy.current || !want.current) return;
    busy.current = true;
    const job = want.current;
    want.current = null;
    const t = performance.now();
    const g = geometry(job.view);
    try {
      const { cells, ms: workerMs } = await client.call('cells', {
        start: job.view.start,
        fpc: g.fpc,
        count: g.cols * g.rows,
      });
      const ctx = canvas.current?.getContext('2d');
      if (ctx) {
        image.current ??= ctx.createImageData(MAP_W, MAP_H);
        const img = image.current;
        const px = new Uint32Array(img.data.buffer);
        const shift = Math.log2(g.cellPx);
        const gapMask = g.cellPx >= 8 ? g.cellPx - 1 : -1; // the last pixel row and column of a cell
        for (let y = 0; y < MAP_H; y++) {
          const row = (y >> shift) * g.cols;
          const line = y * MAP_W;
          if ((y & gapMask) === gapMask) {
            px.fill(0xffffffff, line, line + MAP_W);
            continue;
          }
          for (let x = 0; x < MAP_W; x++)
            px[line + x] = (x & gapMask) === gapMask ? 0xffffffff : TYPE_RGBA[cells[row + (x >> shift)]];
        }
        ctx.putImageData(img, 0, 0);
        const sel = job.selected !== undefined ? pixelOf(job.view, job.selected) : undefined;
        if (sel) {
          ctx.strokeStyle = '#000';
          ctx.lineWidth = 2;
          const s = Math.max(g.cellPx, 6);
          ctx.strokeRect(sel.x - s / 2 - 1, sel.y - s / 2 - 1, s + 2, s + 2);
        }
      }
      const ms = performance.now() - t;
      frameTimes.push(ms);
      workerTimes.push(workerMs);
      if (workerTimes.length > 200) workerTimes.shift();
      if (frameTimes.length > 200) frameTimes.shift();
      setLastMs(ms);
      onPainted?.();
    } finally {
      busy.current = false;
      if (want.current) void paint();
      else canvas.current?.setAttribute('data-painted', String(version));
    }
  };

  useEffect(() => {
    want.current = { view, version, selected };
    canvas.current?.removeAttribute('data-painted');
    void paint();
  }, [view.z, view.start, version, selected, maxPfn]);

  const pos = (e: MouseEvent) => {
    const r = canvas.current!.getBoundingClientRect();
    return { x: ((e.clientX - r.left) * MAP_W) / r.width, y: ((e.clientY - r.top) * MAP_H) / r.height };
  };

  const onWheel = (e: WheelEvent) => {
    e.preventDefault();
    const { x, y } = pos(e);
    const at = pfnAt(view, x, y);
    const z = Math.max(Z_MIN, Math.min(zFit(maxPfn), view.z + (e.deltaY > 0 ? 1 : -1)));
    if (z === view.z) return;
    const g = geometry({ z, start: 0 });
    const offset = (Math.floor(y / g.cellPx) * g.cols + Math.floor(x / g.cellPx)) * g.fpc;
    onView(clampView({ z, start: at - offset }, maxPfn));
  };

  const onMove = async (e: MouseEvent) => {
    const { x, y } = pos(e);
    const d = drag.current;
    if (d) {
      const g = geometry(view);
      const dc = Math.round((d.x - x) / g.cellPx) + Math.round((d.y - y) / g.cellPx) * g.cols;
      if (dc !== 0) d.moved = true;
      onView(clampView({ z: view.z, start: d.start + dc * g.fpc }, maxPfn));
      return;
    }
    const pfn = pfnAt(view, x, y);
    if (pfn >= maxPfn) return setHover('');
    try {
      const i = await client.call('info', { pfn });
      const range = view.z > 0 ? ` (cell of ${2 ** view.z} frames from here)` : '';
      setHover(`pfn 0x${i.pfn.toString(16)} · ${i.type} · order ${i.order}${range}`);
    } catch (err) {
      setHover(`pfn 0x${pfn.toString(16)}: ${(err as Error).message}`);
    }
  };

  return (
    <div class="heatmap">
      <div class="map-bar">
        <span>
          zoom {view.z < 0 ? `${2 ** -view.z} px per frame` : `${2 ** view.z} frames per px`} · from pfn 0x
          {view.start.toString(16)}
        </span>
        <button type="button" onClick={() => onView(clampView({ z: view.z - 1, start: view.start }, maxPfn))}>
          +
        </button>
        <button type="button" onClick={() => onView(clampView({ z: view.z + 1, start: view.start }, maxPfn))}>
          −
        </button>
        <button type="button" onClick={() => onView({ z: zFit(maxPfn), start: 0 })}>
          whole machine
        </button>
        <span class="perf" data-testid="frame-ms">
          frame {lastMs.toFixed(1)} ms
        </span>
      </div>
      <canvas
        ref={canvas}
        width={MAP_W}
        height={MAP_H}
        data-testid="heatmap"
        onWheel={onWheel}
        onMouseDown={(e) => {
          const { x, y } = pos(e);
          drag.current = { x, y, start: view.start, moved: false };
        }}
        onMouseUp={(e) => {
          const d = drag.current;
          drag.current = null;
          if (d && !d.moved) {
            const { x, y } = pos(e);
            const pfn = pfnAt(view, x, y);
            if (pfn < maxPfn) onSelect(pfn);
          }
        }}
        onMouseLeave={() => {
          drag.current = null;
          setHover('');
        }}
        onMouseMove={onMove}
      />
      <div class="hover" data-testid="hover">
        {hover || 'hover a frame; click it for dump_page(); wheel to zoom, drag to pan'}
      </div>
      <ul class="legend">
        {TYPE_NAMES.map((n, i) =>
          i === 0 ? null : (
            <li key={n}>
              <span
                class="swatch"
                style={{ background: TYPE_COLORS[i], borderColor: i === HOLE ? '#999' : TYPE_COLORS[i] }}
              />
              {n}
            </li>
          ),
        )}
      </ul>
    </div>
  );
}
