/**
 * The oracle's report: a legend once, a table per step of pages (runs of pages share a row) and a
 * verdict per scenario, then the knobs once and a grand total.
 */
import { NOT_COMPARED } from './compare.js';
import type { Knob, OracleResult } from './types.js';

/** Left-aligned columns: the cells are text, not numbers. */
function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

const pages = (first: number, last: number) => (first === last ? `${first}` : `${first}-${last}`);

/** What the tables mean, printed once before the first scenario. */
export const ORACLE_LEGEND = [
  'legend: after every step, each page of each region of each live process, on the kernel and on the model;',
  '  pages: page indexes in the region; runs of pages with the same records share a row',
  '  verdict: agree, disagree, or inconclusive (the kernel did not do what the step needs, so it does not count)',
  '  kernel/model: frame class (f1, f2...: pages with one class share a frame at this step; fN+K: subpage K',
  '    of a THP; zero: the zero page), first byte in hex, n=mapcount (kpagecount), excl (pagemap',
  '    exclusive), kpageflags (anon, ksm, zero, thp, head, tail, anonexcl), same/moved (the frame of the',
  '    step before); "=": the model says the same as the kernel',
  '  note: the fields that differ, or why the row is inconclusive',
  "  counters: what the step changed in each process's RssAnon and RssShmem, its AnonHugePages, and the",
  '    machine-wide GUP-pin and THP counts over the whole run (shown when they do not agree; they count in the totals)',
  `  not compared: ${Object.entries(NOT_COMPARED)
    .map(([k, why]) => `${k} (${why})`)
    .join('; ')}`,
  "  expectations: the scenario's own expect steps, checked on the model as `pagelab run` does",
].join('\n');

const knobText = (k: Knob) =>
  `${k.path.replace('/sys/kernel/mm/', '')}=${k.set}${k.before !== k.set ? ` (was ${k.before})` : ''}`;

const MTHP = /^\/sys\/kernel\/mm\/transparent_hugepage\/hugepages-(\d+)kB\/enabled$/;

/** The knobs in one line: the mTHP sizes set alike folded into one `hugepages-{16,32,...}kB` entry. */
function knobsText(knobs: Knob[]): string {
  const out: string[] = [];
  const folded = new Map<string, number[]>();
  for (const k of knobs) {
    const size = MTHP.exec(k.path)?.[1];
    if (size === undefined) out.push(knobText(k));
    else {
      const key = `${k.set}${k.before !== k.set ? ` (was ${k.before})` : ''}`;
      if (!folded.has(key)) out.push(`\0${key}`);
      folded.set(key, [...(folded.get(key) ?? []), Number(size)]);
    }
  }
  return (
    out
      .map((t) => {
        if (!t.startsWith('\0')) return t;
        const sizes = folded.get(t.slice(1))!.sort((a, b) => a - b);
        const name = sizes.length === 1 ? `${sizes[0]}` : `{${sizes.join(',')}}`;
        return `transparent_hugepage/hugepages-${name}kB/enabled=${t.slice(1)}`;
      })
      .join(', ') || 'none'
  );
}

const plural = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`;

/** A scenario's verdict line, and its failed expectations. */
function verdictText(r: OracleResult): string[] {
  const c = r.counts;
  const e = r.expectations;
  const agreed = c.disagree === 0;
  const held = e.failures.length === 0;
  const word = agreed && held ? 'AGREE' : !agreed ? 'DISAGREE' : 'EXPECTATIONS FAILED';
  const stopped = e.stoppedAt === undefined ? '' : `; the model's run stopped at step ${e.stoppedAt}`;
  return [
    `${word}: ${c.agree} agree, ${c.disagree} disagree, ${c.inconclusive} inconclusive; expectations: ${e.held} of ${e.checked} held${stopped}`,
    ...e.failures.map((f) => `  ${r.file}:${f.line}:${f.col} step ${f.step} (${f.op}): ${f.message}`),
  ];
}

/**
 * One scenario's tables and verdict. Knobs are listed here only when they differ from `common`
 * (the ones the summary lists once).
 */
export function oracleText(r: OracleResult, common?: Knob[]): string {
  const out = [`${r.name} (${r.file})`];
  const same = common && knobsKey(r.knobs) === knobsKey(common);
  if (!same) out.push(`knobs: ${knobsText(r.knobs)}`);
  for (const s of r.steps) {
    const o = s.outcome;
    const outcome = o.kernel === o.model ? o.kernel : `kernel ${o.kernel}, model ${o.model}`;
    out.push(`\nstep ${s.n} (line ${s.line}) ${s.op}: ${outcome} — ${o.verdict}`);
    if (s.rules) out.push(`  ${s.rules}`);
    const rows = [['proc', 'region', 'pages', 'verdict', 'kernel', 'model', 'note']];
    for (const p of s.rows)
      rows.push([
        p.proc,
        p.region,
        pages(p.first, p.last),
        p.verdict,
        p.kernel,
        p.kernel === p.model ? '=' : p.model,
        p.note,
      ]);
    if (rows.length > 1) out.push(table(rows));
    const odd = s.counters.filter((c) => c.verdict !== 'agree');
    if (odd.length > 0)
      out.push(
        table([
          ['counter', 'verdict', 'kernel', 'model', 'note'],
          ...odd.map((c) => [c.name, c.verdict, String(c.kernel), String(c.model), c.note]),
        ]),
      );
  }
  out.push('', ...verdictText(r));
  return out.join('\n');
}

const knobsKey = (ks: Knob[]) => ks.map((k) => `${k.path}=${k.set}`).join(',');

/** After all scenarios: the knobs (once) and the grand total. */
export function oracleSummary(results: OracleResult[], common: Knob[]): string {
  const sum = (f: (r: OracleResult) => number) => results.reduce((n, r) => n + f(r), 0);
  const others = results.filter((r) => knobsKey(r.knobs) !== knobsKey(common)).length;
  const bad = results.filter((r) => r.exitCode !== 0).length;
  const checked = sum((r) => r.expectations.checked);
  return [
    `knobs (set for each run and put back after it): ${knobsText(common)}${others ? `; ${plural(others, 'scenario')} ran under other knobs, listed with them` : ''}`,
    `${bad === 0 ? 'AGREE' : 'FAIL'} (${plural(results.length, 'scenario')}${bad ? `, ${bad} failed` : ''}): ${sum((r) => r.counts.agree)} agree, ${sum((r) => r.counts.disagree)} disagree, ${sum((r) => r.counts.inconclusive)} inconclusive; expectations: ${sum((r) => r.expectations.held)} of ${checked} held`,
  ].join('\n');
}
