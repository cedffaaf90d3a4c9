/**
 * Normalise both sides and compare them page by page. Frame numbers differ between the kernel and
 * the model and from run to run; what is stable is which pages share a frame at a step (equality
 * classes, named in observation order), which frames belong to one THP (class+subpage), and
 * whether a page still maps the frame it mapped at the previous step (continuity). pagemap's
 * exclusive bit on THP pages is version-dependent and is dropped there.
 *
 * A comparison is inconclusive, not a disagreement, when the kernel did not do what the step
 * needs: it refused a command the model ran (io_uring registration, O_DIRECT), the probe stopped,
 * or it gave a small page where the model has a THP (no huge page to be had).
 */
import type { KernelRun } from './probe.js';
import type { PlannedStep } from './translate.js';
import type {
  CounterRow,
  Counters,
  PageObs,
  PageRow,
  RegionObs,
  SideStep,
  StepResult,
  Verdict,
} from './types.js';

const PMD_PAGES = 512;

/** A page after normalisation: every field is comparable across the two sides. */
interface NormPage {
  present: boolean;
  byte?: number;
  excl?: boolean;
  count: number;
  flags: string;
  cls: string;
  /** Same frame as at the previous step (undefined unless present at both). */
  same?: boolean;
}

const key = (r: RegionObs, i: number) => `${r.proc}/${r.region}/${i}`;

/** Normalise the steps of one side. */
export function normalise(steps: { regions: RegionObs[] }[]): Map<string, NormPage>[] {
  let prev = new Map<string, number>();
  return steps.map((s) => {
    const classes = new Map<number, string>();
    const cls = (pfn: number) => {
      if (!classes.has(pfn)) classes.set(pfn, `f${classes.size + 1}`);
      return classes.get(pfn)!;
    };
    const now = new Map<string, number>();
    const out = new Map<string, NormPage>();
    for (const r of s.regions)
      r.pages.forEach((p, i) => {
        const k = key(r, i);
        if (p.present) now.set(k, p.pfn);
        out.set(k, normPage(p, cls, prev.get(k)));
      });
    prev = now;
    return out;
  });
}

function normPage(p: PageObs, cls: (pfn: number) => string, before: number | undefined): NormPage {
  // A swapped-out page: which pages share a swap slot is compared like which share a frame (slots
  // are keyed apart from frames, below zero).
  // A uffd-wp marker has no slot: its flags (marker,uffd_wp) are all there is to compare.
  if (!p.present)
    return p.flags.includes('swap')
      ? { present: false, count: 0, flags: [...p.flags].sort().join(','), cls: cls(-1 - p.pfn) }
      : { present: false, count: 0, flags: [...p.flags].sort().join(','), cls: '-' };
  const thp = p.flags.includes('thp');
  // A THP page is its folio's class plus its index there; the folio's size is part of the class
  // (f1/16+3 is page 3 of a 64K folio), except at PMD size, the one size there was before mTHP.
  const nr = p.folio?.nr ?? PMD_PAGES;
  const sub = p.folio?.sub ?? p.pfn % PMD_PAGES;
  const size = nr === PMD_PAGES ? '' : `/${nr}`;
  const c = p.flags.includes('zero')
    ? thp
      ? `hzero+${sub}`
      : 'zero'
    : thp
      ? `${cls(p.pfn - sub)}${size}+${sub}`
      : cls(p.pfn);
  return {
    present: true,
    byte: p.byte,
    excl: thp ? undefined : p.excl,
    count: p.count,
    flags: [...p.flags].sort().join(','),
    cls: c,
    same: before === undefined ? undefined : before === p.pfn,
  };
}

const FIELDS = ['present', 'byte', 'excl', 'count', 'flags', 'cls', 'same'] as const;

/** One page in a table cell; the class keeps only its base so THP subpages group into one row. */
function render(p: NormPage | undefined, whole = false): string {
  if (!p) return 'missing';
  if (!p.present)
    return p.flags.startsWith('swap')
      ? `swapped ${whole ? p.cls : 'slot'}${p.flags.includes('uffd_wp') ? ' uffd_wp' : ''}`
      : p.flags
        ? `not present (${p.flags})`
        : 'not present';
  const b = p.byte === undefined ? '-' : p.byte.toString(16).padStart(2, '0');
  const cls = whole ? p.cls : p.cls.replace(/\+\d+$/, '+*');
  const same = p.same === undefined ? '' : p.same ? ' same' : ' moved';
  return `${cls} ${b} n=${p.count}${p.excl ? ' excl' : ''} ${p.flags || '-'}${same}`;
}

function diff(k: NormPage | undefined, m: NormPage | undefined): string[] {
  if (!k || !m) return k === m ? [] : ['present'];
  // Not compared where a side has no value: excl on THP pages, the byte of a page the probe's
  // process cannot load (PROT_NONE).
  const unknown = (f: (typeof FIELDS)[number]) =>
    (f === 'excl' || f === 'byte') && (k[f] === undefined || m[f] === undefined);
  return FIELDS.filter((f) => !unknown(f) && k[f] !== m[f]);
}

function thpNotObtained(k: NormPage | undefined, m: NormPage | undefined): boolean {
  return !!k?.present && !!m?.present && m.flags.includes('thp') && !k.flags.includes('thp');
}

const isErr = (o: string) => o.startsWith('err');

/** The kernel's outcome of a step from its replies: the first error, else the first signal, else data or ok. */
export function kernelOutcome(ps: PlannedStep, replies: string[]): string {
  const err = replies.find((r) => r.startsWith('err'));
  if (err) return `err ${err.split(' ')[2] ?? '?'}`;
  const sig = replies.find((r) => r.startsWith('sig'));
  if (sig) return sig.split(' ')[1];
  if (replies.some((r) => r.startsWith('uffd'))) return 'userfault';
  if (ps.uffdRead) return `uffd ${replies[0].split(' ').slice(1).join(' ')}`;
  if (ps.dma || ps.loaded) return `data ${replies[0].split(' ')[1] ?? ''}`;
  return 'ok';
}

/** What a step compared by rules checks instead of frames (stated in the oracle's output). */
export const COMPACT_RULES =
  "compared by rules, not frames (which pages compact_memory moves is the kernel's choice): every page keeps its bytes, the pages sharing a frame still share one, a page keeps its mappings (present, mapcount, flags), a long-term-pinned page keeps its frame (pagemap PFN before and after)";

/** Compare kernel and model, step by step. */
export function compare(plan: PlannedStep[], kernel: KernelRun, model: SideStep[]): StepResult[] {
  const kn = normalise(kernel.steps);
  const mn = normalise(model);
  const tainted = new Map<string, string>(); // region -> why its later pages do not count
  let refused: string | undefined;
  return plan.map((ps, i) => {
    const ks = kernel.steps[i];
    const kOut = ks ? kernelOutcome(ps, ks.replies) : 'no record';
    const mOut = model[i].outcome;
    if (!ks && !refused) refused = `the probe stopped: ${kernel.fatal}`;
    if (ks && isErr(kOut) && !isErr(mOut) && !refused)
      refused = `the kernel refused: ${ks.replies.find(isErr)}`;
    const outcome = {
      kernel: kOut,
      model: mOut,
      verdict: (refused ? 'inconclusive' : kOut === mOut ? 'agree' : 'disagree') as Verdict,
    };
    const rows: PageRow[] = [];
    for (const r of model[i].regions)
      r.pages.forEach((_, p) => {
        let k = ks ? kn[i].get(key(r, p)) : undefined;
        let m = mn[i].get(key(r, p));
        // Compared by rules (compact): whether a page moved is each kernel's choice, except
        // that a long-term-pinned page must keep its frame on both sides.
        let broken: string | undefined;
        if (ps.rules) {
          const pinned = ps.rules.pinned.includes(key(r, p));
          if (pinned && (k?.same === false || m?.same === false)) broken = 'a long-term-pinned page moved';
          [k, m] = [k && { ...k, same: undefined }, m && { ...m, same: undefined }];
        }
        if (thpNotObtained(k, m) && !tainted.has(r.region))
          tainted.set(r.region, `the kernel did not obtain a THP for ${r.region} (step ${ps.step.n})`);
        const why = refused ?? tainted.get(r.region);
        const d = diff(k, m);
        if (broken) d.push(broken);
        const verdict: Verdict = why ? 'inconclusive' : d.length ? 'disagree' : 'agree';
        addRow(rows, {
          proc: r.proc,
          region: r.region,
          first: p,
          last: p,
          verdict,
          kernel: render(k, d.includes('cls')),
          model: render(m, d.includes('cls')),
          note: why ?? d.join(','),
        });
      });
    return {
      n: ps.step.n,
      line: ps.step.pos.line,
      op: ps.step.op.name,
      commands: ps.commands,
      ...(ps.rules ? { rules: COMPACT_RULES } : {}),
      outcome,
      rows,
      counters: compareCounters(
        kernel.steps[i - 1]?.counters,
        ks?.counters,
        model[i - 1]?.counters,
        model[i].counters,
        refused,
        i === plan.length - 1 ? { kernel: kernel.steps[0]?.counters, model: model[0]?.counters } : undefined,
      ),
    };
  });
}

/**
 * Counters the oracle does not compare, and why.
 */
export const NOT_COMPARED: Record<string, string> = {
  'RssAnon, RssFile, RssShmem, VmRSS':
    "/proc/PID/status's are per-CPU batched and lag by pages (smaps_rollup's exact Anonymous is compared instead); file pages of the probe's own code fault into a forked child lazily",
  pgreuse: 'every process on the host reuses pages all the time; too noisy to take a delta from',
  'ksm pages_shared, pages_sharing':
    "ksmd settles them lazily (an exited or unmerged mm's rmap items go at its next scan), so they carry earlier runs' leftovers; KSM pages are compared page by page instead (kpageflags KSM, kpagecount)",
};

/** Per-process counters compared as the step's change (the probe's own memory cancels out). */
const PROC_COMPARED = ['Anonymous'] as const;

/**
 * The counters' changes in one step. A process counts from its second observation (its first
 * includes whatever the probe itself had mapped when it forked); AnonHugePages is absolute (the
 * probe maps no THP). Machine-wide counters are compared once, at the last step, as the change
 * over the whole run: the kernel may account an event a step early or late (io_uring drops the
 * extra pins of a buffer inside one folio right after registering it; ksmd's counters move as it
 * scans). One that moved more on the kernel than in the model is inconclusive, not a
 * disagreement: other processes on the host count there too.
 */
function compareCounters(
  kBefore: Counters | undefined,
  kAfter: Counters | undefined,
  mBefore: Counters | undefined,
  mAfter: Counters | undefined,
  refused: string | undefined,
  whole: { kernel: Counters | undefined; model: Counters | undefined } | undefined,
): CounterRow[] {
  if (!kAfter || !mAfter) return [];
  const rows: CounterRow[] = [];
  const row = (name: string, kernel: number, model: number, host: boolean) => {
    const verdict: Verdict = refused
      ? 'inconclusive'
      : kernel === model
        ? 'agree'
        : host && kernel > model
          ? 'inconclusive'
          : 'disagree';
    const note = refused ?? (verdict === 'inconclusive' ? 'other processes on the host count here too' : '');
    rows.push({ name, kernel, model, verdict, note });
  };
  for (const [proc, k] of Object.entries(kAfter.procs)) {
    const m = mAfter.procs[proc];
    if (!m) continue;
    row(`${proc}/AnonHugePages`, k.AnonHugePages, m.AnonHugePages, false);
    const kb = kBefore?.procs[proc];
    const mb = mBefore?.procs[proc];
    if (!kb || !mb) continue;
    for (const c of PROC_COMPARED) row(`${proc}/${c} change`, k[c] - kb[c], m[c] - mb[c], false);
  }
  if (whole?.kernel && whole.model)
    for (const [name, v] of Object.entries(mAfter.global))
      row(
        `${name} over the run`,
        kAfter.global[name] - whole.kernel.global[name],
        v - whole.model.global[name],
        true,
      );
  return rows;
}

/** Extend the previous row when this page continues it with the same verdict and records. */
function addRow(rows: PageRow[], row: PageRow): void {
  const last = rows[rows.length - 1];
  const same =
    last &&
    last.proc === row.proc &&
    last.region === row.region &&
    last.last + 1 === row.first &&
    last.verdict === row.verdict &&
    last.kernel === row.kernel &&
    last.model === row.model &&
    last.note === row.note;
  if (same) last.last = row.first;
  else rows.push(row);
}
