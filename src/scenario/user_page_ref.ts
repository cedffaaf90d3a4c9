/**
 * `page: { proc: p, addr: buf+4K }` — the frame a process address maps now, found by walking its
 * page tables without faulting (an unmapped address names no frame, and an expectation on it fails;
 * a swapped-out one names its swap entry, which `state: { swapped: true }` checks; pagemap's
 * uffd-wp bit, `state: { uffd_wp }`, is read for present, swapped and marker entries alike).
 */
import { z } from 'zod';
import { addr, analyseAddr, resolveAddr } from './address.js';
import { hex, labelName } from './fields.js';
import { definePageRefForm } from './page_ref_form.js';

export const userAddressPageRef = definePageRefForm({
  schema: z.strictObject({ proc: labelName(), addr: addr() }),
  is: (ref) => typeof ref === 'object' && ref !== null && 'proc' in ref,
  analyse: (ref, path, ctx) => {
    ctx.use(ref.proc, ['process'], [...path, 'proc']);
    analyseAddr(ref.addr, [...path, 'addr'], ctx);
  },
  resolve: (ref, ctx, path) => {
    const at = resolveAddr(ref.addr, ctx, [...path, 'addr']);
    const name = `${ref.proc}:${typeof ref.addr === 'string' ? ref.addr : hex(ref.addr)}`;
    const pid = ctx.labels.num(ref.proc);
    const page = ctx.m.pageAt(pid, at);
    const uffd = ctx.m.uffdWpAt(pid, at);
    return page
      ? { pfn: page.pfn, name, info: page, uffd }
      : { pfn: -1, name, swap: ctx.m.swapEntry(pid, at), uffd };
  },
});
