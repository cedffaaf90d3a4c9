/**
 * The two layouts of one frame side by side: the model's 8-byte memdesc word, and the 64-byte
 * struct page Linux would keep for the same frame, as dump_page()'s `raw:` lines print it.
 *
 * Models: include/linux/mm_types.h (struct page, struct folio's second page, struct slab, struct
 * ptdesc on x86-64), include/linux/page-flags-layout.h (the node/zone/last_cpupid fields in the
 * top of page->flags), include/linux/page-flags.h (page types in the top byte of _mapcount) and
 * arch/x86/include/asm/page_64_types.h + pgtable_64_types.h (the vmemmap and direct map bases
 * with 4-level paging and no KASLR, as %px prints them).
 *
 * The kernel configuration assumed for the flags word is a common x86-64 distribution one:
 * SPARSEMEM_VMEMMAP (no section field), NODES_SHIFT=10, five zones (ZONES_WIDTH=3), NUMA
 * balancing with NR_CPUS=8192 (a 21-bit last_cpupid, which the model never sets, so it reads
 * as reset: all ones), MEMCG. A word the model keeps no value for — a list pointer, the
 * anon_vma or address_space pointer, memcg_data — is synthesised and marked as such, so the
 * layout can be compared without pretending the model knows a kernel pointer.
 * Leaves out: PG_young/PG_idle, page_ext, hugetlb's third page.
 */
import { PG } from '../mm/folio.js';
import type { Kernel } from '../mm/kernel.js';
import { FOLIO_TYPES, MT, MT_NAMES, mdMigratetype, mdOrder, mdType } from '../mm/memdesc.js';
import { MIGRATE_NAMES } from '../mm/mmzone.js';
import { PTE } from '../mm/pgtable.js';
import { PAGE_OFFSET } from '../mm/types.js';

/** VMEMMAP_START and VMALLOC_START (4-level paging, no KASLR) as %px prints them. */
export { PAGE_OFFSET };
export const VMEMMAP_START = 0xffffea0000000000n;
export const VMALLOC_BASE = 0xffffc90000000000n;
/** sizeof(struct page) on x86-64. */
export const STRUCT_PAGE_SIZE = 64;

/** The canonical kernel address of a user-invisible model address (vmalloc addresses lack the sign extension). */
export function canonical(addr: number): bigint {
  const a = BigInt(addr);
  return a >= 0x800000000000n ? a | 0xffff000000000000n : a;
}

/** pfn_to_page() as an address: the frame's struct page in the vmemmap. */
export const pageAddress = (pfn: number): bigint => VMEMMAP_START + BigInt(pfn) * 64n;
/** page_address() / __va(): the frame in the direct map. */
export const directMapAddress = (pfn: number): bigint => PAGE_OFFSET + BigInt(pfn) * 4096n;

/** `ffffea0000004000`: sixteen hex digits, as %px and print_hex_dump print a word. */
export const hex64 = (v: bigint): string => BigInt.asUintN(64, v).toString(16).padStart(16, '0');

// page-flags-layout.h for the configuration above: | node:10 | zone:3 | last_cpupid:21 | ... | flags |
const NODES_PGSHIFT = 54n;
const ZONES_PGSHIFT = 51n;
const LAST_CPUPID_PGSHIFT = 30n;
const LAST_CPUPID_MASK = (1n << 21n) - 1n;
/** The zone index (enum zone_type with ZONE_DMA, ZONE_DMA32, ZONE_NORMAL, ZONE_MOVABLE, ZONE_DEVICE). */
const ZONE_INDEX: Readonly<Record<string, number>> = { DMA: 0, DMA32: 1, Normal: 2, Movable: 3, Device: 4 };
/** The page flags that sit where the kernel's enum pageflags puts them (PG_locked .. PG_hwpoison). */
const KERNEL_PG_MASK = (1 << 22) - 1;

/** Page types in the top byte of _mapcount (enum pagetype). */
const PGTY = { buddy: 0xf0, offline: 0xf1, table: 0xf2, slab: 0xf5, large_kmalloc: 0xf8 } as const;
/** LIST_POISON1/2 and TAIL_MAPPING with x86-64's POISON_POINTER_DELTA. */
const LIST_POISON1 = 0xdead000000000100n;
const LIST_POISON2 = 0xdead000000000122n;
const TAIL_MAPPING = 0xdead000000000400n;
/** PAGE_MAPPING_ANON and PAGE_MAPPING_KSM in the low bits of page->mapping. */
const MAPPING_ANON = 1n;
const MAPPING_KSM = 3n;
/** ENTIRELY_MAPPED (mm/internal.h): the bit _nr_pages_mapped carries while the folio is PMD-mapped. */
const ENTIRELY_MAPPED = 0x800000;
/** Where synthesised descriptor pointers (anon_vma, address_space, kmem_cache) are placed: a slab address. */
const SYNTH_BASE = 0xffff888100000000n;

/** page->flags: node, zone and last_cpupid fields above the page flags. */
export function flagsWord(nid: number, zone: string, pageFlags: number): bigint {
  return (
    (BigInt(nid) << NODES_PGSHIFT) |
    (BigInt(ZONE_INDEX[zone] ?? 0) << ZONES_PGSHIFT) |
    (LAST_CPUPID_MASK << LAST_CPUPID_PGSHIFT) |
    BigInt(pageFlags >>> 0)
  );
}

/** The fields of a flags word (the tail of %pGp: `node=0|zone=1|lastcpupid=0x1fffff`). */
export function decodeFlagsWord(w: bigint): { nid: number; zone: number; lastCpupid: number; flags: number } {
  return {
    nid: Number(w >> NODES_PGSHIFT),
    zone: Number((w >> ZONES_PGSHIFT) & 7n),
    lastCpupid: Number((w >> LAST_CPUPID_PGSHIFT) & LAST_CPUPID_MASK),
    flags: Number(w & ((1n << 30n) - 1n)),
  };
}

/** The 32-bit _mapcount and _refcount as one word (little-endian: _mapcount is the low half). */
const countsWord = (mapcountRaw: number, refcount: number): bigint =>
  (BigInt(refcount >>> 0) << 32n) | BigInt(mapcountRaw >>> 0);
const typeWord = (pgty: number, refcount: number): bigint => countsWord((pgty << 24) >>> 0, refcount);
const synth = (kind: number, id: number): bigint =>
  SYNTH_BASE + BigInt(kind) * 0x10000000n + BigInt(id) * 0x100n;

export interface StructPage {
  /** The eight words, flags first. */
  words: bigint[];
  /** What each word holds (the struct member, for this frame's type). */
  names: string[];
  /** Words the model keeps no value for, synthesised (pointers, poison, constants). */
  synthesised: boolean[];
}

/** The memdesc word of a frame and its decoded fields. */
export function memdescWord(k: Kernel, pfn: number): { word: bigint; text: string } {
  const lo = k.pa.memmap.lo(pfn);
  const hi = k.pa.memmap.hi(pfn);
  const type = mdType(lo);
  const word = (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
  const pool = FOLIO_TYPES.has(type)
    ? 'folio'
    : type === MT.SLAB
      ? 'slab'
      : type === MT.PGTABLE
        ? 'ptdesc'
        : type === MT.VMALLOC
          ? 'scamem'
          : type === MT.BUDDY
            ? 'free block'
            : undefined;
  const parts = [`type ${type} (${MT_NAMES[type]})`, `order ${mdOrder(lo)}`];
  if (type === MT.BUDDY) parts.push(`migratetype ${MIGRATE_NAMES[mdMigratetype(lo)]}`);
  if (type === MT.VMALLOC) parts.push(`page ${lo >>> 12} of its area`);
  parts.push(pool ? `descriptor: ${pool} row ${hi}` : 'no descriptor');
  return { word, text: `0x${hex64(word)}: ${parts.join(', ')}` };
}

/** The 64-byte struct page Linux would keep for `pfn`, built from what the model keeps. */
export function structPage(k: Kernel, pfn: number, nid: number, zone: string): StructPage {
  const w: bigint[] = new Array(8).fill(0n);
  const names = [
    'flags',
    'lru.next',
    'lru.prev',
    'mapping',
    'index',
    'private',
    '_mapcount|_refcount',
    'memcg_data',
  ];
  const syn = [false, true, true, true, false, false, false, true];
  const done = () => ({ words: w, names, synthesised: syn });
  const lo = k.pa.memmap.lo(pfn);
  const type = mdType(lo);
  w[0] = flagsWord(nid, zone, 0);
  w[6] = countsWord(-1, 0);
  if (type === MT.BUDDY) {
    names[1] = 'buddy_list.next';
    names[2] = 'buddy_list.prev';
    names[5] = 'private (order)';
    w[5] = BigInt(mdOrder(lo));
    w[6] = typeWord(PGTY.buddy, 0);
    w[1] = w[2] = pageAddress(pfn); // alone on its free list: a list_head pointing at itself
    syn[3] = false;
    return done();
  }
  if (FOLIO_TYPES.has(type)) return folioPage(k, pfn, type, w, names, syn);
  if (type === MT.SLAB) {
    const s = k.slab.slabInuse(k.pa.memmap.hi(pfn));
    if (pfn !== s.pfn) return tailPage(s.pfn, w, names, syn);
    names.splice(
      1,
      7,
      'slab_cache',
      'slab_list.next',
      'slab_list.prev',
      'freelist',
      'counters',
      '__page_type|_refcount',
      'obj_exts',
    );
    w[0] |= BigInt(s.cache.order > 0 ? PG.head : 0);
    w[1] = synth(3, s.cache.id);
    w[2] = w[3] = pageAddress(pfn);
    w[4] = synth(4, pfn);
    // counters: inuse:16, objects:15, frozen:1
    w[5] = BigInt(s.inuse) | (BigInt(s.inuse + s.free) << 16n);
    w[6] = typeWord(PGTY.slab, 1);
    syn.splice(0, 8, false, true, true, true, true, false, false, true);
    return done();
  }
  if (type === MT.PGTABLE) {
    names.splice(
      1,
      7,
      'pt_list.next',
      'pt_list.prev',
      '__page_mapping',
      'pt_index',
      'ptl',
      '__page_type|_refcount',
      'pt_memcg_data',
    );
    w[6] = typeWord(PGTY.table, 1);
    syn.splice(0, 8, false, true, true, false, true, false, false, true);
    return done();
  }
  if (type === MT.VMALLOC) {
    const v = k.vmalloc;
    w[6] = countsWord(v.pageMapcount(pfn) - 1, v.pageRefcount(pfn));
    // Taken off its free list when allocated and put on no other: list_del() left the poison.
    w[1] = LIST_POISON1;
    w[2] = LIST_POISON2;
    syn[3] = false;
    return done();
  }
  if (type === MT.ZERO || type === MT.RESERVED) {
    w[0] |= BigInt(PG.reserved);
    w[6] = countsWord(-1, pfn === k.pa.zeroPfn ? 1 + k.zeroPageRefs : 1);
    syn.fill(false);
    syn[7] = true;
    return done();
  }
  if (type === MT.OFFLINE) w[6] = typeWord(PGTY.offline, 1);
  syn.fill(false);
  return done(); // a tail frame of a free block, or a type the model keeps nothing more for
}

/** A tail page of a compound page: compound_head points at the head, with bit 0 set. */
function tailPage(head: number, w: bigint[], names: string[], syn: boolean[]): StructPage {
  names[1] = 'compound_head';
  names[2] = '(unused in a tail)';
  w[1] = pageAddress(head) | 1n;
  w[3] = TAIL_MAPPING;
  syn.fill(false);
  syn[7] = true;
  return { words: w, names, synthesised: syn };
}

function folioPage(
  k: Kernel,
  pfn: number,
  type: number,
  w: bigint[],
  names: string[],
  syn: boolean[],
): StructPage {
  const f = k.folios;
  const row = k.pa.memmap.hi(pfn);
  const head = f.pfn[row];
  const large = f.isLarge(row);
  const perPageExclusive = f.pageAnonExclusive(row, pfn) ? PG.anon_exclusive : 0;
  if (pfn !== head) {
    tailPage(head, w, names, syn);
    w[0] |= BigInt(perPageExclusive);
    if (pfn === head + 1) return secondPage(k, row, w, names, syn);
    w[6] = countsWord(f.pageMapcountOf(row, pfn) - f.entireMapcountOf(row) - 1, 0);
    return { words: w, names, synthesised: syn };
  }
  // Head (or only) page: the folio's own flags where the kernel keeps them; PG_anon_exclusive per page.
  const own = f.flags[row] & KERNEL_PG_MASK & ~(large ? PG.anon_exclusive : 0);
  w[0] |= BigInt(own | perPageExclusive);
  // Not on an LRU list in the model: list_del() left the poison there.
  w[1] = LIST_POISON1;
  w[2] = LIST_POISON2;
  const id = f.mapping[row];
  if (type === MT.ANON && id !== 0)
    w[3] = synth(1, id) | ((f.flags[row] & PG.ksm) !== 0 ? MAPPING_KSM : MAPPING_ANON);
  else if (type === MT.FILE && id !== 0) w[3] = synth(2, id);
  else syn[3] = false;
  w[4] = BigInt(f.index[row]);
  const pageMap = large ? f.pageMapcountOf(row, pfn) - f.entireMapcountOf(row) : f.mapcountOf(row);
  w[6] = countsWord(pageMap - 1, f.refcount[row]);
  if (type === MT.LARGE_KMALLOC) w[6] = typeWord(PGTY.large_kmalloc, f.refcount[row]);
  return { words: w, names, synthesised: syn };
}

/** A large folio's second page: the folio's mapcounts, pincount, MM ids and size (struct folio's page 1). */
function secondPage(k: Kernel, row: number, w: bigint[], names: string[], syn: boolean[]): StructPage {
  const f = k.folios;
  const lg = f.large[row];
  names.splice(
    0,
    8,
    '_flags_1',
    '_head_1',
    '_large_mapcount|_nr_pages_mapped',
    '_entire_mapcount|_pincount',
    '_mm_id_mapcount[2]',
    '_mm_ids',
    '_mapcount_1|_refcount_1',
    '_nr_pages',
  );
  let second = 0;
  if (f.flags[row] & PG.has_hwpoisoned) second |= PG.active;
  if (f.flags[row] & PG.large_rmappable) second |= PG.workingset;
  if (f.flags[row] & PG.partially_mapped) second |= PG.reclaim;
  w[0] |= BigInt(second);
  // _nr_pages_mapped: the PTE-mapped pages, plus ENTIRELY_MAPPED while a PMD maps the whole folio.
  const nrMapped = f.nrPagesMapped[lg] + (f.entireMapcountOf(row) > 0 ? ENTIRELY_MAPPED : 0);
  w[2] = (BigInt(nrMapped >>> 0) << 32n) | BigInt(f.mapcount[row] >>> 0);
  w[3] = (BigInt(f.pincount[lg] >>> 0) << 32n) | BigInt(f.entireMapcount[lg] >>> 0);
  w[4] = (BigInt(f.mmIdMapcount[2 * lg + 1] >>> 0) << 32n) | BigInt(f.mmIdMapcount[2 * lg] >>> 0);
  w[5] =
    (BigInt(f.mmShared[lg]) << 63n) |
    (BigInt(f.mmId[2 * lg + 1] >>> 0) << 32n) |
    BigInt(f.mmId[2 * lg] >>> 0);
  const own = f.pageMapcountOf(row, f.pfn[row] + 1) - f.entireMapcountOf(row);
  w[6] = countsWord(own - 1, 0);
  w[7] = BigInt(f.nrPages(row));
  syn.fill(false);
  return { words: w, names, synthesised: syn };
}

/** dump_page()'s `raw:` lines (print_hex_dump, 32 bytes a row, 8-byte groups) and what each word is. */
export function rawLines(sp: StructPage, prefix = 'raw: '): string[] {
  const row = (i: number) =>
    `${prefix}${sp.words
      .slice(i, i + 4)
      .map(hex64)
      .join(' ')}`;
  const legend = sp.names.map((n, i) => (sp.synthesised[i] ? `${n}*` : n)).join(', ');
  const note = sp.synthesised.includes(true) ? ' (* synthesised: the model keeps no such value)' : '';
  return [row(0), row(4), `raw words: ${legend}${note}`];
}

/** x86-64 entry bits for the model's entry bits (pgtable_types.h positions). */
const X86_BIT: readonly [number, number, string][] = [
  [PTE.PRESENT, 0, 'P'],
  [PTE.WRITE, 1, 'RW'],
  [PTE.USER, 2, 'US'],
  [PTE.YOUNG, 5, 'A'],
  [PTE.DIRTY, 6, 'D'],
  [PTE.HUGE, 7, 'PSE'],
  [PTE.SPECIAL, 9, 'SPECIAL'],
  [PTE.UFFD_WP, 10, 'UFFD_WP'],
  [PTE.SOFT_DIRTY, 11, 'SOFT_DIRTY'],
];
const X86_NX = 63n;
/** _PAGE_TABLE: what the kernel writes in an entry that points at a user page table. */
const X86_PAGE_TABLE = 0x67n;

/**
 * A present entry as x86-64 would hold it: pfn in bits 12..51, hardware and software bits in
 * their pgtable_types.h positions, NX for a leaf in a VMA without VM_EXEC. Table entries are
 * _PAGE_TABLE. Undefined for a non-present entry (its encoding is the model's own).
 */
export function x86Entry(
  bits: number,
  pfn: number,
  leaf: boolean,
  exec: boolean,
): { value: bigint; names: string[]; modelOnly: string[] } | undefined {
  if (!(bits & PTE.PRESENT)) return undefined;
  let v = BigInt(pfn) << 12n;
  const names: string[] = [];
  if (!leaf) {
    v |= X86_PAGE_TABLE;
    names.push('P', 'RW', 'US', 'A', 'D');
  } else {
    for (const [bit, at, name] of X86_BIT)
      if (bits & bit) {
        v |= 1n << BigInt(at);
        names.push(name);
      }
    if (!exec) {
      v |= 1n << X86_NX;
      names.push('NX');
    }
  }
  const modelOnly = (['SW1', 'SW2', 'SW3'] as const).filter((b) => bits & PTE[b]).map((b) => b.toLowerCase());
  return { value: v, names, modelOnly };
}
