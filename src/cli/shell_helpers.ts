/**
 * The helpers `pagelab shell` puts in scope, named after the kernel functions and the crash/drgn
 * helpers they stand for, so a question asked of a vmcore can be asked of one model state:
 * pfn_to_page(), page_folio(), follow_page(), for_each_page(), for_each_vma(), dump_page(),
 * decode_page_flags(). Each reads the machine; none changes it.
 */
import { inspect } from 'node:util';
import {
  decodeFlagsWord,
  formatFlags,
  formatId,
  MT_NAMES,
  type PageInfo,
  PG,
  type RunResult,
  ZONE_NAMES,
} from '../index.js';
import { addressArgument, pfnArgument } from '../scenario/explain.js';

/** A filter for for_each_page(): the memory type, a page flag, a pfn range [from, to). */
export interface PageFilter {
  type?: string;
  flag?: string;
  from?: number;
  to?: number;
}

/** What page_folio() returns: the folio a page belongs to, with its readable id. */
export interface FolioView {
  id: string;
  head: number;
  order: number;
  nrPages: number;
  refcount: number;
  mapcount: number;
  pincount: number;
  flags: string;
}

/** A helper's misuse: the shell prints the message (no stack), and the session goes on. */
export class ShellError extends Error {
  override readonly name = 'ShellError';
}

/** The helpers over the run `get()` returns (it changes with .step and .back). */
export function shellHelpers(get: () => RunResult, print: (s: string) => void) {
  const m = () => get().machine!;
  /** A pfn from a number, a `0x` string or a label naming memory. */
  const pfnOf = (x: number | string | PageInfo): number => {
    if (typeof x === 'object') {
      if (x === null || typeof x.pfn !== 'number')
        throw new ShellError('not a page: pass a pfn, a label or a pfn_to_page() result');
      return x.pfn;
    }
    const v = typeof x === 'string' ? pfnArgument(x) : x;
    if (typeof v === 'number') {
      if (!Number.isSafeInteger(v) || v < 0) throw new ShellError(`not a pfn: ${String(x)}`);
      return v;
    }
    const r = get();
    const b = r.labels.has(v) ? r.labels.get(v) : undefined;
    if (!b?.frames) throw new ShellError(`no label '${v}' naming memory`);
    return b.frames(m()).pfn;
  };
  /** A pid from a number or a process label. */
  const pidOf = (proc: number | string): number => {
    if (typeof proc === 'number') return proc;
    const r = get();
    if (!r.labels.has(proc) || r.labels.get(proc).kind !== 'process')
      throw new ShellError(`no process named '${proc}'`);
    return r.labels.num(proc);
  };
  /** The page with its folio's readable id beside the numeric handle. */
  const withId = <P extends PageInfo>(p: P): P & { folioId?: string } =>
    p.folio ? { ...p, folioId: formatId('folio', p.folio) } : p;
  const addrOf = (addr: number | string): number =>
    typeof addr === 'number' ? addr : addressArgument(get(), addr);

  /** pfn_to_page(): what the model keeps about one frame (dump_page()'s fields). */
  function pfn_to_page(pfn: number | string): PageInfo & { folioId?: string } {
    return withId(m().page(pfnOf(pfn)));
  }

  /** page_folio(): the folio holding a page, or null for a frame that is not in one. */
  function page_folio(page: number | string | PageInfo): FolioView | null {
    const pfn = pfnOf(page);
    const h = m().pageFolio(pfn);
    if (h === 0) return null;
    const head = m().page(m().folioPfn(h));
    return {
      id: formatId('folio', h),
      head: head.pfn,
      order: head.order,
      nrPages: 2 ** head.order,
      refcount: head.refcount,
      mapcount: head.folioMapcount,
      pincount: head.pincount,
      flags: head.flagNames,
    };
  }

  /** follow_page(): the page a user address maps in a process (without faulting it in), or null. */
  function follow_page(proc: number | string, addr: number | string) {
    const p = m().pageAt(pidOf(proc), addrOf(addr));
    return p ? withId(p) : null;
  }

  /**
   * for_each_page(): every frame matching the filter, one at a time (never an array of them all:
   * a machine may have 2^28 frames). The filter is checked at the call, not at the first next().
   */
  function for_each_page(filter: PageFilter = {}): Generator<PageInfo> {
    const { type, flag } = filter;
    if (type !== undefined && !MT_NAMES.includes(type) && type !== 'device')
      throw new ShellError(`type '${type}' is none of ${MT_NAMES.join(', ')}`);
    if (flag !== undefined && !(flag in PG))
      throw new ShellError(`flag '${flag}' is none of ${Object.keys(PG).join(', ')}`);
    return shown('for_each_page', pages(filter));
  }

  function* pages(filter: PageFilter): Generator<PageInfo> {
    const { type, flag } = filter;
    const machine = m();
    const to = Math.min(filter.to ?? machine.totalPages, machine.totalPages);
    for (let pfn = Math.max(0, filter.from ?? 0); pfn < to; pfn++) {
      let p: PageInfo;
      try {
        p = machine.page(pfn);
      } catch {
        continue; // a hole: no RAM at this pfn
      }
      if (type !== undefined && p.type !== type) continue;
      if (flag !== undefined && !(p.flags & PG[flag as keyof typeof PG])) continue;
      yield p;
    }
  }

  /** for_each_vma(): the VMAs of a process, in address order. */
  function for_each_vma(proc: number | string) {
    return shown('for_each_vma', m().process(pidOf(proc)).vmas.values());
  }

  /** dump_page(): print the kernel's dump of one frame and both of its layouts. */
  function dump_page(pfn: number | string | PageInfo): void {
    print(`${m().dumpPage(pfnOf(pfn))}\n`);
  }

  /**
   * decode_page_flags(): the names of the page flags in `x`; for a whole page->flags word (a
   * bigint or a number above 32 bits) also its node, zone and last_cpupid fields.
   */
  function decode_page_flags(x: number | bigint) {
    if (typeof x !== 'bigint' && (typeof x !== 'number' || !Number.isSafeInteger(x) || x < 0))
      throw new ShellError('decode_page_flags needs a non-negative integer (or a bigint page->flags word)');
    if (typeof x === 'number' && x < 2 ** 32) return formatFlags(x, PG);
    const w = decodeFlagsWord(BigInt(x));
    const zone = [...ZONE_NAMES, 'Device'][w.zone] ?? String(w.zone);
    return {
      flags: formatFlags(w.flags, PG),
      node: w.nid,
      zone,
      lastCpupid: `0x${w.lastCpupid.toString(16)}`,
    };
  }

  return { pfn_to_page, page_folio, follow_page, for_each_page, for_each_vma, dump_page, decode_page_flags };
}

/** An iterator the REPL prints as a hint of how to use it, instead of `Object [Generator] {}`. */
function shown<T extends Iterator<unknown>>(name: string, it: T): T {
  Object.defineProperty(it, inspect.custom, {
    value: () => `[${name}: an iterator — [...${name}(...)] for an array, or for (const x of ${name}(...))]`,
  });
  return it;
}

export const SHELL_HELP = `pagelab shell: one machine state, questioned with kernel-named helpers.
  m                                the Machine (its whole library API: m.page(), m.meminfo(), ...)
  labels                           the scenario's labels and their values
  pfn_to_page(pfn)                 what the model keeps about a frame (a number, '0x..' or a label)
  page_folio(page)                 the folio holding a page (pfn, label or a pfn_to_page() result), or null
  follow_page(proc, addr)          the page a user address maps ('p', 'buf+4K'), or null
  for_each_page({type, flag, from, to})
                                   a generator: [...for_each_page({type: 'anon'})].length
  for_each_vma(proc)               a generator over the VMAs of a process
  dump_page(pfn)                   dump_page(), the memdesc word and the struct page raw: lines
  decode_page_flags(x)             flag names of x; a bigint page->flags word also gives node and zone
  .step  .back  .where             one step on, one step back (the run is repeated: it is deterministic), where
  .help  .exit                     the REPL's own commands`;
