/**
 * The census and the memdesc price of a capture as text and as JSON: what `pagelab snapshot`
 * prints. Numbers only, formatted; the analysis is in classify.ts and price.ts.
 */
import {
  buddyinfoTotals,
  type Classification,
  FOLIO_FRAMES,
  FRAME,
  FRAME_NAMES,
  type Frame,
  folioTotals,
  NR_FRAMES,
  objectCount,
  PMD_ORDER,
} from './classify.js';
import { parseBuddyinfo } from './companions.js';
import type { Price } from './price.js';
import type { SnapshotInfo } from './read.js';

const num = (n: number) => n.toLocaleString('en-US');
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

/** Objects of a type per order, as `order:count` pairs. */
function byOrder(c: Classification, f: Frame): [number, number][] {
  const out: [number, number][] = [];
  for (const [key, n] of c.objects) {
    const [ff, order] = key.split(':').map(Number);
    if (ff === f) out.push([order, n]);
  }
  return out.sort((a, b) => a[0] - b[0]);
}

const WHAT: Partial<Record<Frame, string>> = {
  [FRAME.HOLE]: 'no memmap (not RAM per iomem, or NOPAGE)',
  [FRAME.NOFLAGS]: 'no flags: never initialised, or an untyped kernel page',
  [FRAME.FREE]: 'free buddy blocks',
  [FRAME.KERNEL_COMPOUND]: '__GFP_COMP kernel pages, large kmalloc',
  [FRAME.TORN]: 'tails whose folio changed during the read',
};

export function formatCensus(s: SnapshotInfo, c: Classification): string {
  const { folios, large } = folioTotals(c);
  let thp = 0;
  for (const f of FOLIO_FRAMES)
    if (f !== FRAME.HUGETLB && f !== FRAME.ZERO) thp += c.objects.get(`${f}:${PMD_ORDER}`) ?? 0;
  const lines = [
    `capture: ${s.source.flags} (${s.source.format}), ${num(s.nrPfns)} PFNs; kpagecount: ${s.source.count ?? 'none'}`,
    `memmap: ${num(c.memmapPfns)} PFNs${c.usedIomem ? ' (sections with System RAM in iomem)' : ' (no iomem: every PFN but NOPAGE)'}`,
    '',
    `${'type'.padEnd(16)} ${'pages'.padStart(10)} ${'MiB'.padStart(9)} ${'objects'.padStart(9)}  by order (order×count)`,
  ];
  for (let f = 0; f < NR_FRAMES; f++) {
    const pages = c.pages[f];
    if (pages === 0) continue;
    const orders =
      f === FRAME.FREE
        ? c.freeBlocks.map((n, o): [number, number] => [o, n]).filter((x) => x[1])
        : byOrder(c, f as Frame);
    const objects = f === FRAME.FREE ? c.freeBlocks.reduce((a, b) => a + b, 0) : objectCount(c, f as Frame);
    const detail = orders.map(([o, n]) => `${o}×${num(n)}`).join(' ');
    lines.push(
      // trimEnd: a type with neither orders nor a note leaves trailing blanks.
      `${FRAME_NAMES[f].padEnd(16)} ${num(pages).padStart(10)} ${((pages * 4096) / 2 ** 20).toFixed(1).padStart(9)} ${(objects ? num(objects) : '').padStart(9)}  ${detail}${WHAT[f as Frame] ? `${detail ? '  ' : ''}— ${WHAT[f as Frame]}` : ''}`.trimEnd(),
    );
  }
  lines.push(
    '',
    `folios: ${num(folios)} (${num(large)} large: ${num(thp)} PMD-order THP, ${num(large - thp - objectCount(c, FRAME.HUGETLB, true) - objectCount(c, FRAME.ZERO, true))} mTHP, ${num(objectCount(c, FRAME.HUGETLB, true))} hugetlb, ${num(objectCount(c, FRAME.ZERO, true))} huge zero)`,
    `slabs: ${num(objectCount(c, FRAME.SLAB))} on ${num(c.pages[FRAME.SLAB])} pages; page tables: ${num(objectCount(c, FRAME.PGTABLE))}; KSM: ${num(c.pages[FRAME.KSM])} pages mapped ${num(c.ksmMapcount)} times`,
  );
  if (s.companions.buddyinfo) {
    const b = buddyinfoTotals(parseBuddyinfo(s.companions.buddyinfo));
    lines.push(
      `free blocks per order 0..10: ${c.freeBlocks.join(' ')} (inferred); buddyinfo: ${b.join(' ')} (read at another moment)`,
    );
  }
  if (c.torn || c.irregular)
    lines.push(`inconsistent: ${c.torn} torn tails, ${c.irregular} compound runs not a power of two`);
  return lines.join('\n');
}

export function formatPrice(p: Price): string {
  const lines = [
    'metadata bytes: struct page today vs the memdesc plan',
    `${'type'.padEnd(16)} ${'pages'.padStart(10)} ${'descs'.padStart(9)} ${'struct page'.padStart(12)} ${'memdesc'.padStart(12)}`,
  ];
  for (const r of p.rows) {
    lines.push(
      `${r.type.padEnd(16)} ${num(r.pages).padStart(10)} ${num(r.descriptors).padStart(9)} ${mib(r.structPageBytes).padStart(12)} ${mib(r.memdescWordBytes + r.memdescDescriptorBytes).padStart(12)}`,
    );
  }
  lines.push(
    `${'total'.padEnd(16)} ${num(p.memmapPfns).padStart(10)} ${''.padStart(9)} ${mib(p.structPage).padStart(12)} ${mib(p.memdesc).padStart(12)}`,
    `with HVO on hugetlb: struct page ${mib(p.structPageHvo)}, memdesc ${mib(p.memdescHvo)}`,
    `memdesc saves ${mib(p.structPage - p.memdesc)} (${((1 - p.memdesc / p.structPage) * 100).toFixed(1)} %); ${(p.memdesc / p.memmapPfns).toFixed(2)} B per PFN instead of 64`,
    'method:',
    ...p.method.map((m) => `  ${m}`),
  );
  return lines.join('\n');
}

/** Everything as one JSON value (the page-types rows and the map are added by the caller). */
export function censusJson(s: SnapshotInfo, c: Classification, p: Price) {
  const types: Record<string, { pages: number; objects: Record<string, number> }> = {};
  for (let f = 0; f < NR_FRAMES; f++) {
    if (c.pages[f] === 0) continue;
    const objects: Record<string, number> = {};
    for (const [o, n] of byOrder(c, f as Frame)) objects[o] = n;
    types[FRAME_NAMES[f]] = { pages: c.pages[f], objects };
  }
  return {
    capture: { flags: s.source.flags, count: s.source.count, format: s.source.format, pfns: s.nrPfns },
    memmapPfns: c.memmapPfns,
    types,
    folios: folioTotals(c),
    slabs: objectCount(c, FRAME.SLAB),
    ptdescs: objectCount(c, FRAME.PGTABLE),
    freeBlocks: c.freeBlocks,
    ksm: { pages: c.pages[FRAME.KSM], mapcount: c.ksmMapcount },
    torn: c.torn,
    irregular: c.irregular,
    price: p,
  };
}
