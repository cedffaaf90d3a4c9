/**
 * The oracle subset of a scenario as probe commands (src/oracle/probe.c): the steps the real
 * kernel can execute from user space, each with the pages to observe after it. Anything else —
 * allocator and slab ops, files with exact contents, fixed addresses, GUP flags no user-space
 * path gives — makes the scenario not oracle-able, and the error says which step and why.
 */
import { parseUffdFeatures } from '../machine/uapi.js';
import { PAGE_SIZE, parseSize } from '../mm/types.js';
import type { Scenario, Step } from '../scenario/parse.js';

/** A region of one process the oracle observes after every step. */
export interface Pair {
  proc: string;
  region: string;
  pages: number;
}

export interface PlannedStep {
  step: Step;
  commands: string[];
  /** A device read through this pin or reference: its bytes are the step's outcome. */
  dma?: { label: string; offset: number; len: number };
  /** The process whose user access this step is (its signal is the step's outcome). */
  access?: string;
  /** A read() of this process's userfaultfd: how many messages (and fork events) is the outcome. */
  uffdRead?: string;
  /** A load: its first bytes (at most LOADED_BYTES) are the step's outcome when it raises no signal. */
  loaded?: { proc: string; region: string; offset: number; len: number };
  /** What exists after the step, in observation order. */
  observe: Pair[];
  /**
   * Compared by rules, not frames (compact: the kernel chooses what moves): the pages
   * (`proc/region/index`) a long-term pin holds, which must keep their frame on the kernel side.
   */
  rules?: { pinned: string[] };
}

export interface OraclePlan {
  steps: PlannedStep[];
  /** Process label -> probe slot. */
  slots: Map<string, number>;
}

export class NotOracleable extends Error {}

/** Steps that neither act nor change state on the kernel side. */
const PASSIVE = new Set(['expect', 'dump']);
const MAX_SLOTS = 16;
/** The probe answers a load with its first 16 bytes. */
export const LOADED_BYTES = 16;
const x = (n: number) => n.toString(16);

interface Args {
  [k: string]: unknown;
}

class Planner {
  readonly slots = new Map<string, number>();
  private readonly regions = new Map<string, number>(); // region -> pages
  private readonly files = new Map<string, number>();
  private readonly holds = new Map<string, { proc: string; kind: 'pin' | 'get'; pages: string[] }>();
  private pairs: Pair[] = [];
  /** Processes that opened a userfaultfd of their own (a fork's child has none on the kernel side). */
  private readonly uffds = new Set<string>();

  constructor(private step: Step) {}

  at(step: Step): this {
    this.step = step;
    return this;
  }

  fail(why: string): never {
    throw new NotOracleable(`step ${this.step.n} (line ${this.step.pos.line}, ${this.step.op.name}): ${why}`);
  }

  slot(proc: unknown): number {
    const s = this.slots.get(String(proc));
    if (s === undefined) this.fail(`process '${String(proc)}' is not known`);
    return s;
  }

  newSlot(proc: string): number {
    if (this.slots.size >= MAX_SLOTS) this.fail(`more than ${MAX_SLOTS} processes`);
    this.slots.set(proc, this.slots.size);
    return this.slots.size - 1;
  }

  /** `buf+4K` -> `buf 1000`: the probe resolves region names in the process itself. */
  addr(a: unknown): { region: string; offset: number; text: string } {
    const m = typeof a === 'string' ? /^([A-Za-z_][A-Za-z0-9_.-]*)(?:\s*\+\s*(\S+))?$/.exec(a.trim()) : null;
    if (!m || !this.regions.has(m[1]))
      this.fail(`address ${String(a)}: the oracle needs region+offset (the kernel chooses the addresses)`);
    const offset = m[2] === undefined ? 0 : parseSize(m[2]);
    return { region: m[1], offset, text: `${m[1]} ${x(offset)}` };
  }

  /**
   * An access of `len` bytes at `a` that ends past its region is refused here, on the model side:
   * the probe would touch whatever the kernel placed after the region (or crash on a hole), so
   * the step cannot be compared. Returns the resolved address.
   */
  within(a: unknown, len: number): { region: string; offset: number; text: string } {
    const at = this.addr(a);
    const pages = this.regions.get(at.region)!;
    if (at.offset + len > pages * PAGE_SIZE)
      this.fail(
        `0x${x(len)} bytes at ${at.region}+0x${x(at.offset)} end past the region (0x${x(pages * PAGE_SIZE)} bytes): the probe would touch memory outside it`,
      );
    return at;
  }

  plan(a: Args): Omit<PlannedStep, 'step' | 'observe'> {
    const op = this.step.op.name;
    const handler = HANDLERS[op];
    if (!handler) this.fail(`the kernel side cannot run '${op}' from user space`);
    return handler(this, a);
  }

  observe(): Pair[] {
    return [...this.pairs];
  }

  // State kept to know what exists after each step.
  mapped(proc: string, region: string, size: number): void {
    this.regions.set(region, Math.ceil(size / PAGE_SIZE));
    this.pairs.push({ proc, region, pages: Math.ceil(size / PAGE_SIZE) });
  }
  /** An mremap in place may grow its region: accesses up to the new end are inside it. */
  resized(at: { region: string; offset: number }, newLen: number): void {
    const pages = Math.ceil((at.offset + newLen) / PAGE_SIZE);
    if (pages > this.regions.get(at.region)!) this.regions.set(at.region, pages);
  }
  forked(parent: string, child: string): void {
    this.pairs.push(...this.pairs.filter((p) => p.proc === parent).map((p) => ({ ...p, proc: child })));
  }
  exited(proc: string): void {
    this.pairs = this.pairs.filter((p) => p.proc !== proc);
  }
  file(name: string): number {
    const id = this.files.get(name);
    if (id === undefined) this.fail(`file '${name}' is not known`);
    return id;
  }
  newFile(name: string): number {
    this.files.set(name, this.files.size);
    return this.files.size - 1;
  }
  hold(label: string, proc: string, kind: 'pin' | 'get', pages: string[] = []): void {
    this.holds.set(label, { proc, kind, pages });
  }
  release(label: string): void {
    this.holds.delete(label);
  }
  /** The pages the live long-term pins hold, as `proc/region/index`. */
  pinnedPages(): string[] {
    return [...this.holds.values()].filter((h) => h.kind === 'pin').flatMap((h) => h.pages);
  }
  openedUffd(proc: string): void {
    this.uffds.add(proc);
  }
  /** The probe slot of a process that has its own userfaultfd. */
  uffdSlot(proc: unknown): number {
    if (!this.uffds.has(String(proc)))
      this.fail(
        `'${String(proc)}' has no userfaultfd of its own here (a child's, from EVENT_FORK, is read by the parent's monitor)`,
      );
    return this.slot(proc);
  }
  holder(label: unknown, kind?: 'pin' | 'get'): { proc: string; kind: 'pin' | 'get' } {
    const h = this.holds.get(String(label));
    if (!h || (kind && h.kind !== kind))
      this.fail(`'${String(label)}' is not a ${kind ?? 'pin or get'} here`);
    return h;
  }
}

type Handler = (p: Planner, a: Args) => Omit<PlannedStep, 'step' | 'observe'>;

const cmds = (...c: string[]) => ({ commands: c });

function sameFlags(got: unknown, want: string[]): boolean {
  const g = [...(got as string[])].sort();
  return g.length === want.length && g.every((f, i) => f === [...want].sort()[i]);
}

/** The bytes a write or mem_write stores: its data (hex, two digits a byte) or len (a page by default). */
const storeLen = (a: Args): number =>
  a.data !== undefined ? String(a.data).length / 2 : Number(a.len ?? PAGE_SIZE);

const HANDLERS: Record<string, Handler> = {
  spawn: (p, a) => cmds(`spawn ${p.newSlot(String(a.name))}`),
  fork: (p, a) => {
    const c = `fork ${p.slot(a.proc)} ${p.newSlot(String(a.child))}`;
    p.forked(String(a.proc), String(a.child));
    return cmds(c);
  },
  exit: (p, a) => {
    const c = `exit ${p.slot(a.proc)}`;
    p.exited(String(a.proc));
    return cmds(c);
  },
  create: (p, a) => {
    if (a.data !== undefined) p.fail('a file with exact data (the probe fills files with one byte)');
    const fill = a.byte === undefined ? '-' : x(Number(a.byte));
    return cmds(
      `file ${p.newFile(String(a.file))} ${x(Number(a.size))} ${fill} ${a.memfd ? 'memfd' : 'disk'}`,
    );
  },
  truncate: (p, a) => cmds(`trunc ${p.file(String(a.file))} ${x(Number(a.size))}`),
  // fsync(): the kernel side runs it; what reached its disk is not observable here, so `expect`
  // on the written bytes is checked on the model only.
  sync: (p, a) => cmds(`fsync ${p.file(String(a.file))}`),
  mmap: (p, a) => {
    const flags = a.flags as string[];
    const other = flags.filter((f) => !['private', 'shared', 'anonymous', 'populate'].includes(f));
    if (other.length > 0 || a.addr !== undefined) p.fail('a fixed address (the kernel chooses addresses)');
    const share = `${flags.includes('shared') ? 'shared' : 'private'}${flags.includes('populate') ? ',populate' : ''}`;
    const file = a.file === undefined ? '' : ` ${p.file(String(a.file))} ${x(Number(a.offset ?? 0))}`;
    const c = `mmap ${p.slot(a.proc)} ${String(a.name)} ${x(Number(a.size))} ${a.prot === 'none' ? '-' : String(a.prot)} ${share}${file}`;
    p.mapped(String(a.proc), String(a.name), Number(a.size));
    return cmds(c);
  },
  munmap: (p, a) => cmds(`munmap ${p.slot(a.proc)} ${p.addr(a.addr).text} ${x(Number(a.len))}`),
  mprotect: (p, a) =>
    cmds(
      `mprotect ${p.slot(a.proc)} ${p.addr(a.addr).text} ${x(Number(a.len))} ${a.prot === 'none' ? '-' : String(a.prot)}`,
    ),
  madvise: (p, a) =>
    cmds(`madvise ${p.slot(a.proc)} ${p.addr(a.addr).text} ${x(Number(a.len))} ${String(a.advice)}`),
  mremap: (p, a) => {
    const flags = (a.flags as string[]).length ? (a.flags as string[]).join(',') : '-';
    const to = a.new_addr === undefined ? '- 0' : p.addr(a.new_addr).text;
    const c = `mremap ${p.slot(a.proc)} ${p.addr(a.addr).text} ${x(Number(a.old_len))} ${x(Number(a.new_len))} ${flags} ${to} ${a.as === undefined ? '-' : String(a.as)}`;
    // The result is observed as a region of its own (the kernel chooses where it goes).
    if (a.as !== undefined) p.mapped(String(a.proc), String(a.as), Number(a.new_len));
    else p.resized(p.addr(a.addr), Number(a.new_len));
    return cmds(c);
  },
  pageout: (p, a) => cmds(`madvise ${p.slot(a.proc)} ${p.addr(a.addr).text} ${x(Number(a.len))} pageout`),
  collapse: (p, a) => cmds(`madvise ${p.slot(a.proc)} ${p.addr(a.addr).text} ${x(Number(a.len))} collapse`),
  read: (p, a) => {
    const { region, offset, text } = p.within(a.addr, Number(a.len));
    const len = Math.min(Number(a.len), LOADED_BYTES);
    return {
      commands: [`read ${p.slot(a.proc)} ${text} ${x(Number(a.len))}`],
      access: String(a.proc),
      loaded: { proc: String(a.proc), region, offset, len },
    };
  },
  write: (p, a) => {
    noUserfault(p, a);
    const at = `${p.slot(a.proc)} ${p.within(a.addr, storeLen(a)).text}`;
    const c =
      a.data !== undefined
        ? `write ${at} ${String(a.data)}`
        : `fill ${at} ${x(Number(a.len ?? PAGE_SIZE))} ${x(Number(a.byte))}`;
    return { commands: [c], access: String(a.proc) };
  },
  mem_write: (p, a) => {
    const at = `${p.slot(a.proc)} ${p.within(a.addr, storeLen(a)).text}`;
    return cmds(
      a.data !== undefined
        ? `memwrite ${at} ${String(a.data)}`
        : `memfill ${at} ${x(Number(a.len ?? PAGE_SIZE))} ${x(Number(a.byte))}`,
    );
  },
  mem_read: (p, a) =>
    cmds(`memread ${p.slot(a.proc)} ${p.within(a.addr, Number(a.len)).text} ${x(Number(a.len))}`),
  touch: (p, a) => {
    noUserfault(p, a);
    const { region, offset } = p.within(a.addr, Number(a.len));
    const s = p.slot(a.proc);
    const commands: string[] = [];
    for (let o = offset; o < offset + Number(a.len); o += PAGE_SIZE - (o % PAGE_SIZE))
      commands.push(a.write ? `fill ${s} ${region} ${x(o)} 1 1` : `read ${s} ${region} ${x(o)} 1`);
    return { commands, access: String(a.proc) };
  },
  pin: (p, a) => {
    if (!sameFlags(a.flags, ['write', 'longterm']))
      p.fail(
        'pins other than [write, longterm] (io_uring buffer registration is the only one user space has)',
      );
    const at = p.addr(a.addr);
    const first = Math.floor(at.offset / PAGE_SIZE);
    const pages = Array.from(
      { length: Number(a.pages) },
      (_, i) => `${String(a.proc)}/${at.region}/${first + i}`,
    );
    p.hold(String(a.as), String(a.proc), 'pin', pages);
    return cmds(`pin ${p.slot(a.proc)} ${String(a.as)} ${at.text} ${x(Number(a.pages))}`);
  },
  get: (p, a) => {
    if (!sameFlags(a.flags, [])) p.fail('gets with FOLL flags (vmsplice takes plain read references)');
    p.hold(String(a.as), String(a.proc), 'get');
    return cmds(`get ${p.slot(a.proc)} ${String(a.as)} ${p.addr(a.addr).text} ${x(Number(a.pages))}`);
  },
  unpin: (p, a) => {
    const c = cmds(`unpin ${p.slot(p.holder(a.pin, 'pin').proc)} ${String(a.pin)}`);
    p.release(String(a.pin));
    return c;
  },
  put: (p, a) => cmds(`put ${p.slot(p.holder(a.get, 'get').proc)} ${String(a.get)}`),
  dma_read: (p, a) => ({
    commands: [
      `dmaread ${p.slot(p.holder(a.pin).proc)} ${String(a.pin)} ${x(Number(a.offset))} ${x(Number(a.len))}`,
    ],
    dma: { label: String(a.pin), offset: Number(a.offset), len: Number(a.len) },
  }),
  dma_write: (p, a) => {
    const h = p.holder(a.pin, 'pin');
    const data =
      a.data !== undefined
        ? String(a.data)
        : x(Number(a.byte))
            .padStart(2, '0')
            .repeat(Number(a.len ?? PAGE_SIZE));
    return cmds(`dmawrite ${p.slot(h.proc)} ${String(a.pin)} ${x(Number(a.offset))} ${data}`);
  },
  // /proc/sys/vm/compact_memory: which pages move is the kernel's choice, so the step is compared
  // by rules (compare.ts): bytes, sharing and mappings kept, long-term-pinned pages in place.
  compact: (p, a) => {
    if (a.node !== undefined || a.zone !== undefined || a.order !== undefined)
      p.fail(
        'compact with node, zone or order (the kernel side is compact_memory: every zone of every node)',
      );
    return { commands: ['compact'], rules: { pinned: p.pinnedPages() } };
  },
  // ksmd runs for a few passes at this step only; the knobs (knobs.ts) keep it stopped otherwise.
  ksm_scan: () => cmds('ksmscan'),
  odirect: (p, a) => cmds(`odirect ${p.slot(a.proc)} ${p.addr(a.addr).text} ${x(Number(a.pages))}`),
  uffd: (p, a) => {
    p.openedUffd(String(a.proc));
    return cmds(`uffd ${p.slot(a.proc)} ${x(parseUffdFeatures(a.features as string[]))}`);
  },
  uffd_register: (p, a) => {
    if ((a.mode as string[]).some((m) => m !== 'wp')) p.fail('modes other than wp');
    return cmds(`uffdreg ${p.uffdSlot(a.proc)} ${p.addr(a.addr).text} ${x(Number(a.len))}`);
  },
  uffd_unregister: (p, a) =>
    cmds(`uffdunreg ${p.uffdSlot(a.proc)} ${p.addr(a.addr).text} ${x(Number(a.len))}`),
  uffd_writeprotect: (p, a) =>
    cmds(
      `uffdwp ${p.uffdSlot(a.proc)} ${p.addr(a.addr).text} ${x(Number(a.len))} ${a.wp ? 1 : 0} ${a.dontwake ? 1 : 0}`,
    ),
  uffd_read: (p, a) => ({ commands: [`uffdread ${p.uffdSlot(a.proc)}`], uffdRead: String(a.proc) }),
};

/**
 * A store the scenario expects to wait on a sync-mode userfault would park the probe's only
 * thread (a real monitor would resolve it from another): such a step stays on the model side.
 */
function noUserfault(p: Planner, a: Args): void {
  if ((a.expect as { userfault?: boolean } | undefined)?.userfault)
    p.fail('an access that waits on a sync-mode userfault (the probe has no monitor thread to resolve it)');
}

/** The probe commands of every active step; throws NotOracleable naming the first step it cannot run. */
export function planScenario(s: Scenario): OraclePlan {
  const active = s.steps.filter((st) => !PASSIVE.has(st.op.name));
  if (active.length === 0) throw new NotOracleable('the scenario has no steps the kernel can run');
  const p = new Planner(active[0]);
  const steps = active.map((step) => {
    const planned = p.at(step).plan(step.args);
    return { step, ...planned, observe: p.observe() };
  });
  return { steps, slots: p.slots };
}
