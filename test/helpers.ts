/**
 * Shared test helpers: observable machine state for "the machine is unchanged" assertions, the
 * shape of the default small machines the suite boots, and scratch directories that go away.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, onTestFinished } from 'vitest';
import type { Machine } from '../src/index.js';
import { KernelBug, KernelError } from '../src/mm/types.js';

/**
 * Everything /proc would show about a machine, minus the monotonic event counters (a failed
 * allocation bumps pgalloc_fail, as the kernel's allocstall/pgalloc_fail would).
 */
export function observable(m: Machine) {
  const { pa } = m.kernel;
  return {
    meminfo: m.meminfo(),
    buddyinfo: m.buddyinfo(),
    zoneinfo: m.zoneinfo(),
    slabinfo: m.slabinfo(),
    sections: m.sections(),
    pagesByType: Array.from(m.stat.pagesByType),
    pageblocks: Array.from(pa.pageblockMt),
  };
}

/** Run `fn`, expect it to throw a KernelBug naming `pfn` and a rule matching `rule`; return it. */
export function expectBug(fn: () => unknown, pfn: number | undefined, rule: RegExp): KernelBug {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(KernelBug);
  const bug = caught as KernelBug;
  expect(bug.pfn).toBe(pfn);
  expect(bug.rule).toMatch(rule);
  if (pfn !== undefined) expect(bug.message).toContain(`pfn 0x${pfn.toString(16)}`);
  return bug;
}

/** Run `fn`, expect a KernelError with `errno`; return it. */
export function expectErrno(fn: () => unknown, errno: KernelError['errno']): KernelError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(KernelError);
  expect((caught as KernelError).errno).toBe(errno);
  return caught as KernelError;
}

/** Call `fn` until it throws ENOMEM; return what it returned before that. */
export function untilEnomem<T>(fn: () => T): T[] {
  const got: T[] = [];
  for (;;) {
    try {
      got.push(fn());
    } catch (e) {
      if (e instanceof KernelError && e.errno === 'ENOMEM') return got;
      throw e;
    }
  }
}

/**
 * The default reserved ranges (machine.ts): the first MiB (pfns 0-255) and the kernel image at
 * 16-32 MiB (pfns 4096-8191). In the first section the allocator frees the rest block by block
 * at the largest aligned order: 256 (order 8), 512 (order 9), 1024, 2048, 3072 (order 10), then
 * 8192..32767 as 24 order-10 blocks. Every further 128 MiB section is 32 order-10 blocks.
 */
export const RESERVED_PAGES = 256 + 4096;
export function bootBuddyinfo(sections: number): number[] {
  const free = new Array(11).fill(0);
  free[8] = 1;
  free[9] = 1;
  free[10] = 3 + 24 + 32 * (sections - 1);
  return free;
}

/** Pages in `mib` MiB. */
export const pagesOf = (mib: number): number => (mib * 1024 * 1024) / 4096;

/** The errno name a call fails with (a KernelError), or undefined when it succeeds. */
export function errnoOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    if (e instanceof KernelError) return e.errno;
    throw e;
  }
  return undefined;
}

/** The rule a KernelBug names, or undefined when the call succeeds. */
export function bugRuleOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    if (e instanceof KernelBug) return e.rule;
    throw e;
  }
  return undefined;
}

/**
 * A fresh directory under the system's temporary directory for a test's files, removed with what
 * is in it when the test ends (called inside a test) or after the file's tests (at module level):
 * a run of the suite leaves the host's /tmp as it found it.
 */
export function scratchDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const remove = () => rmSync(dir, { recursive: true, force: true });
  try {
    onTestFinished(remove);
  } catch {
    afterAll(remove);
  }
  return dir;
}
