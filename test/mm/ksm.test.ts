/**
 * KSM (src/mm/ksm.ts): merging identical pages of MADV_MERGEABLE regions, the write fault that
 * always copies a KSM page (kernel-semantics §5.3/§5.4), MADV_UNMERGEABLE's break_ksm, fork of a
 * KSM page, pinned and referenced pages left unmerged, the R/O pin that must unshare (§3.4), the
 * stable-node rmap, and the invariants check/vm.ts holds KSM folios to. Every machine runs with
 * check: 'full', so each operation is also checked against those invariants.
 */
import { describe, expect, it } from 'vitest';
import { InvariantViolation } from '../../src/check/invariants.js';
import { Machine } from '../../src/index.js';
import { PG } from '../../src/mm/folio.js';
import { KSM_MAX_PAGE_SHARING } from '../../src/mm/ksm.js';
import { VM } from '../../src/mm/mm_types.js';

const PAGE = 4096;

/** A process with `bytes.length` pages, page i filled with bytes[i], made MERGEABLE. */
function pages(bytes: number[], opts: { contents?: boolean; mergeable?: boolean } = {}) {
  const m = new Machine({ memory: '512M', check: 'full', contents: opts.contents ?? true });
  const p = m.spawn('p');
  const buf = m.mmap(p, { length: bytes.length * PAGE, prot: 'rw', flags: ['private', 'anonymous'] });
  for (const [i, b] of bytes.entries()) m.write(p, buf + i * PAGE, { byte: b, len: PAGE });
  if (opts.mergeable ?? true) m.madvise(p, buf, bytes.length * PAGE, 'mergeable');
  return { m, p, buf };
}

const isKsm = (m: Machine, p: number, addr: number) => (m.pageAt(p, addr)!.flags & PG.ksm) !== 0;
const writable = (m: Machine, p: number, addr: number) => /write/.test(m.pageAt(p, addr)!.pte);
const vmaFlags = (m: Machine, p: number, addr: number) =>
  m.kernel.processes.get(p)!.mm.vmas.find((v) => addr >= v.start && addr < v.end)!.flags;

describe('merging (ksmd scan)', () => {
  it('two identical pages share one write-protected KSM folio; a different page stays; rss is unchanged', () => {
    const { m, p, buf } = pages([0x5a, 0x5a, 0x77]);
    const first = m.pageAt(p, buf)!.pfn;
    const second = m.pageAt(p, buf + PAGE)!.pfn;
    const rss = m.process(p).rss;
    expect(m.ksmScan()).toBe(1);
    const k = m.pageAt(p, buf)!;
    // try_to_merge_two_pages: the page being scanned becomes the KSM page, the earlier one is replaced.
    expect(k.pfn).toBe(second);
    expect(m.pageAt(p, buf + PAGE)!.pfn).toBe(second);
    expect(k).toMatchObject({ type: 'anon', mapcount: 2, refcount: 2, anonExclusive: false });
    expect(isKsm(m, p, buf)).toBe(true);
    expect(writable(m, p, buf) || writable(m, p, buf + PAGE)).toBe(false);
    expect(m.page(first).type).toBe('buddy');
    expect(m.pageAt(p, buf + 2 * PAGE)).toMatchObject({ mapcount: 1, anonExclusive: true });
    expect(isKsm(m, p, buf + 2 * PAGE)).toBe(false);
    expect(m.process(p).rss).toEqual(rss);
    expect(m.ksmStats()).toMatchObject({ pagesShared: 1, pagesSharing: 1, fullScans: 1 });
    expect(m.vmstat()).toMatchObject({ ksm_pages_shared: 1, ksm_pages_sharing: 1 });
    expect(m.rmap(second).map((h) => h.addr)).toEqual(expect.arrayContaining([buf, buf + PAGE]));
    expect(m.rmap(second)).toHaveLength(2);
    expect([...m.read(p, buf, 1).bytes, ...m.read(p, buf + PAGE, 1).bytes]).toEqual([0x5a, 0x5a]);
  });

  it('merges nothing outside MADV_MERGEABLE, and leaves zero-page and unmapped PTEs alone', () => {
    const { m, p, buf } = pages([1, 1], { mergeable: false });
    const z = m.mmap(p, { length: 2 * PAGE, prot: 'rw', flags: ['private', 'anonymous'] });
    m.read(p, z, 1);
    m.madvise(p, z, 2 * PAGE, 'mergeable');
    expect(m.ksmScan()).toBe(0);
    expect(m.pageAt(p, buf)!.pfn).not.toBe(m.pageAt(p, buf + PAGE)!.pfn);
    expect(m.pageAt(p, z)!.type).toBe('zero');
    expect(m.ksmStats().pagesShared).toBe(0);
  });

  it('ignores MERGEABLE on shared mappings (ksm_madvise returns 0 without setting VM_MERGEABLE)', () => {
    const m = new Machine({ memory: '512M', check: 'full' });
    const p = m.spawn('p');
    const s = m.mmap(p, { length: 2 * PAGE, prot: 'rw', flags: ['shared', 'anonymous'] });
    m.write(p, s, { byte: 3, len: 2 * PAGE });
    m.madvise(p, s, 2 * PAGE, 'mergeable');
    expect(vmaFlags(m, p, s) & VM.MERGEABLE).toBe(0);
    expect(m.ksmScan()).toBe(0);
  });

  it('a later identical page joins the existing KSM page (the stable tree), across processes', () => {
    const { m, p, buf } = pages([9, 9]);
    m.ksmScan();
    const ksm = m.pageAt(p, buf)!.pfn;
    const q = m.spawn('q');
    const other = m.mmap(q, { length: PAGE, prot: 'rw', flags: ['private', 'anonymous'] });
    m.write(q, other, { byte: 9, len: PAGE });
    m.madvise(q, other, PAGE, 'mergeable');
    expect(m.ksmScan()).toBe(1);
    expect(m.pageAt(q, other)).toMatchObject({ pfn: ksm, mapcount: 3 });
    expect(m.ksmStats()).toMatchObject({ pagesShared: 1, pagesSharing: 2 });
    expect(m.rmap(ksm).map((h) => h.pid)).toEqual([p, p, q]);
  });

  it('a KSM page takes at most max_page_sharing mappings; the next identical pages make another (a chain dup)', () => {
    const { m, p, buf } = pages(Array(KSM_MAX_PAGE_SHARING + 3).fill(0x33));
    m.ksmScan();
    const first = m.pageAt(p, buf)!;
    expect(first.mapcount).toBe(KSM_MAX_PAGE_SHARING);
    const over = m.pageAt(p, buf + KSM_MAX_PAGE_SHARING * PAGE)!;
    expect(over.pfn).not.toBe(first.pfn);
    expect(over.mapcount).toBe(3);
    expect(isKsm(m, p, buf + (KSM_MAX_PAGE_SHARING + 2) * PAGE)).toBe(true);
    expect(m.ksmStats()).toMatchObject({ pagesShared: 2, pagesSharing: KSM_MAX_PAGE_SHARING + 1 });
    // A later identical page joins the dup that still has room, not the full one.
    const q = m.spawn('q');
    const other = m.mmap(q, { length: PAGE, prot: 'rw', flags: ['private', 'anonymous'] });
    m.write(q, other, { byte: 0x33, len: PAGE });
    m.madvise(q, other, PAGE, 'mergeable');
    m.ksmScan();
    expect(m.pageAt(q, other)).toMatchObject({ pfn: over.pfn, mapcount: 4 });
  });

  it('with contents off every page reads as zeros, so every candidate page merges', () => {
    const { m, p, buf } = pages([1, 2, 3], { contents: false });
    expect(m.ksmScan()).toBe(2);
    expect(m.pageAt(p, buf)!.mapcount).toBe(3);
    expect(m.ksmStats()).toMatchObject({ pagesShared: 1, pagesSharing: 2 });
  });

  it('does not merge a pinned page (folio_try_share_anon_rmap) or one with an extra reference', () => {
    const { m, p, buf } = pages([4, 4, 4]);
    const pin = m.pinUserPages(p, buf, 1, ['write', 'longterm']);
    const get = m.getUserPages(p, buf + PAGE, 1);
    expect(m.ksmScan()).toBe(0);
    expect([0, 1, 2].some((i) => isKsm(m, p, buf + i * PAGE))).toBe(false);
    m.unpinUserPages(pin.id);
    expect(m.ksmScan()).toBe(1);
    expect(isKsm(m, p, buf)).toBe(true);
    expect(isKsm(m, p, buf + PAGE)).toBe(false);
    m.putUserPages(get.id);
    expect(m.ksmScan()).toBe(1);
    expect(m.pageAt(p, buf + PAGE)!.mapcount).toBe(3);
  });

  it('two mappings of one folio shared by fork are one page to KSM: nothing to merge', () => {
    const { m, p, buf } = pages([6]);
    const c = m.fork(p);
    expect(m.ksmScan()).toBe(0);
    expect(m.pageAt(c, buf)!.pfn).toBe(m.pageAt(p, buf)!.pfn);
    expect(isKsm(m, p, buf)).toBe(false);
  });
});

describe('writes and unmerging', () => {
  it('a write to a KSM page copies it, even to its last mapping (never reused)', () => {
    const { m, p, buf } = pages([0x5a, 0x5a]);
    m.ksmScan();
    const ksm = m.pageAt(p, buf)!.pfn;
    m.write(p, buf, { byte: 0x11, len: 1 });
    expect(m.pageAt(p, buf)).toMatchObject({ mapcount: 1, anonExclusive: true });
    expect(m.pageAt(p, buf)!.pfn).not.toBe(ksm);
    expect(m.pageAt(p, buf + PAGE)).toMatchObject({ pfn: ksm, mapcount: 1, refcount: 1 });
    // The counters follow ksmd's rmap_items, not the page tables: a COW leaves them until the next scan.
    expect(m.ksmStats()).toMatchObject({ pagesShared: 1, pagesSharing: 1 });
    m.write(p, buf + PAGE, { byte: 0x22, len: 1 });
    expect(m.pageAt(p, buf + PAGE)!.pfn).not.toBe(ksm);
    expect(m.page(ksm).type).toBe('buddy');
    expect(m.vmstat()).toMatchObject({
      pagelab_cow_copy: 2,
      pgreuse: 0,
      ksm_pages_shared: 1,
      ksm_pages_sharing: 1,
    });
    m.ksmScan();
    expect(m.vmstat()).toMatchObject({ ksm_pages_shared: 0, ksm_pages_sharing: 0 });
    expect([...m.read(p, buf, 2).bytes, ...m.read(p, buf + PAGE, 2).bytes]).toEqual([0x11, 0x5a, 0x22, 0x5a]);
  });

  it('MADV_UNMERGEABLE gives every KSM mapping a private read-only copy, frees the KSM page and clears VM_MERGEABLE', () => {
    const { m, p, buf } = pages([0x5a, 0x5a, 0x77]);
    m.ksmScan();
    const ksm = m.pageAt(p, buf)!.pfn;
    const different = m.pageAt(p, buf + 2 * PAGE)!.pfn;
    m.madvise(p, buf, 3 * PAGE, 'unmergeable');
    for (const a of [buf, buf + PAGE]) {
      expect(m.pageAt(p, a)).toMatchObject({ mapcount: 1, refcount: 1, anonExclusive: true });
      expect(isKsm(m, p, a)).toBe(false);
      // An unshare copy stays read-only until written; then the exclusive page is reused.
      expect(writable(m, p, a)).toBe(false);
    }
    expect(m.pageAt(p, buf)!.pfn).not.toBe(m.pageAt(p, buf + PAGE)!.pfn);
    expect(m.pageAt(p, buf + 2 * PAGE)!.pfn).toBe(different);
    expect(m.page(ksm).type).toBe('buddy');
    expect(vmaFlags(m, p, buf) & VM.MERGEABLE).toBe(0);
    // Stale until ksmd runs again (remove_rmap_item_from_tree happens in the scan).
    expect(m.ksmStats()).toMatchObject({ pagesShared: 1, pagesSharing: 1 });
    const reuse = m.vmstat().pgreuse;
    m.write(p, buf, { byte: 1, len: 1 });
    expect(m.vmstat().pgreuse).toBe(reuse + 1);
    expect(m.ksmScan()).toBe(0);
    expect(m.ksmStats()).toMatchObject({ pagesShared: 0, pagesSharing: 0 });
  });

  it('munmap and exit drop KSM mappings from the stable node', () => {
    const { m, p, buf } = pages([8, 8, 8]);
    m.ksmScan();
    const ksm = m.pageAt(p, buf)!.pfn;
    m.munmap(p, buf, PAGE);
    expect(m.page(ksm).mapcount).toBe(2);
    expect(m.rmap(ksm).map((h) => h.addr)).toEqual([buf + PAGE, buf + 2 * PAGE]);
    expect(m.ksmStats()).toMatchObject({ pagesShared: 1, pagesSharing: 2 });
    m.exit(p);
    expect(m.page(ksm).type).toBe('buddy');
    expect(m.ksmStats()).toMatchObject({ pagesShared: 1, pagesSharing: 2 });
    m.ksmScan();
    expect(m.ksmStats()).toMatchObject({ pagesShared: 0, pagesSharing: 0 });
  });
});

describe('fork and GUP on KSM pages', () => {
  it('fork shares a KSM page like any anon page: mapcount +1, the child in the stable node; its write copies', () => {
    const { m, p, buf } = pages([3, 3]);
    m.ksmScan();
    const ksm = m.pageAt(p, buf)!.pfn;
    const c = m.fork(p);
    expect(m.pageAt(c, buf)).toMatchObject({ pfn: ksm, mapcount: 4, refcount: 4, anonExclusive: false });
    expect(vmaFlags(m, c, buf) & VM.MERGEABLE).not.toBe(0);
    expect(m.rmap(ksm).filter((h) => h.pid === c)).toHaveLength(2);
    // The child's mappings get rmap_items only when ksmd scans its mm.
    expect(m.ksmStats()).toMatchObject({ pagesShared: 1, pagesSharing: 1 });
    m.ksmScan();
    expect(m.ksmStats()).toMatchObject({ pagesShared: 1, pagesSharing: 3 });
    m.write(c, buf, { byte: 4, len: 1 });
    expect(m.pageAt(c, buf)!.pfn).not.toBe(ksm);
    expect(m.page(ksm).mapcount).toBe(3);
    m.exit(c);
    expect(m.page(ksm).mapcount).toBe(2);
    expect(m.rmap(ksm).every((h) => h.pid === p)).toBe(true);
  });

  it('a R/O pin must unshare a KSM page (never exclusive): the pin gets a private exclusive copy', () => {
    const { m, p, buf } = pages([5, 5]);
    m.ksmScan();
    const ksm = m.pageAt(p, buf)!.pfn;
    m.pinUserPages(p, buf, 1, ['longterm']);
    const pinned = m.pageAt(p, buf)!;
    expect(pinned.pfn).not.toBe(ksm);
    expect(pinned).toMatchObject({ anonExclusive: true, maybeDmaPinned: true });
    expect(m.page(ksm).mapcount).toBe(1);
    expect(m.read(p, buf, 1).bytes[0]).toBe(5);
  });

  it('a FOLL_WRITE pin breaks COW on a KSM page like a write', () => {
    const { m, p, buf } = pages([5, 5]);
    m.ksmScan();
    const ksm = m.pageAt(p, buf)!.pfn;
    m.pinUserPages(p, buf, 1, ['write']);
    expect(m.pageAt(p, buf)!.pfn).not.toBe(ksm);
    expect(m.page(ksm).mapcount).toBe(1);
  });
});

describe('invariants (check/vm.ts)', () => {
  it('a stable node that disagrees with the page tables is a violation', () => {
    const { m, p, buf } = pages([2, 2]);
    m.ksmScan();
    const k = m.kernel;
    const [row] = [...k.ksm.stable.keys()];
    const lost = k.ksm.stable.get(row)!.pop()!;
    expect(() => m.check('full')).toThrow(InvariantViolation);
    expect(() => m.check('full')).toThrow(/stable node lists/);
    k.ksm.stable.get(row)!.push({ mm: k.processes.get(p)!.mm, addr: lost.addr === buf ? buf + PAGE : buf });
    expect(() => m.check('full')).toThrow(/stable node lists/);
    k.ksm.stable.get(row)!.pop();
    k.ksm.stable.get(row)!.push(lost);
    m.check('full');
  });

  it('a writable PTE of a KSM folio is a violation', () => {
    const { m, p, buf } = pages([2, 2]);
    m.ksmScan();
    const k = m.kernel;
    const slot = k.ptdesc.leafSlot(k.processes.get(p)!.mm.pgd, buf);
    k.ptdesc.entries[slot] += 2; // PTE.WRITE is bit 1
    expect(() => m.check('cheap')).toThrow(/KSM folio .* mapped writable/);
  });
});
