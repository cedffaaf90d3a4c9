/**
 * `pagelab snapshot [FILE]`: what every frame of a real machine is, from a saved
 * /proc/kpageflags capture (raw, gzip or zstd; kpagecount and the /proc texts found beside it)
 * or, without FILE, from the live machine (root only). Prints the census, the memdesc price and
 * a PFN map; `--page-types` prints the summary of the kernel's `page-types -F FILE` (`-r` for
 * raw mode) byte for byte instead; `--json` prints the same data as JSON. Bad input is one line
 * on stderr and exit code 2.
 */
import {
  censusJson,
  classify,
  formatCensus,
  formatPageTypes,
  formatPfnMap,
  formatPrice,
  kpfHex,
  kpfLongName,
  pageTypes,
  pfnMap,
  pfnMapJson,
  priceMemdesc,
  readLiveSnapshot,
  readSnapshot,
  type Snapshot,
  SnapshotError,
} from '../index.js';
import type { Io } from './io.js';
import { jsonDocument } from './json.js';
import { UsageError } from './usage_error.js';

export interface SnapshotOptions {
  count?: string;
  pageTypes?: boolean;
  raw?: boolean;
  json?: boolean;
  map?: boolean;
  width?: number;
}

async function load(file: string | undefined, o: SnapshotOptions): Promise<Snapshot> {
  try {
    return file === undefined
      ? await readLiveSnapshot()
      : await readSnapshot({ flags: file, count: o.count });
  } catch (e) {
    if (e instanceof SnapshotError) throw new UsageError(e.message);
    throw e;
  }
}

export async function snapshotCommand(file: string | undefined, o: SnapshotOptions, io: Io): Promise<number> {
  if (o.raw && !o.pageTypes) throw new UsageError('--raw applies to --page-types');
  const s = await load(file, o);
  try {
    if (o.pageTypes) {
      const sum = pageTypes(s, o.raw === true);
      if (!o.json) io.out(formatPageTypes(sum));
      else
        io.out(
          jsonDocument('snapshot', {
            raw: sum.raw,
            total: sum.total,
            rows: sum.rows.map((r) => ({
              flags: kpfHex(r.lo, r.hi),
              pages: r.pages,
              names: kpfLongName(r.lo, r.hi),
            })),
          }),
        );
      return 0;
    }
    const c = classify(s);
    const price = priceMemdesc(c);
    const map = pfnMap(c);
    if (o.json) {
      io.out(jsonDocument('snapshot', { ...censusJson(s, c, price), map: pfnMapJson(map) }));
      return 0;
    }
    const parts = [formatCensus(s, c), formatPrice(price)];
    if (o.map !== false) parts.push(formatPfnMap(map, o.width));
    io.out(`${parts.join('\n\n')}\n`);
    return 0;
  } catch (e) {
    if (e instanceof SnapshotError) throw new UsageError(e.message);
    throw e;
  }
}
