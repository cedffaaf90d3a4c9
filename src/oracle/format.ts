/** The oracle's report: the knobs, then a table per step of pages (runs of pages share a row). */
import type { OracleResult } from './types.js';

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

export function oracleText(r: OracleResult): string {
  const out = [`${r.name} (${r.file})`];
  out.push(
    `knobs: ${r.knobs.map((k) => `${k.path.replace('/sys/kernel/mm/', '')}=${k.set}${k.before !== k.set ? ` (was ${k.before})` : ''}`).join(', ') || 'none'}`,
  );
  for (const s of r.steps) {
    const o = s.outcome;
    const outcome = o.kernel === o.model ? o.kernel : `kernel ${o.kernel}, model ${o.model}`;
    out.push(`\nstep ${s.n} (line ${s.line}) ${s.op}: ${outcome} — ${o.verdict}`);
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
  }
  const c = r.counts;
  out.push(
    `\n${r.exitCode === 0 ? 'AGREE' : 'DISAGREE'}: ${c.agree} agree, ${c.disagree} disagree, ${c.inconclusive} inconclusive`,
  );
  return out.join('\n');
}
