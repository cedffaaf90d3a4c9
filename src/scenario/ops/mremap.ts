/**
 * The mremap op (mm/mremap.c): shrink a mapping, grow it in place, or move it — its page tables
 * move, so the same frames appear at the new address. `flags` are MREMAP_* names (`maymove`,
 * `fixed`, `dontunmap`), `new_addr` an address like any other (`dst`, `dst+1M`); `as` names the
 * address the range has afterwards as a region label, so later steps can use it.
 */
import { z } from 'zod';
import { MREMAP_NAMES } from '../../machine/uapi.js';
import { addr, addrText, analyseAddr, resolveAddr } from '../address.js';
import { hex, kernelName, labelName, size } from '../fields.js';
import { defineOp } from '../step.js';

export const mremapOp = defineOp({
  name: 'mremap',
  doc: 'mremap(): shrink, grow in place, or move with MAYMOVE / FIXED (to new_addr) / DONTUNMAP; page tables move, `as` names the result',
  fields: {
    proc: labelName(),
    addr: addr(),
    old_len: size(),
    new_len: size(),
    flags: z.array(kernelName(MREMAP_NAMES, 'MREMAP', 'mremap flags from')).default([]),
    new_addr: addr().optional(),
    as: labelName().optional(),
  },
  binds: { key: 'as', kind: 'region', memory: false },
  analyse: (a, ctx) => {
    ctx.use(a.proc, ['process'], ['proc']);
    analyseAddr(a.addr, ['addr'], ctx);
    if (a.new_addr !== undefined) analyseAddr(a.new_addr, ['new_addr'], ctx);
  },
  run: (a, ctx) => {
    const at = resolveAddr(a.addr, ctx, ['addr']);
    const to = a.new_addr === undefined ? undefined : resolveAddr(a.new_addr, ctx, ['new_addr']);
    const got = ctx.m.mremap(ctx.labels.num(a.proc), at, a.old_len, a.new_len, {
      flags: [...a.flags],
      newAddr: to,
    });
    const where = got === at ? 'in place' : `moved to ${hex(got)}`;
    return {
      summary: `${addrText(a.addr, at)} +${a.old_len} -> +${a.new_len} ${where}${a.as ? ` as ${a.as}` : ''}`,
      binding: a.as ? { kind: 'region', value: got } : undefined,
    };
  },
});

export const MREMAP_OPS = [mremapOp];
