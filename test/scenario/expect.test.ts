import { describe, expect, it } from 'vitest';
import { failureText } from '../../src/scenario/format.js';
import { FILE, run, yaml } from './helpers.js';

/** Every failure of a run, as `pagelab run` prints it. */
const failures = (r: ReturnType<typeof run>) => r.failures.map((f) => failureText(FILE, f));

describe('expectations that hold', () => {
  it('count their checks, and a failure does not stop the run', () => {
    const r = run(
      yaml([
        '{ op: folio_alloc, as: f }',
        '{ op: expect, page: f, state: { refcount: 2 } }',
        '{ op: expect, page: f, state: { refcount: 1, mapcount: 0, pincount: 0, order: 0 } }',
      ]),
    );
    expect(r.expectations).toBe(5);
    expect(r.steps.map((s) => s.summary)).toEqual([
      expect.any(String),
      'FAILED 1 of 1 check',
      'ok, 4 checks',
    ]);
    expect(r.stoppedAt).toBeUndefined();
    expect(r.exitCode).toBe(1);
  });
});

describe('expectations that must fail, and what they say', () => {
  it('page state: each field that differs, at its own position', () => {
    const r = run(
      yaml([
        '{ op: folio_alloc, order: 2, as: f }', // 4
        '{ op: expect, page: f, state: { type: file, order: 3, refcount: 2, mapcount: 1, pincount: 1 } }', // 5
        '{ op: expect, page: f, state: { maybe_dma_pinned: true, anon_exclusive: true, zone: Normal } }', // 6
        '{ op: expect, page: f, state: { node: 1, migratetype: Unmovable } }', // 7
        '{ op: expect, page: f, state: { flags: [head], flags_set: [dirty, head], flags_clear: [swapbacked] } }', // 8
      ]),
    );
    expect(failures(r)).toEqual([
      't.yaml:5:43 step 2 (expect): f (pfn 0x100): type is anon, expected file',
      't.yaml:5:56 step 2 (expect): f (pfn 0x100): order is 2, expected 3',
      't.yaml:5:69 step 2 (expect): f (pfn 0x100): refcount is 1, expected 2',
      't.yaml:5:82 step 2 (expect): f (pfn 0x100): mapcount is 0, expected 1',
      't.yaml:5:95 step 2 (expect): f (pfn 0x100): pincount is 0, expected 1',
      't.yaml:6:55 step 3 (expect): f (pfn 0x100): maybe_dma_pinned is false, expected true',
      't.yaml:6:77 step 3 (expect): f (pfn 0x100): anon_exclusive is false, expected true',
      't.yaml:6:89 step 3 (expect): f (pfn 0x100): zone is DMA32, expected Normal',
      't.yaml:7:43 step 4 (expect): f (pfn 0x100): node is 0, expected 1',
      't.yaml:7:59 step 4 (expect): f (pfn 0x100): migratetype is Movable, expected Unmovable',
      't.yaml:8:44 step 5 (expect): f (pfn 0x100): flags are head|swapbacked|large_rmappable, expected head',
      't.yaml:8:63 step 5 (expect): f (pfn 0x100): flags are head|swapbacked|large_rmappable, missing dirty',
      't.yaml:8:91 step 5 (expect): f (pfn 0x100): flags are head|swapbacked|large_rmappable, expected swapbacked clear',
    ]);
    expect(r.expectations).toBe(13);
  });

  it('frames: a frame label keeps its frame; same_frame_as and not_same_frame_as compare two pages', () => {
    const r = run(
      yaml([
        '{ op: folio_alloc, as: a }', // 4
        '{ op: folio_alloc, as: b }', // 5
        '{ op: expect, page: a, state: { frame: A } }', // 6: binds, 0 checks
        '{ op: expect, page: b, state: { frame: A } }', // 7
        '{ op: expect, page: a, state: { same_frame_as: b } }', // 8
        '{ op: expect, page: a, state: { not_same_frame_as: A } }', // 9
        '{ op: expect, page: a, state: { frame: A, same_frame_as: A, not_same_frame_as: b } }', // 10: holds
      ]),
    );
    expect(failures(r)).toEqual([
      't.yaml:7:44 step 4 (expect): b (pfn 0x101): is no longer on frame A (pfn 0x100)',
      't.yaml:8:52 step 5 (expect): a (pfn 0x100): is not on the frame of b (pfn 0x101)',
      't.yaml:9:56 step 6 (expect): a (pfn 0x100): shares its frame with A',
    ]);
    expect(r.steps[2].summary).toBe('ok, 0 checks');
    expect(r.steps[6].summary).toBe('ok, 3 checks');
  });

  it('counters: meminfo in kB (a size converts), vmstat in pages and events', () => {
    const r = run(
      yaml([
        '{ op: folio_alloc, order: 1 }',
        '{ op: expect, counters: { pagelab_AnonUnmapped: 4K, pagelab_nr_anon_pages: 1, pgalloc_dma32: 1, MemTotal: 113664 } }',
      ]),
    );
    expect(failures(r)).toEqual([
      't.yaml:5:53 step 2 (expect): pagelab_AnonUnmapped is 8 kB, expected 4 kB',
      't.yaml:5:80 step 2 (expect): pagelab_nr_anon_pages is 2, expected 1',
      't.yaml:5:98 step 2 (expect): pgalloc_dma32 is 2, expected 1',
    ]);
  });

  it('buddyinfo, slabinfo and the accounting name what differs', () => {
    const r = run(
      yaml([
        '{ op: kmem_cache_create, name: c, size: 64 }',
        '{ op: kmem_cache_alloc, cache: c }',
        // The unmovable slab split a max-order block: order 10 holds (26), order 8 gained one.
        '{ op: expect, buddyinfo: [{ zone: DMA32, free: { 8: 1, 10: 26 } }, { zone: Movable, free: [0] }] }',
        '{ op: expect, slabinfo: { c: { active_objs: 2, objsize: 64 }, kmalloc-100: { num_slabs: 0 } } }',
        '{ op: expect, accounting: { memdesc: { descriptor_bytes: 0, types: { slab: { descriptors: 2 }, anon: { pages: 1 } } } } }',
        '{ op: expect, accounting: { struct-page: { total_bytes: 2M, memmap_bytes: 2M, descriptor_bytes: 0 } } }',
      ]),
    );
    expect(failures(r)).toEqual([
      't.yaml:6:52 step 3 (expect): node 0 DMA32: order 8: 2 free blocks, expected 1',
      't.yaml:6:80 step 3 (expect): node 0 Movable: no such zone on this machine',
      't.yaml:7:34 step 4 (expect): c: active_objs is 1, expected 2',
      't.yaml:7:80 step 4 (expect): no slab cache named kmalloc-100',
      't.yaml:8:42 step 5 (expect): memdesc: descriptor_bytes is 64, expected 0; anon pages is 0, expected 1; slab descriptors is 1, expected 2',
    ]);
  });
});

describe('steps that fail when they should not', () => {
  it('an unexpected KernelBug stops the run, naming the step, its position and the frame', () => {
    const r = run(
      yaml([
        '{ op: folio_alloc, as: f }',
        '{ op: folio_put, folio: f }',
        '{ op: folio_put, folio: f }',
        '{ op: folio_alloc }',
      ]),
    );
    expect(failures(r)).toEqual([
      't.yaml:6:5 step 3 (folio_put): BUG: stale or invalid folio handle #0.1 (pfn 0x100) [folio: use after free]',
    ]);
    expect(r.failures[0].pfn).toBe(0x100);
    expect(r.stoppedAt).toBe(3);
    expect(r.steps.map((s) => s.status)).toEqual(['ok', 'ok', 'failed']);
  });

  it('the wrong error, or none, when one was expected, also stops the run', () => {
    const wrong = run(
      yaml(['{ op: alloc_pages, order: 10, count: 100, expect_error: EINVAL }', '{ op: alloc_pages }']),
    );
    expect(failures(wrong)).toEqual([
      't.yaml:4:5 step 1 (alloc_pages): expected EINVAL, got ENOMEM: no free block of order 10 (1024 pages) in any allowed zone',
    ]);
    expect(wrong.steps[0].summary).toBe(
      'FAILED: expected EINVAL, got ENOMEM: no free block of order 10 (1024 pages) in any allowed zone after 27 of 100',
    );
    const none = run(yaml(['{ op: alloc_pages, expect_error: ENOMEM }', '{ op: alloc_pages }']));
    expect(failures(none)).toEqual([
      't.yaml:4:5 step 1 (alloc_pages): expected ENOMEM, but it succeeded: order 0 -> pfn 0x400',
    ]);
    expect(none.stoppedAt).toBe(1);
  });

  it('bad input found only while running (a page index past the end) exits with code 2', () => {
    const r = run(
      yaml([
        '{ op: folio_alloc, order: 1, as: f }',
        '{ op: expect, page: { label: f, index: 2 }, state: { refcount: 1 } }',
      ]),
    );
    expect(r.exitCode).toBe(2);
    expect(r.inputErrors).toEqual([
      {
        file: FILE,
        pos: { line: 5, col: 44 },
        path: ['steps', 1, 'page', 'index'],
        message: 'index 2 is past the end of f (2 pages)',
      },
    ]);
    expect(r.report).toBeUndefined();
  });
});
