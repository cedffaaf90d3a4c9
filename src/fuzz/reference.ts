/**
 * The plain reference model the fuzzer compares every read with: what each process should see,
 * page by page, with no page tables, folios or allocators — only the rules of POSIX and Linux.
 *
 * A page of memory is a Cell: 4096 entries, each a byte or -1 for "not known yet" (device memory
 * whose content the model chose; the first observation teaches it). Private pages own a cell once
 * written (copy-on-write); shared pages use the cell of their backing object (a shared anonymous
 * region, a file's page cache, a device), so every mapper sees every write. fork() gives the child
 * copies of the private cells and the same shared objects; truncate() drops the file's pages past
 * the new end and every private copy of them (unmap_mapping_range with even_cows), and later
 * accesses there are SIGBUS. A pin taken with FOLL_WRITE holds the cells it pinned, so a device
 * reads what the pinner wrote for as long as the pinner maps them, and what was there afterwards.
 */
export const PAGE = 4096;

export type Cell = Int16Array;
export type Prot = 'none' | 'r' | 'rw';

const newCell = (fill: number): Cell => new Int16Array(PAGE).fill(fill);

/** What a mapping is backed by: a shared anonymous region, a file, or a device's memory. */
export class Backing {
  readonly pages = new Map<number, Cell>();
  constructor(
    readonly kind: 'shm' | 'file' | 'dev',
    /** File size in pages (others: unbounded). */
    public sizePages = Number.POSITIVE_INFINITY,
    /** Pages below this index start as `fill`, the rest as zeros (a file's created content). */
    public filledBelow = 0,
    readonly fill = 0,
  ) {}

  cell(idx: number): Cell {
    let c = this.pages.get(idx);
    if (!c) {
      c = newCell(this.kind === 'dev' ? -1 : idx < this.filledBelow ? this.fill : 0);
      this.pages.set(idx, c);
    }
    return c;
  }
}

export interface RefPage {
  prot: Prot;
  shared: boolean;
  obj?: Backing;
  idx: number;
  /** The private copy, once written (or pinned for writing). */
  priv?: Cell;
  /** Zapped out of a mapping that has no fault handler to refill it (DONTNEED of vm_insert_page): SIGBUS. */
  gone?: boolean;
}

export type Access = { signal: 'SIGSEGV' | 'SIGBUS' } | { cell: Cell | undefined };

export class RefProcess {
  readonly pages = new Map<number, RefPage>();

  /** The cell a load at page `va` reads (undefined: zeros), or the signal it raises. */
  load(va: number): Access {
    const p = this.pages.get(va);
    if (!p || p.prot === 'none') return { signal: 'SIGSEGV' };
    if (p.gone || (p.obj && p.idx >= p.obj.sizePages)) return { signal: 'SIGBUS' };
    return { cell: p.priv ?? p.obj?.cell(p.idx) };
  }

  /** The cell a store at page `va` writes into (made private first where COW says so), or the signal. */
  store(va: number): { signal: 'SIGSEGV' | 'SIGBUS' } | { cell: Cell } {
    const p = this.pages.get(va);
    if (p?.prot !== 'rw') return { signal: 'SIGSEGV' };
    if (p.gone || (p.obj && p.idx >= p.obj.sizePages)) return { signal: 'SIGBUS' };
    if (p.shared && p.obj) return { cell: p.obj.cell(p.idx) };
    if (!p.priv) p.priv = p.obj ? Int16Array.from(p.obj.cell(p.idx)) : newCell(0);
    return { cell: p.priv };
  }

  /**
   * MADV_DONTNEED of `n` pages from `va`, in order, up to the first page of `refused` (a pfn map:
   * EINVAL, the walk stops). Private pages read their backing (or zeros) again; a page of
   * `noRefill` (a vm_insert_page map, no fault handler to refill it) is SIGBUS from now on.
   */
  dontneed(va: number, n: number, refused: Backing | undefined, noRefill: Backing | undefined): void {
    for (let i = 0; i < n; i++) {
      const p = this.pages.get(va + i * PAGE);
      if (p?.obj && p.obj === refused) break;
      if (p?.obj && p.obj === noRefill) p.gone = true;
      else if (p && !p.shared) p.priv = undefined;
    }
  }

  /**
   * What populating `n` pages from `va` for writing does (MADV_POPULATE_WRITE, and MAP_POPULATE
   * of a writable private mapping: populate_vma_page_range asks FOLL_WRITE there): every private
   * page gets its copy now. Stops at the first page whose fault fails, as GUP does, and at
   * `refused` (pfn-only memory, which GUP does not take).
   */
  populateWrite(va: number, n: number, refused?: Backing): void {
    for (let i = 0; i < n; i++) {
      const p = this.pages.get(va + i * PAGE);
      if (p?.prot !== 'rw' || (refused !== undefined && p.obj === refused)) break;
      if (p.gone || (p.obj && p.idx >= p.obj.sizePages)) break;
      if (!p.shared && !p.priv) p.priv = p.obj ? Int16Array.from(p.obj.cell(p.idx)) : newCell(0);
    }
  }

  fork(): RefProcess {
    const c = new RefProcess();
    for (const [va, p] of this.pages)
      c.pages.set(va, { ...p, priv: p.priv ? Int16Array.from(p.priv) : undefined });
    return c;
  }
}

/**
 * Compare bytes the model returned with a cell, learning unknown entries; returns the first
 * offset that differs (and the reference byte), or undefined when all agree.
 */
export function compareCell(
  cell: Cell | undefined,
  off: number,
  got: Uint8Array,
): { at: number; want: number } | undefined {
  for (let i = 0; i < got.length; i++) {
    const want = cell ? cell[off + i] : 0;
    if (want === -1) cell![off + i] = got[i];
    else if (want !== got[i]) return { at: i, want };
  }
  return undefined;
}

/** The reference's bytes for [off, off+len) of a cell, unknown entries as the model's. */
export function cellBytes(cell: Cell | undefined, off: number, got: Uint8Array): Uint8Array {
  const out = new Uint8Array(got.length);
  for (let i = 0; i < got.length; i++) {
    const v = cell ? cell[off + i] : 0;
    out[i] = v < 0 ? got[i] : v;
  }
  return out;
}
