/**
 * The fuzzer's mremap and MADV_POPULATE ops, and what they do to the reference model.
 *
 * mremap, once the Machine has succeeded (the kernel decides whether a range may move, so the
 * reference follows its answer): a shrink drops the tail; a same-length call without
 * MREMAP_FIXED changes nothing; a growth in place adds fresh pages of the same kind (zeros, or the
 * backing object's next pages, past whose end accesses are SIGBUS); a move takes every page to
 * the same offset at the new address — a fixed move of one length page by page, leaving the
 * destination alone where the source had a hole (remap_move), otherwise after unmapping the whole
 * destination — and MREMAP_DONTUNMAP leaves the source mapped with nothing private in it (zeros
 * for anonymous memory, the file's bytes for a private file mapping, the shared object's for a
 * shared one, SIGBUS for a device's, which has no fault handler to map its page again). A pin's cells move with its pages, so a device keeps reading what the process does.
 *
 * MADV_POPULATE_WRITE breaks COW page by page, as a store would, up to the first page the kernel
 * refuses (a hole, a VMA without the permission, a pfn map, a SIGBUS); MADV_POPULATE_READ changes
 * no byte anyone can read.
 */
import type { FuzzOp } from './ops.js';
import { PAGE, type RefPage, type RefProcess } from './reference.js';
import type { Prepared, Step, World } from './world.js';

type MremapOp = Extract<FuzzOp, { op: 'mremap' }>;
type PopulateOp = Extract<FuzzOp, { op: 'populate' }>;

const at = (region: string, page: number) => (page === 0 ? region : `${region}+${page * PAGE}`);

const FLAGS: Record<MremapOp['mode'], string[]> = {
  inplace: [],
  maymove: ['maymove'],
  fixed: ['maymove', 'fixed'],
  dontunmap: ['maymove', 'dontunmap'],
};

export function prepareMremap(w: World, o: MremapOp): Prepared | undefined {
  if (w.regions.has(o.as)) return undefined;
  const { p, va } = w.pagesIn(o);
  const kind = w.regions.get(o.region)!.kind;
  const flags = FLAGS[o.mode];
  const target = o.target ? w.regions.get(o.target.region)!.start + o.target.page * PAGE : undefined;
  const step: Step = {
    op: 'mremap',
    proc: o.proc,
    addr: at(o.region, o.page),
    old_len: o.pages * PAGE,
    new_len: o.newPages * PAGE,
    flags,
    as: o.as,
  };
  if (o.target) step.new_addr = at(o.target.region, o.target.page);
  return w.ranged(step, p, va, o.pages, () => {
    const got = w.m.mremap(p.pid, va, o.pages * PAGE, o.newPages * PAGE, { flags, newAddr: target });
    applyMremap(p.ref, va, o.pages, o.newPages, flags, target ?? 0, got);
    w.regions.set(o.as, { start: got, pages: o.newPages, kind });
    p.regions.add(o.as);
    return {};
  });
}

/**
 * What a page grown onto the end of `last`'s mapping is: the same kind, `k` pages further on. A
 * device's (vm_insert_page at mmap time, no fault handler) is SIGBUS.
 */
const fresh = (last: RefPage, k: number): RefPage => ({
  prot: last.prot,
  shared: last.shared,
  obj: last.obj,
  idx: last.idx + k,
  gone: last.obj?.kind === 'dev' || undefined,
});

/** What MREMAP_DONTUNMAP leaves where `rp` was: nothing private, and nothing at all of a device's. */
const leftBehind = (rp: RefPage): RefPage => ({
  ...fresh(rp, 0),
  gone: rp.gone || rp.obj?.kind === 'dev' || undefined,
});

function applyMremap(
  ref: RefProcess,
  va: number,
  oldN: number,
  newN: number,
  flags: string[],
  to: number,
  got: number,
): void {
  const pages = ref.pages;
  const fixed = flags.includes('fixed');
  const dontunmap = flags.includes('dontunmap');
  const take = (n: number) => {
    const out: [number, RefPage][] = [];
    for (let i = 0; i < n; i++) {
      const rp = pages.get(va + i * PAGE);
      if (rp) out.push([i, rp]);
      pages.delete(va + i * PAGE);
    }
    return out;
  };
  if (!fixed && !dontunmap) {
    if (newN <= oldN) {
      for (let i = newN; i < oldN; i++) pages.delete(va + i * PAGE);
      return;
    }
    const last = pages.get(va + (oldN - 1) * PAGE)!;
    if (got !== va) for (const [i, rp] of take(oldN)) pages.set(got + i * PAGE, rp);
    for (let i = oldN; i < newN; i++) pages.set(got + i * PAGE, fresh(last, i - oldN + 1));
    return;
  }
  if (fixed && oldN === newN) {
    // remap_move(): each VMA's pages to the same offset; the destination of a hole is left alone.
    for (const [i, rp] of take(oldN)) {
      pages.set(got + i * PAGE, rp);
      if (dontunmap) pages.set(va + i * PAGE, leftBehind(rp));
    }
    return;
  }
  if (fixed) for (let i = 0; i < newN; i++) pages.delete(to + i * PAGE);
  if (newN < oldN) for (let i = newN; i < oldN; i++) pages.delete(va + i * PAGE);
  const moved = Math.min(oldN, newN);
  const last = pages.get(va + (moved - 1) * PAGE);
  const gone = take(moved);
  for (const [i, rp] of gone) {
    pages.set(got + i * PAGE, rp);
    if (dontunmap) pages.set(va + i * PAGE, leftBehind(rp));
  }
  if (last) for (let i = moved; i < newN; i++) pages.set(got + i * PAGE, fresh(last, i - moved + 1));
}

export function preparePopulate(w: World, o: PopulateOp): Prepared {
  const { p, va } = w.pagesIn(o);
  const step: Step = {
    op: 'madvise',
    proc: o.proc,
    addr: at(o.region, o.page),
    len: o.pages * PAGE,
    advice: o.write ? 'populate_write' : 'populate_read',
  };
  const pfnmap = w.devices.get('dio');
  const apply = () => {
    if (o.write) p.ref.populateWrite(va, o.pages, pfnmap);
  };
  return w.ranged(step, p, va, o.pages, () => {
    try {
      w.m.madvise(p.pid, va, o.pages * PAGE, o.write ? 'populate_write' : 'populate_read');
    } catch (e) {
      apply();
      throw e;
    }
    apply();
    return {};
  });
}
