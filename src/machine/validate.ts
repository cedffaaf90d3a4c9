/**
 * Argument checks of the public surface, before anything is touched: a length, address, byte,
 * offset, order, handle or pfn that is NaN, infinite, negative, fractional or out of range is an
 * InputError naming the argument, so no half-done operation and no TypeError or RangeError from
 * deep inside the model can follow from it. What Linux itself answers with an errno (an unaligned
 * address, a zero length, an order outside 0..MAX_PAGE_ORDER) stays the kernel's KernelError.
 */
import type { UserData } from '../mm/uaccess.js';
import { InputError } from './config.js';

/** A page-table entry holds `pfn * 4096 + bits` in a double: frames must stay below 2^40 (4 PiB). */
export const MAX_PFN = 2 ** 40;
/** User and kernel addresses are 64-bit; the model keeps them below 2^53, exact in a double. */
const MAX_ADDR = Number.MAX_SAFE_INTEGER;

function show(v: unknown): string {
  return typeof v === 'number' ? String(v) : `${typeof v} ${JSON.stringify(v) ?? String(v)}`;
}

/** A whole number in [0, max]. */
export function uint(name: string, v: number, max = MAX_ADDR): number {
  if (!(typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= max)) notUint(name, v, max);
  return v;
}

/** Out of line, so the checks above stay small enough to inline into every public call. */
function notUint(name: string, v: unknown, max: number): never {
  throw new InputError(`${name}: ${show(v)} is not a whole number from 0 to ${max}`);
}

export const addr = (name: string, v: number) => uint(name, v);
export const len = (name: string, v: number) => uint(name, v);
export const pfn = (name: string, v: number) => uint(name, v, MAX_PFN - 1);
/** Handles carry a generation in their high bits: any whole number a double holds exactly. */
export const handle = (name: string, v: number) => uint(name, v);

/** An order must be a whole number; which orders exist is the allocator's EINVAL to give. */
export function order(name: string, v: number): number {
  if (!(typeof v === 'number' && Number.isSafeInteger(v))) notWhole(name, v);
  return v;
}

function notWhole(name: string, v: unknown): never {
  throw new InputError(`${name}: ${show(v)} is not a whole number`);
}

export function byte(name: string, v: number): number {
  return uint(name, v, 255);
}

/** User data: exact bytes, or `len` copies of one byte. */
export function userData(name: string, d: UserData): UserData {
  if (d instanceof Uint8Array) return d;
  if (!d || typeof d !== 'object') throw new InputError(`${name}: expected bytes or { byte, len }`);
  byte(`${name}.byte`, d.byte);
  len(`${name}.len`, d.len);
  return d;
}

export function optional<T>(check: (name: string, v: T) => T, name: string, v: T | undefined): T | undefined {
  return v === undefined ? undefined : check(name, v);
}
