/**
 * dump_page(): what one frame is, read from the memdesc word and the descriptor it points to.
 *
 * Models: mm/debug.c (dump_page, __dump_folio) — one describer per descriptor type (buddy block,
 * folio, slab, ptdesc, vmalloc scamem, zero/reserved, device memory), each reporting what the
 * model keeps for that type, so `expect`, `explain`, `dump` and the trace read the same counts.
 * "Maybe pinned" comes from the pin-count design (PinTracker.answer) for every type with a folio,
 * device pages included; vmalloc pages from their own refcount bias. dumpPage() then prints both
 * layouts of the frame (struct_page.ts): the memdesc word decoded and the struct page Linux would
 * keep, as the kernel's `raw:` lines.
 */
import { PG } from '../mm/folio.js';
import type { Kernel } from '../mm/kernel.js';
import {
  FOLIO_TYPES,
  INVALID_PAGE,
  type MemType,
  MT,
  MT_NAMES,
  mdMigratetype,
  mdOrder,
  mdType,
} from '../mm/memdesc.js';
import { MIGRATE_NAMES } from '../mm/mmzone.js';
import { findFreeBlock } from '../mm/page_isolation.js';
import { PT_LEVEL_NAMES } from '../mm/pgtable.js';
import { formatFlags } from '../mm/types.js';
import { ConfigError, InputError } from './config.js';
import {
  canonical,
  decodeFlagsWord,
  directMapAddress,
  hex64,
  memdescWord,
  pageAddress,
  rawLines,
  structPage,
} from './struct_page.js';
import type { DevicePageInfo, PageInfo, VmallocPageInfo } from './types.js';

/** The fields every frame has, before its descriptor says more. */
function basePage(k: Kernel, pfn: number, type: MemType): PageInfo {
  const zone = k.pa.zoneOf(pfn);
  return {
    pfn,
    type: MT_NAMES[type],
    order: mdOrder(k.pa.memmap.lo(pfn)),
    head: pfn,
    nid: zone.nid,
    zone: zone.name,
    migratetype: MIGRATE_NAMES[k.pa.pageblockMigratetype(pfn)],
    refcount: 0,
    mapcount: 0,
    folioMapcount: 0,
    pincount: 0,
    flags: 0,
    flagNames: '',
    folio: 0,
    anonExclusive: false,
    maybeDmaPinned: false,
    pins: 0,
  };
}

/** A free buddy block: its head's order and migratetype; a tail frame is found from its head. */
function describeBuddy(k: Kernel, info: PageInfo, type: MemType): PageInfo {
  const blk = type === MT.BUDDY ? { pfn: info.pfn, order: info.order } : findFreeBlock(k.pa, info.pfn);
  if (!blk) return info; // a frame nothing owns
  const headLo = k.pa.memmap.lo(blk.pfn);
  return {
    ...info,
    type: 'buddy',
    order: blk.order,
    head: blk.pfn,
    migratetype: MIGRATE_NAMES[mdMigratetype(headLo)],
  };
}

function describeFolio(k: Kernel, info: PageInfo, row: number): PageInfo {
  const f = k.folios;
  const pfn = info.pfn;
  return {
    ...info,
    order: f.order[row],
    head: f.pfn[row],
    refcount: f.refcount[row],
    mapcount: f.pageMapcountOf(row, pfn),
    folioMapcount: f.mapcountOf(row),
    pincount: f.pincountOf(row),
    flags: f.flags[row],
    flagNames: formatFlags(f.flags[row], PG),
    folio: f.handleOf(row),
    anonExclusive: f.pageAnonExclusive(row, pfn),
    maybeDmaPinned: k.pins.answer(row, pfn),
    pins: k.pins.pinsOn(pfn),
  };
}

function describeSlab(k: Kernel, info: PageInfo): PageInfo {
  const s = k.slab.slabInuse(k.pa.memmap.hi(info.pfn));
  return { ...info, head: s.pfn, order: s.cache.order, refcount: 1, flagNames: `slab:${s.cache.name}` };
}

function describePagetable(k: Kernel, info: PageInfo): PageInfo {
  const level = k.ptdesc.level[k.pa.memmap.hi(info.pfn)];
  return { ...info, refcount: 1, flagNames: `table:${PT_LEVEL_NAMES[level]}` };
}

/** A vmalloc page: the per-page counts its scamem keeps (vmalloc.ts). */
function describeVmalloc(k: Kernel, info: PageInfo): PageInfo {
  const v = vmallocPage(k, info.pfn);
  return {
    ...info,
    refcount: v.refcount,
    mapcount: v.mapcount,
    folioMapcount: v.mapcount,
    flagNames: v.vfreed ? 'vmalloc (vfreed, still referenced)' : 'vmalloc',
    maybeDmaPinned: k.vmalloc.maybePinned(info.pfn),
    pins: k.pins.pinsOn(info.pfn),
  };
}

function describeReserved(k: Kernel, info: PageInfo, type: MemType): PageInfo {
  const pfn = info.pfn;
  return {
    ...info,
    refcount: pfn === k.pa.zeroPfn ? 1 + k.zeroPageRefs : 1,
    flags: PG.reserved,
    flagNames: 'reserved',
    head: type === MT.ZERO && info.order > 0 ? k.pa.hugeZero : pfn,
  };
}

/** A frame of device memory: `device` with a real descriptor, `none` without one. */
function describeDevice(k: Kernel, pfn: number): PageInfo {
  const d = devicePage(k, pfn);
  const real = d.descriptor === 'real';
  const row = real ? k.devmem.pfnToPage(pfn) : -1;
  return {
    pfn,
    type: real ? 'device' : 'none',
    order: 0,
    head: pfn,
    nid: 0,
    zone: 'Device',
    migratetype: 'none',
    refcount: d.refcount,
    mapcount: d.mapcount,
    folioMapcount: d.mapcount,
    pincount: real ? k.folios.pincountOf(row) : 0,
    flags: 0,
    flagNames: real ? '' : d.descriptor === 'invalid' ? 'invalid (lazy memmap)' : 'no struct page',
    folio: d.folio ?? 0,
    anonExclusive: false,
    maybeDmaPinned: real && k.pins.answer(row, pfn),
    pins: d.pins,
  };
}

/** Everything dump_page() would print about one frame. */
export function page(k: Kernel, pfn: number): PageInfo {
  const pa = k.pa;
  const ram = Number.isSafeInteger(pfn) && pa.memmap.pfnValid(pfn);
  if (!ram && Number.isSafeInteger(pfn) && k.devmem.pagemapOf(pfn)) return describeDevice(k, pfn);
  if (!ram && Number.isSafeInteger(pfn) && pfn >= 0 && pfn < pa.maxPfn)
    throw new ConfigError(
      `pfn ${pfn} is in a hole of this machine's memory map (no memmap: pfn_valid() is false)`,
    );
  if (!ram) throw new ConfigError(`pfn ${pfn} is not RAM on this machine`);
  const type = mdType(pa.memmap.lo(pfn));
  const info = basePage(k, pfn, type);
  if (type === MT.NONE || type === MT.BUDDY) return describeBuddy(k, info, type);
  if (FOLIO_TYPES.has(type)) return describeFolio(k, info, pa.memmap.hi(pfn));
  if (type === MT.SLAB) return describeSlab(k, info);
  if (type === MT.PGTABLE) return describePagetable(k, info);
  if (type === MT.VMALLOC) return describeVmalloc(k, info);
  if (type === MT.ZERO || type === MT.RESERVED) return describeReserved(k, info, type);
  return info;
}

/** page_to_pgoff(): a folio page's index in its anon_vma or file (the head's index plus the page's offset). */
export function pageIndex(k: Kernel, pfn: number): number {
  if (!k.pa.memmap.pfnValid(pfn) || !FOLIO_TYPES.has(mdType(k.pa.memmap.lo(pfn)))) return 0;
  const row = k.pa.memmap.hi(pfn);
  return k.folios.index[row] + (pfn - k.folios.pfn[row]);
}

/** Both layouts of a frame as data (`explain --json`): the memdesc word, the struct page (and its head's), the addresses. */
export function pageLayouts(k: Kernel, pfn: number) {
  const addresses: { structPage: string; directMap: string; vmalloc?: string } = {
    structPage: `0x${hex64(pageAddress(pfn))}`,
    directMap: `0x${hex64(directMapAddress(pfn))}`,
  };
  if (!k.pa.memmap.pfnValid(pfn)) return { addresses };
  const p = page(k, pfn);
  if (mdType(k.pa.memmap.lo(pfn)) === MT.VMALLOC) {
    // The page's address in its area: the scamem's start plus the page index the memdesc word holds.
    const at = k.vmalloc.scamem.addr[k.pa.memmap.hi(pfn)] + (k.pa.memmap.lo(pfn) >>> 12) * 4096;
    addresses.vmalloc = `0x${hex64(canonical(at))}`;
  }
  const head =
    p.head !== pfn && k.pa.memmap.pfnValid(p.head) ? structPage(k, p.head, p.nid, p.zone) : undefined;
  return {
    memdescWord: memdescWord(k, pfn).text,
    structPage: structPage(k, pfn, p.nid, p.zone),
    head,
    addresses,
  };
}

/**
 * dump_page()'s `flags:` line as %pGp prints it: the page->flags word in kernel bit positions,
 * its flag names, node, zone and last_cpupid; then any state the model keeps as a flag bit that
 * the kernel keeps elsewhere (PG_large_rmappable lives in the folio's second page, for one).
 */
function flagsLine(p: PageInfo, word: bigint | undefined): string {
  if (word === undefined) return `flags: (device memory) ${p.flagNames}`;
  const w = decodeFlagsWord(word);
  const kernelNames = formatFlags(w.flags, PG);
  const fields = `node=${w.nid}|zone=${w.zone}|lastcpupid=0x${w.lastCpupid.toString(16)}`;
  const shown = new Set(kernelNames.split('|'));
  const elsewhere = formatFlags(p.flags & ~w.flags, PG)
    .split('|')
    .filter((n) => n && !shown.has(n));
  // A page that is no folio says what it is instead of flag names (`vmalloc (vfreed, ...)`).
  const what = p.flagNames !== formatFlags(p.flags, PG) ? `; ${p.flagNames}` : '';
  const kept = elsewhere.length ? `; kept elsewhere by the kernel: ${elsewhere.join('|')}` : '';
  return `flags: 0x${BigInt.asUintN(64, word).toString(16)}(${kernelNames ? `${kernelNames}|` : ''}${fields})${kept}${what}`;
}

/**
 * The kernel's dump_page() text for a frame, then both layouts of it: the model's memdesc word
 * decoded, and the struct page Linux would keep (its `raw:` lines), with the frame's addresses.
 */
export function dumpPage(k: Kernel, pfn: number): string {
  const p = page(k, pfn);
  const index = pageIndex(k, pfn);
  const lines = [
    `page: refcount:${p.refcount} mapcount:${p.mapcount} mapping:${p.type === 'anon' ? 'anon' : '0'} index:0x${index.toString(16)} pfn:0x${pfn.toString(16)}`,
  ];
  // A free buddy block is not a compound page: dump_page() has no head line for it.
  if ((p.head !== pfn || p.order > 0) && p.type !== 'buddy')
    lines.push(`head: order:${p.order} pincount:${p.pincount} pfn:0x${p.head.toString(16)}`);
  lines.push(`memdesc: ${p.type} node:${p.nid} zone:${p.zone} migratetype:${p.migratetype}`);
  const l = pageLayouts(k, pfn);
  lines.push(flagsLine(p, l.structPage?.words[0]));
  if (l.memdescWord) {
    lines.push(`memdesc word: ${l.memdescWord}`);
    lines.push(...rawLines(l.structPage!));
    if (l.head) lines.push(...rawLines(l.head, 'head: ').slice(0, 2));
  } else
    lines.push('memdesc word: none (device memory: its descriptors live in the pagemap, not the memmap)');
  const va = l.addresses.vmalloc ? `, vmalloc ${l.addresses.vmalloc}` : '';
  lines.push(
    `addresses: struct page ${l.addresses.structPage} (vmemmap), page_address ${l.addresses.directMap} (direct map)${va}`,
  );
  return lines.join('\n');
}

/** What an ordinary pfn_to_page() sees for a device pfn. */
export function devicePage(k: Kernel, pfn: number): DevicePageInfo {
  const r = k.devmem.pfnToPage(pfn);
  const m = k.devmem.pagemapOf(pfn);
  if (!m) throw new InputError(`pfn ${pfn} is not device memory`);
  if (r < 0)
    return { pfn, descriptor: r === INVALID_PAGE ? 'invalid' : 'none', refcount: 0, mapcount: 0, pins: 0 };
  const f = k.folios;
  return {
    pfn,
    descriptor: 'real',
    refcount: f.refcount[r],
    mapcount: f.mapcountOf(r),
    pins: k.pins.pinsOn(pfn),
    folio: f.handleOf(r),
  };
}

/** A vmalloc page's counts: the per-page refcount and mapcount, its scamem's refcount, page_to_nid. */
export function vmallocPage(k: Kernel, pfn: number): VmallocPageInfo {
  const v = k.vmalloc;
  if (!v.isPage(pfn)) throw new InputError(`pfn ${pfn} is not a vmalloc page`);
  const row = k.pa.memmap.hi(pfn);
  return {
    pfn,
    refcount: v.pageRefcount(pfn),
    mapcount: v.pageMapcount(pfn),
    scamemRefcount: v.scamem.refcount[row],
    scamemPages: v.scamem.nrPages[row],
    vfreed: v.scamem.owned[row] === 0,
    nid: v.pageToNid(pfn),
  };
}
