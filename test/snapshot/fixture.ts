/**
 * The shipped capture (examples/snapshots/, copied from a real 6.18 x86-64 VM; its README
 * says what ran on it), read once per test file.
 */
import { join } from 'node:path';
import { readSnapshot, type Snapshot } from '../../src/snapshot/read.js';

export const FIXTURES = join(import.meta.dirname, '..', '..', 'examples', 'snapshots');
export const fixture = (name: string): string => join(FIXTURES, name);

let loaded: Promise<Snapshot> | undefined;
/** loaded.kpageflags.gz + loaded.kpagecount.gz + the companion texts. */
export function loadedCapture(): Promise<Snapshot> {
  loaded ??= readSnapshot({ flags: fixture('loaded.kpageflags.gz') });
  return loaded;
}
