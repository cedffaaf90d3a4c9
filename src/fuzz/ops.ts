/**
 * The fuzzer's operations: plain data naming processes, regions, files, pins and kernel objects
 * by label (p1, r3, f1, g2...), so a sequence survives shrinking — an op whose labels are gone is
 * skipped — and translates one to one into a scenario step.
 */
import type { Prot } from './reference.js';

export type MapKind = 'anon' | 'shared' | 'file' | 'file_shared' | 'thp' | 'dio' | 'dio_private' | 'dram';

/** How an mremap is asked: in place only, MAYMOVE, MAYMOVE|FIXED (to a target) or MAYMOVE|DONTUNMAP. */
export type MremapMode = 'inplace' | 'maymove' | 'fixed' | 'dontunmap';

/** A page range in a region: `pages` pages from page `page` of region `region`. */
interface Range {
  proc: string;
  region: string;
  page: number;
  pages: number;
}

export type FuzzOp =
  | { op: 'spawn'; name: string }
  | { op: 'fork'; proc: string; child: string }
  | { op: 'exit'; proc: string }
  | { op: 'create'; file: string; pages: number; byte: number }
  | { op: 'truncate'; file: string; pages: number }
  | {
      op: 'mmap';
      proc: string;
      name: string;
      pages: number;
      prot: Prot;
      kind: MapKind;
      file?: string;
      pgoff: number;
      populate: boolean;
      /** MAP_FIXED over page `page` of an existing region. */
      fixed?: { region: string; page: number };
    }
  | (Range & { op: 'munmap' })
  | (Range & { op: 'mprotect'; prot: Prot })
  | (Range & { op: 'madvise'; advice: 'dontneed' | 'hugepage' | 'nohugepage' | 'mergeable' | 'unmergeable' })
  | { op: 'read'; proc: string; region: string; page: number; off: number; len: number }
  | { op: 'write'; proc: string; region: string; page: number; off: number; len: number; byte: number }
  | (Range & { op: 'touch'; write: boolean })
  | (Range & { op: 'pageout' })
  /** MADV_POPULATE_WRITE (write) or MADV_POPULATE_READ over the range. */
  | (Range & { op: 'populate'; write: boolean })
  /** mremap of the range to `newPages` pages; `as` labels the result as a region. */
  | (Range & {
      op: 'mremap';
      newPages: number;
      mode: MremapMode;
      /** new_addr for fixed moves (page `page` of region `region`). */
      target?: { region: string; page: number };
      as: string;
    })
  | (Range & { op: 'pin' | 'get'; flags: string[]; fast: boolean; as: string })
  | { op: 'unpin'; pin: string; dirty: boolean }
  | { op: 'put'; get: string }
  | { op: 'dma_read'; pin: string; offset: number; len: number }
  | { op: 'dma_write'; pin: string; offset: number; len: number; byte: number }
  | { op: 'ksm_scan' }
  | { op: 'folio_alloc'; order: number; as: string }
  | { op: 'folio_put'; folio: string }
  | { op: 'kmalloc'; size: number; as: string }
  | { op: 'kfree'; obj: string }
  | { op: 'vmalloc'; pages: number; as: string }
  | { op: 'vfree'; area: string }
  /** A public Machine method called with one invalid argument (a label stands for a live object). */
  | { op: 'bad'; call: BadCall; arg: number; value: number; proc?: string; region?: string; handle?: string };

export const BAD_CALLS = [
  'mmap.length',
  'mmap.addr',
  'mmap.offset',
  'munmap.addr',
  'munmap.length',
  'mprotect.length',
  'madvise.addr',
  'read.addr',
  'read.len',
  'write.len',
  'write.byte',
  'touch.len',
  'pin.nrPages',
  'get.addr',
  'unpin.id',
  'put.id',
  'dmaRead.offset',
  'dmaRead.len',
  'dmaWrite.offset',
  'fork.pid',
  'exit.pid',
  'folioAlloc.order',
  'folioPut.handle',
  'kmalloc.size',
  'kfree.addr',
  'vmalloc.size',
  'vfree.kaddr',
  'allocPages.order',
  'freePages.pfn',
  'page.pfn',
  'physRead.pfn',
  'physRead.len',
  'translate.addr',
  'fileCreate.size',
  'fileTruncate.size',
  'vmallocToPfn.kaddr',
] as const;
export type BadCall = (typeof BAD_CALLS)[number];

/** Values no length, address, byte, order or pfn may take. */
export const BAD_VALUES = [
  Number.NaN,
  -1,
  -4096,
  0.5,
  4096.5,
  Number.POSITIVE_INFINITY,
  2 ** 53,
  2 ** 64,
] as const;

/** Labels an op uses (must be live for it to run). */
export function usedLabels(o: FuzzOp): string[] {
  const out: string[] = [];
  for (const k of ['proc', 'region', 'file', 'pin', 'get', 'folio', 'obj', 'area', 'handle'] as const) {
    const v = (o as Record<string, unknown>)[k];
    if (typeof v === 'string') out.push(v);
  }
  if (o.op === 'mmap' && o.fixed) out.push(o.fixed.region);
  if (o.op === 'mremap' && o.target) out.push(o.target.region);
  return out;
}
