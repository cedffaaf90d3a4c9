/**
 * The op generator: what to do next, chosen with the seeded PRNG from what is live in the world
 * (so most ops are meaningful), with a configurable share of invalid arguments.
 */
import { BAD_CALLS, BAD_VALUES, type FuzzOp, type MapKind } from './ops.js';
import type { Prng } from './prng.js';
import { PAGE, type Prot } from './reference.js';
import { DEVICE_PAGES, type World } from './world.js';

const MAX_PROCS = 6;
const MAX_REGIONS = 14;
const KINDS: MapKind[] = ['anon', 'shared', 'file', 'file_shared', 'thp', 'dio', 'dio_private', 'dram'];
const KIND_WEIGHTS = [5, 2, 2, 2, 1, 1, 1, 1];
const ADVICE = ['dontneed', 'hugepage', 'nohugepage', 'mergeable', 'unmergeable'] as const;
const ADVICE_WEIGHTS = [5, 2, 1, 2, 1];
const KMALLOC_SIZES = [8, 64, 100, 512, 4096, 9000, 20000];
const MREMAP_MODES = ['inplace', 'maymove', 'maymove', 'fixed', 'dontunmap'] as const;

type Kind =
  | 'spawn'
  | 'fork'
  | 'exit'
  | 'create'
  | 'truncate'
  | 'mmap'
  | 'munmap'
  | 'mprotect'
  | 'madvise'
  | 'pageout'
  | 'read'
  | 'write'
  | 'touch'
  | 'populate'
  | 'mremap'
  | 'pin'
  | 'get'
  | 'unpin'
  | 'put'
  | 'dma_read'
  | 'dma_write'
  | 'ksm_scan'
  | 'folio_alloc'
  | 'folio_put'
  | 'kmalloc'
  | 'kfree'
  | 'vmalloc'
  | 'vfree';
const OPS: [Kind, number][] = [
  ['spawn', 1],
  ['fork', 2],
  ['exit', 1],
  ['create', 1],
  ['truncate', 1],
  ['mmap', 7],
  ['munmap', 2],
  ['mprotect', 2],
  ['madvise', 3],
  ['pageout', 2],
  ['read', 14],
  ['write', 14],
  ['touch', 4],
  ['populate', 2],
  ['mremap', 3],
  ['pin', 4],
  ['get', 2],
  ['unpin', 3],
  ['put', 2],
  ['dma_read', 3],
  ['dma_write', 2],
  ['ksm_scan', 1],
  ['folio_alloc', 1],
  ['folio_put', 1],
  ['kmalloc', 1],
  ['kfree', 1],
  ['vmalloc', 1],
  ['vfree', 1],
];
const OP_WEIGHTS = OPS.map(([, w]) => w);

export class Generator {
  private n = 0;

  constructor(
    private readonly r: Prng,
    private readonly w: World,
    /** Share of ops that call the Machine with an invalid argument. */
    private readonly invalid: number,
  ) {}

  private label(prefix: string): string {
    return `${prefix}${++this.n}`;
  }

  private prot(): Prot {
    return this.r.pick<Prot>(['rw', 'rw', 'rw', 'rw', 'rw', 'rw', 'r', 'r', 'none']);
  }

  private anyKey<T>(m: Map<string, T>, ok: (v: T) => boolean = () => true): string | undefined {
    const keys = [...m.keys()].filter((k) => ok(m.get(k)!));
    return keys.length ? this.r.pick(keys) : undefined;
  }

  /** A live process and one of its regions (undefined when there is none). */
  private where(): { proc: string; region: string; pages: number } | undefined {
    const proc = this.anyKey(this.w.procs);
    if (!proc) return undefined;
    const regions = [...this.w.procs.get(proc)!.regions];
    if (!regions.length) return undefined;
    const region = this.r.pick(regions);
    return { proc, region, pages: this.w.regions.get(region)!.pages };
  }

  /** The next ops (an mmap of a THP range comes with its madvise). */
  next(): FuzzOp[] {
    if (this.w.procs.size === 0) return [{ op: 'spawn', name: this.label('p') }];
    if (this.r.chance(this.invalid)) return [this.bad()];
    for (let tries = 0; tries < 20; tries++) {
      const o = this.make(OPS[this.r.weighted(OP_WEIGHTS)][0]);
      if (o) return o;
    }
    return [{ op: 'ksm_scan' }];
  }

  private make(kind: Kind): FuzzOp[] | undefined {
    const r = this.r;
    const w = this.w;
    switch (kind) {
      case 'spawn':
        return w.procs.size < MAX_PROCS ? [{ op: 'spawn', name: this.label('p') }] : undefined;
      case 'fork': {
        const proc = this.anyKey(w.procs);
        return proc && w.procs.size < MAX_PROCS ? [{ op: 'fork', proc, child: this.label('p') }] : undefined;
      }
      case 'exit': {
        const proc = this.anyKey(w.procs);
        return proc && w.procs.size > 1 ? [{ op: 'exit', proc }] : undefined;
      }
      case 'create':
        return w.files.size < 4
          ? [{ op: 'create', file: this.label('f'), pages: r.range(1, 8), byte: r.range(1, 255) }]
          : undefined;
      case 'truncate': {
        const file = this.anyKey(w.files);
        return file ? [{ op: 'truncate', file, pages: r.range(0, 10) }] : undefined;
      }
      case 'mmap':
        return this.mmap();
      case 'mremap':
        return this.mremap();
      case 'munmap':
      case 'mprotect':
      case 'madvise':
      case 'pageout':
      case 'touch':
      case 'populate':
      case 'pin':
      case 'get': {
        const at = this.where();
        if (!at) return undefined;
        const page = r.int(at.pages);
        const most = kind === 'pin' || kind === 'get' ? 4 : at.pages > 16 ? at.pages : 8;
        const pages = r.range(1, Math.max(1, Math.min(most, at.pages - page)));
        const range = { proc: at.proc, region: at.region, page, pages };
        if (kind === 'munmap') return [{ op: 'munmap', ...range }];
        if (kind === 'mprotect') return [{ op: 'mprotect', ...range, prot: this.prot() }];
        if (kind === 'madvise')
          return [{ op: 'madvise', ...range, advice: ADVICE[r.weighted(ADVICE_WEIGHTS)] }];
        if (kind === 'pageout') return [{ op: 'pageout', ...range }];
        if (kind === 'touch') return [{ op: 'touch', ...range, write: r.chance(0.5) }];
        if (kind === 'populate') return [{ op: 'populate', ...range, write: r.chance(0.5) }];
        const flags: string[] = [];
        if (r.chance(0.6)) flags.push('write');
        if (r.chance(0.3)) flags.push('longterm');
        for (const f of ['force', 'anon', 'split_pmd', 'honor_numa_fault']) if (r.chance(0.05)) flags.push(f);
        return [{ op: kind, ...range, flags, fast: r.chance(0.3), as: this.label('g') }];
      }
      case 'read':
      case 'write': {
        const at = this.where();
        if (!at) return undefined;
        const len = r.chance(0.1) ? r.range(17, 256) : r.range(1, 16);
        const o = {
          proc: at.proc,
          region: at.region,
          page: r.int(at.pages),
          off: r.int(PAGE - len + 1),
          len,
        };
        return kind === 'read' ? [{ op: 'read', ...o }] : [{ op: 'write', ...o, byte: r.range(1, 255) }];
      }
      case 'unpin':
      case 'put': {
        const label = this.anyKey(w.handles, (h) => h.kind === (kind === 'unpin' ? 'pin' : 'get'));
        if (!label) return undefined;
        return kind === 'unpin'
          ? [{ op: 'unpin', pin: label, dirty: r.chance(0.5) }]
          : [{ op: 'put', get: label }];
      }
      case 'dma_read':
      case 'dma_write': {
        const label = this.anyKey(w.handles, (h) => h.pages > 0 && (kind === 'dma_read' || !!h.cells));
        if (!label) return undefined;
        const h = w.handles.get(label)!;
        const len = r.range(1, 16);
        const offset = r.int(h.pages) * PAGE + r.int(PAGE - len + 1);
        return kind === 'dma_read'
          ? [{ op: 'dma_read', pin: label, offset, len }]
          : [{ op: 'dma_write', pin: label, offset, len, byte: r.range(1, 255) }];
      }
      case 'ksm_scan':
        return [{ op: 'ksm_scan' }];
      case 'folio_alloc':
        return w.folios.size < 8
          ? [{ op: 'folio_alloc', order: r.range(0, 3), as: this.label('o') }]
          : undefined;
      case 'folio_put': {
        const folio = this.anyKey(w.folios);
        return folio ? [{ op: 'folio_put', folio }] : undefined;
      }
      case 'kmalloc':
        return w.kobjs.size < 8
          ? [{ op: 'kmalloc', size: r.pick(KMALLOC_SIZES), as: this.label('k') }]
          : undefined;
      case 'kfree': {
        const obj = this.anyKey(w.kobjs);
        return obj ? [{ op: 'kfree', obj }] : undefined;
      }
      case 'vmalloc':
        return w.areas.size < 4 ? [{ op: 'vmalloc', pages: r.range(1, 8), as: this.label('v') }] : undefined;
      case 'vfree': {
        const area = this.anyKey(w.areas);
        return area ? [{ op: 'vfree', area }] : undefined;
      }
    }
  }

  private mmap(): FuzzOp[] | undefined {
    const r = this.r;
    const proc = this.anyKey(this.w.procs);
    if (!proc) return undefined;
    const regions = [...this.w.procs.get(proc)!.regions];
    if (regions.length >= MAX_REGIONS) return undefined;
    let kind = KINDS[r.weighted(KIND_WEIGHTS)];
    const file = this.anyKey(this.w.files);
    if ((kind === 'file' || kind === 'file_shared') && !file) kind = 'anon';
    let pages = r.range(1, 16);
    let pgoff = 0;
    if (kind === 'thp') pages = r.range(512, 1024);
    else if (kind === 'file' || kind === 'file_shared') pgoff = r.int(this.w.files.get(file!)!.sizePages + 1);
    else if (kind === 'dio' || kind === 'dio_private' || kind === 'dram') {
      pgoff = r.int(DEVICE_PAGES);
      pages = r.range(1, DEVICE_PAGES - pgoff);
    }
    const name = this.label('r');
    const fixed =
      regions.length && r.chance(0.1) && kind !== 'thp'
        ? (() => {
            const region = r.pick(regions);
            return { region, page: r.int(this.w.regions.get(region)!.pages) };
          })()
        : undefined;
    const o: FuzzOp = {
      op: 'mmap',
      proc,
      name,
      pages,
      prot: kind === 'thp' ? 'rw' : this.prot(),
      kind,
      file: kind === 'file' || kind === 'file_shared' ? file : undefined,
      pgoff,
      populate: r.chance(0.15),
      fixed,
    };
    if (kind !== 'thp') return [o];
    return [o, { op: 'madvise', proc, region: name, page: 0, pages, advice: 'hugepage' }];
  }

  /** An mremap of part of a region that is not a device's: shrink, grow, move, fixed or dontunmap. */
  private mremap(): FuzzOp[] | undefined {
    const r = this.r;
    const at = this.where();
    if (!at || this.w.procs.get(at.proc)!.regions.size >= MAX_REGIONS) return undefined;
    const kind = this.w.regions.get(at.region)!.kind;
    if (kind === 'dio' || kind === 'dio_private' || kind === 'dram') return undefined;
    const page = r.chance(0.5) ? 0 : r.int(at.pages);
    const pages = r.range(1, at.pages - page);
    const mode = r.pick(MREMAP_MODES);
    let newPages = mode === 'dontunmap' || r.chance(0.3) ? pages : r.range(1, pages * 2 + 1);
    let target: { region: string; page: number } | undefined;
    if (mode === 'fixed') {
      const regions = [...this.w.procs.get(at.proc)!.regions].filter((x) => x !== at.region);
      if (!regions.length) return undefined;
      const region = r.pick(regions);
      target = { region, page: r.int(this.w.regions.get(region)!.pages) };
      if (r.chance(0.5)) newPages = pages;
    }
    return [{ op: 'mremap', ...at, page, pages, newPages, mode, target, as: this.label('r') }];
  }

  private bad(): FuzzOp {
    const r = this.r;
    const call = r.pick(BAD_CALLS);
    const value = r.pick(BAD_VALUES);
    const at = this.where();
    const file = call.startsWith('file') ? this.anyKey(this.w.files) : undefined;
    const handle = file ?? this.anyKey(this.w.handles);
    return { op: 'bad', call, arg: 0, value, proc: at?.proc, region: at?.region, handle };
  }
}
