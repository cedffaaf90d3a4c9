/**
 * One way of naming a page in a scenario (a label, `{pfn: N}`, `{proc: p, addr: buf}`...). The
 * forms are listed in page_ref.ts; each checks its references before the run and resolves them
 * to a frame during it.
 */
import type { z } from 'zod';
import type { PageInfo, SwapEntryInfo } from '../machine/types.js';
import type { Path } from './diagnostics.js';
import type { RunContext, StaticContext } from './step.js';

/** A page reference resolved to a frame, with the name it goes by in messages. */
export interface ResolvedPage {
  /** The frame, or -1 when a user address maps nothing. */
  pfn: number;
  /** `buf`, `buf[3]`, `pfn 0x1234`, `p:buf`. */
  name: string;
  /** What the mapping says about the page, when it was reached through one (a PMD mapping counts as a whole). */
  info?: PageInfo;
  /** The swap entry the address holds instead of a page (pfn is then -1). */
  swap?: SwapEntryInfo;
  /** For a user address: pagemap's uffd-wp bit there, and whether the entry is a uffd-wp marker. */
  uffd?: { uffdWp: boolean; marker: boolean };
}

export interface PageRefForm {
  readonly schema: z.ZodType;
  /** Whether a validated reference is of this form. */
  is(ref: unknown): boolean;
  analyse(ref: unknown, path: Path, ctx: StaticContext): void;
  /** `path` locates the reference inside its step, for errors found while running. */
  resolve(ref: unknown, ctx: RunContext, path: Path): ResolvedPage;
}

export interface PageRefFormSpec<S extends z.ZodType> {
  schema: S;
  is(ref: unknown): boolean;
  analyse(ref: z.output<S>, path: Path, ctx: StaticContext): void;
  resolve(ref: z.output<S>, ctx: RunContext, path: Path): ResolvedPage;
}

export function definePageRefForm<S extends z.ZodType>(spec: PageRefFormSpec<S>): PageRefForm {
  // `is` picked this form for a reference the union validated, so the casts hold.
  return {
    schema: spec.schema,
    is: spec.is,
    analyse: (ref, path, ctx) => spec.analyse(ref as z.output<S>, path, ctx),
    resolve: (ref, ctx, path) => spec.resolve(ref as z.output<S>, ctx, path),
  };
}
