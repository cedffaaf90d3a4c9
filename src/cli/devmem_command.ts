/**
 * `pagelab devmem --size 1T`: metadata bytes of a device under each memmap mode (eager, lazy,
 * none), descriptor layout (struct-page, memdesc) and device folio order (0, 9, 18: 4 KiB, 2 MiB,
 * 1 GiB; struct page with the compound-devmap vmemmap dedup), for workloads touching 1 %, 10 %
 * and 100 % of the folios.
 */
import { DEVMEM_ORDERS, devmemTable, formatSize, parseSize } from '../index.js';

const pct = (f: number) => `${+(f * 100).toFixed(2)}%`;
const size = (b: number) => (b === 0 ? '0' : formatSize(b));

/** The table as text, one row per layout, mode and order, a column per touched fraction. */
export function devmemReport(sizes: readonly string[]): string {
  const out: string[] = [];
  for (const s of sizes) {
    const bytes = parseSize(s);
    const rows = devmemTable(bytes, undefined, DEVMEM_ORDERS);
    const fractions = [...new Set(rows.map((r) => r.touched))];
    out.push(`device ${formatSize(bytes)} (${bytes / 4096} pfns): metadata bytes by touched fraction`);
    out.push(
      [
        'layout'.padEnd(12),
        'mode'.padEnd(6),
        'order'.padEnd(5),
        ...fractions.map((f) => pct(f).padStart(10)),
      ].join(' '),
    );
    for (let i = 0; i < rows.length; i += fractions.length) {
      const group = rows.slice(i, i + fractions.length);
      out.push(
        [
          group[0].layout.padEnd(12),
          group[0].mode.padEnd(6),
          String(group[0].order).padEnd(5),
          ...group.map((r) => size(r.totalBytes).padStart(10)),
        ].join(' '),
      );
    }
    out.push('');
  }
  return out.join('\n').trimEnd();
}

/** `devmem --json`: every row of every device size. */
export function devmemJson(sizes: readonly string[]): Record<string, unknown> {
  return {
    devices: sizes.map((s) => {
      const bytes = parseSize(s);
      return { bytes, pfns: bytes / 4096, rows: devmemTable(bytes, undefined, DEVMEM_ORDERS) };
    }),
  };
}
