/**
 * The report's picture of each process: its VMAs as ASCII bars, one character a page (or a
 * group of pages for big VMAs), saying what maps there — `.` nothing, `0` the zero page,
 * `a` an exclusive anon page, `A` a shared anon page, `H`/`h` a PMD-mapped THP (exclusive or
 * not), `f` a page-cache page, `p` a pinned page — and its rss.
 */
import type { Machine } from '../machine/machine.js';
import type { Labels } from './labels.js';
import type { ReportSection } from './report.js';

const PAGE = 4096;
const WIDTH = 64;

function pageChar(m: Machine, pid: number, addr: number): string {
  const p = m.pageAt(pid, addr);
  if (!p) return '.';
  if (p.type === 'zero') return '0';
  if (p.pins > 0) return 'p';
  if (p.type === 'anon')
    return p.level === 'pmd' ? (p.anonExclusive ? 'H' : 'h') : p.anonExclusive ? 'a' : 'A';
  if (p.type === 'file') return 'f';
  return '?';
}

/**
 * One VMA's bar. A group shows its most telling page: anything mapped beats nothing, so only the
 * entries the page tables hold are visited (Machine.nextMapped skips the holes at the highest
 * empty level): a 100 TiB VMA with three pages touched costs three lookups, not 2^35.
 */
function bar(m: Machine, pid: number, start: number, end: number): string {
  const pages = (end - start) / PAGE;
  const step = Math.max(1, Math.ceil(pages / WIDTH));
  const chars = new Array<string>(Math.ceil(pages / step)).fill('.');
  for (let a = m.nextMapped(pid, start, end); a < end; ) {
    const g = Math.floor((a - start) / PAGE / step);
    const c = pageChar(m, pid, a);
    if (c !== '.') {
      chars[g] = c;
      // The group is decided; go on from the next one.
      a = m.nextMapped(pid, Math.min(end, start + (g + 1) * step * PAGE), end);
    } else a = m.nextMapped(pid, a + PAGE, end);
  }
  const s = chars.join('');
  return step > 1 ? `${s} (${step} pages/char)` : s;
}

export const processMapSection: ReportSection = {
  id: 'processes',
  title: 'processes (. none, 0 zero page, a/A anon exclusive/shared, H/h THP, f page cache, p pinned)',
  build: (m: Machine, labels: Labels) => {
    const procs = m.processes();
    if (procs.length === 0) return undefined;
    const regionName = new Map(
      labels
        .entries()
        .filter(([, b]) => b.kind === 'region')
        .map(([n, b]) => [b.value as number, n]),
    );
    const lines: string[] = [];
    for (const p of procs) {
      const rss = `rss anon ${p.rss.anon} file ${p.rss.file} shmem ${p.rss.shmem}`;
      lines.push(
        `${p.name} (pid ${p.pid}${p.alive ? '' : ', exited'}): ${rss}${p.signals.length ? `, signals ${p.signals.map((s) => s.signal).join(' ')}` : ''}`,
      );
      for (const v of p.vmas) {
        const name = regionName.get(v.start) ?? v.name;
        lines.push(
          `  ${name.padEnd(10)} 0x${v.start.toString(16)}-0x${v.end.toString(16)} ${v.flags.padEnd(28)} |${bar(m, p.pid, v.start, v.end)}|`,
        );
      }
    }
    return { data: procs, text: lines.join('\n') };
  },
};
