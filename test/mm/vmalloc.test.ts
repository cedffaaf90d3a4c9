/**
 * vmalloc memory mapped to user space through scamem (kernel-semantics §9, §16 case 21): every
 * errno of remap_vmalloc_range, pages alive after vfree while mapped, GUP and pins, fork, COW,
 * zap, page_to_nid.
 */
import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/index.js';
import { KernelBug } from '../../src/mm/types.js';
import { errnoOf as errno } from '../helpers.js';

const PAGE = 4096;

/** A machine, a process and a ring-buffer-like device whose mmap handler maps a vmalloc area. */
function setup(opts: { user?: boolean; pages?: number; nodes?: number } = {}) {
  const m = new Machine({ memory: '512M', nodes: opts.nodes ?? 1, check: 'full' });
  const p = m.spawn('p');
  const pages = opts.pages ?? 4;
  const buf = opts.user === false ? m.vmalloc(pages * PAGE) : m.vmallocUser(pages * PAGE);
  m.defineDevice('ring', { mmap: (ctx) => ctx.remapVmallocRange(buf, ctx.pgoff) });
  return { m, p, buf, pages };
}

describe('remap_vmalloc_range (§9)', () => {
  it('case 21: plain vmalloc memory is EINVAL; vmalloc_user pages get +1 refcount, +1 mapcount and the flags', () => {
    const plain = setup({ user: false });
    expect(
      errno(() =>
        plain.m.mmapDevice(plain.p, { device: 'ring', length: 4 * PAGE, prot: 'rw', flags: ['shared'] }),
      ),
    ).toBe('EINVAL');
    const { m, p, buf } = setup();
    const before = [0, 1, 2, 3].map((i) => m.vmallocPage(m.vmallocToPfn(buf + i * PAGE)));
    expect(before.every((x) => x.refcount === 1 && x.mapcount === 0)).toBe(true);
    const a = m.mmapDevice(p, { device: 'ring', length: 4 * PAGE, prot: 'rw', flags: ['shared'] });
    for (let i = 0; i < 4; i++) {
      const pfn = m.vmallocToPfn(buf + i * PAGE);
      expect(m.vmallocPage(pfn)).toMatchObject({ refcount: 2, mapcount: 1 });
      expect(m.translate(p, a + i * PAGE)?.pfn).toBe(pfn);
      expect(m.vmNormalPage(p, a + i * PAGE)).toBe(pfn);
    }
    const flags = m.process(p).vmas[0].flags.split('|');
    for (const f of ['mixedmap', 'dontexpand', 'dontdump']) expect(flags).toContain(f);
    expect(flags).not.toContain('io');
    expect(m.process(p).rss.file).toBe(4);
    expect(m.page(m.vmallocToPfn(buf)).type).toBe('vmalloc');
  });

  it('every EINVAL: pgoff overflow, unaligned addresses, not an area, past the area; and insertion errors', () => {
    const { m, p, buf } = setup();
    m.defineDevice('null', {});
    const a = m.mmapDevice(p, { device: 'null', length: 8 * PAGE, prot: 'rw', flags: ['shared'] });
    const d = m.driverCall(p, a);
    expect(errno(() => d.remapVmallocRange(buf, 2 ** 53))).toBe('EINVAL');
    expect(errno(() => d.remapVmallocRange(buf + 1, 0, a, PAGE))).toBe('EINVAL');
    expect(errno(() => d.remapVmallocRange(buf, 0, a + 1, PAGE))).toBe('EINVAL');
    expect(errno(() => d.remapVmallocRange(buf - PAGE, 0, a, PAGE))).toBe('EINVAL'); // no area there
    expect(errno(() => d.remapVmallocRange(buf, 0))).toBe('EINVAL'); // 8 pages from a 4-page area
    expect(errno(() => d.remapVmallocRange(buf, 3, a, 2 * PAGE))).toBe('EINVAL');
    expect(m.process(p).rss.file).toBe(0);
    // The first insertion error is returned; the pages before it stay mapped.
    d.remapVmallocRange(buf, 2, a + PAGE, PAGE);
    expect(errno(() => d.remapVmallocRange(buf, 0, a, 4 * PAGE))).toBe('EBUSY');
    expect(m.translate(p, a)?.pfn).toBe(m.vmallocToPfn(buf));
    expect(m.vmallocPage(m.vmallocToPfn(buf + PAGE)).mapcount).toBe(0);
    // A partial remap into the middle of the VMA at an offset into the area.
    d.remapVmallocRange(buf, 3, a + 5 * PAGE, PAGE);
    expect(m.translate(p, a + 5 * PAGE)?.pfn).toBe(m.vmallocToPfn(buf + 3 * PAGE));
  });

  it('a kaddr inside an area is accepted (find_vm_area finds the containing area, as /proc/vmcore relies on)', () => {
    const { m, p, buf } = setup();
    m.defineDevice('null', {});
    const a = m.mmapDevice(p, { device: 'null', length: 4 * PAGE, prot: 'rw', flags: ['shared'] });
    const d = m.driverCall(p, a);
    // Pages come from kaddr + (pgoff << PAGE_SHIFT): here area pages 2 and 3.
    d.remapVmallocRange(buf + PAGE, 1, a, 2 * PAGE);
    expect(m.translate(p, a)?.pfn).toBe(m.vmallocToPfn(buf + 2 * PAGE));
    expect(m.translate(p, a + PAGE)?.pfn).toBe(m.vmallocToPfn(buf + 3 * PAGE));
    // The size check is against the whole area, not what is left after kaddr.
    expect(errno(() => d.remapVmallocRange(buf + PAGE, 0, a + 2 * PAGE, 5 * PAGE))).toBe('EINVAL');
    expect(m.vmallocPage(m.vmallocToPfn(buf + PAGE)).mapcount).toBe(0);
    m.check('full');
  });

  it('a range that passes the area-size check but runs from kaddr into the guard page is the oops Linux hits', () => {
    const { m, p, buf } = setup();
    m.defineDevice('null', {});
    const a = m.mmapDevice(p, { device: 'null', length: 4 * PAGE, prot: 'rw', flags: ['shared'] });
    const d = m.driverCall(p, a);
    expect(() => d.remapVmallocRange(buf + 2 * PAGE, 0, a, 4 * PAGE)).toThrow(KernelBug);
  });

  it('pages stay alive after vfree while a user mapping holds them; the area goes with the last mapping', () => {
    const { m, p, buf } = setup();
    const a = m.mmapDevice(p, { device: 'ring', length: 2 * PAGE, prot: 'rw', flags: ['shared'] });
    const pfns = [0, 1, 2, 3].map((i) => m.vmallocToPfn(buf + i * PAGE));
    m.write(p, a, { byte: 0x33, len: 8 });
    m.vfree(buf);
    expect(errno(() => m.vmallocToPfn(buf))).toBe('EFAULT');
    expect(m.vmallocPage(pfns[0])).toMatchObject({
      refcount: 1,
      mapcount: 1,
      vfreed: true,
      scamemRefcount: 2,
    });
    // The scamem holds the unmapped pages too: one refcount per allocation.
    expect(m.vmallocPage(pfns[3])).toMatchObject({ refcount: 0, mapcount: 0 });
    expect(m.read(p, a, 2).bytes).toEqual(new Uint8Array([0x33, 0x33]));
    expect(m.meminfo().MemFree).toBeLessThan(m.totalPages * PAGE);
    const free = m.meminfo().MemFree;
    m.munmap(p, a, PAGE);
    expect(m.page(pfns[0]).type).toBe('vmalloc');
    m.munmap(p, a + PAGE, PAGE);
    for (const pfn of pfns) expect(m.page(pfn).type).toBe('buddy');
    // MemFree is in kB: the four pages came back (and the page tables the munmap freed).
    expect(m.meminfo().MemFree).toBeGreaterThanOrEqual(free + 16);
    expect(() => m.vfree(buf)).toThrow(KernelBug);
  });

  it('GUP and pins on vmalloc pages: FOLL_GET +1, FOLL_PIN +1024; a pin keeps a vfree-d area alive', () => {
    const { m, p, buf } = setup();
    const a = m.mmapDevice(p, { device: 'ring', length: 4 * PAGE, prot: 'rw', flags: ['shared'] });
    const pfn = m.vmallocToPfn(buf);
    const g = m.getUserPages(p, a, 1);
    expect(m.vmallocPage(pfn).refcount).toBe(3);
    m.putUserPages(g.id);
    const pin = m.pinUserPages(p, a, 2, ['write', 'longterm']);
    expect(pin.pfns[0]).toBe(pfn);
    expect(m.vmallocPage(pfn)).toMatchObject({ refcount: 2 + 1024, scamemRefcount: 1 + 4 + 2048 });
    m.munmap(p, a, 4 * PAGE);
    m.vfree(buf);
    expect(m.vmallocPage(pfn)).toMatchObject({ refcount: 1024, mapcount: 0 });
    m.dmaWrite(pin.id, { byte: 0x77, len: 4 });
    expect(m.physRead(pfn, 0, 4)).toEqual(new Uint8Array([0x77, 0x77, 0x77, 0x77]));
    m.unpinUserPages(pin.id, { dirty: true });
    expect(m.page(pfn).type).toBe('buddy');
  });

  it('fork dups the mapping; a private write COW-copies to anon; page_to_nid follows the node it came from', () => {
    const { m, p, buf } = setup({ nodes: 2 });
    const a = m.mmapDevice(p, { device: 'ring', length: 4 * PAGE, prot: 'rw', flags: ['private'] });
    const pfn = m.vmallocToPfn(buf);
    const c = m.fork(p, 'c');
    expect(m.vmallocPage(pfn)).toMatchObject({ refcount: 3, mapcount: 2 });
    expect(m.translate(c, a)?.flags).not.toContain('write');
    m.write(c, a, { byte: 9, len: 1 });
    expect(m.pageAt(c, a)?.type).toBe('anon');
    expect(m.vmallocPage(pfn)).toMatchObject({ refcount: 2, mapcount: 1 });
    expect(m.process(c).rss).toMatchObject({ file: 3, anon: 1 });
    expect(m.physRead(pfn, 0, 1)[0]).toBe(0);
    m.exit(c);
    m.exit(p);
    expect(m.vmallocPage(pfn)).toMatchObject({ refcount: 1, mapcount: 0 });
    expect(m.vmallocPage(pfn).nid).toBe(0);
    const far = m.vmalloc(PAGE, { nid: 1 });
    expect(m.vmallocPage(m.vmallocToPfn(far)).nid).toBe(1);
  });
});
