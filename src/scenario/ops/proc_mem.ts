/**
 * Writes and reads through /proc/PID/mem, as a debugger's ptrace(POKEDATA/PEEKDATA) does: GUP
 * with FOLL_FORCE, so a read-only private mapping is written through a COW copy and PROT_NONE
 * memory can be read. mkdirty.c's ptrace cases are built from these.
 */
import { addr, addrText, analyseAddr, resolveAddr } from '../address.js';
import { hex, labelName, size } from '../fields.js';
import { defineOp } from '../step.js';
import { analyseStore, checkBytes, storeData, storeFields, valueExpect } from './vm.js';

export const memWriteOp = defineOp({
  name: 'mem_write',
  doc: 'write to /proc/PID/mem (ptrace POKE): FOLL_FORCE COWs read-only private memory and writes the copy',
  fields: storeFields,
  analyse: analyseStore,
  run: (a, ctx) => {
    const at = resolveAddr(a.addr, ctx, ['addr']);
    const done = ctx.m.memWrite(ctx.labels.num(a.proc), at, storeData(a));
    return { summary: `${a.proc} ${addrText(a.addr, at)}: ${done} byte(s) written` };
  },
});

export const memReadOp = defineOp({
  name: 'mem_read',
  doc: 'read /proc/PID/mem (ptrace PEEK): FOLL_FORCE reads PROT_NONE memory too; `expect` checks the bytes',
  fields: {
    proc: labelName(),
    addr: addr(),
    len: size().default(1),
    expect: valueExpect.omit({ signal: true }).optional(),
  },
  analyse: (a, ctx) => {
    ctx.use(a.proc, ['process'], ['proc']);
    analyseAddr(a.addr, ['addr'], ctx);
  },
  run: (a, ctx) => {
    const at = resolveAddr(a.addr, ctx, ['addr']);
    const bytes = ctx.m.memRead(ctx.labels.num(a.proc), at, a.len);
    const first = bytes.length ? `, first byte ${hex(bytes[0])}` : '';
    return {
      summary: `${a.proc} ${addrText(a.addr, at)}: ${bytes.length} byte(s) read${first}`,
      checks: a.expect ? 1 : 0,
      failures: checkBytes(bytes, a.expect),
    };
  },
});

export const PROC_MEM_OPS = [memWriteOp, memReadOp];
