/**
 * `--json`: every command's machine-readable output, one JSON document on stdout, each with a
 * `schemaVersion` (bumped when a field changes meaning or goes away; new fields may appear
 * within a version) and the `command` that wrote it. The shapes are the zod schemas below;
 * docs/json/<command>.schema.json are generated from them (`npm run docs:json`), and the tests
 * validate each command's output against them.
 *
 * `run --json FILE` is the exception: it streams the JSONL trace of events (one object per line).
 */
import { z } from 'zod';

export const JSON_SCHEMA_VERSION = 1;

export const JSON_HELP = 'print the output as one JSON document (its schema: docs/json/)';

const envelope = <C extends string, S extends z.ZodRawShape>(command: C, shape: S) =>
  z
    .strictObject({ schemaVersion: z.literal(JSON_SCHEMA_VERSION), command: z.literal(command), ...shape })
    .meta({ title: `pagelab ${command} --json`, description: `The output of pagelab ${command} --json` });

/** An object whose fields are documented by the library's types (named in the description). */
const record = (type: string) => z.record(z.string(), z.unknown()).meta({ description: `see ${type}` });

const zone = z.strictObject({
  nid: z.number(),
  zone: z.string(),
  startPfn: z.number(),
  endPfn: z.number(),
  spanned: z.number().meta({ description: 'spanned_pages: endPfn - startPfn, holes included' }),
  present: z.number().meta({ description: 'present_pages: RAM in the span' }),
  managed: z.number(),
  deferred: z.number().meta({ description: 'present pages whose struct pages are not initialised yet' }),
  free: z
    .number()
    .meta({ description: 'nr_free_pages: the free lists (MemFree), per-CPU lists not included' }),
  cma: z.number(),
  pcp: z
    .strictObject({ count: z.number(), high: z.number(), batch: z.number() })
    .meta({ description: "the per-CPU lists' pageset: pages on them, current high, batch" }),
});
const buddy = z.strictObject({
  nid: z.number(),
  zone: z.string(),
  free: z.array(z.number()).meta({ description: 'free blocks per order 0..10' }),
});
const accounting = z
  .object({
    layout: z.string(),
    memmapBytes: z.number(),
    memmapInitialisedBytes: z
      .number()
      .meta({ description: 'memmapBytes less the struct pages the deferred init has not reached' }),
    descriptorBytes: z.number(),
    totalBytes: z.number(),
    bytesPerPage: z.number(),
    perType: z.array(record('LayoutAccounting.perType')),
  })
  .meta({ description: 'LayoutAccounting: metadata bytes of one layout' });

const structPage = z.strictObject({
  words: z
    .array(z.string())
    .meta({ description: "the eight 8-byte words, as dump_page()'s raw: lines print them (hex)" }),
  names: z.array(z.string()).meta({ description: 'the struct member each word holds' }),
  synthesised: z
    .array(z.boolean())
    .meta({ description: 'true for a word the model keeps no value for (a pointer, poison)' }),
});

const machineShape = {
  config: z.strictObject({ memory: z.number(), nodes: z.number(), design: z.string(), pincount: z.string() }),
  totalPages: z.number(),
  sections: z.strictObject({ populated: z.number(), total: z.number() }),
  hostBytes: z.strictObject({
    memmap: z.number(),
    allocator: z.number(),
    descriptors: z.number(),
    total: z.number(),
  }),
  zones: z.array(zone),
  meminfo: z.record(z.string(), z.number()).meta({ description: '/proc/meminfo fields, in bytes' }),
  buddyinfo: z.array(buddy),
  accounting: z.array(accounting),
};

const expectationFailure = z.strictObject({
  step: z.number(),
  op: z.string(),
  line: z.number(),
  col: z.number(),
  message: z.string(),
});

/** Counts per consumer of the pfn_lookup design: GUP dirtying, compaction, memory failure. */
const perConsumer = z.strictObject({ gup: z.number(), compact: z.number(), mf: z.number() });

export const JSON_SCHEMAS = {
  boot: envelope('boot', machineShape),
  demo: envelope('demo', { ...machineShape, slabinfo: z.array(record('SlabInfoRow')) }),
  devmem: envelope('devmem', {
    devices: z.array(
      z.strictObject({
        bytes: z.number(),
        pfns: z.number(),
        rows: z.array(
          z
            .strictObject({
              deviceBytes: z.number(),
              layout: z.string(),
              mode: z.string(),
              order: z.number().meta({ description: 'order of the device folios (pgmap vmemmap_shift)' }),
              touched: z.number().meta({ description: 'fraction of the device touched, 0..1' }),
              memmapBytes: z.number(),
              descriptorBytes: z.number(),
              reserveBytes: z.number().meta({
                description:
                  'page-table bytes: lazy, the PTEs mapping the unpopulated vmemmap to the shared invalid page and that page; a deduplicated struct-page vmemmap, its base-page PTEs',
              }),
              totalBytes: z.number(),
            })
            .meta({ description: 'DevmemCost' }),
        ),
      }),
    ),
  }),
  explain: envelope('explain', {
    file: z.string(),
    after: z.number().meta({ description: 'the step explained after (0: boot)' }),
    pfn: z.number().optional().meta({ description: 'the frame (with --pfn, or the one --addr maps)' }),
    page: record('PageInfo').optional(),
    dump: z.string().optional().meta({ description: 'dump_page() text of the frame' }),
    layouts: z
      .strictObject({
        memdescWord: z
          .string()
          .optional()
          .meta({ description: "the model's 8-byte memdesc word in hex, then its decoded fields" }),
        structPage: structPage
          .optional()
          .meta({ description: 'the struct page Linux would keep for the frame' }),
        head: structPage.optional().meta({ description: "a tail page's head struct page" }),
        addresses: z.strictObject({
          structPage: z
            .string()
            .meta({ description: 'the struct page in the vmemmap (x86-64, 4-level, no KASLR)' }),
          directMap: z.string().meta({ description: "the frame's direct-map address (page_address)" }),
          vmalloc: z.string().optional().meta({ description: "a vmalloc page's address in its area" }),
        }),
      })
      .optional()
      .meta({ description: 'both layouts of the frame; RAM frames have a memdesc word and a struct page' }),
    labels: z.array(z.string()).meta({ description: "the scenario's labels naming the frame" }),
    walk: z.array(record('X86WalkStep')).optional().meta({
      description:
        "with --proc/--addr: the page-table walk, level by level; `entry` in the model's encoding, `x86` the same entry in x86-64 bit positions",
    }),
    address: z.number().optional(),
    pid: z.number().optional(),
  }),
  compare: envelope('compare', {
    designs: z.array(z.string()).meta({ description: 'the pin-count designs asked for (--pincount)' }),
    axes: z
      .strictObject({
        design: z.array(z.string()).optional(),
        pincount: z.array(z.string()).optional(),
        pfnLookup: z.array(z.string()).optional(),
      })
      .meta({ description: "the axes named on the command line; the others are held at the scenario's own" }),
    scenarios: z.array(
      z.strictObject({
        file: z.string(),
        name: z.string(),
        exitCode: z.number(),
        inputErrors: z.array(z.string()),
        designs: z.array(
          z.strictObject({
            design: z.string().meta({ description: 'the pin-count design' }),
            layout: z.string(),
            pfnLookup: z.string(),
            layoutBytes: z.number().meta({ description: "the layout's memmap plus descriptors at the end" }),
            metadataBytes: z.number().meta({ description: "the pin-count design's own metadata" }),
            pinsTaken: z.number(),
            truePositives: z.number(),
            falsePositives: z.number(),
            falseNegatives: z.number(),
            trueNegatives: z.number(),
            safe: z.boolean(),
            declaredUnsafe: z.boolean(),
            forkCopies: z.number(),
            migrationSkips: z.number(),
            compaction: z.strictObject({ moved: z.number(), skipped: z.number(), order9Gained: z.number() }),
            memoryFailure: z
              .record(z.string(), z.number())
              .meta({ description: 'memory_failure results by MF_*' }),
            lookupVisited: perConsumer,
            lookupUnhandled: perConsumer,
            expectations: z.strictObject({
              checked: z.number(),
              held: z.number(),
              failures: z.array(z.string()),
            }),
          }),
        ),
      }),
    ),
  }),
  oracle: envelope('oracle', {
    scenarios: z.array(
      z.strictObject({
        file: z.string(),
        name: z.string(),
        knobs: z.array(z.strictObject({ path: z.string(), before: z.string(), set: z.string() })),
        steps: z.array(record('StepResult')),
        counts: z.strictObject({ agree: z.number(), disagree: z.number(), inconclusive: z.number() }),
        expectations: z.strictObject({
          checked: z.number(),
          held: z.number(),
          failures: z.array(expectationFailure),
          stoppedAt: z.number().optional(),
        }),
        exitCode: z.number(),
      }),
    ),
    errors: z.array(z.string()).meta({ description: 'scenarios the kernel cannot run' }),
  }),
  snapshot: z.union([
    envelope('snapshot', {
      capture: record('the capture: flags, count, format, pfns'),
      memmapPfns: z.number(),
      types: record('pages and objects by order per frame type'),
      folios: record('folioTotals'),
      slabs: z.number(),
      ptdescs: z.number(),
      freeBlocks: z.unknown(),
      ksm: z.strictObject({ pages: z.number(), mapcount: z.number() }),
      torn: z.unknown(),
      irregular: z.unknown(),
      price: record('Price'),
      map: z.unknown().optional().meta({ description: 'the PFN map buckets' }),
    }),
    envelope('snapshot', {
      raw: z.boolean().meta({ description: '--page-types -r' }),
      total: z.number(),
      rows: z.array(z.strictObject({ flags: z.string(), pages: z.number(), names: z.string() })),
    }).meta({ title: 'pagelab snapshot --page-types --json' }),
  ]),
} as const;

export type JsonCommand = keyof typeof JSON_SCHEMAS;

/** A command's output document: the envelope around `body`. */
export function jsonDocument(command: JsonCommand, body: Record<string, unknown>): string {
  return `${JSON.stringify({ schemaVersion: JSON_SCHEMA_VERSION, command, ...body }, null, 2)}\n`;
}

/** The JSON schema of a command's output (docs/json/<command>.schema.json). */
export function jsonOutputSchema(command: JsonCommand): Record<string, unknown> {
  return z.toJSONSchema(JSON_SCHEMAS[command], { io: 'output', unrepresentable: 'any' }) as Record<
    string,
    unknown
  >;
}
