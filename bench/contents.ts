/**
 * Host memory of page contents (Performance issue, Memory): the scenario that touches 8 GiB — 32
 * mappings of 256 MiB, each written whole with one byte value — run with contents on through
 * parseScenario + runScenario, as `pagelab run` would, with its host memory and time; then a fork
 * whose child rewrites 1 GiB, and a mapping whose every page holds its own short pattern. Each
 * row reports host bytes per written page (the process's RSS growth after a full GC, over the
 * pages written). Target: the 8 GiB touch under 1 GiB of host memory.
 */
import { Machine } from '../src/index.js';
import { parseScenario } from '../src/scenario/parse.js';
import { runScenario } from '../src/scenario/run.js';
import { fmtBytes, gc, progress, QUICK, type SuiteResult } from './util.js';

const GIB = 2 ** 30;
const PAGE = 4096;
const TARGET_BYTES = GIB;

/** The scenario: `n` mappings of 256 MiB, each written with its own byte value. */
function touchScenario(n: number): string {
  const steps = ['  - { op: spawn, name: p }'];
  for (let i = 0; i < n; i++) {
    steps.push(`  - { op: mmap, proc: p, name: r${i}, size: 256M, prot: rw, flags: [private, anonymous] }`);
    steps.push(`  - { op: write, proc: p, addr: r${i}, len: 256M, byte: ${(i % 255) + 1} }`);
  }
  const machine = `machine: { memory: ${Math.max(1, (n * 256) / 1024 + 2)}G, contents: true, check: off }`;
  return ['name: touch', machine, 'steps:', ...steps, ''].join('\n');
}

function rss(): number {
  gc();
  return process.memoryUsage().rss;
}

interface Row {
  name: string;
  pages: number;
  bytes: number;
  ms: number;
}

function measure(name: string, pages: number, fn: () => unknown): Row {
  const before = rss();
  const t = performance.now();
  const keep = fn();
  const ms = performance.now() - t;
  const bytes = rss() - before;
  // Held until measured, so the collection cannot take the machine before the RSS is read.
  void keep;
  return { name, pages, bytes, ms };
}

export function runContents(): SuiteResult {
  const mappings = QUICK ? 4 : 32;
  progress(`contents: touching ${mappings / 4} GiB through a scenario`);
  const touch = measure(
    `scenario: ${mappings / 4} GiB written, one byte value per mapping`,
    (mappings * 2 ** 28) / PAGE,
    () => {
      const parsed = parseScenario(touchScenario(mappings), 'touch.yaml');
      if (!parsed.ok) throw new Error(`touch scenario: ${parsed.errors[0]?.message}`);
      const r = runScenario(parsed.scenario);
      if (r.exitCode !== 0) throw new Error(`touch scenario failed: ${r.failures[0]?.message}`);
      return r;
    },
  );
  progress('contents: fork, and the child rewrites 1 GiB');
  const m = new Machine({ memory: '4G', contents: true, check: 'off' });
  const p = m.spawn('p');
  const len = (QUICK ? 0.25 : 1) * GIB;
  const a = m.mmap(p, { length: len, prot: 'rw', flags: ['private', 'anonymous'] });
  m.write(p, a, { byte: 7, len });
  const fork = measure('fork + child rewrites every page with a new value', len / PAGE, () => {
    const c = m.fork(p);
    m.write(c, a, { byte: 9, len });
    return c;
  });
  progress('contents: a distinct short pattern on every page');
  const patterned = measure('every page its own 8-byte pattern', len / PAGE / 4, () => {
    const q = m.spawn('q');
    const b = m.mmap(q, { length: len / 4, prot: 'rw', flags: ['private', 'anonymous'] });
    const pat = new Uint8Array(8);
    for (let i = 0; i < len / 4 / PAGE; i++) {
      new DataView(pat.buffer).setFloat64(0, i + 1);
      m.write(q, b + i * PAGE, pat);
    }
    return q;
  });
  const rows = [touch, fork, patterned];
  return {
    tables: [
      {
        title: 'Host memory of page contents (contents on)',
        columns: ['work', 'pages written', 'host memory', 'bytes/page', 'time'],
        rows: rows.map((r) => [
          r.name,
          r.pages.toLocaleString('en-US'),
          fmtBytes(r.bytes),
          (r.bytes / r.pages).toFixed(1),
          `${(r.ms / 1000).toFixed(2)} s`,
        ]),
        notes: [
          'host memory: growth of the process RSS after a full GC; descriptors and page tables included',
          'a page of one byte value costs no content slot; a few short runs a 64-byte one; copy-on-write shares until written',
        ],
      },
    ],
    targets: [
      {
        name: `${mappings / 4} GiB-touch scenario, host memory`,
        want: `< ${fmtBytes(TARGET_BYTES * (mappings / 32))}`,
        got: fmtBytes(touch.bytes),
        pass: touch.bytes < TARGET_BYTES * (mappings / 32),
      },
    ],
  };
}
