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

/** An address field. */
export const addr = () =>
  z.union([z.number().int().min(0), z.string()], {
    error: 'expected an address: a region name, name+offset, or a number',
  });

type Addr = z.output<ReturnType<typeof addr>>;

/** Split `buf+4K` into the region name and the byte offset; numbers and hex strings have no name. */
function split(a: Addr): { name?: string; offset: number } | string {
  if (typeof a === 'number') return { offset: a };
  if (/^0x[0-9a-f]+$/i.test(a)) return { offset: Number.parseInt(a, 16) };
  const m = ADDR_RE.exec(a.trim());
  if (!m) return `'${a}' is not an address: use a region name, name+offset (buf+4K) or a number`;
  if (m[2] === undefined) return { name: m[1], offset: 0 };
  try {
    return { name: m[1], offset: parseSize(m[2]) };
  } catch (e) {
    return `bad offset in '${a}': ${(e as Error).message}`;
  }
}

export function analyseAddr(
  a: Addr,
  path: Path,
  ctx: StaticContext,
  kinds: readonly string[] = ['region'],
): void {
  const s = split(a);
  if (typeof s === 'string') ctx.error(path, s);
  else if (s.name !== undefined) ctx.use(s.name, kinds, path);
}

/** The address now: the region's start (as mmap placed it) plus the offset. */
export function resolveAddr(a: Addr, ctx: RunContext, path: Path): number {
  const s = split(a);
  if (typeof s === 'string') throw new ScenarioInputError(s, path);
  return s.name === undefined ? s.offset : ctx.labels.num(s.name) + s.offset;
}

/** `buf+0x1000 (0x7f...)` for summaries; kernel addresses pass kernelPointer as `format`. */
export function addrText(a: Addr, value: number, format = (v: number) => `0x${v.toString(16)}`): string {
  return typeof a === 'string' && !/^0x/i.test(a) ? `${a} (${format(value)})` : format(value);
}
