/**
 * The field types scenario files are written in: whole numbers, sizes, orders, label names, GFP
 * flags and errno names. Each carries the message a user sees when the value is wrong, so the
 * parser never shows zod's generic wording.
 */
import { z } from 'zod';
import { GFP } from '../mm/mmzone.js';
import { ERRNO, MAX_PAGE_ORDER, parseSize } from '../mm/types.js';

/** A whole number ≥ 0. YAML itself reads 0x1f and 0o17, so hex needs nothing here. */
export const uint = (what = 'a whole number ≥ 0') =>
  z
    .number({ error: `expected ${what}` })
    .int({ error: `expected ${what}` })
    .min(0, { error: `expected ${what}` });

/** A byte count: a number, or a string with a K/M/G/T suffix or in hex ('0x2000'). */
export const size = () =>
  z
    .union([z.number(), z.string()], { error: 'expected a size: bytes, or a number with K, M, G or T' })
    .transform((v, ctx) => {
      try {
        return parseSize(v);
      } catch (e) {
        ctx.issues.push({ code: 'custom', message: (e as Error).message, input: v });
        return z.NEVER;
      }
    });

/** A size kept as written (`100M`), so the Machine's own messages quote it; checked like size(). */
export const sizeText = () =>
  z
    .union([z.number(), z.string()], { error: 'expected a size: bytes, or a number with K, M, G or T' })
    .check((ctx) => {
      try {
        parseSize(ctx.value);
      } catch (e) {
        ctx.issues.push({ code: 'custom', message: (e as Error).message, input: ctx.value });
      }
    });

/** A buddy order, 0..MAX_PAGE_ORDER. */
export const order = () =>
  uint(`an order from 0 to ${MAX_PAGE_ORDER}`).max(MAX_PAGE_ORDER, {
    error: `expected an order from 0 to ${MAX_PAGE_ORDER}`,
  });

/** A NUMA node id; whether the node exists is the allocator's business (EINVAL), as in Linux. */
export const nid = () => uint('a node number');

/** A string from a fixed list, with the list in the message. */
export const oneOf = <T extends string>(values: readonly [T, ...T[]], what = 'one of') =>
  z.enum(values, { error: `expected ${what} ${values.join(', ')}` });

/**
 * A name from a kernel flag table, as the model writes it (`dontneed`) or as the kernel does
 * (`MADV_DONTNEED`); the value is always the model's spelling.
 */
export const kernelName = <T extends string>(values: readonly [T, ...T[]], prefix: string, what: string) => {
  const kernel = values.map((v) => `${prefix}_${v.toUpperCase()}`);
  const all = [...values, ...kernel] as [string, ...string[]];
  return z
    .enum(all, { error: `expected ${what} ${values.join(', ')} (or ${kernel[0]}, ...)` })
    .transform((v) => (v.startsWith(`${prefix}_`) ? v.slice(prefix.length + 1).toLowerCase() : v) as T);
};

const LABEL_RE = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

/** The name of a label (`as: buf`, `page: buf`, a slab cache name). */
export const labelName = () =>
  z
    .string({ error: 'expected a label name' })
    .regex(LABEL_RE, { error: 'a label name starts with a letter or _ and has letters, digits, _ . -' });

/** GFP modifiers by their lowercase __GFP_ names; the compound flag is implied by the ops. */
export const GFP_NAMES = Object.keys(GFP).map((k) => k.toLowerCase()) as [string, ...string[]];

export const gfpFlags = () => z.array(oneOf(GFP_NAMES, 'GFP flags from'));

/** The GFP word for a list of names. */
export function gfpWord(names: readonly string[] | undefined, base: number): number {
  let gfp = base;
  for (const n of names ?? []) gfp |= GFP[n.toUpperCase() as keyof typeof GFP];
  return gfp;
}

/** What `expect_error` accepts: an errno the model returns, or KernelBug for what Linux BUGs on. */
export const EXPECTED_ERRORS: [string, ...string[]] = ['KernelBug', ...Object.keys(ERRNO)];

/** A count of repetitions for bulk allocation (`count: 1000`). */
export const count = () => uint('a count ≥ 1').min(1, { error: 'expected a count ≥ 1' });

export const hex = (n: number): string => `0x${n.toString(16)}`;

/** A byte value, 0..255 (a fill byte, or one byte expected). */
export const byteValue = () => uint('a byte value').max(255, { error: 'expected a byte value 0..255' });

/** Exact bytes written as hex (`1122ff`); at least one byte unless `empty` allows none. */
export const hexData = (empty = false) =>
  z.string().regex(empty ? /^([0-9a-fA-F]{2})*$/ : /^([0-9a-fA-F]{2})+$/, {
    error: 'expected hex bytes such as 1122ff',
  });
