/**
 * The /proc texts saved beside a capture, parsed into what the analysis needs: which PFNs are
 * RAM (iomem), the zones (zoneinfo), the free lists per order (buddyinfo).
 *
 * Kernel files: kernel/resource.c (/proc/iomem: "start-end : name", nested by two spaces;
 * "System RAM" at the top level is memory the memmap covers), mm/vmstat.c (zoneinfo_show(),
 * frag_show() for buddyinfo). Unknown lines are skipped: these files gain fields over time.
 */
import type { PfnRange } from '../mm/mmzone.js';
import { PAGES_PER_SECTION } from '../mm/types.js';
import { SnapshotError } from './errors.js';

export type { PfnRange };

/** PAGES_PER_SECTION on x86-64 (128 MiB sections of 4 KiB pages): the memmap's granularity. */
export const SECTION_PFNS = PAGES_PER_SECTION;

/** Top-level "System RAM" ranges of /proc/iomem, as PFN ranges (partial pages dropped). */
export function parseIomemRam(text: string, pageSize = 4096): PfnRange[] {
  const out: PfnRange[] = [];
  for (const line of text.split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) : System RAM$/i.exec(line);
    if (!m) continue;
    // Hex addresses beyond 2^53 cannot be RAM of a machine we can hold in memory anyway.
    const start = Math.ceil(Number.parseInt(m[1], 16) / pageSize);
    const end = Math.floor((Number.parseInt(m[2], 16) + 1) / pageSize);
    if (end > start) out.push({ start, end });
  }
  if (out.length === 0)
    throw new SnapshotError('iomem: no "System RAM" line (is it a /proc/iomem read as root?)');
  return out;
}

/**
 * Which PFNs have a memmap: whole sections that hold any RAM (SPARSEMEM allocates the memmap
 * per present section, so the non-RAM tail of such a section has struct pages too).
 */
export function memmapSections(ram: PfnRange[], nrPfns: number): Uint8Array {
  const sections = new Uint8Array(Math.ceil(nrPfns / SECTION_PFNS));
  for (const r of ram) {
    const last = Math.min(sections.length - 1, Math.floor((r.end - 1) / SECTION_PFNS));
    for (let s = Math.floor(r.start / SECTION_PFNS); s <= last; s++) sections[s] = 1;
  }
  return sections;
}

export interface ZoneInfo {
  node: number;
  zone: string;
  startPfn: number;
  spanned: number;
  present: number;
  managed: number;
}

/** The zones of /proc/zoneinfo that span memory. */
export function parseZoneinfo(text: string): ZoneInfo[] {
  const zones: ZoneInfo[] = [];
  let cur: ZoneInfo | undefined;
  for (const line of text.split('\n')) {
    const head = /^Node (\d+), zone\s+(\S+)/.exec(line);
    if (head) {
      cur = { node: Number(head[1]), zone: head[2], startPfn: 0, spanned: 0, present: 0, managed: 0 };
      zones.push(cur);
      continue;
    }
    const kv = /^\s+(spanned|present|managed|start_pfn:)\s+(\d+)/.exec(line);
    if (cur && kv) {
      const v = Number(kv[2]);
      if (kv[1] === 'start_pfn:') cur.startPfn = v;
      else cur[kv[1] as 'spanned' | 'present' | 'managed'] = v;
    }
  }
  return zones.filter((z) => z.spanned > 0);
}

export interface BuddyInfo {
  node: number;
  zone: string;
  /** Free blocks per order, 0..MAX_PAGE_ORDER. */
  free: number[];
}

export function parseBuddyinfo(text: string): BuddyInfo[] {
  const out: BuddyInfo[] = [];
  for (const line of text.split('\n')) {
    const m = /^Node (\d+), zone\s+(\S+)\s+([\d\s]+)$/.exec(line.trimEnd());
    if (m) out.push({ node: Number(m[1]), zone: m[2], free: m[3].trim().split(/\s+/).map(Number) });
  }
  return out;
}
