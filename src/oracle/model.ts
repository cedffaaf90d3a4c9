/**
 * The model's side: run the scenario step by step and describe every observed page in the
 * kernel's terms — its frame as the PFN, the zero pages by their flags, page_mapcount() as
 * kpagecount, PG_anon_exclusive as kpageflags bit 34, PG_ksm as KPF_KSM — plus what each step returned.
 */
import type { PinHandle } from '../machine/ids.js';
import type { Machine } from '../machine/machine.js';
import { PG } from '../mm/folio.js';
import { PAGE_SIZE } from '../mm/types.js';
import type { Scenario } from '../scenario/parse.js';
import { runScenario } from '../scenario/run.js';
import { observedProcs } from './probe.js';
import type { OraclePlan, PlannedStep } from './translate.js';
import type { Counters, PageObs, SideStep } from './types.js';

const ABSENT: PageObs = { present: false, excl: false, pfn: 0, count: 0, flags: [] };

function pageObs(m: Machine, pid: number, addr: number): PageObs {
  const o = m.observe(pid, addr);
  if (!o) {
    // pagemap's PM_SWAP: the frame field is the swap slot.
    const swap = m.swapEntry(pid, addr);
    const u = m.uffdWpAt(pid, addr);
    // pagemap's PM_UFFD_WP on a swap entry or a uffd-wp marker (a swap entry of the marker type).
    if (u.marker) return { ...ABSENT, flags: ['marker', ...(u.uffdWp ? ['uffd_wp'] : [])] };
    return swap ? { ...ABSENT, pfn: swap.offset, flags: ['swap', ...(u.uffdWp ? ['uffd_wp'] : [])] } : ABSENT;
  }
  const p = m.page(o.pfn);
  const zero = p.type === 'zero';
  const flags: string[] = [];
  if (p.type === 'anon') flags.push('anon');
  if (p.flags & PG.ksm) flags.push('ksm');
  if (zero) flags.push('zero');
  if (p.order > 0) flags.push('thp', o.pfn === p.head ? 'head' : 'tail');
  // kpageflags reports the folio's flags for every page of it, so a subpage shows the head's PG_anon_exclusive.
  const exclusive = p.order > 0 ? m.page(p.head).anonExclusive : p.anonExclusive;
  if (p.type === 'anon' && exclusive) flags.push('anonexcl');
  if (m.uffdWpAt(pid, addr).uffdWp) flags.push('uffd_wp');
  return {
    present: true,
    byte: o.byte,
    // pagemap's PM_MMAP_EXCLUSIVE: a normal page mapped once (the zero pages are not normal pages).
    excl: !zero && p.mapcount === 1,
    pfn: o.pfn,
    count: zero ? 0 : p.mapcount,
    flags,
    ...(p.order > 0 ? { folio: { sub: o.pfn - p.head, nr: 2 ** p.order } } : {}),
  };
}

/** Signals each process has taken so far. */
function signalCounts(m: Machine): Map<number, number> {
  return new Map(m.processes().map((p) => [p.pid, p.signals.length]));
}

/** Faults waiting on each live process's userfaultfd. */
function waitingCounts(m: Machine): Map<number, number> {
  return new Map(m.processes().map((p) => [p.pid, p.alive ? (m.uffdState(p.pid)?.waiting ?? 0) : 0]));
}

/** Run the model through `plan`, observing after each planned step; `override` changes the machine. */
export function runModel(
  s: Scenario,
  plan: OraclePlan,
  override: Partial<Scenario['machine']> = {},
): SideStep[] {
  const scenario = { ...s, machine: { ...s.machine, ...override } };
  let signals = new Map<number, number>();
  let waits = new Map<number, number>();
  return plan.steps.map((ps) => {
    // Each prefix runs on a fresh machine: the runner has no hook between steps, and it is cheap.
    const r = runScenario(scenario, { until: ps.step.n });
    const m = r.machine;
    if (!m || r.stoppedAt !== undefined)
      return { outcome: `stopped: ${r.failures[0]?.message ?? 'bad input'}`, regions: [] };
    const outcome = stepOutcome(ps, m, r.labels.num.bind(r.labels), signals, waits);
    signals = signalCounts(m);
    waits = waitingCounts(m);
    const regions = ps.observe.map((o) => {
      const pid = r.labels.num(o.proc);
      const start = r.labels.num(o.region);
      const pages = Array.from({ length: o.pages }, (_, i) => pageObs(m, pid, start + i * PAGE_SIZE));
      return { proc: o.proc, region: o.region, pages };
    });
    return { outcome, regions, counters: modelCounters(m, ps, r.labels.num.bind(r.labels)) };
  });
}

/** The counters the probe reads, as the model keeps them (kB, and machine-wide event counts). */
function modelCounters(m: Machine, ps: PlannedStep, num: (label: string) => number): Counters {
  const kb = PAGE_SIZE / 1024;
  const procs: Counters['procs'] = {};
  for (const proc of observedProcs(ps)) {
    const p = m.process(num(proc));
    procs[proc] = { Anonymous: p.rss.anon * kb, AnonHugePages: anonHugePages(m, p.pid, p.vmas) };
  }
  const v = m.vmstat();
  const global = {
    nr_foll_pin_acquired: v.nr_foll_pin_acquired ?? 0,
    nr_foll_pin_released: v.nr_foll_pin_released ?? 0,
    thp_fault_alloc: v.thp_fault_alloc ?? 0,
    thp_split_pmd: v.thp_split_pmd ?? 0,
    thp_collapse_alloc: v.thp_collapse_alloc ?? 0,
  };
  return { procs, global };
}

/** smaps_rollup's AnonHugePages: anonymous THPs mapped by a PMD, in kB. */
function anonHugePages(
  m: Machine,
  pid: number,
  vmas: { start: number; end: number; file?: string }[],
): number {
  const HPAGE = 2 << 20;
  // By PMD, not by VMA: neighbours Linux merged into one VMA stay apart in the model (after an
  // madvise and its undo), and a THP collapsed across them is one PMD mapping all the same.
  const seen = new Set<number>();
  let kb = 0;
  for (const v of vmas) {
    for (let a = Math.floor(v.start / HPAGE) * HPAGE; a < v.end; a += HPAGE) {
      if (seen.has(a)) continue;
      seen.add(a);
      const t = m.translate(pid, a);
      if (t?.level === 'pmd' && m.page(t.pfn).type === 'anon') kb += HPAGE / 1024;
    }
  }
  return kb;
}

function stepOutcome(
  ps: PlannedStep,
  m: Machine,
  num: (label: string) => number,
  before: Map<number, number>,
  waits: Map<number, number>,
): string {
  if (ps.step.expectError) return `err ${ps.step.expectError}`;
  if (ps.dma) {
    return `data ${hexOf(m.dmaRead(num(ps.dma.label) as PinHandle, ps.dma.offset, ps.dma.len))}`;
  }
  if (ps.access) {
    const p = m.process(num(ps.access));
    const fresh = p.signals.slice(before.get(p.pid) ?? 0);
    if (fresh.length > 0) return fresh[0].signal;
    if ((m.uffdState(p.pid)?.waiting ?? 0) > (waits.get(p.pid) ?? 0)) return 'userfault';
  }
  if (ps.uffdRead) {
    const r = m.uffdState(num(ps.uffdRead))?.lastRead;
    return `uffd ${r?.messages ?? 0} ${r?.forks ?? 0}`;
  }
  if (ps.loaded) return `data ${hexOf(loadedBytes(m, num, ps.loaded))}`;
  return 'ok';
}

const hexOf = (bytes: Uint8Array) => [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');

/** What a load that raised no signal saw, read from the frames it mapped (no fault, no state change). */
function loadedBytes(
  m: Machine,
  num: (label: string) => number,
  l: NonNullable<PlannedStep['loaded']>,
): Uint8Array {
  const pid = num(l.proc);
  const out = new Uint8Array(l.len);
  for (let done = 0; done < l.len; ) {
    const addr = num(l.region) + l.offset + done;
    const off = addr % PAGE_SIZE;
    const n = Math.min(l.len - done, PAGE_SIZE - off);
    const t = m.translate(pid, addr - off);
    if (t) out.set(m.physRead(t.pfn, off, n), done);
    done += n;
  }
  return out;
}
