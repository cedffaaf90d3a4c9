/**
 * Invalid arguments: each public Machine method the fuzzer attacks, called with one value no
 * length, address, byte, order, handle or pfn may take. The answer must be an InputError or a
 * KernelError, never a crash and never a success (for NaN, negative or fractional values).
 */
import type { FolioId, PinHandle } from '../machine/ids.js';
import type { Machine } from '../machine/machine.js';
import type { BadCall, FuzzOp } from './ops.js';
import { PAGE } from './reference.js';
import type { Prepared, World } from './world.js';

const num = (v: number) =>
  Number.isNaN(v) ? 'NaN' : Number.isFinite(v) ? String(v) : v > 0 ? 'Infinity' : '-Infinity';

/** One public Machine method with one invalid argument. */
export function badCall(
  m: Machine,
  call: BadCall,
  v: number,
  at: { pid: number; va: number; id: PinHandle; file: string },
): { text: string; run: () => void } {
  const { pid, va, id, file } = at;
  const t = num(v);
  const anon = { prot: 'rw', flags: ['private', 'anonymous'] };
  const table: Record<BadCall, [string, () => unknown]> = {
    'mmap.length': [`mmap(${pid}, {length: ${t}})`, () => m.mmap(pid, { ...anon, length: v })],
    'mmap.addr': [
      `mmap(${pid}, {addr: ${t}, length: 4096, fixed})`,
      () => m.mmap(pid, { ...anon, flags: [...anon.flags, 'fixed'], addr: v, length: PAGE }),
    ],
    'mmap.offset': [
      `mmap(${pid}, {length: 4096, offset: ${t}})`,
      () => m.mmap(pid, { ...anon, length: PAGE, offset: v }),
    ],
    'munmap.addr': [`munmap(${pid}, ${t}, 4096)`, () => m.munmap(pid, v, PAGE)],
    'munmap.length': [`munmap(${pid}, ${va}, ${t})`, () => m.munmap(pid, va, v)],
    'mprotect.length': [`mprotect(${pid}, ${va}, ${t}, 'r')`, () => m.mprotect(pid, va, v, 'r')],
    'madvise.addr': [`madvise(${pid}, ${t}, 4096, 'dontneed')`, () => m.madvise(pid, v, PAGE, 'dontneed')],
    'read.addr': [`read(${pid}, ${t}, 1)`, () => m.read(pid, v, 1)],
    'read.len': [`read(${pid}, ${va}, ${t})`, () => m.read(pid, va, v)],
    'write.len': [`write(${pid}, ${va}, {byte: 1, len: ${t}})`, () => m.write(pid, va, { byte: 1, len: v })],
    'write.byte': [`write(${pid}, ${va}, {byte: ${t}, len: 1})`, () => m.write(pid, va, { byte: v, len: 1 })],
    'touch.len': [`touch(${pid}, ${va}, ${t})`, () => m.touch(pid, va, v)],
    'pin.nrPages': [`pinUserPages(${pid}, ${va}, ${t})`, () => m.pinUserPages(pid, va, v)],
    'get.addr': [`getUserPages(${pid}, ${t}, 1)`, () => m.getUserPages(pid, v, 1)],
    'unpin.id': [`unpinUserPages(${t})`, () => m.unpinUserPages(v as PinHandle)],
    'put.id': [`putUserPages(${t})`, () => m.putUserPages(v as PinHandle)],
    'dmaRead.offset': [`dmaRead(${id}, ${t}, 1)`, () => m.dmaRead(id, v, 1)],
    'dmaRead.len': [`dmaRead(${id}, 0, ${t})`, () => m.dmaRead(id, 0, v)],
    'dmaWrite.offset': [
      `dmaWrite(${id}, {byte: 1, len: 1}, ${t})`,
      () => m.dmaWrite(id, { byte: 1, len: 1 }, v),
    ],
    'fork.pid': [`fork(${t})`, () => m.fork(v)],
    'exit.pid': [`exit(${t})`, () => m.exit(v)],
    'folioAlloc.order': [`folioAlloc(${t})`, () => m.folioAlloc(v)],
    'folioPut.handle': [`folioPut(${t})`, () => m.folioPut(v as FolioId)],
    'kmalloc.size': [`kmalloc(${t})`, () => m.kmalloc(v)],
    'kfree.addr': [`kfree(${t})`, () => m.kfree(v)],
    'vmalloc.size': [`vmalloc(${t})`, () => m.vmalloc(v)],
    'vfree.kaddr': [`vfree(${t})`, () => m.vfree(v)],
    'allocPages.order': [`allocPages(${t})`, () => m.allocPages(v)],
    'freePages.pfn': [`freePages(${t}, 0)`, () => m.freePages(v, 0)],
    'page.pfn': [`page(${t})`, () => m.page(v)],
    'physRead.pfn': [`physRead(${t}, 0, 1)`, () => m.physRead(v, 0, 1)],
    'physRead.len': [`physRead(4096, 0, ${t})`, () => m.physRead(4096, 0, v)],
    'translate.addr': [`translate(${pid}, ${t})`, () => m.translate(pid, v)],
    'fileCreate.size': [`fileCreate('bad', ${t})`, () => m.fileCreate(`bad${t}`, v)],
    'fileTruncate.size': [`fileTruncate('${file}', ${t})`, () => m.fileTruncate(file, v)],
    'vmallocToPfn.kaddr': [`vmallocToPfn(${t})`, () => m.vmallocToPfn(v)],
  };
  const [text, run] = table[call];
  return { text, run: () => void run() };
}

export function prepareBad(w: World, o: Extract<FuzzOp, { op: 'bad' }>): Prepared | undefined {
  const p = o.proc ? w.procs.get(o.proc) : undefined;
  if (o.proc && !p) return undefined;
  const r = o.region ? w.regions.get(o.region) : undefined;
  if (o.region && (!r || !p?.regions.has(o.region))) return undefined;
  const h = o.handle ? w.handles.get(o.handle) : undefined;
  if (o.handle && !h && !w.files.has(o.handle)) return undefined;
  const v = o.value;
  const call = badCall(w.m, o.call, v, {
    pid: p?.pid ?? 1,
    va: r?.start ?? 0x10000,
    id: h?.id ?? (1 as PinHandle),
    file: o.handle ?? 'f0',
  });
  const clearlyInvalid = Number.isNaN(v) || v < 0 || !Number.isInteger(v);
  return {
    step: `machine.${call.text} — an argument no scenario can spell`,
    touched: p && r ? { pid: p.pid, addr: r.start, pages: 1 } : undefined,
    call: () => {
      call.run();
      return clearlyInvalid ? { accepted: `machine.${call.text} succeeded` } : {};
    },
  };
}
