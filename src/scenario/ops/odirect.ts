/**
 * The O_DIRECT write from a user buffer (fs/direct-io.c, iomap_dio_rw): the block layer pins the
 * buffer's pages read-only (FOLL_PIN without FOLL_WRITE, not long-term) for the I/O and unpins
 * them when it completes. The pin is short but it is a pin: a shared anonymous page is unshared
 * first (gup_must_unshare), so the device reads a page nobody else can write. This op exists
 * so the oracle can drive the one user-space path to a read-only pin.
 */
import { PAGE_SIZE } from '../../mm/types.js';
import { addr, addrText, analyseAddr, resolveAddr } from '../address.js';
import { labelName, uint } from '../fields.js';
import { defineOp } from '../step.js';

export const odirectOp = defineOp({
  name: 'odirect',
  doc: 'write(O_DIRECT) from a user buffer: pin_user_pages() read-only for the I/O, then unpin',
  fields: {
    proc: labelName(),
    addr: addr(),
    pages: uint('a page count').min(1, { error: 'expected a page count ≥ 1' }).default(1),
  },
  analyse: (a, ctx) => {
    ctx.use(a.proc, ['process'], ['proc']);
    analyseAddr(a.addr, ['addr'], ctx);
  },
  run: (a, ctx) => {
    const at = resolveAddr(a.addr, ctx, ['addr']);
    const r = ctx.m.pinUserPages(ctx.labels.num(a.proc), at, a.pages, []);
    ctx.m.unpinUserPages(r.id);
    return {
      summary: `${a.proc} ${addrText(a.addr, at)}: ${r.pages} page(s), ${r.pages * PAGE_SIZE} bytes written`,
    };
  },
});

export const ODIRECT_OPS = [odirectOp];
