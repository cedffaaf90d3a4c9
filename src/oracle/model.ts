/**
 * The model's side: run the scenario step by step and describe every observed page in the
 * kernel's terms — its frame as the PFN, the zero pages by their flags, page_mapcount() as
 * kpagecount, PG_anon_exclusive as kpageflags bit 34, PG_ksm as KPF_KSM — plus what each step returned.
 */
import type { Machine } from '../machine/machine.js';
import { PG } from '../mm/folio.js';
import { PAGE_SIZE } from '../mm/types.js';
import type { Scenario } from '../scenario/parse.js';
import { runScenario } from '../scenario/run.js';
import type { OraclePlan, PlannedStep } from './translate.js';
import type { PageObs, SideStep } from './types.js';

const ABSENT: PageObs = { present: false, excl: false, pfn: 0, count: 0, flags: [] };

function pageObs(m: Machine, pid: number, addr: number): PageObs {
  const o = m.observe(pid, addr);
  if (!o) {
    // pagemap's PM_SWAP: the frame field is the swap slot.
    const swap = m.swapEntry(pid, addr);
    return swap ? { ...ABSENT, pfn: swap.offset, flags: ['swap'] } : ABSENT;
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
  return {
    present: true,
    byte: o.byte,
    // pagemap's PM_MMAP_EXCLUSIVE: a normal page mapped once (the zero pages are not normal pages).
    excl: !zero && p.mapcount === 1,
    pfn: o.pfn,
    count: zero ? 0 : p.mapcount,
    flags,
  };
}

/** Signals each process has taken so far. */
function signalCounts(m: Machine): Map<number, number> {
  return new Map(m.processes().map((p) => [p.pid, p.signals.length]));
}

/** Run the model through `plan`, observing after each planned step; `override` changes the machine. */
export function runModel(
  s: Scenario,
  plan: OraclePlan,
  override: Partial<Scenario['machine']> = {},
): SideStep[] {
  const scenario = { ...s, machine: { ...s.machine, ...override } };
  let signals = new Map<number, number>();
  return plan.steps.map((ps) => {
    // Each prefix runs on a fresh machine: the runner has no hook between steps, and it is cheap.
    const r = runScenario(scenario, { until: ps.step.n });
    const m = r.machine;
    if (!m || r.stoppedAt !== undefined)
      return { outcome: `stopped: ${r.failures[0]?.message ?? 'bad input'}`, regions: [] };
    const outcome = stepOutcome(ps, m, r.labels.num.bind(r.labels), signals);
    signals = signalCounts(m);
    const regions = ps.observe.map((o) => {
      const pid = r.labels.num(o.proc);
      const start = r.labels.num(o.region);
      const pages = Array.from({ length: o.pages }, (_, i) => pageObs(m, pid, start + i * PAGE_SIZE));
      return { proc: o.proc, region: o.region, pages };
    });
    return { outcome, regions };
  });
}

function stepOutcome(
  ps: PlannedStep,
  m: Machine,
  num: (label: string) => number,
  before: Map<number, number>,
): string {
  if (ps.step.expectError) return `err ${ps.step.expectError}`;
  if (ps.dma) {
    const bytes = m.dmaRead(num(ps.dma.label), ps.dma.offset, ps.dma.len);
    return `data ${[...bytes].map((b) => b.toString(16).padStart(2, '0')).join('')}`;
  }
  if (ps.access) {
    const p = m.process(num(ps.access));
    const fresh = p.signals.slice(before.get(p.pid) ?? 0);
    if (fresh.length > 0) return fresh[0].signal;
  }
  return 'ok';
}
