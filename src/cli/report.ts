/**
 * Text reports shared by the CLI commands: meminfo, buddyinfo, slabinfo and the design accounting.
 */
import type { LayoutAccounting } from '../designs/layout.js';
import type { Machine } from '../mm/machine.js';
import { formatSize } from '../mm/types.js';

/** Right-align columns of a table of strings. */
export function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows
    .map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  '))
    .join('\n');
}

export function meminfoReport(m: Machine): string {
  const info = m.meminfo();
  return Object.entries(info)
    .map(([k, v]) => `${`${k}:`.padEnd(16)}${String(v).padStart(14)} kB`)
    .join('\n');
}

export function buddyinfoReport(m: Machine): string {
  return m
    .buddyinfo()
    .map(
      (z) => `Node ${z.nid}, zone ${z.zone.padStart(8)} ${z.free.map((n) => String(n).padStart(7)).join('')}`,
    )
    .join('\n');
}

export function slabinfoReport(m: Machine, onlyActive = true): string {
  const rows = m.slabinfo().filter((r) => !onlyActive || r.numSlabs > 0);
  if (rows.length === 0) return '(no slabs in use)';
  return table([
    ['# name', 'active_objs', 'num_objs', 'objsize', 'objperslab', 'pagesperslab', 'num_slabs'],
    ...rows.map((r) =>
      [r.name, r.activeObjs, r.numObjs, r.objSize, r.objPerSlab, r.pagesPerSlab, r.numSlabs].map(String),
    ),
  ]);
}

export function accountingReport(acc: LayoutAccounting[]): string {
  const out: string[] = [];
  for (const a of acc) {
    out.push(
      `${a.layout}: ${formatSize(a.totalBytes)} of metadata (${a.bytesPerPage.toFixed(2)} bytes per page): memmap ${formatSize(a.memmapBytes)}, descriptors ${formatSize(a.descriptorBytes)}`,
    );
    out.push(
      table([
        ['  type', 'pages', 'descriptors', 'memmap', 'descriptor bytes'],
        ...a.perType.map((t) => [
          `  ${t.type}`,
          String(t.pages),
          String(t.descriptors),
          formatSize(t.memmapBytes),
          formatSize(t.descriptorBytes),
        ]),
      ]),
    );
  }
  return out.join('\n');
}

export function bootReport(m: Machine): string {
  const s = m.sections();
  const host = m.hostBytes();
  return [
    `machine: ${formatSize(m.config.memory)} RAM, ${m.config.nodes} node(s), ${m.totalPages} page frames, design ${m.config.design}`,
    m
      .zoneinfo()
      .map(
        (z) =>
          `  node ${z.nid} ${z.zone.padEnd(8)} pfn 0x${z.startPfn.toString(16)}-0x${z.endPfn.toString(16)}  managed ${z.managed}  free ${z.free}`,
      )
      .join('\n'),
    `memmap: ${s.populated} of ${s.total} sections populated; simulator host memory ${formatSize(host.total)}`,
    '',
    meminfoReport(m),
    '',
    'buddyinfo (free blocks per order 0..10):',
    buddyinfoReport(m),
    '',
    'metadata accounting:',
    accountingReport(m.accounting()),
  ].join('\n');
}
