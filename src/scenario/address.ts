/**
 * Addresses in scenario files: a label (`buf`), a label plus an offset (`buf+4K`, `buf+0x1000`),
 * or a number (`0x7f0000000000`). User addresses name the regions `mmap` binds; kernel addresses
 * (a vmalloc `area:`) name what vmalloc steps bind. The parser checks each is defined before use.
 */
import { z } from 'zod';
import { parseSize } from '../mm/types.js';
import type { Path } from './diagnostics.js';
import { ScenarioInputError } from './diagnostics.js';
import type { RunContext, StaticContext } from './step.js';

const ADDR_RE = /^([A-Za-z_][A-Za-z0-9_.-]*)(?:\s*\+\s*(\S+))?$/;

const PLUS = 0x2b;
/** [A-Za-z0-9_.-], and which of them may start a name ([A-Za-z_]). */
const NAME = new Uint8Array(0x80);
for (let c = 0; c < 0x80; c++) {
  const ch = String.fromCharCode(c);
  if (/[A-Za-z_]/.test(ch)) NAME[c] = 2;
  else if (/[0-9.-]/.test(ch)) NAME[c] = 1;
}

/** Where ADDR_RE's name group would end in `s` (0: no name). */
function nameEnd(s: string): number {
  const c = s.charCodeAt(0);
  if (!(c < 0x80 && NAME[c] === 2)) return 0;
  let i = 1;
  for (; i < s.length; i++) {
    const d = s.charCodeAt(i);
    if (!(d < 0x80 && NAME[d] !== 0)) break;
  }
  return i;
}

/** `s` from `from` is one or more printable ASCII characters other than space (`\S+` there). */
function isAsciiNonSpace(s: string, from: number): boolean {
  if (from >= s.length) return false;
  for (let i = from; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  return true;
}

/** An address field. */
export const addr = () =>
  z.union([z.number().int().min(0), z.string()], {
    error: 'expected an address: a region name, name+offset, or a number',
  });

type Addr = z.output<ReturnType<typeof addr>>;

/** An address split: the region it names, if any, and the byte offset into it. */
export type SplitAddr = Readonly<{ name?: string; offset: number }>;

/**
 * The last strings split (a file writes the same few addresses again and again, and both the
 * parse and the run split each); emptied when full, so it stays small.
 */
const splitCache = new Map<string, SplitAddr | string>();
const SPLIT_CACHE_SIZE = 1024;

/** Split `buf+4K` into the region name and the byte offset; numbers and hex strings have no name. */
export function splitAddr(a: Addr): SplitAddr | string {
  if (typeof a === 'number') return { offset: a };
  let s = splitCache.get(a);
  if (s === undefined) {
    if (splitCache.size === SPLIT_CACHE_SIZE) splitCache.clear();
    s = splitText(a);
    splitCache.set(a, s);
  }
  return s;
}

function splitText(a: string): SplitAddr | string {
  if (/^0x[0-9a-f]+$/i.test(a)) return { offset: Number.parseInt(a, 16) };
  const t = a.trim();
  // `buf` and `buf+4K` without a regex match (most steps have one): the same split ADDR_RE makes.
  const end = nameEnd(t);
  if (end === t.length && end > 0) return { name: t, offset: 0 };
  if (end > 0 && t.charCodeAt(end) === PLUS && isAsciiNonSpace(t, end + 1)) {
    try {
      return { name: t.slice(0, end), offset: parseSize(t.slice(end + 1)) };
    } catch (e) {
      return `bad offset in '${a}': ${(e as Error).message}`;
    }
  }
  const m = ADDR_RE.exec(t);
  if (!m) return `'${a}' is not an address: use a region name, name+offset (buf+4K) or a number`;
  if (m[2] === undefined) return { name: m[1], offset: 0 };
  try {
    return { name: m[1], offset: parseSize(m[2]) };
  } catch (e) {
    return `bad offset in '${a}': ${(e as Error).message}`;
  }
}

const REGION = ['region'] as const;

export function analyseAddr(
  a: Addr,
  path: Path,
  ctx: StaticContext,
  kinds: readonly string[] = REGION,
): void {
  const s = splitAddr(a);
  if (typeof s === 'string') ctx.error(path, s);
  else if (s.name !== undefined) ctx.use(s.name, kinds, path);
}

/** The address now: the region's start (as mmap placed it) plus the offset. */
export function resolveAddr(a: Addr, ctx: RunContext, path: Path): number {
  const s = splitAddr(a);
  if (typeof s === 'string') throw new ScenarioInputError(s, path);
  return s.name === undefined ? s.offset : ctx.labels.num(s.name) + s.offset;
}

/** `buf+0x1000 (0x7f...)` for summaries; kernel addresses pass kernelPointer as `format`. */
export function addrText(a: Addr, value: number, format = (v: number) => `0x${v.toString(16)}`): string {
  return typeof a === 'string' && !/^0x/i.test(a) ? `${a} (${format(value)})` : format(value);
}
