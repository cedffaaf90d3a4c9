/**
 * Ops of processes and address spaces: spawn, fork, exit, mmap, munmap, mprotect, madvise, and the
 * user accesses read, write and touch (kernel/fork.c, mm/mmap.c, mm/mprotect.c, mm/madvise.c, and
 * what the CPU does on a load or store). Processes and regions are labels: `spawn: {name: p}`,
 * `mmap: {proc: p, name: buf}`; addresses are `buf`, `buf+4K` or numbers.
 */
import { z } from 'zod';
import { MADV_NAMES, MAP_NAMES, PROT_NAMES } from '../../machine/uapi.js';
import { PMD_SIZE } from '../../mm/pgtable.js';
import { PAGE_SIZE } from '../../mm/types.js';
import type { UserData } from '../../mm/uaccess.js';
import { addr, addrText, analyseAddr, resolveAddr } from '../address.js';
import { byteValue, hex, hexData, kernelName, labelName, oneOf, size, uint } from '../fields.js';
import { defineOp, type Failure, type RunContext, type StaticContext } from '../step.js';

export const SIGNALS = ['SIGSEGV', 'SIGBUS'] as const;

const pid = (ctx: RunContext, name: string) => ctx.labels.num(name);

export const spawnOp = defineOp({
  name: 'spawn',
  doc: 'a new process with an empty address space (what execve leaves)',
  fields: { name: labelName() },
  binds: { key: 'name', kind: 'process', memory: false },
  run: (a, { m }) => {
    const p = m.spawn(a.name);
    return { summary: `${a.name} is pid ${p}`, binding: { kind: 'process', value: p } };
  },
});

export const forkOp = defineOp({
  name: 'fork',
  doc: 'fork(): copy_page_range per VMA — share and write-protect, or copy maybe-pinned exclusive pages',
  fields: { proc: labelName(), child: labelName() },
  binds: { key: 'child', kind: 'process', memory: false },
  analyse: (a, ctx) => void ctx.use(a.proc, ['process'], ['proc']),
  run: (a, ctx) => {
    const before = ctx.m.vmstat().pagelab_fork_copy;
    const c = ctx.m.fork(pid(ctx, a.proc), a.child);
    const copied = ctx.m.vmstat().pagelab_fork_copy - before;
    return {
      summary: `${a.proc} -> ${a.child} (pid ${c})${copied ? `, ${copied} maybe-pinned page(s) copied for the child` : ''}`,
      binding: { kind: 'process', value: c },
    };
  },
});

export const exitOp = defineOp({
  name: 'exit',
  doc: 'exit(): exit_mmap unmaps everything and frees the page tables',
  fields: { proc: labelName() },
  analyse: (a, ctx) => void ctx.use(a.proc, ['process'], ['proc']),
  run: (a, ctx) => {
    ctx.m.exit(pid(ctx, a.proc));
    return { summary: `${a.proc} exited` };
  },
});

export const mmapOp = defineOp({
  name: 'mmap',
  doc: 'mmap(): a new VMA, anonymous or of a file, private or shared; the region name becomes a label',
  fields: {
    proc: labelName(),
    name: labelName(),
    size: size(),
    prot: oneOf(PROT_NAMES, 'prot: one of'),
    flags: z.array(kernelName(MAP_NAMES, 'MAP', 'mmap flags from')),
    file: labelName().optional(),
    device: labelName().optional(),
    offset: size().optional(),
    addr: uint('an address').optional(),
  },
  binds: { key: 'name', kind: 'region', memory: false },
  analyse: (a, ctx) => {
    ctx.use(a.proc, ['process'], ['proc']);
    if (a.file && a.device) ctx.error(['device'], 'a mapping is of a file or of a device, not both');
    if (a.file) ctx.use(a.file, ['file'], ['file']);
    else if (a.device) ctx.use(a.device, ['device'], ['device']);
    else if (!a.flags.includes('anonymous'))
      ctx.error(['flags'], 'a mapping without a file or a device needs the anonymous flag');
  },
  run: (a, ctx) => {
    const req = {
      length: a.size,
      prot: a.prot,
      flags: [...a.flags],
      offset: a.offset,
      addr: a.addr,
      name: a.name,
    };
    const start = a.device
      ? ctx.m.mmapDevice(pid(ctx, a.proc), { ...req, device: a.device })
      : ctx.m.mmap(pid(ctx, a.proc), { ...req, file: a.file });
    return {
      summary: `${a.name} = ${hex(start)}-${hex(start + Math.ceil(a.size / PAGE_SIZE) * PAGE_SIZE)} ${a.prot} ${a.flags.join(',')}${a.file || a.device ? ` of ${a.file ?? a.device}` : ''}`,
      binding: { kind: 'region', value: start },
    };
  },
});

const rangeFields = { proc: labelName(), addr: addr(), len: size() };

const PROCESS = ['process'] as const;
const PROC = ['proc'] as const;
const ADDR = ['addr'] as const;

/** Every step that reads or writes memory checks these (constants: no arrays per step). */
function analyseRange(a: { proc: string; addr: string | number }, ctx: StaticContext): void {
  ctx.use(a.proc, PROCESS, PROC);
  analyseAddr(a.addr, ADDR, ctx);
}

export const munmapOp = defineOp({
  name: 'munmap',
  doc: 'munmap(): unmap a range, splitting VMAs; page tables no VMA covers any more are freed',
  fields: rangeFields,
  analyse: analyseRange,
  run: (a, ctx) => {
    const at = resolveAddr(a.addr, ctx, ['addr']);
    ctx.m.munmap(pid(ctx, a.proc), at, a.len);
    return { summary: `${addrText(a.addr, at)} +${a.len}` };
  },
});

export const mprotectOp = defineOp({
  name: 'mprotect',
  doc: 'mprotect(): new protections for a range, VMA by VMA',
  fields: { ...rangeFields, prot: oneOf(PROT_NAMES, 'prot: one of') },
  analyse: analyseRange,
  run: (a, ctx) => {
    const at = resolveAddr(a.addr, ctx, ['addr']);
    ctx.m.mprotect(pid(ctx, a.proc), at, a.len, a.prot);
    return { summary: `${addrText(a.addr, at)} +${a.len} -> ${a.prot}` };
  },
});

export const madviseOp = defineOp({
  name: 'madvise',
  doc: 'madvise(): DONTNEED (a PTE table it empties whole is freed, as CONFIG_PT_RECLAIM does), NORMAL/RANDOM/SEQUENTIAL (VMA flags only: the model reads no ahead), HUGEPAGE/NOHUGEPAGE, DONTFORK/DOFORK, WIPEONFORK/KEEPONFORK, DONTDUMP/DODUMP, MERGEABLE/UNMERGEABLE, COLD (clears the accessed bits of the pages this process alone maps), PAGEOUT, FREE (private anon pages made clean and lazyfree: reclaim drops them unless written again; swap entries freed), POPULATE_READ/WRITE, COLLAPSE. Not yet: WILLNEED, REMOVE, DONTNEED_LOCKED, the guard-region advice and HWPOISON/SOFT_OFFLINE (EINVAL)',
  fields: { ...rangeFields, advice: kernelName(MADV_NAMES, 'MADV', 'advice: one of') },
  analyse: analyseRange,
  run: (a, ctx) => {
    const at = resolveAddr(a.addr, ctx, ['addr']);
    ctx.m.madvise(pid(ctx, a.proc), at, a.len, a.advice);
    return { summary: `${addrText(a.addr, at)} +${a.len} ${a.advice}` };
  },
});

export const pageoutOp = defineOp({
  name: 'pageout',
  doc: 'madvise(MADV_PAGEOUT): reclaim what the range maps now — exclusive anon pages to swap, clean file pages dropped',
  fields: rangeFields,
  analyse: analyseRange,
  run: (a, ctx) => {
    const at = resolveAddr(a.addr, ctx, ['addr']);
    const before = ctx.m.vmstat();
    ctx.m.pageout(pid(ctx, a.proc), at, a.len);
    const after = ctx.m.vmstat();
    const out = after.pswpout - before.pswpout;
    const dropped = before.nr_file_pages - after.nr_file_pages + (after.nr_swapcached - before.nr_swapcached);
    return {
      summary: `${addrText(a.addr, at)} +${a.len}: ${out} page(s) to swap, ${dropped} page-cache page(s) dropped`,
    };
  },
});

export const collapseOp = defineOp({
  name: 'collapse',
  doc: 'madvise(MADV_COLLAPSE): copy each PMD-aligned 2 MiB of the range into a new THP mapped by one PMD, now (khugepaged.c rules)',
  fields: rangeFields,
  analyse: analyseRange,
  run: (a, ctx) => {
    const at = resolveAddr(a.addr, ctx, ['addr']);
    const p = pid(ctx, a.proc);
    ctx.m.collapse(p, at, a.len);
    let huge = 0;
    let ranges = 0;
    for (let h = Math.ceil(at / PMD_SIZE) * PMD_SIZE; h + PMD_SIZE <= at + a.len; h += PMD_SIZE, ranges++)
      if (ctx.m.translate(p, h)?.level === 'pmd') huge++;
    return { summary: `${addrText(a.addr, at)} +${a.len}: ${huge} of ${ranges} 2 MiB range(s) PMD-mapped` };
  },
});

/** What a value check says: every byte equal to `byte`, or exactly `data` (hex). */
export const valueExpect = z.strictObject({
  byte: byteValue().optional(),
  data: hexData(true).optional(),
  signal: oneOf(SIGNALS, 'a signal:').optional(),
  /** The access stops on a userfaultfd write-protect fault that waits for its monitor (sync mode). */
  userfault: z.boolean().optional(),
});
type ValueExpect = z.output<typeof valueExpect>;

export const hexBytes = (s: string): Uint8Array =>
  Uint8Array.from(s.match(/../g) ?? [], (h) => Number.parseInt(h, 16));

/** Compare bytes read with an expectation; returns the failures. */
export function checkBytes(bytes: Uint8Array, e: ValueExpect | undefined): Failure[] {
  if (!e) return [];
  const out: Failure[] = [];
  if (e.byte !== undefined) {
    const bad = bytes.findIndex((b) => b !== e.byte);
    if (bad >= 0)
      out.push({
        path: ['expect', 'byte'],
        message: `byte ${bad} is ${hex(bytes[bad])}, expected ${hex(e.byte)}`,
      });
  }
  if (e.data !== undefined) {
    const want = hexBytes(e.data);
    const got = [...bytes.subarray(0, want.length)].map((b) => b.toString(16).padStart(2, '0')).join('');
    if (got !== e.data.toLowerCase())
      out.push({ path: ['expect', 'data'], message: `read ${got}, expected ${e.data.toLowerCase()}` });
  }
  return out;
}

/**
 * A user access completes, raises a signal, or waits on a userfault; the step's `expect.signal`
 * or `expect.userfault` says which is right.
 */
function signalOutcome(
  r: { signal?: string; addr?: number; userfault?: true },
  e: ValueExpect | undefined,
  what: string,
): { failures: Failure[]; text: string } {
  if (r.userfault) {
    const text = `blocked: userfault (wp) at ${hex(r.addr!)}, message queued`;
    if (e?.userfault) return { failures: [], text: `${text} (expected)` };
    return {
      failures: [{ path: e?.userfault === false ? ['expect', 'userfault'] : [], message: `${what} ${text}` }],
      text,
    };
  }
  if (e?.userfault)
    return {
      failures: [{ path: ['expect', 'userfault'], message: `${what} did not wait on a userfault` }],
      text: r.signal ? `${r.signal} at ${hex(r.addr!)}` : 'ok',
    };
  if (r.signal) {
    const text = `${r.signal} at ${hex(r.addr!)}`;
    if (e?.signal === r.signal) return { failures: [], text: `${text} (expected)` };
    return {
      failures: [
        {
          path: e?.signal ? ['expect', 'signal'] : [],
          message: `${what} raised ${text}${e?.signal ? `, expected ${e.signal}` : ''}`,
        },
      ],
      text,
    };
  }
  if (e?.signal)
    return {
      failures: [{ path: ['expect', 'signal'], message: `${what} completed, expected ${e.signal}` }],
      text: 'ok',
    };
  return { failures: [], text: 'ok' };
}

export const readOp = defineOp({
  name: 'read',
  doc: 'the process loads bytes: page-table walk, a fault on a miss (zero page, page cache), the copy',
  fields: { proc: labelName(), addr: addr(), len: size().default(PAGE_SIZE), expect: valueExpect.optional() },
  analyse: analyseRange,
  run: (a, ctx) => {
    const at = resolveAddr(a.addr, ctx, ['addr']);
    const r = ctx.m.read(pid(ctx, a.proc), at, a.len);
    const s = signalOutcome(r, a.expect, 'the read');
    const failures = r.signal ? s.failures : [...s.failures, ...checkBytes(r.bytes, a.expect)];
    const first = r.bytes.length ? ` first byte ${hex(r.bytes[0])}` : '';
    return {
      summary: `${a.proc} ${addrText(a.addr, at)} +${a.len}: ${s.text}${first}`,
      checks: a.expect ? 1 : 0,
      failures,
    };
  },
});

/** What a store writes: `len` copies of `byte` (a page by default), or exact `data`. */
export const storeFields = {
  proc: labelName(),
  addr: addr(),
  len: size().optional(),
  byte: byteValue().optional(),
  data: hexData().optional(),
};

type Store = { proc: string; addr: string | number; len?: number; byte?: number; data?: string };

/** A store's fields make sense: one of byte and data, and no len with data. */
export function analyseStore(a: Store, ctx: StaticContext): void {
  analyseRange(a, ctx);
  if ((a.byte === undefined) === (a.data === undefined))
    ctx.error([], 'give exactly one of byte (a fill) and data (hex bytes)');
  if (a.data !== undefined && a.len !== undefined) ctx.error(['len'], 'data gives its own length');
}

/** The bytes a store writes, as the Machine takes them. */
export const storeData = (a: Store): UserData =>
  a.data !== undefined ? hexBytes(a.data) : { byte: a.byte!, len: a.len ?? PAGE_SIZE };

export const writeOp = defineOp({
  name: 'write',
  doc: 'the process stores bytes: a write fault allocates, COW-copies or reuses as do_wp_page decides',
  fields: { ...storeFields, expect: valueExpect.pick({ signal: true, userfault: true }).optional() },
  analyse: analyseStore,
  run: (a, ctx) => {
    const at = resolveAddr(a.addr, ctx, ['addr']);
    const data = storeData(a);
    const r = ctx.m.write(pid(ctx, a.proc), at, data);
    const s = signalOutcome(r, a.expect, 'the write');
    const len = data instanceof Uint8Array ? data.length : data.len;
    return {
      summary: `${a.proc} ${addrText(a.addr, at)} +${len}: ${s.text}`,
      checks: a.expect ? 1 : 0,
      failures: s.failures,
    };
  },
});

export const touchOp = defineOp({
  name: 'touch',
  doc: 'the process touches one byte of every page (a loop of loads, or stores with write: true)',
  fields: {
    proc: labelName(),
    addr: addr(),
    len: size(),
    write: z.boolean().default(false),
    expect: valueExpect.pick({ signal: true, userfault: true }).optional(),
  },
  analyse: analyseRange,
  run: (a, ctx) => {
    const at = resolveAddr(a.addr, ctx, ['addr']);
    const r = ctx.m.touch(pid(ctx, a.proc), at, a.len, { write: a.write });
    const s = signalOutcome(r, a.expect, 'the touch');
    return {
      summary: `${a.proc} ${addrText(a.addr, at)} +${a.len} ${a.write ? 'stores' : 'loads'}: ${r.done} page(s) ${s.text}`,
      checks: a.expect ? 1 : 0,
      failures: s.failures,
    };
  },
});

export const VM_OPS = [
  spawnOp,
  forkOp,
  exitOp,
  mmapOp,
  munmapOp,
  mprotectOp,
  madviseOp,
  pageoutOp,
  collapseOp,
  readOp,
  writeOp,
  touchOp,
];
