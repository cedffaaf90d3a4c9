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

function bar(m: Machine, pid: number, start: number, end: number): string {
  const pages = (end - start) / PAGE;
  const step = Math.max(1, Math.ceil(pages / WIDTH));
  let s = '';
  for (let i = 0; i < pages; i += step) {
    // A group shows its most telling page: anything mapped beats nothing.
    let c = '.';
    for (let j = i; j < Math.min(pages, i + step) && c === '.'; j++) c = pageChar(m, pid, start + j * PAGE);
    s += c;
  }
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
