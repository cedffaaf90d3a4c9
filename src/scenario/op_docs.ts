/**
 * The op reference: what every key of every op means, printed by `pagelab ops [NAME]` and
 * generated into the README's op list (a test fails when the README and the registry differ, and
 * when a key of an op has no meaning written here).
 *
 * Most keys mean the same on every op that takes them (`proc`, `addr`, `as`); `op.key` entries say
 * what a key means on one op where that differs.
 */
import { z } from 'zod';
import { OPS, OPS_BY_NAME } from './registry.js';
import type { Op } from './step.js';

const FIELD_DOCS: Readonly<Record<string, string>> = {
  expect_error: 'the step must fail with this errno (ENOMEM, EFAULT...) or with KernelBug',
  as: 'label the result, for later steps to name it',
  order: 'buddy order: 2^order pages',
  gfp: 'GFP modifiers by their lowercase __GFP_ names (movable, zero, ...)',
  nid: 'NUMA node to allocate on',
  count: 'repeat the allocation this many times (the label names the first)',
  page: 'a page: a label, {pfn: N}, or {proc: p, addr: buf}',
  folio: 'a folio label',
  cache: 'a kmem cache label (from kmem_cache_create)',
  obj: 'an object label (from kmem_cache_alloc or kmalloc)',
  level: 'page-table level',
  table: 'a page-table page label (from pagetable_alloc)',
  proc: 'a process label (from spawn or fork)',
  addr: 'a user address: a region label (buf), region+offset (buf+4K) or a number',
  len: 'bytes, from addr (or offset)',
  size: 'bytes (a number, or with K, M, G or T)',
  prot: "protection as letters (r, w, x, rw, ...) or 'none'",
  byte: 'one byte value repeated over len',
  data: 'exact bytes in hex (1122ff)',
  file: 'a file label (from create)',
  offset: 'byte offset into the file, device or pinned range',
  pages: 'how many pages, from addr',
  pin: 'a pin or reference label (from pin or get)',
  area: 'a vmalloc area label (from vmalloc or vmalloc_user)',
  pagemap: 'a device-memory label (from memremap)',
  'device.area': 'the vmalloc area to map: its label, or label+offset to map from a page inside it',
  'fork.proc': 'the parent process',
  'fork.child': 'label for the child process',
  'exit.proc': 'the process that exits',
  'spawn.name': 'label for the new process',
  'mmap.name': 'label for the new region (its start address)',
  'mmap.flags': 'MAP_* flags: private or shared, anonymous, fixed, populate, ... (MAP_SHARED spelling too)',
  'mmap.device': 'a device label: its mmap handler maps the region',
  'mmap.addr': 'the address to map at (a hint, or exact with fixed)',
  'mmap.offset': 'byte offset into the file or device',
  'madvise.advice':
    'MADV_* advice: dontneed, hugepage, dontfork, mergeable, populate_write, ... (MADV_DONTNEED spelling too)',
  'mremap.addr': 'the start of the range to remap (page aligned)',
  'mremap.old_len': 'bytes of the range now (a shrink may reach past its VMA)',
  'mremap.new_len': 'bytes it is to have',
  'mremap.flags':
    'MREMAP_* flags: maymove, fixed, dontunmap (MREMAP_MAYMOVE spelling too); none: in place only',
  'mremap.new_addr': 'where to move to with fixed (what is there is unmapped first); a hint with dontunmap',
  'mremap.as': 'label the address the range has afterwards, as a region',
  'uffd.features':
    'UFFD_FEATURE_* names: wp_async, event_fork, wp_unpopulated, sigbus, pagefault_flag_wp, wp_hugetlbfs_shmem',
  'uffd_register.mode': 'UFFDIO_REGISTER_MODE_*: wp (write-protect mode, the only one modelled)',
  'uffd_writeprotect.wp': 'true: write-protect the range (UFFDIO_WRITEPROTECT_MODE_WP); false: resolve it',
  'uffd_writeprotect.dontwake': 'resolving leaves the faults waiting in the range asleep (MODE_DONTWAKE)',
  'uffd_read.expect':
    'messages (how many), faults (their addresses, in order), forks (fork events), waiting (faults still asleep)',
  'folio_alloc.kind': 'anon or file folio',
  'kmem_cache_create.name': 'the cache name, which becomes its label',
  'kmem_cache_create.reclaimable': 'SLAB_RECLAIM_ACCOUNT: its slabs count as reclaimable',
  'kmem_cache_free.cache': "the cache (default: the object's own; needed for a kmalloc object)",
  'kmalloc.size': 'object size in bytes; above two pages kmalloc takes whole pages',
  'create.memfd':
    'memfd_create(): a shmem file (bytes cached at once, no writeback) instead of a file on disk',
  'free_pages.order': 'the order it was allocated with (default: the label says)',
  'read.expect': 'what the load must see: {byte: N}, {data: hex} or {signal: SIGSEGV}',
  'write.expect':
    'the signal the store must raise ({signal: SIGSEGV}), or {userfault: true}: it waits on a sync-mode uffd-wp fault',
  'touch.expect':
    'the signal the accesses must raise ({signal: SIGSEGV}), or {userfault: true}: they wait on a uffd-wp fault',
  'touch.write': 'store instead of load',
  'sync.expect': 'what must be on disk afterwards: {byte: N} or {data: hex}',
  'sync.len': 'bytes to check on disk with expect',
  'mem_read.expect': 'what the read must return: {byte: N} or {data: hex}',
  'dma_read.expect': 'what the device must read: {byte: N} or {data: hex}',
  'get.flags': 'FOLL_* flags: write, longterm, force, ... (FOLL_LONGTERM spelling too)',
  'pin.flags': 'FOLL_* flags: write, longterm, force, ... (FOLL_LONGTERM spelling too)',
  'get.fast': 'get_user_pages_fast(): the lockless walk first',
  'pin.fast': 'pin_user_pages_fast(): the lockless walk first',
  'put.get': 'the reference label (from get) to put',
  'unpin.dirty': 'unpin_user_pages_dirty_lock(): mark the pages dirty first',
  'odirect.pages': 'how many pages of the buffer the I/O covers',
  'device.name': 'label for the device',
  'device.map': 'the kernel API its mmap or fault handler maps memory with',
  'device.backing': 'what it maps: io (pfn-only), ram, vmalloc, xip (flash and RAM) or devmem',
  'device.size': 'bytes of backing memory the driver owns',
  'memremap.mode': 'the memmap of the device memory: eager, lazy or none',
  'memremap.limit': 'lazy mode: memmap chunks kept populated before reclaiming',
  'dump.page': 'print dump_page() of this page',
  'dump.what': '/proc views to print (meminfo, vmstat, buddyinfo, ...)',
  'expect.page': 'the page that state checks: a label, {pfn: N}, or {proc: p, addr: buf}',
  'expect.state':
    'what dump_page() says: type, order, refcount, mapcount, pincount, flags (exact; flags_set/flags_clear for subsets), zone, frame, ...',
  'expect.counters': 'meminfo (kB sizes: 16K) and vmstat counters by name',
  'expect.buddyinfo': 'free blocks per order, by node and zone',
  'expect.slabinfo': 'slabinfo rows by cache name',
  'expect.accounting': 'metadata bytes per layout (memdesc, struct-page)',
  'expect.process': 'the process that rss, signals, vmas and alive check',
  'expect.rss': 'resident pages by kind (anon, file, shmem)',
  'expect.signals': 'the signals the process has taken, in order',
  'expect.vmas': 'how many VMAs it has',
  'expect.alive': 'whether it has not exited',
  'expect.pins': "the pin-count design's answers against the truth (false_negatives: 0, ...)",
  'expect.vm_normal_page': '{proc, addr, returns: page | NULL | nothing}: what vm_normal_page() finds there',
  'expect.devmem': '{pagemap, populated, reclaimed}: the lazy memmap of device memory',
  'compact.node': 'compact only this NUMA node (default: every node)',
  'compact.zone': 'compact only this zone (DMA, DMA32, Normal, Movable)',
  'compact.expect':
    'what compaction must report: pages migrated (or at least N), failed, skipped by reason, outcome, pin false positives',
  'memory_failure.pfn': 'the frame to poison by number, RAM or not (device memory, pfn maps)',
  'memory_failure.flags':
    'MF_* flags in lower case (action_required: the accessing process gets BUS_MCEERR_AR)',
  'memory_failure.early_kill':
    'vm.memory_failure_early_kill: every process mapping the page is signalled at once',
  'memory_failure.expect':
    'the outcome memory_failure must report (result MF_RECOVERED/DELAYED/FAILED/IGNORED, type, errno)',
};

/** What `key` means on `op`. */
export function fieldDoc(op: string, key: string): string | undefined {
  return FIELD_DOCS[`${op}.${key}`] ?? FIELD_DOCS[key];
}

/** The keys an op takes besides `op`, in its schema's order. */
export const opKeys = (op: Op): string[] => Object.keys(op.schema.shape).filter((k) => k !== 'op');

interface JsonProp {
  type?: string | string[];
  enum?: unknown[];
  default?: unknown;
  items?: JsonProp;
  anyOf?: JsonProp[];
}

/**
 * A short type: `a | b | c` for enums (every value: a reader looks for the one they need, and
 * `longterm` once sat past a cut), `list of ...`, or the JSON type.
 */
function typeText(p: JsonProp | undefined): string {
  if (!p) return 'any';
  if (p.enum) {
    const v = p.enum.map(String).filter((s) => !/^[A-Z]+_/.test(s));
    return v.join(' | ');
  }
  if (p.type === 'array') return `list of ${typeText(p.items)}`;
  if (p.anyOf) return [...new Set(p.anyOf.map(typeText))].join(' or ');
  return Array.isArray(p.type) ? p.type.join(' or ') : (p.type ?? 'map');
}

/** One op's reference: the kernel function it models, then a line per key. */
export function opReference(op: Op): string {
  const json = z.toJSONSchema(op.schema, { io: 'input', unrepresentable: 'any' }) as {
    properties: Record<string, JsonProp>;
    required?: string[];
  };
  const required = new Set(json.required ?? []);
  const rows = opKeys(op).map((k) => {
    const p = json.properties[k];
    const need = required.has(k)
      ? 'required'
      : p?.default !== undefined
        ? `default ${JSON.stringify(p.default)}`
        : 'optional';
    return [k, need, `${fieldDoc(op.name, k) ?? ''} (${typeText(p)})`];
  });
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.max(...rows.map((r) => r[1].length));
  const lines = rows.map(([k, t, d]) => `  ${k.padEnd(w0)}  ${t.padEnd(w1)}  ${d}`);
  return [`${op.name}: ${op.doc}`, ...lines].join('\n');
}

/** `pagelab ops`: every op with its one-line doc; `pagelab ops NAME`: that op's reference. */
export function opsText(name?: string): string | undefined {
  if (name !== undefined) {
    const op = OPS_BY_NAME.get(name);
    return op ? opReference(op) : undefined;
  }
  const w = Math.max(...OPS.map((o) => o.name.length));
  return [
    ...OPS.map((o) => `${o.name.padEnd(w)}  ${o.doc}`),
    '',
    "every step also takes expect_error; 'pagelab ops NAME' shows what each key of NAME means",
  ].join('\n');
}

/** The README's op list (between its `ops:begin` and `ops:end` markers): one bullet per op. */
export function readmeOpList(): string {
  const lines = OPS.map((o) => {
    const keys = opKeys(o).filter((k) => k !== 'expect_error');
    return `- \`${o.name}\` — ${o.doc}${keys.length ? `. Keys: ${keys.map((k) => `\`${k}\``).join(', ')}` : ''}`;
  });
  return lines.join('\n');
}
