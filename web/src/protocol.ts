/**
 * The messages between the page and the model's Web Worker. Every request carries an id; the
 * worker answers `{ id, result }` or `{ id, error }`. Only plain data crosses: the model stays in
 * the worker, and the heatmap gets one byte per cell, never an object per frame.
 */

import type { DevmemCost } from '../../src/designs/devmem.js';
import type { LayoutAccounting } from '../../src/designs/layout.js';
import type { CompareResult } from '../../src/scenario/compare.js';
import type { CaptureSummary } from './capture.js';

/** Display types: the memdesc types (MT, 0..13) and a hole (no RAM: no memmap covers it). */
export const HOLE = 14;

export interface ProblemText {
  line: number;
  col: number;
  /** `file:line:col path: message`, as the CLI prints it. */
  text: string;
}

export interface StepText {
  n: number;
  op: string;
  line: number;
  status: 'ok' | 'expected-error' | 'failed';
  summary: string;
  /** Expectation failures of this step. */
  failures: string[];
}

export interface Loaded {
  ok: boolean;
  errors: ProblemText[];
  name: string;
  steps: StepText[];
  exitCode: number;
  /** Frames the memmap covers (pfn 0..maxPfn-1). */
  maxPfn: number;
  /** Where the sections with a memmap end: the first view shows the machine up to there. */
  usedEnd: number;
  memory: string;
  /** Wall time of the full run in the worker, ms. */
  runMs: number;
}

export interface VmaBar {
  start: number;
  end: number;
  name: string;
  flags: string;
}

export interface ProcBar {
  pid: number;
  name: string;
  /** The scenario label naming the process (explain --proc), if any. */
  label?: string;
  alive: boolean;
  vmas: VmaBar[];
}

/** The Designs view: both layouts at the step shown, compare over every pin design, devmem. */
export interface DesignsData {
  step: number;
  layouts: LayoutAccounting[];
  compare: CompareResult;
  deviceBytes: number;
  devmem: DevmemCost[];
  ms: number;
}

/** One (process, address) mapping a frame. */
export interface Mapping {
  pid: number;
  addr: number;
  level: 'pte' | 'pmd';
}

/** The frames a process maps, and those another process maps too. */
export interface ProcFrames {
  pid: number;
  frames: number[];
  shared: number[];
  /** More than PROC_FRAMES_MAX frames: only the first are listed. */
  truncated: boolean;
}

export interface Requests {
  parse: { req: { text: string; file: string }; res: ProblemText[] };
  load: { req: { text: string; file: string }; res: Loaded };
  goto: { req: { step: number }; res: { step: number; ms: number } };
  cells: { req: { start: number; fpc: number; count: number }; res: { cells: Uint8Array; ms: number } };
  info: { req: { pfn: number }; res: { pfn: number; type: string; order: number } };
  dump: { req: { pfn: number }; res: string };
  procs: { req: Record<string, never>; res: ProcBar[] };
  walk: { req: { pid: number; addr: number }; res: string };
  mappings: { req: { pfn: number }; res: Mapping[] };
  procFrames: { req: { pid: number }; res: ProcFrames };
  designs: { req: { deviceBytes: number }; res: DesignsData };
  /** Read a /proc/kpageflags capture (raw, gzip or zstd), with its /proc/iomem if given. */
  capture: { req: { file: File; iomem?: File }; res: CaptureSummary & { cellsMs: number } };
  captureCells: {
    req: { start: number; fpc: number; count: number };
    res: { cells: Uint8Array; ms: number };
  };
  captureInfo: { req: { pfn: number }; res: string };
  capturePageTypes: { req: Record<string, never>; res: string };
}

export type Kind = keyof Requests;
export type Request = { [K in Kind]: { id: number; kind: K; args: Requests[K]['req'] } }[Kind];
export type Response = { id: number; result?: unknown; error?: string };
