/**
 * The fuzzer's world: a Machine, the reference model beside it, and the live objects both know by
 * label. `prepare()` turns an op into the scenario step it is and a call that runs it on the
 * Machine, updates the reference only once the Machine succeeded, and says what disagreed.
 */
import type { FolioId, PinHandle } from '../machine/ids.js';
import type { Machine } from '../machine/machine.js';
import { Labels } from '../scenario/labels.js';
import { deviceOp } from '../scenario/ops/driver.js';
import { prepareBad } from './bad.js';
import { prepareKernelObject } from './kobj.js';
import { prepareMremap, preparePopulate } from './mremap.js';
import type { FuzzOp, MapKind } from './ops.js';
import { Backing, type Cell, cellBytes, compareCell, PAGE, type Prot, RefProcess } from './reference.js';

export type Step = Record<string, unknown>;

export interface ProcState {
  pid: number;
  ref: RefProcess;
  regions: Set<string>;
}
export interface RegionState {
  start: number;
  pages: number;
  kind: MapKind;
}
export interface HandleState {
  id: PinHandle;
  kind: 'pin' | 'get';
  pages: number;
  pfns: Float64Array;
  /** The reference cells of a FOLL_WRITE pin (a safe design): what a device must read. */
  cells?: Cell[];
}

/** Devices every run defines first: pfn-only I/O memory and RAM pages, 16 pages each. */
export const DEVICES = [
  { name: 'dio', map: 'remap_pfn_range', backing: 'io', size: 16 * PAGE },
  { name: 'dram', map: 'vm_insert_page', backing: 'ram', size: 16 * PAGE },
] as const;
export const DEVICE_PAGES = 16;

/** What the call found wrong, beyond an exception. */
export interface CallResult {
  mismatch?: string;
  accepted?: string;
}

export interface Prepared {
  step: Step | string;
  /** Where the op acts, for the fingerprint's descriptor part. */
  touched: { pid: number; addr: number; pages: number } | { handle: HandleState } | undefined;
  call(): CallResult;
}

const hexOf = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
const addrText = (region: string, page: number) => (page === 0 ? region : `${region}+${page * PAGE}`);

export class World {
  readonly procs = new Map<string, ProcState>();
  readonly regions = new Map<string, RegionState>();
  readonly files = new Map<string, Backing>();
  readonly devices = new Map<string, Backing>();
  readonly handles = new Map<string, HandleState>();
  readonly folios = new Map<string, FolioId>();
  readonly kobjs = new Map<string, number>();
  readonly areas = new Map<string, number>();

  constructor(
    readonly m: Machine,
    /** Whether a device reading through a pin must see what the pinner sees (not for unsafe designs). */
    readonly trackPins: boolean,
  ) {}

  /** Define the devices (scenario `device` steps, so a reproducer defines them the same way). */
  setup(): Step[] {
    const labels = new Labels();
    const steps: Step[] = [];
    for (const d of DEVICES) {
      const step = { op: 'device', ...d };
      deviceOp.run(deviceOp.schema.parse(step) as Record<string, unknown>, {
        m: this.m,
        labels,
        note: () => {},
      });
      this.devices.set(d.name, new Backing('dev'));
      steps.push(step);
    }
    return steps;
  }

  pagesIn(o: { proc: string; region: string; page: number }) {
    const p = this.procs.get(o.proc)!;
    return { p, va: this.regions.get(o.region)!.start + o.page * PAGE };
  }

  /** The step and the call of an op, or undefined when a label it needs is not live. */
  prepare(o: FuzzOp): Prepared | undefined {
    if (o.op === 'bad') return prepareBad(this, o);
    for (const l of labelsOf(o)) if (!this.live(l)) return undefined;
    if ('region' in o && 'proc' in o && !this.procs.get(o.proc)!.regions.has(o.region)) return undefined;
    const m = this.m;
    switch (o.op) {
      case 'spawn':
        if (this.procs.has(o.name)) return undefined;
        return this.plain({ op: 'spawn', name: o.name }, () => {
          this.procs.set(o.name, { pid: m.spawn(o.name), ref: new RefProcess(), regions: new Set() });
        });
      case 'fork': {
        if (this.procs.has(o.child)) return undefined;
        const p = this.procs.get(o.proc)!;
        return this.plain({ op: 'fork', proc: o.proc, child: o.child }, () => {
          const pid = m.fork(p.pid, o.child);
          this.procs.set(o.child, { pid, ref: p.ref.fork(), regions: new Set(p.regions) });
        });
      }
      case 'exit': {
        const p = this.procs.get(o.proc)!;
        return this.plain({ op: 'exit', proc: o.proc }, () => {
          m.exit(p.pid);
          this.procs.delete(o.proc);
        });
      }
      case 'create':
        if (this.files.has(o.file)) return undefined;
        return this.plain({ op: 'create', file: o.file, size: o.pages * PAGE, byte: o.byte }, () => {
          m.fileCreate(o.file, o.pages * PAGE, o.byte);
          this.files.set(o.file, new Backing('file', o.pages, o.pages, o.byte));
        });
      case 'truncate':
        return this.plain({ op: 'truncate', file: o.file, size: o.pages * PAGE }, () => {
          m.fileTruncate(o.file, o.pages * PAGE);
          this.truncate(this.files.get(o.file)!, o.pages);
        });
      case 'mmap':
        return this.prepareMmap(o);
      case 'munmap': {
        const { p, va } = this.pagesIn(o);
        const step = { op: 'munmap', proc: o.proc, addr: addrText(o.region, o.page), len: o.pages * PAGE };
        return this.ranged(step, p, va, o.pages, () => {
          m.munmap(p.pid, va, o.pages * PAGE);
          for (let i = 0; i < o.pages; i++) p.ref.pages.delete(va + i * PAGE);
          return {};
        });
      }
      case 'mprotect': {
        const { p, va } = this.pagesIn(o);
        const step = {
          op: 'mprotect',
          proc: o.proc,
          addr: addrText(o.region, o.page),
          len: o.pages * PAGE,
          prot: o.prot,
        };
        const apply = () => {
          // VMA by VMA from the start, up to the first hole (where Linux stops with ENOMEM).
          for (let i = 0; i < o.pages; i++) {
            const rp = p.ref.pages.get(va + i * PAGE);
            if (!rp) break;
            rp.prot = o.prot;
          }
        };
        return this.ranged(step, p, va, o.pages, () => {
          try {
            m.mprotect(p.pid, va, o.pages * PAGE, o.prot);
          } catch (e) {
            if ((e as { errno?: string }).errno === 'ENOMEM') apply();
            throw e;
          }
          apply();
          return {};
        });
      }
      case 'madvise': {
        const { p, va } = this.pagesIn(o);
        const step = {
          op: 'madvise',
          proc: o.proc,
          addr: addrText(o.region, o.page),
          len: o.pages * PAGE,
          advice: o.advice,
        };
        const apply = () => {
          if (o.advice === 'dontneed')
            p.ref.dontneed(va, o.pages, this.devices.get('dio'), this.devices.get('dram'));
        };
        return this.ranged(step, p, va, o.pages, () => {
          try {
            m.madvise(p.pid, va, o.pages * PAGE, o.advice);
          } catch (e) {
            // ENOMEM (a hole) after the whole walk; EINVAL at a pfn map, what came before it zapped.
            if (['ENOMEM', 'EINVAL'].includes((e as { errno?: string }).errno ?? '')) apply();
            throw e;
          }
          apply();
          return {};
        });
      }
      case 'pageout': {
        // MADV_PAGEOUT moves pages to swap or drops clean cache pages: nothing a process reads
        // changes, so the reference has nothing to do. A pfn map refuses it (EINVAL) part way.
        const { p, va } = this.pagesIn(o);
        const step = { op: 'pageout', proc: o.proc, addr: addrText(o.region, o.page), len: o.pages * PAGE };
        return this.ranged(step, p, va, o.pages, () => {
          m.pageout(p.pid, va, o.pages * PAGE);
          return {};
        });
      }
      case 'read':
        return this.prepareRead(o);
      case 'write': {
        const { p, va } = this.pagesIn(o);
        const step: Step = {
          op: 'write',
          proc: o.proc,
          addr: addrText(o.region, o.page),
          len: o.len,
          byte: o.byte,
        };
        if (o.off) step.addr = `${o.region}+${o.page * PAGE + o.off}`;
        return this.ranged(step, p, va, 1, () => {
          const acc = p.ref.store(va);
          if ('signal' in acc) step.expect = { signal: acc.signal };
          const r = m.write(p.pid, va + o.off, { byte: o.byte, len: o.len });
          if ((r.signal ?? '') !== ('signal' in acc ? acc.signal : ''))
            return {
              mismatch: `write raised ${r.signal ?? 'nothing'}, the reference ${'signal' in acc ? acc.signal : 'nothing'}`,
            };
          if ('cell' in acc) acc.cell.fill(o.byte, o.off, o.off + o.len);
          return {};
        });
      }
      case 'touch': {
        const { p, va } = this.pagesIn(o);
        const step: Step = {
          op: 'touch',
          proc: o.proc,
          addr: addrText(o.region, o.page),
          len: o.pages * PAGE,
          write: o.write,
        };
        return this.ranged(step, p, va, o.pages, () => {
          let done = 0;
          let signal: string | undefined;
          const cells: Cell[] = [];
          for (; done < o.pages; done++) {
            const acc = o.write ? p.ref.store(va + done * PAGE) : p.ref.load(va + done * PAGE);
            if ('signal' in acc) {
              signal = acc.signal;
              break;
            }
            if (o.write && acc.cell) cells.push(acc.cell);
          }
          if (signal) step.expect = { signal };
          const r = m.touch(p.pid, va, o.pages * PAGE, { write: o.write });
          if (r.done !== done || r.signal !== signal)
            return {
              mismatch: `touch did ${r.done} page(s) then ${r.signal ?? 'nothing'}; the reference ${done} then ${signal ?? 'nothing'}`,
            };
          for (const c of cells) c[0] = 1;
          return {};
        });
      }
      case 'pin':
      case 'get':
        return this.prepareGup(o);
      case 'populate':
        return preparePopulate(this, o);
      case 'mremap':
        return prepareMremap(this, o);
      case 'unpin':
      case 'put': {
        const label = o.op === 'unpin' ? o.pin : o.get;
        const h = this.handles.get(label)!;
        const step: Step =
          o.op === 'unpin' ? { op: 'unpin', pin: label, dirty: o.dirty } : { op: 'put', get: label };
        return {
          step,
          touched: { handle: h },
          call: () => {
            if (o.op === 'unpin') m.unpinUserPages(h.id, { dirty: o.dirty });
            else m.putUserPages(h.id);
            this.handles.delete(label);
            return {};
          },
        };
      }
      case 'dma_read': {
        const h = this.handles.get(o.pin)!;
        const step: Step = { op: 'dma_read', pin: o.pin, offset: o.offset, len: o.len };
        return {
          step,
          touched: { handle: h },
          call: () => {
            const got = m.dmaRead(h.id, o.offset, o.len);
            if (!h.cells) return {};
            const cell = h.cells[Math.floor(o.offset / PAGE)];
            const off = o.offset % PAGE;
            step.expect = { data: hexOf(cellBytes(cell, off, got)) };
            const bad = compareCell(cell, off, got);
            return bad
              ? { mismatch: `dma_read byte ${bad.at} is ${got[bad.at]}, the reference ${bad.want}` }
              : {};
          },
        };
      }
      case 'dma_write': {
        const h = this.handles.get(o.pin)!;
        if (!h.cells) return undefined;
        const step = { op: 'dma_write', pin: o.pin, offset: o.offset, len: o.len, byte: o.byte };
        return {
          step,
          touched: { handle: h },
          call: () => {
            m.dmaWrite(h.id, { byte: o.byte, len: o.len }, o.offset);
            const off = o.offset % PAGE;
            h.cells![Math.floor(o.offset / PAGE)].fill(o.byte, off, off + o.len);
            return {};
          },
        };
      }
      default:
        return prepareKernelObject(this, o);
    }
  }

  live(label: string): boolean {
    return (
      this.procs.has(label) ||
      this.regions.has(label) ||
      this.files.has(label) ||
      this.handles.has(label) ||
      this.folios.has(label) ||
      this.kobjs.has(label) ||
      this.areas.has(label)
    );
  }

  plain(step: Step, run: () => void): Prepared {
    return {
      step,
      touched: undefined,
      call: () => {
        run();
        return {};
      },
    };
  }

  ranged(step: Step, p: ProcState, va: number, pages: number, run: () => CallResult): Prepared {
    return { step, touched: { pid: p.pid, addr: va, pages }, call: run };
  }

  private truncate(b: Backing, pages: number): void {
    if (pages < b.sizePages) {
      for (const idx of [...b.pages.keys()]) if (idx >= pages) b.pages.delete(idx);
      b.filledBelow = Math.min(b.filledBelow, pages);
      for (const p of this.procs.values())
        for (const rp of p.ref.pages.values()) if (rp.obj === b && rp.idx >= pages) rp.priv = undefined;
    }
    b.sizePages = pages;
  }

  private prepareMmap(o: Extract<FuzzOp, { op: 'mmap' }>): Prepared | undefined {
    if (this.regions.has(o.name)) return undefined;
    const p = this.procs.get(o.proc)!;
    const shared = o.kind === 'shared' || o.kind === 'file_shared' || o.kind === 'dio' || o.kind === 'dram';
    const device =
      o.kind === 'dio' || o.kind === 'dio_private' ? 'dio' : o.kind === 'dram' ? 'dram' : undefined;
    const file = o.kind === 'file' || o.kind === 'file_shared' ? o.file : undefined;
    if (file !== undefined && !this.files.has(file)) return undefined;
    const flags = [shared ? 'shared' : 'private'];
    if (!file && !device) flags.push('anonymous');
    if (o.populate) flags.push('populate');
    let addr: number | undefined;
    if (o.fixed) {
      const r = this.regions.get(o.fixed.region)!;
      addr = r.start + o.fixed.page * PAGE;
      flags.push('fixed');
    }
    const step: Step = { op: 'mmap', proc: o.proc, name: o.name, size: o.pages * PAGE, prot: o.prot, flags };
    if (file) step.file = file;
    if (device) step.device = device;
    if (o.pgoff) step.offset = o.pgoff * PAGE;
    if (addr !== undefined) step.addr = addr;
    const req = { addr, length: o.pages * PAGE, prot: o.prot, flags, offset: o.pgoff * PAGE, name: o.name };
    return {
      step,
      touched: addr === undefined ? undefined : { pid: p.pid, addr, pages: o.pages },
      call: () => {
        const start = device
          ? this.m.mmapDevice(p.pid, { ...req, device })
          : this.m.mmap(p.pid, { ...req, file });
        const obj = device
          ? this.devices.get(device)
          : file
            ? this.files.get(file)
            : shared
              ? new Backing('shm', o.pages) // shmem_zero_setup(): an object of the mapping's size
              : undefined;
        for (let i = 0; i < o.pages; i++)
          p.ref.pages.set(start + i * PAGE, {
            prot: o.prot as Prot,
            shared,
            obj,
            idx: obj ? o.pgoff + i : 0,
          });
        // MAP_POPULATE write-faults a writable private mapping (populate_vma_page_range):
        // private copies of the file's pages as they are now.
        if (o.populate && !shared && o.prot === 'rw')
          p.ref.populateWrite(start, o.pages, this.devices.get('dio'));
        this.regions.set(o.name, { start, pages: o.pages, kind: o.kind });
        p.regions.add(o.name);
        return {};
      },
    };
  }

  private prepareRead(o: Extract<FuzzOp, { op: 'read' }>): Prepared {
    const { p, va } = this.pagesIn(o);
    const step: Step = {
      op: 'read',
      proc: o.proc,
      addr: o.off ? `${o.region}+${o.page * PAGE + o.off}` : addrText(o.region, o.page),
      len: o.len,
    };
    return this.ranged(step, p, va, 1, () => {
      const acc = p.ref.load(va);
      const r = this.m.read(p.pid, va + o.off, o.len);
      if ('signal' in acc) {
        step.expect = { signal: acc.signal };
        return r.signal === acc.signal
          ? {}
          : { mismatch: `read raised ${r.signal ?? 'nothing'}, the reference ${acc.signal}` };
      }
      if (r.signal) {
        step.expect = { data: hexOf(cellBytes(acc.cell, o.off, new Uint8Array(o.len))) };
        return { mismatch: `read raised ${r.signal}, the reference reads the bytes` };
      }
      step.expect = { data: hexOf(cellBytes(acc.cell, o.off, r.bytes)) };
      const bad = compareCell(acc.cell, o.off, r.bytes);
      return bad ? { mismatch: `read byte ${bad.at} is ${r.bytes[bad.at]}, the reference ${bad.want}` } : {};
    });
  }

  private prepareGup(o: Extract<FuzzOp, { op: 'pin' | 'get' }>): Prepared | undefined {
    if (this.handles.has(o.as)) return undefined;
    const { p, va } = this.pagesIn(o);
    const step = {
      op: o.op,
      proc: o.proc,
      addr: addrText(o.region, o.page),
      pages: o.pages,
      flags: o.flags,
      fast: o.fast,
      as: o.as,
    };
    return this.ranged(step, p, va, o.pages, () => {
      const r =
        o.op === 'pin'
          ? this.m.pinUserPages(p.pid, va, o.pages, o.flags, { fast: o.fast })
          : this.m.getUserPages(p.pid, va, o.pages, o.flags, { fast: o.fast });
      const h: HandleState = { id: r.id, kind: o.op, pages: r.pages, pfns: r.pfns };
      const write = o.flags.includes('write');
      const cells: Cell[] = [];
      for (let i = 0; i < r.pages; i++) {
        const rp = p.ref.pages.get(va + i * PAGE);
        if (!rp) break;
        // FOLL_WRITE breaks COW: the page is the process's own from now on.
        if (write && !rp.shared && !rp.priv)
          rp.priv = rp.obj ? Int16Array.from(rp.obj.cell(rp.idx)) : new Int16Array(PAGE);
        const cell = rp.shared && rp.obj ? rp.obj.cell(rp.idx) : rp.priv;
        if (cell && rp.obj?.kind !== 'dev') cells.push(cell);
      }
      if (o.op === 'pin' && write && this.trackPins && cells.length === r.pages && r.pages > 0)
        h.cells = cells;
      this.handles.set(o.as, h);
      return {};
    });
  }
}

function labelsOf(o: FuzzOp): string[] {
  const out: string[] = [];
  for (const k of ['proc', 'region', 'pin', 'get', 'folio', 'obj', 'area'] as const) {
    const v = (o as Record<string, unknown>)[k];
    if (typeof v === 'string') out.push(v);
  }
  if (o.op === 'truncate') out.push(o.file);
  if (o.op === 'mmap' && o.fixed) out.push(o.fixed.region);
  if (o.op === 'mremap' && o.target) out.push(o.target.region);
  return out;
}
