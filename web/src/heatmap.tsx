/**
 * The memmap heatmap: every frame of the machine, row after row, coloured by type. Zoom `z`:
 * below 0 a frame is a 2^-z pixel square; from 0 up a pixel is a cell of 2^z frames, drawn as its
 * most common used type. The worker computes the cells; this paints them and handles wheel zoom
 * around the cursor, drag to pan, hover and click.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import type { Palette } from './colors.js';

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

/** What the map shows: the scenario's machine or a capture, through the worker. */
export interface MapSource {
  maxPfn: number;
  palette: Palette;
  cells(start: number, fpc: number, count: number): Promise<{ cells: Uint8Array; ms: number }>;
  /** The hover line of one frame. */
  describe(pfn: number): Promise<string>;
  /** What the line under the map says before anything is hovered. */
  hint: string;
}

interface Props {
  source: MapSource;
  /** Changes whenever the machine state does (a new step). */
  version: number;
  view: MapView;
  onView: (v: MapView) => void;
  selected?: number;
  onSelect: (pfn: number) => void;
  /** Frames to outline (those a hovered or selected frame's or process's mappings share). */
  marks?: readonly number[];
  /** Those of `marks` another process maps too. */
  shared?: readonly number[];
  /** The frame under the pointer, or undefined when it leaves the map. */
  onHover?: (pfn: number | undefined) => void;
  /** Called after each paint. */
  onPainted?: () => void;
}

/** Frame times of the heatmap (request to painted), for the performance readout and the tests. */
export const frameTimes: number[] = [];
/** The worker's part of each frame (computing the cells). */
export const workerTimes: number[] = [];

export function Heatmap({
  source,
  version,
  view,
  onView,
  selected,
  onSelect,
  marks,
  shared,
  onHover,
  onPainted,
}: Props) {
  const { maxPfn, palette } = source;
  const canvas = useRef<HTMLCanvasElement>(null);
  const busy = useRef(false);
  const want = useRef<{
    view: MapView;
    version: number;
    selected?: number;
    marks?: readonly number[];
    shared?: readonly number[];
  } | null>(null);
  const hovered = useRef<number | undefined>(undefined);
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
      const { cells, ms: workerMs } = await source.cells(job.view.start, g.fpc, g.cols * g.rows);
      const rgba = palette.rgba;
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
            px[line + x] = (x & gapMask) === gapMask ? 0xffffffff : rgba[cells[row + (x >> shift)]];
        }
        ctx.putImageData(img, 0, 0);
        drawMarks(ctx, job.view, job.marks ?? [], job.shared ?? []);
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
    want.current = { view, version, selected, marks, shared };
    canvas.current?.removeAttribute('data-painted');
    void paint();
  }, [view.z, view.start, version, selected, maxPfn, source, marks, shared]);

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
    if (pfn >= maxPfn) {
      setHover('');
      return hoverAt(undefined);
    }
    if (pfn === hovered.current) return;
    hoverAt(pfn);
    try {
      const range = view.z > 0 ? ` (cell of ${2 ** view.z} frames from here)` : '';
      setHover(`${await source.describe(pfn)}${range}`);
    } catch (err) {
      setHover(`pfn 0x${pfn.toString(16)}: ${(err as Error).message}`);
    }
  };
  const hoverAt = (pfn: number | undefined) => {
    if (pfn === hovered.current) return;
    hovered.current = pfn;
    onHover?.(pfn);
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
          hoverAt(undefined);
        }}
        onMouseMove={onMove}
      />
      <div class="hover" data-testid="hover">
        {hover || source.hint}
      </div>
      <ul class="legend">
        {palette.legend.map((i) => (
          <li key={palette.names[i]}>
            <span
              class="swatch"
              style={{
                background: palette.colors[i],
                borderColor: palette.colors[i] === '#ffffff' ? '#999' : palette.colors[i],
              }}
            />
            {palette.names[i]}
          </li>
        ))}
      </ul>
    </div>
  );
}

/**
 * Outline each marked frame's cell: a white ring under a coloured one, so it shows over any
 * type's colour — SHARED_COLOR for a frame another process maps too, MARK_COLOR otherwise; all
 * white rings first, so a neighbour's never covers a coloured ring. Rings sit on whole pixels (a
 * 2-pixel line centred on an integer), so their colour is exact.
 */
function drawMarks(
  ctx: CanvasRenderingContext2D,
  v: MapView,
  marks: readonly number[],
  shared: readonly number[],
): void {
  if (marks.length === 0) return;
  const g = geometry(v);
  const half = Math.max(g.cellPx, 8) / 2 + 2;
  const side = 2 * half;
  const isShared = new Set(shared);
  const rings: { x: number; y: number; shared: boolean }[] = [];
  for (const pfn of marks) {
    const at = pixelOf(v, pfn);
    if (at) rings.push({ x: Math.round(at.x - half), y: Math.round(at.y - half), shared: isShared.has(pfn) });
  }
  ctx.lineWidth = 4;
  ctx.strokeStyle = '#ffffff';
  for (const r of rings) ctx.strokeRect(r.x, r.y, side, side);
  ctx.lineWidth = 2;
  for (const r of rings) {
    ctx.strokeStyle = r.shared ? SHARED_COLOR : MARK_COLOR;
    ctx.strokeRect(r.x, r.y, side, side);
  }
}

/** The outline of a selected process's frames on the map, and of a frame's mappings under Processes. */
export const MARK_COLOR = '#00b3ff';
/** The outline of a selected process's frames that another process maps too. */
export const SHARED_COLOR = '#ff2d9b';
