/**
 * Page-allocator suite: alloc+free pairs per second through the public API, order 0 and order 9.
 *
 * `allocPages(o)` + `freePages(pfn, o)` is alloc_pages() + __free_pages(); `folioAlloc(o)` +
 * `folioPut(h)` is folio_alloc() + folio_put(). All run at check level 'off' on a *warm* 64 GiB
 * machine: a few hundred thousand pages and some THPs allocated, a pseudo-random half freed
 * again, so every free list holds blocks the way a machine that has been running does. A pair
 * then takes the head of its order's list and puts it back. The rows marked "per-CPU lists" run
 * a machine with the `pcp` option, as Linux runs: a pair then takes the hot page off the CPU's
 * list and parks it there again, and the free lists see only batches. The cold row shows the opposite
 * extreme: an empty machine, where every pair splits a 4 MiB block ten times, merges it back and
 * populates and drops a section memmap.
 */

import { Bench } from 'tinybench';
import { Machine } from '../src/index.js';
import type { FolioId } from '../src/machine/ids.js';
import type { VmEvent } from '../src/mm/vmstat.js';
import {
  benchMachine,
  fmtRate,
  fmtRatio,
  p50,
  prng,
  progress,
  QUICK,
  type SuiteResult,
  samples,
  spread,
  type Table,
  type Target,
} from './util.js';

const MEMORY = '64G';
/** Pairs per tinybench iteration (one sample), so the timer's resolution does not matter. */
const PAIRS_0 = 20_000;
const PAIRS_9 = 2_000;
const PAIRS_COLD = 2_000;
/** Blocks held at once by the batch pattern. */
const BATCH = 4096;
/** The Performance issue's bar (the Foundation issue asked for 5 M). */
const TARGET_ORDER0 = 10e6;

/** A 64 GiB machine with fragmented free lists in every migratetype the tasks use. */
function warmMachine(contents = false, pcp = false): Machine {
  const m = pcp
    ? new Machine({ memory: MEMORY, check: 'off', contents, pcp })
    : benchMachine(MEMORY, contents);
  const rnd = prng(0x5eed);
  const pages: number[] = [];
  const folios: FolioId[] = [];
  const thps: FolioId[] = [];
  const n = QUICK ? 16_384 : 65_536;
  for (let i = 0; i < n; i++) {
    pages.push(m.allocPages(0));
    folios.push(m.folioAlloc(0));
    folios.push(m.folioAlloc(0, { kind: 'file' }));
    if (i % 64 === 0) thps.push(m.folioAlloc(9));
  }
  for (const p of pages) if (rnd() < 0.5) m.freePages(p, 0);
  for (const h of folios) if (rnd() < 0.5) m.folioPut(h);
  for (const h of thps) if (rnd() < 0.5) m.folioPut(h);
  return m;
}

/** Free memory in KiB, the per-CPU lists included (a pair may leave a refill's batch there). */
const allFreeKb = (m: Machine): number =>
  m.meminfo().MemFree + m.zoneinfo().reduce((n, z) => n + z.pcp.count * 4, 0);

interface Case {
  name: string;
  /** alloc+free pairs one call of `fn` performs. */
  pairs: number;
  fn: () => void;
  machine: Machine;
}

function cases(warm: Machine, cold: Machine, withContents: Machine, pcp: Machine): Case[] {
  const pfns = new Float64Array(BATCH);
  const handles = new Float64Array(BATCH);
  const m = warm;
  return [
    {
      name: 'allocPages(0) + freePages',
      pairs: PAIRS_0,
      machine: m,
      fn: () => {
        for (let i = 0; i < PAIRS_0; i++) m.freePages(m.allocPages(0), 0);
      },
    },
    {
      name: 'allocPages(0) + freePages, per-CPU lists (pcp: true)',
      pairs: PAIRS_0,
      machine: pcp,
      fn: () => {
        for (let i = 0; i < PAIRS_0; i++) pcp.freePages(pcp.allocPages(0), 0);
      },
    },
    {
      name: 'folioAlloc(0) + folioPut, per-CPU lists (pcp: true)',
      pairs: PAIRS_0,
      machine: pcp,
      fn: () => {
        for (let i = 0; i < PAIRS_0; i++) pcp.folioPut(pcp.folioAlloc(0));
      },
    },
    {
      name: 'folioAlloc(0) + folioPut',
      pairs: PAIRS_0,
      machine: m,
      fn: () => {
        for (let i = 0; i < PAIRS_0; i++) m.folioPut(m.folioAlloc(0));
      },
    },
    {
      name: 'allocPages(9) + freePages',
      pairs: PAIRS_9,
      machine: m,
      fn: () => {
        for (let i = 0; i < PAIRS_9; i++) m.freePages(m.allocPages(9), 9);
      },
    },
    {
      name: 'folioAlloc(9) + folioPut',
      pairs: PAIRS_9,
      machine: m,
      fn: () => {
        for (let i = 0; i < PAIRS_9; i++) m.folioPut(m.folioAlloc(9));
      },
    },
    {
      name: `batch: allocPages(0) x${BATCH}, then freePages x${BATCH}`,
      pairs: BATCH,
      machine: m,
      fn: () => {
        for (let i = 0; i < BATCH; i++) pfns[i] = m.allocPages(0);
        for (let i = 0; i < BATCH; i++) m.freePages(pfns[i], 0);
      },
    },
    {
      name: `batch: folioAlloc(0) x${BATCH}, then folioPut x${BATCH}`,
      pairs: BATCH,
      machine: m,
      fn: () => {
        for (let i = 0; i < BATCH; i++) handles[i] = m.folioAlloc(0);
        for (let i = 0; i < BATCH; i++) m.folioPut(handles[i] as FolioId);
      },
    },
    {
      name: 'allocPages(0) + freePages, page contents on',
      pairs: PAIRS_0,
      machine: withContents,
      fn: () => {
        for (let i = 0; i < PAIRS_0; i++) withContents.freePages(withContents.allocPages(0), 0);
      },
    },
    {
      name: 'cold: allocPages(0) + freePages on an empty machine',
      pairs: PAIRS_COLD,
      machine: cold,
      fn: () => {
        for (let i = 0; i < PAIRS_COLD; i++) cold.freePages(cold.allocPages(0), 0);
      },
    },
  ];
}

const PER_PAIR: VmEvent[] = ['buddy_split', 'section_populate'];

/** Events per pair of one extra, untimed call (how much work a pair does). */
function eventsPerPair(c: Case): number[] {
  const before = PER_PAIR.map((e) => c.machine.stat.events[e]);
  c.fn();
  return PER_PAIR.map((e, i) => (c.machine.stat.events[e] - before[i]) / c.pairs);
}

export function runPageAlloc(): SuiteResult {
  progress(`page_alloc: warming a ${MEMORY} machine`);
  const warm = warmMachine();
  const withContents = warmMachine(true);
  const cold = benchMachine(MEMORY);
  const pcp = warmMachine(false, true);
  const machines = [warm, withContents, cold, pcp];
  const freeBefore = machines.map(allFreeKb);
  const list = cases(warm, cold, withContents, pcp);
  const bench = new Bench({
    name: 'page_alloc',
    time: QUICK ? 200 : 1500,
    warmupTime: QUICK ? 50 : 300,
    iterations: 10,
    throws: true,
  });
  for (const c of list) bench.add(c.name, c.fn);
  bench.addEventListener('cycle', (ev) => progress(`page_alloc: ${ev.task?.name} done`));
  progress(`page_alloc: ${list.length} tasks, ~${QUICK ? 0.25 : 1.8} s each`);
  bench.runSync();

  const rates = list.map((c) => c.pairs / (p50(bench.getTask(c.name)) / 1000));
  const perPair = list.map(eventsPerPair);
  // The pairs leave nothing behind: every task frees what it allocates.
  machines.forEach((m, i) => {
    m.check('cheap');
    if (allFreeKb(m) !== freeBefore[i])
      throw new Error('page_alloc bench leaked pages: MemFree (per-CPU lists included) changed');
  });

  const table: Table = {
    title: `Page allocator: alloc+free pairs per second (${MEMORY} machine, check 'off', median of samples)`,
    columns: [
      'pattern',
      'samples',
      'pairs/s p50',
      'MAD',
      'ns/pair',
      'vs first row',
      'splits/pair',
      'populates/pair',
    ],
    rows: list.map((c, i) => [
      c.name,
      String(samples(bench.getTask(c.name))),
      fmtRate(rates[i]),
      spread(bench.getTask(c.name)),
      (1e9 / rates[i]).toFixed(0),
      fmtRatio(rates[i] / rates[0]),
      perPair[i][0].toFixed(2),
      perPair[i][1].toFixed(2),
    ]),
    notes: [
      'page contents off (DESIGN.md §3) except in the row that says otherwise. MAD = median absolute deviation of the samples.',
      `one sample = ${PAIRS_0} pairs (order 0), ${PAIRS_9} (order 9), ${BATCH} (batch), ${PAIRS_COLD} (cold); pairs/s = pairs / median sample time.`,
      'warm machine: 64k driver pages, 128k anon/file folios and 1k THPs allocated, a random half freed again.',
    ],
  };
  // The bar is for the allocator as Linux runs it: with the per-CPU lists.
  const iPcp = list.findIndex((c) => c.machine === pcp);
  const targets: Target[] = [
    {
      name: 'order-0 alloc+free pairs, public API (allocPages + freePages, warm, per-CPU lists on)',
      want: `>= ${fmtRate(TARGET_ORDER0)}`,
      got: fmtRate(rates[iPcp]),
      pass: rates[iPcp] >= TARGET_ORDER0,
    },
  ];
  return { tables: [table], targets };
}
