/**
 * The report printed after a scenario's last step: sections, each with data (for the JSONL trace
 * and the web visualiser) and text (for the terminal). Which sections there are, and in which
 * order, is listed in registry.ts.
 */
import type { Machine } from '../machine/machine.js';
import { MT_NAMES } from '../mm/memdesc.js';
import type { Labels } from './labels.js';
import { accountingText, meminfoText, slabinfoText, table } from './procfs.js';

export interface ReportSection {
  id: string;
  title: string;
  /** Nothing to say (undefined) leaves the section out. */
  build(m: Machine, labels: Labels): { data: unknown; text: string } | undefined;
}

export interface BuiltSection {
  id: string;
  title: string;
  data: unknown;
  text: string;
}

export function buildReport(m: Machine, labels: Labels, sections: readonly ReportSection[]): BuiltSection[] {
  const out: BuiltSection[] = [];
  for (const s of sections) {
    const built = s.build(m, labels);
    if (built) out.push({ id: s.id, title: s.title, ...built });
  }
  return out;
}

export function reportText(sections: readonly BuiltSection[]): string {
  return sections.map((s) => `${s.title}:\n${indent(s.text)}`).join('\n');
}

export const indent = (text: string, by = '  '): string =>
  text
    .split('\n')
    .map((l) => (l ? by + l : l))
    .join('\n');

/** Frames per memory type, the first thing to look at after a run. */
export const pagesByTypeSection: ReportSection = {
  id: 'pages',
  title: 'page frames by type',
  build: (m) => {
    const vm = m.vmstat();
    const data = Object.fromEntries(
      MT_NAMES.filter((t) => t !== 'none')
        .map((t) => [t, vm[`pagelab_nr_${t}_pages`]] as const)
        .filter(([, n]) => n > 0),
    );
    return { data, text: table(Object.entries(data).map(([t, n]) => [t, String(n)])) };
  },
};

export const meminfoSection: ReportSection = {
  id: 'meminfo',
  title: 'meminfo',
  build: (m) => ({ data: m.meminfo(), text: meminfoText(m) }),
};

/**
 * vmstat's event counters; its nr_* page counts are the first section already. The GUP pin
 * counters are named nr_* too (node_stat_item) but count events: they stay.
 */
const isPageCount = (k: string) =>
  (k.startsWith('nr_') && !k.startsWith('nr_foll_pin_')) || k.startsWith('pagelab_nr_');

export const vmstatSection: ReportSection = {
  id: 'vmstat',
  title: 'vmstat events (non-zero)',
  build: (m) => {
    const data = Object.fromEntries(
      Object.entries(m.vmstat()).filter(([k, v]) => v !== 0 && !isPageCount(k)),
    );
    return {
      data,
      text: Object.entries(data)
        .map(([k, v]) => `${k} ${v}`)
        .join('\n'),
    };
  },
};

export const slabinfoSection: ReportSection = {
  id: 'slabinfo',
  title: 'slabinfo (caches in use)',
  build: (m) => {
    const rows = m.slabinfo().filter((r) => r.numSlabs > 0);
    return rows.length ? { data: rows, text: slabinfoText(m) } : undefined;
  },
};

export const accountingSection: ReportSection = {
  id: 'accounting',
  title: 'metadata accounting',
  build: (m) => {
    const acc = m.accounting();
    return { data: acc, text: accountingText(acc) };
  },
};
