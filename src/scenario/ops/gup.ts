/**
 * Ops of GUP and DMA: get / pin (get_user_pages / pin_user_pages, optionally _fast), put / unpin
 * (put_page / unpin_user_pages[_dirty_lock]), and dma_read / dma_write, which act on the pinned
 * physical frames so a scenario shows what a device sees after fork and COW (mm/gup.c).
 */

import { z } from 'zod';
import type { PinHandle } from '../../machine/ids.js';
import { FOLL_NAMES } from '../../machine/uapi.js';
import { PAGE_SIZE } from '../../mm/types.js';
import { addr, addrText, analyseAddr, resolveAddr } from '../address.js';
import { byteValue, hex, hexData, kernelName, labelName, size, uint } from '../fields.js';
import type { Binding } from '../labels.js';
import { defineOp, type RunContext, type StaticContext } from '../step.js';
import { checkBytes, hexBytes, valueExpect } from './vm.js';

const gupFields = {
  proc: labelName(),
  addr: addr(),
  pages: uint('a page count').min(1, { error: 'expected a page count ≥ 1' }).default(1),
  flags: z.array(kernelName(FOLL_NAMES, 'FOLL', 'FOLL flags from')).default([]),
  fast: z.boolean().default(false),
  as: labelName().optional(),
};

function analyseGup(a: { proc: string; addr: string | number }, ctx: StaticContext): void {
  ctx.use(a.proc, ['process'], ['proc']);
  analyseAddr(a.addr, ['addr'], ctx);
}

function gupBinding(kind: 'pin' | 'gup', id: number, pfns: Float64Array): Binding {
  return { kind, value: id, frames: () => ({ pfn: pfns[0], count: 1 }) };
}

function runGup(
  kind: 'pin' | 'gup',
  a: { proc: string; addr: string | number; pages: number; flags: string[]; fast: boolean; as?: string },
  ctx: RunContext,
) {
  const at = resolveAddr(a.addr, ctx, ['addr']);
  const pid = ctx.labels.num(a.proc);
  const r =
    kind === 'pin'
      ? ctx.m.pinUserPages(pid, at, a.pages, a.flags, { fast: a.fast })
      : ctx.m.getUserPages(pid, at, a.pages, a.flags, { fast: a.fast });
  const frames = [...r.pfns.subarray(0, 4)].map(hex).join(' ') + (r.pages > 4 ? ' ...' : '');
  return {
    summary: `${a.proc} ${addrText(a.addr, at)}: ${r.pages} of ${a.pages} page(s) [${frames}]${a.as ? ` as ${a.as}` : ''}`,
    binding: gupBinding(kind, r.id, r.pfns),
  };
}

export const pinOp = defineOp({
  name: 'pin',
  doc: 'pin_user_pages(_fast)(): FOLL_PIN — +1024 on small folios, _pincount on large ones (design bias)',
  fields: gupFields,
  binds: { key: 'as', kind: 'pin', memory: true },
  analyse: analyseGup,
  run: (a, ctx) => runGup('pin', a, ctx),
});

export const getOp = defineOp({
  name: 'get',
  doc: 'get_user_pages(_fast)(): FOLL_GET — one plain reference per page; never unshares',
  fields: gupFields,
  binds: { key: 'as', kind: 'gup', memory: true },
  analyse: analyseGup,
  run: (a, ctx) => runGup('gup', a, ctx),
});

export const unpinOp = defineOp({
  name: 'unpin',
  doc: 'unpin_user_pages(), or unpin_user_pages_dirty_lock() with dirty: true (set_page_dirty by owner: page cache, anon, KSM, driver)',
  fields: { pin: labelName(), dirty: z.boolean().default(false) },
  analyse: (a, ctx) => void ctx.use(a.pin, ['pin', 'gup'], ['pin']),
  run: (a, ctx) => {
    ctx.m.unpinUserPages(ctx.labels.num<PinHandle>(a.pin), { dirty: a.dirty });
    return { summary: `${a.pin}${a.dirty ? ' (dirty)' : ''}` };
  },
});

export const putOp = defineOp({
  name: 'put',
  doc: 'put_page() on every reference a get took (a pin may not be put: KernelBug)',
  fields: { get: labelName() },
  analyse: (a, ctx) => void ctx.use(a.get, ['gup', 'pin'], ['get']),
  run: (a, ctx) => {
    ctx.m.putUserPages(ctx.labels.num<PinHandle>(a.get));
    return { summary: a.get };
  },
});

export const dmaReadOp = defineOp({
  name: 'dma_read',
  doc: 'a device reads through a pin or reference: the frames it holds, whoever maps them now',
  fields: {
    pin: labelName(),
    offset: size().default(0),
    len: size().default(1),
    expect: valueExpect.omit({ signal: true }).optional(),
  },
  analyse: (a, ctx) => void ctx.use(a.pin, ['pin', 'gup'], ['pin']),
  run: (a, ctx) => {
    const bytes = ctx.m.dmaRead(ctx.labels.num<PinHandle>(a.pin), a.offset, a.len);
    return {
      summary: `${a.pin} +${a.offset}: first byte ${hex(bytes[0])}`,
      checks: a.expect ? 1 : 0,
      failures: checkBytes(bytes, a.expect),
    };
  },
});

export const dmaWriteOp = defineOp({
  name: 'dma_write',
  doc: 'a device writes through a pin: the bytes land in the pinned frames',
  fields: {
    pin: labelName(),
    offset: size().default(0),
    len: size().optional(),
    byte: byteValue().optional(),
    data: hexData().optional(),
  },
  analyse: (a, ctx) => {
    ctx.use(a.pin, ['pin', 'gup'], ['pin']);
    if ((a.byte === undefined) === (a.data === undefined))
      ctx.error([], 'give exactly one of byte (a fill) and data (hex bytes)');
  },
  run: (a, ctx) => {
    const data = a.data !== undefined ? hexBytes(a.data) : { byte: a.byte!, len: a.len ?? PAGE_SIZE };
    ctx.m.dmaWrite(ctx.labels.num<PinHandle>(a.pin), data, a.offset);
    return {
      summary: `${a.pin} +${a.offset}: ${data instanceof Uint8Array ? data.length : data.len} byte(s)`,
    };
  },
});

export const GUP_OPS = [getOp, pinOp, unpinOp, putOp, dmaReadOp, dmaWriteOp];
