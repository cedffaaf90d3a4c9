/**
 * userfaultfd ops, write-protect mode (src/mm/userfaultfd.ts): `uffd` opens the process's
 * userfaultfd with UFFDIO_API features (`wp_async`, `event_fork`, `wp_unpopulated`, `sigbus`),
 * `uffd_register` / `uffd_unregister` a range in UFFDIO_REGISTER_MODE_WP, `uffd_writeprotect`
 * protects (`wp: true`) or resolves it, and `uffd_read` reads the queued messages. A write to a
 * protected page in sync mode stops with a pending userfault (`expect: { userfault: true }` on the
 * access); resolving and writing again completes it. pagemap's uffd-wp bit is `state: { uffd_wp }`.
 */
import { z } from 'zod';
import { UFFD_FEATURE_NAMES } from '../../machine/uapi.js';
import { addr, addrText, analyseAddr, resolveAddr } from '../address.js';
import { hex, kernelName, labelName, size, uint } from '../fields.js';
import { defineOp, type Failure, type StaticContext } from '../step.js';

const range = { proc: labelName(), addr: addr(), len: size() };
type Range = { proc: string; addr: string | number; len: number };

function analyseUffdRange(a: Range, ctx: StaticContext): void {
  ctx.use(a.proc, ['process'], ['proc']);
  analyseAddr(a.addr, ['addr'], ctx);
}

export const uffdOp = defineOp({
  name: 'uffd',
  doc: 'userfaultfd(2) + UFFDIO_API: the process gets a userfaultfd with these features (wp_async implies wp_unpopulated)',
  fields: {
    proc: labelName(),
    features: z
      .array(kernelName(UFFD_FEATURE_NAMES, 'UFFD_FEATURE', 'userfaultfd features from'))
      .default([]),
  },
  analyse: (a, ctx) => void ctx.use(a.proc, ['process'], ['proc']),
  run: (a, ctx) => {
    const pid = ctx.labels.num(a.proc);
    ctx.m.uffdOpen(pid, [...a.features]);
    const f = ctx.m.uffdState(pid)?.features ?? [];
    return { summary: `${a.proc}: features ${f.length ? f.join(', ') : 'none'}` };
  },
});

export const uffdRegisterOp = defineOp({
  name: 'uffd_register',
  doc: 'UFFDIO_REGISTER, mode wp: the VMAs of the range become VM_UFFD_WP (split at its edges)',
  fields: { ...range, mode: z.array(z.enum(['wp'])).default(['wp']) },
  analyse: analyseUffdRange,
  run: (a, ctx) => {
    const at = resolveAddr(a.addr, ctx, ['addr']);
    ctx.m.uffdRegister(ctx.labels.num(a.proc), at, a.len);
    return { summary: `${a.proc} ${addrText(a.addr, at)} +${a.len}: registered (wp)` };
  },
});

export const uffdUnregisterOp = defineOp({
  name: 'uffd_unregister',
  doc: 'UFFDIO_UNREGISTER: the range resets its write protection and forgets the registration',
  fields: range,
  analyse: analyseUffdRange,
  run: (a, ctx) => {
    const at = resolveAddr(a.addr, ctx, ['addr']);
    ctx.m.uffdUnregister(ctx.labels.num(a.proc), at, a.len);
    return { summary: `${a.proc} ${addrText(a.addr, at)} +${a.len}: unregistered` };
  },
});

export const uffdWriteprotectOp = defineOp({
  name: 'uffd_writeprotect',
  doc: 'UFFDIO_WRITEPROTECT: wp: true write-protects the range (uffd-wp bits, markers); false resolves it and wakes waiting faults unless dontwake',
  fields: { ...range, wp: z.boolean(), dontwake: z.boolean().default(false) },
  analyse: analyseUffdRange,
  run: (a, ctx) => {
    const at = resolveAddr(a.addr, ctx, ['addr']);
    ctx.m.uffdWriteprotect(ctx.labels.num(a.proc), at, a.len, { wp: a.wp, dontwake: a.dontwake });
    const what = a.wp ? 'write-protected' : `resolved${a.dontwake ? ' (dontwake)' : ''}`;
    return { summary: `${a.proc} ${addrText(a.addr, at)} +${a.len}: ${what}` };
  },
});

/** What `uffd_read` may expect: how many messages, the faults' addresses, what is still waiting. */
const readExpect = z.strictObject({
  messages: uint('a message count').optional(),
  faults: z.array(addr()).optional(),
  forks: uint('a fork-event count').optional(),
  waiting: uint('a count of waiting faults').optional(),
});

export const uffdReadOp = defineOp({
  name: 'uffd_read',
  doc: "read() the process's userfaultfd: every queued message (write-protect faults, fork events); `expect` checks them",
  fields: { proc: labelName(), expect: readExpect.optional() },
  analyse: (a, ctx) => {
    ctx.use(a.proc, ['process'], ['proc']);
    a.expect?.faults?.forEach((f, i) => void analyseAddr(f, ['expect', 'faults', i], ctx));
  },
  run: (a, ctx) => {
    const pid = ctx.labels.num(a.proc);
    const msgs = ctx.m.uffdRead(pid);
    const faults = msgs.filter((m) => m.event === 'pagefault');
    const forks = msgs.length - faults.length;
    const waiting = ctx.m.uffdState(pid)?.waiting ?? 0;
    const failures: Failure[] = [];
    const e = a.expect;
    const check = (key: string, got: number, want: number | undefined) => {
      if (want !== undefined && got !== want)
        failures.push({ path: ['expect', key], message: `${key} is ${got}, expected ${want}` });
    };
    check('messages', msgs.length, e?.messages);
    check('forks', forks, e?.forks);
    check('waiting', waiting, e?.waiting);
    if (e?.faults) {
      const want = e.faults.map((f, i) => resolveAddr(f, ctx, ['expect', 'faults', i]));
      const got = faults.map((m) => m.addr);
      if (want.join() !== got.join())
        failures.push({
          path: ['expect', 'faults'],
          message: `faults at [${got.map(hex).join(', ')}], expected [${want.map(hex).join(', ')}]`,
        });
    }
    const list = msgs.map((m) => (m.event === 'fork' ? 'fork' : `wp fault ${hex(m.addr)}`)).join(', ');
    return {
      summary: `${a.proc}: ${msgs.length} message(s)${list ? `: ${list}` : ''}; ${waiting} fault(s) waiting`,
      checks: e ? Object.keys(e).length : 0,
      failures,
    };
  },
});

export const USERFAULTFD_OPS = [uffdOp, uffdRegisterOp, uffdUnregisterOp, uffdWriteprotectOp, uffdReadOp];
