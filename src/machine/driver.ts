/**
 * The driver harness: devices whose mmap and fault handlers map memory into a process with the
 * kernel's driver APIs, pfn-only I/O ranges, ZONE_DEVICE memory with an eager, lazy or absent
 * memmap, and vmalloc memory (scamem) mapped to user space.
 *
 * Models: what a driver's file_operations->mmap and vm_operations_struct may call (pfnmap.ts:
 * remap_pfn_range, vm_insert_page(s), vmf_insert_pfn/mixed; vmalloc.ts: remap_vmalloc_range),
 * with the mmap_lock they hold; memremap_pages() (memremap.ts); vm_normal_page() (memory.ts)
 * asked from outside. The mechanisms live in src/mm; this file names things by pid and address.
 */

import type { Kernel } from '../mm/kernel.js';
import { VMALLOC_PAGE } from '../mm/memdesc.js';
import { vmNormalPage } from '../mm/memory.js';
import type { MemmapMode } from '../mm/memremap.js';
import { MAP, VM_NAMES, type Vma } from '../mm/mm_types.js';
import { doMmap } from '../mm/mmap.js';
import {
  type MmapLock,
  remapPfnRange,
  vmfInsertMixed,
  vmfInsertPfn,
  vmInsertPage,
  vmInsertPages,
} from '../mm/pfnmap.js';
import { entryPfn } from '../mm/pgtable.js';
import { formatFlags, parseSize } from '../mm/types.js';
import { remapVmallocRangePartial } from '../mm/vmalloc.js';
import { InputError } from './config.js';
import type { PagemapId } from './ids.js';
import { findProcess, findVmaOf } from './task_mmu.js';
import type { DeviceDriver, DevicePagemapInfo, DriverContext, MmapRequest } from './types.js';
import { parseMapFlags, parseProt } from './uapi.js';

/** Runs the machine's invariant checks after an operation and passes its result through. */
type After = <T>(result: T) => T;

/** What a driver's handlers may do to the VMA they were given, with the mmap_lock they hold. */
function driverContext(k: Kernel, vma: Vma, lock: MmapLock): DriverContext {
  return {
    start: vma.start,
    end: vma.end,
    get pgoff() {
      return vma.pgoff;
    },
    get flags() {
      return formatFlags(vma.flags, VM_NAMES);
    },
    setFlags: (names) => {
      for (const n of names) {
        const bit = VM_NAMES[n];
        if (bit === undefined) throw new InputError(`unknown VM flag '${n}'`);
        vma.flags |= bit;
      }
    },
    remapPfnRange: (addr, pfn, size) => remapPfnRange(k, vma, addr, pfn, size),
    vmInsertPage: (addr, pfn) => vmInsertPage(k, vma, addr, pfn, lock),
    vmInsertPages: (addr, pfns) => vmInsertPages(k, vma, addr, pfns, lock),
    vmfInsertPfn: (addr, pfn) => vmfInsertPfn(k, vma, addr, pfn),
    vmfInsertMixed: (addr, pfn, mkwrite) => vmfInsertMixed(k, vma, addr, pfn, mkwrite),
    remapVmallocRange: (kaddr, pgoff, uaddr = vma.start, size = vma.end - uaddr) =>
      remapVmallocRangePartial(k, vma, uaddr, kaddr, pgoff, size),
  };
}

/** The devices of one machine and the calls that reach them. */
export class DriverHarness {
  private readonly drivers = new Map<string, DeviceDriver>();

  constructor(
    private readonly k: Kernel,
    private readonly after: After,
  ) {}

  /** Declare a device: its mmap handler and fault handler get a DriverContext for the VMA. */
  defineDevice(name: string, driver: DeviceDriver): void {
    if (this.drivers.has(name)) throw new InputError(`device '${name}' is already defined`);
    this.drivers.set(name, driver);
  }

  /** mmap() of a device file: the driver's mmap handler runs on the new VMA. Returns the address. */
  mmapDevice(pid: number, a: Omit<MmapRequest, 'file'> & { device: string }): number {
    const k = this.k;
    const d = this.drivers.get(a.device);
    if (!d) throw new InputError(`no device named '${a.device}'`);
    const vmf = (f: { addr: number; pgoff: number; write: boolean }) => ({
      addr: f.addr,
      pgoff: f.pgoff,
      write: f.write,
    });
    return doMmap(k, findProcess(k, pid), {
      addr: a.addr,
      length: a.length,
      prot: parseProt(a.prot),
      flags: parseMapFlags(a.flags) & ~MAP.ANONYMOUS,
      offset: a.offset,
      name: a.name,
      driver: {
        name: a.device,
        mmap: d.mmap && ((vma) => d.mmap!(driverContext(k, vma, 'write'))),
        ops: {
          name: a.device,
          fault: d.fault && ((f) => d.fault!(driverContext(k, f.vma, 'read'), vmf(f))),
          pfnMkwrite: d.pfnMkwrite && ((f) => d.pfnMkwrite!(driverContext(k, f.vma, 'read'), vmf(f))),
          pageMkwrite: d.pageMkwrite && ((f) => d.pageMkwrite!(driverContext(k, f.vma, 'read'), vmf(f))),
        },
      },
    });
  }

  /**
   * The driver calls of DriverContext on an existing VMA of a process, as a driver would make them
   * (mmap_lock held for write unless `lock` says read): for tests of every errno and BUG.
   */
  driverCall(pid: number, addr: number, lock: MmapLock = 'write'): DriverContext {
    const ctx = driverContext(this.k, findVmaOf(findProcess(this.k, pid), addr), lock);
    const wrap =
      <A extends unknown[], R>(fn: (...args: A) => R) =>
      (...args: A): R =>
        this.after(fn(...args));
    return {
      ...ctx,
      remapPfnRange: wrap(ctx.remapPfnRange),
      vmInsertPage: wrap(ctx.vmInsertPage),
      vmInsertPages: wrap(ctx.vmInsertPages),
      vmfInsertPfn: wrap(ctx.vmfInsertPfn),
      vmfInsertMixed: wrap(ctx.vmfInsertMixed),
      remapVmallocRange: wrap(ctx.remapVmallocRange),
    };
  }
}

/**
 * vm_normal_page() for the entry mapping `addr`: the frame of the page it returns, null when it
 * returns NULL (a special mapping), undefined when nothing is mapped.
 */
export function vmNormalPageAt(k: Kernel, pid: number, addr: number): number | null | undefined {
  const p = findProcess(k, pid);
  const slot = k.ptdesc.leafSlot(p.mm.pgd, addr);
  const e = slot >= 0 ? k.ptdesc.entries[slot] : 0;
  if (e === 0) return undefined;
  const row = vmNormalPage(k, findVmaOf(p, addr), addr, e);
  return row === VMALLOC_PAGE || row >= 0 ? entryPfn(e) : null;
}

/** Physical memory with no struct page (I/O or flash): a pfn-only range above RAM. Returns its first pfn. */
export function ioRegion(k: Kernel, size: string | number, name?: string): number {
  return k.devmem.memremapPages({ size: parseSize(size), mode: 'none', name }).startPfn;
}

/** memremap_pages(): ZONE_DEVICE memory above RAM with an eager, lazy or absent memmap. */
export function memremapPages(
  k: Kernel,
  size: string | number,
  opts: { mode: MemmapMode; limit?: number; nid?: number; name?: string },
): DevicePagemapInfo {
  return pagemapInfo(k, k.devmem.memremapPages({ size: parseSize(size), ...opts }).id);
}

export function pagemap(k: Kernel, id: number) {
  const m = k.devmem.maps.find((x) => x.id === id);
  if (!m) throw new InputError(`no device pagemap ${id}`);
  return m;
}

export function pagemapInfo(k: Kernel, id: number): DevicePagemapInfo {
  const m = pagemap(k, id);
  return {
    id: m.id as PagemapId,
    name: m.name,
    startPfn: m.startPfn,
    nrPages: m.nrPages,
    mode: m.mode,
    chunks: [...m.chunks.keys()],
    populated: m.populated,
    reclaimed: m.reclaimed,
  };
}
