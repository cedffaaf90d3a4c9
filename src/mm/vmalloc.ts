/**
 * vmalloc, vmalloc_user, vfree and remap_vmalloc_range, with vmalloc memory described by a
 * refcounted **scamem** descriptor.
 *
 * Models: mm/vmalloc.c (__vmalloc_node_range, vfree, find_vm_area, vmalloc_to_page,
 * remap_vmalloc_range_partial) and the 2024 "scamem" proposal: under
 * memdescs vmalloc pages are Misc with no descriptor, yet remap_vmalloc_range maps them to
 * user space with vm_insert_page's refcount/mapcount semantics, so a separately allocated
 * descriptor per allocation carries the page count, one refcount and the list of pages.
 *
 * Where the scamem pointer lives — the decision: in the **memdesc word of every page** (`hi` =
 * scamem row; `lo` = MT.VMALLOC plus the page's index in the area in bits 12..31).
 *  + Every path that starts from a frame finds it in one load: GUP (which sees only the PTE),
 *    zap, fork's copy, the invariant checker, and — later — memory_failure and compaction, which
 *    have no VMA at all. page_to_nid and vmalloc_to_page need nothing else.
 *  + The same area can be mapped by several VMAs of several processes (and partially), and the
 *    pages outlive vfree: a pointer per page does not care which mapping asks.
 *  − It spends the word's payload on a pointer, so vmalloc pages lose the Misc inline data (order,
 *    node/zone bits) the memdesc plan gives them; the node must be read from the section (as here).
 *  The alternative, vm_private_data of the user VMA, costs nothing per page but only serves paths
 *    that hold the VMA; it would need one VMA per area, break on fork/split (the pointer must be
 *    copied and refcounted per VMA), and leave GUP-fast, memory_failure and compaction blind.
 *
 * Counting: each page keeps vm_insert_page's observable counts (page refcount: 1 for the vmalloc owner, +1 per
 * user mapping, +1 per FOLL_GET, +1024 per pin as a small page without a pincount; mapcount: +1
 * per PTE). The scamem refcount is the sum of references on any of its pages beyond the owner's,
 * plus 1 while the owner holds it; the whole area is freed when it reaches 0. So pages stay alive
 * after vfree while a user mapping (or a pin) holds any of them — and, the cost of one refcount
 * per allocation, so do the area's unmapped pages. Pins on vmalloc pages do not go through the
 * pin-count design (they are not folios); they use Linux's bias.
 * Leaves out: huge vmalloc mappings, vmap/vmap_pfn, lazy TLB purge, KASAN shadow. Addresses are
 * kept as the low 48 bits of 0xffffc90000000000...; text prints them sign-extended (kernelPointer).
 */

import { GUP_PIN_COUNTING_BIAS } from './folio.js';
import type { Kernel } from './kernel.js';
import { MT, TYPE_MASK } from './memdesc.js';
import { VM, type Vma } from './mm_types.js';
import { GFP_KERNEL } from './mmzone.js';
import { freeFrozenPages } from './pcp.js';
import { vmInsertPage } from './pfnmap.js';
import { grown, HandlePool } from './pool.js';
import { KernelBug, KernelError, kernelPointer, PAGE_SIZE } from './types.js';

/** VMALLOC_START / VMALLOC_END (x86-64, 4-level), without the sign extension. */
export const VMALLOC_START = 0xc90000000000;
export const VMALLOC_END = 0xe90000000000;

/** vm_struct flags the model uses. */
export const VM_AREA = { ALLOC: 1 << 0, USERMAP: 1 << 1, DMA_COHERENT: 1 << 2 } as const;

/** Largest area: the page index must fit bits 12..31 of the memdesc word. */
export const VMALLOC_MAX_PAGES = 1 << 20;
const INDEX_SHIFT = 12;

/** The scamem pool: one row per vmalloc allocation. */
export class ScamemPool extends HandlePool {
  /** First frame of the allocation (for reports of a stale handle). */
  pfn = new Float64Array(64);
  nrPages = new Int32Array(64);
  /** References on the allocation: 1 while the owner holds it, plus every extra page reference. */
  refcount = new Int32Array(64);
  /** 1 until vfree. */
  owned = new Uint8Array(64);
  addr = new Float64Array(64);
  areaFlags = new Uint8Array(64);
  /** Per allocation (not per page): the frames, and each page's refcount and mapcount. */
  pages: Float64Array[] = [];
  pageRef: Int32Array[] = [];
  pageMap: Int32Array[] = [];

  constructor() {
    super('scamem');
  }

  protected growFields(n: number): void {
    this.pfn = grown(this.pfn, n);
    this.nrPages = grown(this.nrPages, n);
    this.refcount = grown(this.refcount, n);
    this.owned = grown(this.owned, n);
    this.addr = grown(this.addr, n);
    this.areaFlags = grown(this.areaFlags, n);
  }

  alloc(): number {
    return this.allocRow();
  }

  free(row: number): void {
    this.pages[row] = new Float64Array(0);
    this.pageRef[row] = new Int32Array(0);
    this.pageMap[row] = new Int32Array(0);
    this.freeRow(row);
  }

  hostBytes(): number {
    let n = this.baseHostBytes() + this.nrPages.length * 30;
    for (const p of this.pages) if (p) n += p.byteLength * 2;
    return n;
  }
}

/** The kernel's vmalloc address space: live areas by start address, and their scamems. */
export class VmallocSpace {
  readonly scamem = new ScamemPool();
  /** Live areas (not yet vfree'd): start address -> scamem row. */
  readonly areas = new Map<number, number>();
  private nextAddr = VMALLOC_START;

  constructor(private readonly k: Kernel) {}

  /** __vmalloc_node_range(): order-0 pages one by one, a guard page after the area. */
  vmalloc(size: number, opts: { user?: boolean; nid?: number } = {}): number {
    if (!Number.isSafeInteger(size) || size <= 0) throw new KernelError('EINVAL', 'vmalloc of no bytes');
    const n = Math.ceil(size / PAGE_SIZE);
    if (n > VMALLOC_MAX_PAGES) throw new KernelError('ENOMEM', `vmalloc of ${n} pages is too large`);
    const addr = this.nextAddr;
    if (addr + (n + 1) * PAGE_SIZE > VMALLOC_END) throw new KernelError('ENOMEM', 'vmalloc space exhausted');
    const pa = this.k.pa;
    const pfns = new Float64Array(n);
    let got = 0;
    try {
      for (; got < n; got++) pfns[got] = pa.rmqueue(0, GFP_KERNEL, opts.nid ?? 0);
    } catch (e) {
      for (let i = 0; i < got; i++) freeFrozenPages(pa, pfns[i], 0);
      throw e;
    }
    const s = this.scamem;
    const row = s.alloc();
    s.pfn[row] = pfns[0];
    s.nrPages[row] = n;
    s.refcount[row] = 1;
    s.owned[row] = 1;
    s.addr[row] = addr;
    s.areaFlags[row] = VM_AREA.ALLOC | (opts.user ? VM_AREA.USERMAP : 0);
    s.pages[row] = pfns;
    s.pageRef[row] = new Int32Array(n).fill(1);
    s.pageMap[row] = new Int32Array(n);
    for (let i = 0; i < n; i++) pa.memmap.set(pfns[i], MT.VMALLOC | (i << INDEX_SHIFT), row);
    this.k.stat.retype(MT.BUDDY, MT.VMALLOC, n);
    this.areas.set(addr, row);
    this.nextAddr = addr + (n + 1) * PAGE_SIZE;
    if (this.k.stat.tracing) this.k.stat.emit({ type: 'vmalloc', addr, pages: n, user: !!opts.user });
    return addr;
  }

  /** find_vm_area(): the scamem row of the live area starting at `addr`, or -1. */
  findVmArea(addr: number): number {
    return this.areas.get(addr) ?? -1;
  }

  /**
   * find_vm_area() as find_vmap_area() answers it for remap_vmalloc_range_partial: the live area
   * whose span (its guard page included) contains `addr` — its scamem row and start — or null.
   * Areas are few, so a scan will do.
   */
  areaContaining(addr: number): { row: number; start: number } | null {
    const s = this.scamem;
    for (const [start, row] of this.areas)
      if (addr >= start && addr < start + (s.nrPages[row] + 1) * PAGE_SIZE) return { row, start };
    return null;
  }

  /** vfree(): the area leaves the kernel's address space; its owner reference goes. */
  vfree(addr: number): void {
    const row = this.findVmArea(addr);
    if (row < 0)
      throw new KernelBug(`vfree of ${kernelPointer(addr)}, which is no live vmalloc area`, {
        rule: 'vfree: Trying to vfree() nonexistent vm area',
      });
    this.areas.delete(addr);
    const s = this.scamem;
    s.owned[row] = 0;
    const refs = s.pageRef[row];
    for (let i = 0; i < refs.length; i++) refs[i]--;
    this.putScamem(row, 1);
  }

  /** vmalloc_to_pfn(): the frame behind a kernel address of a live area; EFAULT otherwise. */
  vmallocToPfn(kaddr: number): number {
    for (const [start, row] of this.areas) {
      const end = start + this.scamem.nrPages[row] * PAGE_SIZE;
      if (kaddr >= start && kaddr < end)
        return this.scamem.pages[row][Math.floor((kaddr - start) / PAGE_SIZE)];
    }
    throw new KernelError('EFAULT', `${kernelPointer(kaddr)} is not inside a live vmalloc area`);
  }

  private putScamem(row: number, n: number): void {
    const s = this.scamem;
    s.refcount[row] -= n;
    if (s.refcount[row] > 0) return;
    const pfns = s.pages[row];
    const map = s.pageMap[row];
    for (let i = 0; i < pfns.length; i++)
      if (map[i] !== 0)
        throw new KernelBug('freeing a vmalloc area whose page is still mapped', {
          pfn: pfns[i],
          rule: 'scamem: refcount covers mappings',
        });
    for (let i = 0; i < pfns.length; i++) {
      this.k.pins.freed(pfns[i], 1);
      this.k.frames.clear(pfns[i]);
      freeFrozenPages(this.k.pa, pfns[i], 0);
    }
    this.k.stat.retype(MT.VMALLOC, MT.BUDDY, pfns.length);
    s.free(row);
  }

  // ------------------------------------------------ per-page counts (what vm_insert_page & co touch)

  /** Is `pfn` a vmalloc page (memdesc type VMALLOC)? */
  isPage(pfn: number): boolean {
    return this.k.pa.memmap.pfnValid(pfn) && (this.k.pa.memmap.lo(pfn) & TYPE_MASK) === MT.VMALLOC;
  }

  /** The (scamem row, page index) of a vmalloc page, from its memdesc word. */
  private where(pfn: number): [number, number] {
    const mm = this.k.pa.memmap;
    return [mm.hi(pfn), mm.lo(pfn) >>> INDEX_SHIFT];
  }

  pageRefcount(pfn: number): number {
    const [row, i] = this.where(pfn);
    return this.scamem.pageRef[row][i];
  }

  pageMapcount(pfn: number): number {
    const [row, i] = this.where(pfn);
    return this.scamem.pageMap[row][i];
  }

  /** get_page() on a vmalloc page: refuses a page whose refcount is 0. */
  get(pfn: number, n = 1): void {
    const [row, i] = this.where(pfn);
    const s = this.scamem;
    if (s.pageRef[row][i] <= 0)
      throw new KernelError('EINVAL', `vmalloc page 0x${pfn.toString(16)} has refcount 0`);
    s.pageRef[row][i] += n;
    s.refcount[row] += n;
  }

  /** put_page() on a vmalloc page; the area goes when its last reference does. */
  put(pfn: number, n = 1): void {
    const [row, i] = this.where(pfn);
    const s = this.scamem;
    if (s.pageRef[row][i] - n < s.pageMap[row][i])
      throw new KernelBug(`put_page on vmalloc page below its ${s.pageMap[row][i]} mappings`, {
        pfn,
        rule: 'put_page on a zero refcount',
      });
    s.pageRef[row][i] -= n;
    this.putScamem(row, n);
  }

  /** One more (or fewer) PTE mapping the page: the file rmap insert_page() keeps. */
  addMap(pfn: number, delta: number): void {
    const [row, i] = this.where(pfn);
    this.scamem.pageMap[row][i] += delta;
  }

  /** Pin (FOLL_PIN) a vmalloc page: small and without a pincount, so the refcount bias. */
  pin(pfn: number): void {
    this.get(pfn, GUP_PIN_COUNTING_BIAS);
    this.k.pins.tally(pfn, 1);
  }

  unpin(pfn: number): void {
    this.put(pfn, GUP_PIN_COUNTING_BIAS);
    this.k.pins.tally(pfn, -1);
  }

  /** folio_maybe_dma_pinned() for a vmalloc page: its pins are the refcount bias, whatever the design. */
  maybePinned(pfn: number): boolean {
    return this.pageRefcount(pfn) >= GUP_PIN_COUNTING_BIAS;
  }

  /** page_to_nid() of a vmalloc page: its node comes from the frame's section, not the descriptor. */
  pageToNid(pfn: number): number {
    return this.k.pa.nidOf(pfn);
  }
}

/**
 * remap_vmalloc_range_partial(): map `size` bytes of the area at `kaddr`, from page `pgoff`
 * on, at `uaddr` of `vma`, one vm_insert_page per page. Every check is EINVAL; the first
 * insertion error is returned with the earlier pages left mapped. On success the VMA gains
 * VM_DONTEXPAND | VM_DONTDUMP (VM_MIXEDMAP came with the first insertion).
 */
export function remapVmallocRangePartial(
  k: Kernel,
  vma: Vma,
  uaddr: number,
  kaddr: number,
  pgoff: number,
  size: number,
): void {
  if (!Number.isSafeInteger(pgoff) || pgoff < 0 || !Number.isSafeInteger(pgoff * PAGE_SIZE))
    throw new KernelError('EINVAL', `pgoff ${pgoff} << PAGE_SHIFT overflows`);
  const bytes = Math.ceil(size / PAGE_SIZE) * PAGE_SIZE;
  if (uaddr % PAGE_SIZE !== 0 || kaddr % PAGE_SIZE !== 0)
    throw new KernelError('EINVAL', 'user or kernel address not page aligned');
  const s = k.vmalloc.scamem;
  const area = k.vmalloc.areaContaining(kaddr);
  if (!area) throw new KernelError('EINVAL', `${kernelPointer(kaddr)} is in no vmalloc area (find_vm_area)`);
  const { row } = area;
  if (!(s.areaFlags[row] & (VM_AREA.USERMAP | VM_AREA.DMA_COHERENT)))
    throw new KernelError('EINVAL', 'the area lacks VM_USERMAP (use vmalloc_user)');
  const off = pgoff * PAGE_SIZE;
  if (!Number.isSafeInteger(bytes + off) || bytes + off > s.nrPages[row] * PAGE_SIZE)
    throw new KernelError('EINVAL', 'the range runs past the area (its guard page excluded)');
  // Pages are taken from kaddr + off, but the check above measured from the area's start: a
  // kaddr inside the area can pass it and still reach the guard page, where vmalloc_to_page()
  // finds nothing and vm_insert_page() dereferences NULL. Caught before anything is mapped.
  const first = (kaddr - area.start) / PAGE_SIZE + pgoff;
  if (first + bytes / PAGE_SIZE > s.nrPages[row])
    throw new KernelBug(`remap_vmalloc_range_partial from ${kernelPointer(kaddr)} runs into the guard page`, {
      rule: 'remap_vmalloc_range_partial: vm_insert_page(NULL) from vmalloc_to_page past the area',
    });
  for (let n = 0; n < bytes / PAGE_SIZE; n++)
    vmInsertPage(k, vma, uaddr + n * PAGE_SIZE, s.pages[row][first + n], 'write');
  vma.flags |= VM.DONTEXPAND | VM.DONTDUMP;
}

/** remap_vmalloc_range(): the whole VMA from page `pgoff` of the area at `kaddr`. */
export function remapVmallocRange(k: Kernel, vma: Vma, kaddr: number, pgoff: number): void {
  remapVmallocRangePartial(k, vma, vma.start, kaddr, pgoff, vma.end - vma.start);
}
