/**
 * Ops of memory without ordinary pages: devices whose mmap or fault handler maps memory
 * (remap_pfn_range, vm_insert_page(s), vmf_insert_pfn, vmf_insert_mixed, remap_vmalloc_range —
 * mm/memory.c, mm/vmalloc.c), vmalloc / vmalloc_user / vfree, memremap (ZONE_DEVICE memory with an
 * eager, lazy or absent memmap, mm/memremap.c), and an expectation on vm_normal_page().
 *
 *   - { op: device, name: bar, map: remap_pfn_range, backing: io, size: 64K }
 *   - { op: mmap, proc: p, name: regs, size: 64K, prot: rw, flags: [shared], device: bar }
 *
 * `backing` says what the handler maps: `io` (pfn-only memory with no struct page), `ram` (pages
 * from alloc_pages), `vmalloc` (an area a vmalloc_user step made: `area: NAME`), `xip` (the 2007
 * AXFS case: even pages raw flash, odd pages RAM filled on first fault), or `devmem` (the pages of
 * a memremap step, `pagemap: NAME`, given real descriptors on fault by the sanctioned accessor). Each page's first byte
 * says where it came from: 0x40+n for I/O or flash page n, 0x80+n for RAM page n.
 */

import { z } from 'zod';
import type { PagemapId } from '../../machine/ids.js';
import type { Machine } from '../../machine/machine.js';
import type { DeviceDriver, DriverContext } from '../../machine/types.js';
import { kernelPointer, PAGE_SIZE } from '../../mm/types.js';
import { addr, addrText, analyseAddr, resolveAddr } from '../address.js';
import { hex, labelName, oneOf, size, uint } from '../fields.js';
import { defineOp, type RunContext } from '../step.js';

const MAPS = [
  'remap_pfn_range',
  'vm_insert_page',
  'vm_insert_pages',
  'vmf_insert_pfn',
  'vmf_insert_mixed',
  'remap_vmalloc_range',
] as const;
const BACKINGS = ['io', 'ram', 'vmalloc', 'xip', 'devmem'] as const;
type MapKind = (typeof MAPS)[number];

/** Physical pages a device's handler hands out, page n at index n. */
function backingPfns(m: Machine, backing: string, pages: number, name: string): number[] {
  if (backing === 'io' || backing === 'xip') {
    // Device ranges come in whole memmap-page chunks of 64 pfns (256 KiB); the device uses the first pages.
    const first = m.ioRegion(Math.ceil(pages / 64) * 64 * PAGE_SIZE, { name });
    for (let i = 0; i < pages; i++) m.physWrite(first + i, 0, { byte: 0x40 + (i % 64), len: 1 });
    return Array.from({ length: pages }, (_, i) => first + i);
  }
  return Array.from({ length: pages }, (_, i) => {
    const pfn = m.allocPages(0);
    m.physWrite(pfn, 0, { byte: 0x80 + (i % 64), len: 1 });
    return pfn;
  });
}

/**
 * A device-memory driver: on fault, the sanctioned accessor gives the pfn's memmap chunk real
 * descriptors (reclaiming an idle chunk at the limit), then vm_insert_page maps it.
 */
function devmemDriver(m: Machine, startPfn: number, nrPages: number): DeviceDriver {
  return {
    mmap: (ctx) => ctx.setFlags(['mixedmap']),
    fault: (ctx, vmf) => {
      if (vmf.pgoff >= nrPages) return 'sigbus';
      m.pfnToPagePopulate(startPfn + vmf.pgoff);
      ctx.vmInsertPage(vmf.addr, startPfn + vmf.pgoff);
      return 'nopage';
    },
  };
}

/** The driver for one `device` step: where and how its handler maps `pfns`. */
function driverFor(m: Machine, map: MapKind, backing: string, pfns: number[], kaddr: number): DeviceDriver {
  const at = (ctx: DriverContext, i: number) => ctx.start + i * PAGE_SIZE;
  const pageOf = (ctx: DriverContext) =>
    Math.min(pfns.length, (ctx.end - ctx.start) / PAGE_SIZE + ctx.pgoff) - ctx.pgoff;
  if (backing === 'xip') {
    const ram = new Map<number, number>();
    return {
      mmap: (ctx) => ctx.setFlags(['mixedmap']),
      fault: (ctx, vmf) => {
        if (vmf.pgoff >= pfns.length) return 'sigbus';
        if (vmf.pgoff % 2 === 0) return ctx.vmfInsertMixed(vmf.addr, pfns[vmf.pgoff]);
        let pfn = ram.get(vmf.pgoff);
        if (pfn === undefined) {
          pfn = m.allocPages(0);
          m.physWrite(pfn, 0, { byte: 0x80 + (vmf.pgoff % 64), len: 1 });
          ram.set(vmf.pgoff, pfn);
        }
        ctx.vmInsertPage(vmf.addr, pfn);
        return 'nopage';
      },
    };
  }
  switch (map) {
    case 'remap_pfn_range':
      return { mmap: (ctx) => ctx.remapPfnRange(ctx.start, pfns[0] + ctx.pgoff, ctx.end - ctx.start) };
    case 'vm_insert_page':
      return {
        mmap: (ctx) => {
          for (let i = 0; i < pageOf(ctx); i++) ctx.vmInsertPage(at(ctx, i), pfns[ctx.pgoff + i]);
        },
      };
    case 'vm_insert_pages':
      return {
        mmap: (ctx) => void ctx.vmInsertPages(ctx.start, pfns.slice(ctx.pgoff, ctx.pgoff + pageOf(ctx))),
      };
    case 'remap_vmalloc_range':
      return { mmap: (ctx) => ctx.remapVmallocRange(kaddr, ctx.pgoff) };
    case 'vmf_insert_pfn':
    case 'vmf_insert_mixed':
      return {
        mmap: (ctx) => ctx.setFlags([map === 'vmf_insert_pfn' ? 'pfnmap' : 'mixedmap']),
        fault: (ctx, vmf) => {
          if (vmf.pgoff >= pfns.length) return 'sigbus';
          return map === 'vmf_insert_pfn'
            ? ctx.vmfInsertPfn(vmf.addr, pfns[vmf.pgoff])
            : ctx.vmfInsertMixed(vmf.addr, pfns[vmf.pgoff]);
        },
      };
  }
}

export const deviceOp = defineOp({
  name: 'device',
  doc: 'a device whose mmap (or fault) handler maps io, ram, vmalloc or xip memory with one kernel API',
  fields: {
    name: labelName(),
    map: oneOf(MAPS, 'map: one of'),
    backing: oneOf(BACKINGS, 'backing: one of'),
    size: size().optional(),
    area: addr().optional(),
    pagemap: labelName().optional(),
  },
  binds: { key: 'name', kind: 'device', memory: false },
  analyse: (a, ctx) => {
    if (a.backing === 'devmem') {
      if (a.map !== 'vm_insert_page') ctx.error(['map'], 'device memory is mapped with vm_insert_page');
      if (!a.pagemap) ctx.error([], 'backing devmem needs pagemap: NAME (a memremap step)');
      else ctx.use(a.pagemap, ['pagemap'], ['pagemap']);
    } else if (a.backing === 'vmalloc') {
      if (a.map !== 'remap_vmalloc_range')
        ctx.error(['map'], 'vmalloc memory is mapped with remap_vmalloc_range');
      if (a.area === undefined)
        ctx.error([], 'backing vmalloc needs area: NAME or NAME+OFFSET (a vmalloc or vmalloc_user step)');
      else analyseAddr(a.area, ['area'], ctx, ['vmalloc']);
    } else {
      if (a.map === 'remap_vmalloc_range')
        ctx.error(['backing'], 'remap_vmalloc_range maps vmalloc memory: backing: vmalloc');
      if (a.size === undefined) ctx.error([], `backing ${a.backing} needs size:`);
    }
  },
  run: (a, ctx) => {
    const { m } = ctx;
    if (a.backing === 'devmem') {
      const pm = m.pagemapInfo(ctx.labels.num<PagemapId>(a.pagemap!));
      m.defineDevice(a.name, devmemDriver(m, pm.startPfn, pm.nrPages));
      return {
        summary: `${a.name}: vm_insert_page of ${a.pagemap} (${pm.mode} memmap)`,
        binding: { kind: 'device', value: a.name },
      };
    }
    const pages = a.size === undefined ? 0 : Math.ceil(a.size / PAGE_SIZE);
    const pfns = a.backing === 'vmalloc' ? [] : backingPfns(m, a.backing, pages, a.name);
    // remap_vmalloc_range_partial maps from any page of an area (find_vm_area finds the one holding it).
    const kaddr = a.area === undefined ? 0 : resolveAddr(a.area, ctx, ['area']);
    m.defineDevice(a.name, driverFor(m, a.map, a.backing, pfns, kaddr));
    const where = pfns.length
      ? ` pfn ${hex(pfns[0])}${pfns.length > 1 ? `..${hex(pfns[pfns.length - 1])}` : ''}`
      : ` area ${addrText(a.area!, kaddr, kernelPointer)}`;
    return {
      summary: `${a.name}: ${a.map} of ${a.backing}${where}`,
      binding: { kind: 'device', value: a.name },
    };
  },
});

export const vmallocOp = defineOp({
  name: 'vmalloc',
  doc: 'vmalloc(): virtually contiguous kernel memory described by a scamem (no VM_USERMAP)',
  fields: { size: size(), as: labelName() },
  binds: { key: 'as', kind: 'vmalloc', memory: true },
  run: (a, ctx) => vmallocRun(a, ctx, false),
});

export const vmallocUserOp = defineOp({
  name: 'vmalloc_user',
  doc: 'vmalloc_user(): zeroed vmalloc memory with VM_USERMAP, so remap_vmalloc_range may map it',
  fields: { size: size(), as: labelName() },
  binds: { key: 'as', kind: 'vmalloc', memory: true },
  run: (a, ctx) => vmallocRun(a, ctx, true),
});

function vmallocRun(a: { size: number; as: string }, ctx: RunContext, user: boolean) {
  const { m } = ctx;
  const kaddr = user ? m.vmallocUser(a.size) : m.vmalloc(a.size);
  const first = m.vmallocToPfn(kaddr);
  return {
    summary: `${a.as} = ${kernelPointer(kaddr)}, ${Math.ceil(a.size / PAGE_SIZE)} page(s), first pfn ${hex(first)}`,
    binding: {
      kind: 'vmalloc',
      value: kaddr,
      frames: (mm: Machine) => ({ pfn: mm.vmallocToPfn(kaddr), count: 1 }),
    },
  };
}

export const vfreeOp = defineOp({
  name: 'vfree',
  doc: 'vfree(): the area goes; pages a user mapping still holds stay alive until it lets go',
  fields: { area: labelName() },
  analyse: (a, ctx) => void ctx.use(a.area, ['vmalloc'], ['area']),
  run: (a, ctx) => {
    ctx.m.vfree(ctx.labels.num(a.area));
    return { summary: a.area };
  },
});

export const memremapOp = defineOp({
  name: 'memremap',
  doc: 'memremap_pages(): ZONE_DEVICE memory above RAM with an eager, lazy or absent memmap',
  fields: {
    size: size(),
    mode: oneOf(['eager', 'lazy', 'none'] as const, 'mode: one of'),
    limit: uint('a chunk count').optional(),
    as: labelName(),
  },
  binds: { key: 'as', kind: 'pagemap', memory: false },
  run: (a, ctx) => {
    const info = ctx.m.memremapPages(a.size, { mode: a.mode, limit: a.limit, name: a.as });
    return {
      summary: `${a.as}: ${info.nrPages} pfns from ${hex(info.startPfn)}, memmap ${a.mode}`,
      binding: { kind: 'pagemap', value: info.id },
    };
  },
});

/** `expect: { vm_normal_page: { proc: p, addr: buf, returns: page } }`, also `NULL` or `nothing`. */
export const vmNormalPageExpect = z.strictObject({
  proc: labelName(),
  addr: addr(),
  // YAML reads NULL (and null, ~) as null itself: the schema takes null too, so an editor does.
  returns: z.union([z.null().transform(() => 'null' as const), z.enum(['page', 'null', 'nothing'])], {
    error: 'expected returns: one of page, NULL, nothing',
  }),
});

export function checkVmNormalPage(
  v: z.output<typeof vmNormalPageExpect>,
  ctx: RunContext,
): string | undefined {
  const at = resolveAddr(v.addr, ctx, ['vm_normal_page', 'addr']);
  const r = ctx.m.vmNormalPage(ctx.labels.num(v.proc), at);
  const got = r === undefined ? 'nothing' : r === null ? 'null' : 'page';
  return got === v.returns
    ? undefined
    : `vm_normal_page(${v.proc} ${addrText(v.addr, at)}) returned ${got}, expected ${v.returns}`;
}

export function analyseVmNormalPage(
  v: z.output<typeof vmNormalPageExpect>,
  ctx: Parameters<typeof analyseAddr>[2],
): void {
  ctx.use(v.proc, ['process'], ['vm_normal_page', 'proc']);
  analyseAddr(v.addr, ['vm_normal_page', 'addr'], ctx);
}

export const DRIVER_OPS = [deviceOp, vmallocOp, vmallocUserOp, vfreeOp, memremapOp];
