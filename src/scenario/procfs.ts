/**
 * A machine's state as text, laid out the way /proc prints it (meminfo, vmstat, buddyinfo,
 * zoneinfo, slabinfo) plus the metadata accounting of the descriptor layouts. Shared by scenario
 * reports, `dump` steps and `pagelab boot`.
 */

import type { LayoutAccounting } from '../designs/layout.js';
import type { Machine } from '../machine/machine.js';
import { formatSize } from '../mm/types.js';
import { hex } from './fields.js';

/** Columns of strings: the first left-aligned, the others right-aligned. */
export function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i])))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export function meminfoText(m: Machine): string {
  return Object.entries(m.meminfo())
    .map(([k, v]) => `${`${k}:`.padEnd(16)}${String(v).padStart(14)} kB`)
    .join('\n');
}

/** /proc/vmstat: only the counters that are not zero, to keep a report readable. */
export function vmstatText(m: Machine): string {
  return Object.entries(m.vmstat())
    .filter(([, v]) => v !== 0)
    .map(([k, v]) => `${k} ${v}`)
    .join('\n');
}

export function buddyinfoText(m: Machine): string {
  return m
    .buddyinfo()
    .map(
      (z) => `Node ${z.nid}, zone ${z.zone.padStart(8)} ${z.free.map((n) => String(n).padStart(7)).join('')}`,
    )
    .join('\n');
}

export function zoneinfoText(m: Machine): string {
  return m
    .zoneinfo()
    .map(
      (z) =>
        `node ${z.nid} ${z.zone.padEnd(8)} pfn ${hex(z.startPfn)}-${hex(z.endPfn)}  managed ${z.managed}  free ${z.free}${z.cma ? `  cma ${z.cma}` : ''}`,
    )
    .join('\n');
}

export function slabinfoText(m: Machine, onlyActive = true): string {
  const rows = m.slabinfo().filter((r) => !onlyActive || r.numSlabs > 0);
  if (rows.length === 0) return '(no slabs in use)';
  return table([
    ['# name', 'active_objs', 'num_objs', 'objsize', 'objperslab', 'pagesperslab', 'num_slabs'],
    ...rows.map((r) =>
      [r.name, r.activeObjs, r.numObjs, r.objSize, r.objPerSlab, r.pagesPerSlab, r.numSlabs].map(String),
    ),
  ]);
}

export function accountingText(acc: LayoutAccounting[]): string {
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

/** The views `dump` can print, by name. */
export const PROC_VIEWS = {
  meminfo: meminfoText,
  vmstat: vmstatText,
  buddyinfo: buddyinfoText,
  zoneinfo: zoneinfoText,
  slabinfo: (m: Machine) => slabinfoText(m),
  accounting: (m: Machine) => accountingText(m.accounting()),
} as const;
export type ProcView = keyof typeof PROC_VIEWS;
