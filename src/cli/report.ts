/**
 * `pagelab boot`'s report: the machine's zones and memmap, then meminfo, buddyinfo and the
 * metadata accounting, laid out as in src/scenario/procfs.ts.
 */
import { formatSize, type Machine } from '../index.js';
import { accountingText, buddyinfoText, meminfoText, zoneinfoText } from '../scenario/procfs.js';
import { indent } from '../scenario/report.js';

export function bootReport(m: Machine): string {
  const s = m.sections();
  const host = m.hostBytes();
  return [
    `machine: ${formatSize(m.config.memory)} RAM, ${m.config.nodes} node(s), ${m.totalPages} page frames, design ${m.config.design}`,
    indent(zoneinfoText(m)),
    `memmap: ${s.populated} of ${s.total} sections populated; simulator host memory ${formatSize(host.total)}`,
    '',
    meminfoText(m),
    '',
    'buddyinfo (free blocks per order 0..10):',
    buddyinfoText(m),
    '',
    'metadata accounting:',
    accountingText(m.accounting()),
  ].join('\n');
}

/** `boot --json` (and `demo --json`): the same report as data. */
export function machineJson(m: Machine): Record<string, unknown> {
  const c = m.config;
  return {
    config: { memory: c.memory, nodes: c.nodes, design: c.design, pincount: c.pincount },
    totalPages: m.totalPages,
    sections: m.sections(),
    hostBytes: m.hostBytes(),
    zones: m.zoneinfo(),
    meminfo: { ...m.meminfo() },
    buddyinfo: m.buddyinfo(),
    accounting: m.accounting(),
  };
}
