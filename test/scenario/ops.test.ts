import { describe, expect, it } from 'vitest';
import { errorsOf, run, summaries, yaml } from './helpers.js';

/** The frame a label names after the run. */
const pfnOf = (r: ReturnType<typeof run>, label: string) => r.labels.get(label).frames!(r.machine!).pfn;

describe('page allocator ops', () => {
  it('alloc_pages takes 2^order frames typed unknown; free_pages gives them back', () => {
    const r = run(
      yaml([
        '{ op: alloc_pages, order: 2, as: buf }',
        '{ op: expect, counters: { pagelab_DriverPages: 16K } }',
      ]),
    );
    expect(r.exitCode).toBe(0);
    const p = r.machine!.page(pfnOf(r, 'buf'));
    expect(p).toMatchObject({
      type: 'unknown',
      order: 2,
      refcount: 1,
      zone: 'DMA32',
      migratetype: 'Unmovable',
    });
    expect(summaries(r)[0]).toBe(`alloc_pages: order 2 -> pfn 0x${p.pfn.toString(16)} as buf`);

    const freed = run(yaml(['{ op: alloc_pages, order: 2, as: buf }', '{ op: free_pages, page: buf }']));
    expect(freed.exitCode).toBe(0);
    expect(freed.machine!.meminfo().pagelab_DriverPages).toBe(0);
    expect(summaries(freed)[1]).toMatch(/^free_pages: buf \(pfn 0x[0-9a-f]+\) order 2$/);
  });

  it('free_pages of a frame given by number needs the order, and a wrong order is a KernelBug', () => {
    const r = run(
      yaml([
        '{ op: alloc_pages, order: 1, as: buf }',
        '{ op: free_pages, page: { pfn: 0x400 }, order: 0, expect_error: KernelBug }',
        '{ op: free_pages, page: { pfn: 0x400 }, order: 1 }',
      ]),
    );
    expect(pfnOf(r, 'buf')).toBe(0x400);
    expect(r.exitCode).toBe(0);
    expect(r.steps[1].summary).toMatch(/^BUG: __free_pages order 0 does not match .* \(expected\)$/);
    expect(r.machine!.page(0x400).type).toBe('buddy');
  });

  it('alloc_pages honours gfp and nid; a node that does not exist is EINVAL', () => {
    const r = run(
      yaml(
        [
          '{ op: alloc_pages, gfp: [dma32], as: low }',
          '{ op: alloc_pages, nid: 1, as: far }',
          '{ op: alloc_pages, nid: 2, expect_error: EINVAL }',
        ],
        '{ memory: 8G, nodes: 2 }',
      ),
    );
    expect(r.exitCode).toBe(0);
    expect(r.machine!.page(pfnOf(r, 'low')).zone).toBe('DMA32');
    expect(r.machine!.page(pfnOf(r, 'far')).nid).toBe(1);
  });

  it('count repeats an allocation; running out is ENOMEM with the progress on the line', () => {
    const r = run(yaml(['{ op: alloc_pages, order: 10, count: 100, expect_error: ENOMEM }']));
    expect(r.exitCode).toBe(0);
    expect(r.steps[0].summary).toBe(
      'ENOMEM: no free block of order 10 (1024 pages) in any allowed zone after 27 of 100 (expected)',
    );
    expect(r.machine!.meminfo().pagelab_DriverPages).toBe(27 * 4096);
  });

  it('folio_alloc makes anon or file folios; folio_get and folio_put move the refcount', () => {
    const r = run(
      yaml([
        '{ op: folio_alloc, order: 9, as: thp }',
        '{ op: folio_alloc, kind: file, count: 3 }',
        '{ op: folio_get, folio: thp }',
        '{ op: folio_put, folio: thp }',
        '{ op: folio_put, folio: thp }',
      ]),
    );
    expect(r.exitCode).toBe(0);
    const s = summaries(r);
    expect(s[0]).toMatch(/^folio_alloc: anon order 9 -> pfn 0x[0-9a-f]+ as thp$/);
    expect(s[1]).toMatch(/^folio_alloc: file order 0 -> 3 x, pfn 0x[0-9a-f]+\.\.0x[0-9a-f]+$/);
    expect(s.slice(2)).toEqual([
      'folio_get: thp -> refcount 2',
      'folio_put: thp -> refcount 1',
      expect.stringMatching(/^folio_put: thp -> freed pfn 0x/),
    ]);
    expect(r.machine!.meminfo()).toMatchObject({ AnonPages: 0, Cached: 12 });
  });

  it('folio_get and folio_put also take alloc_pages memory, and a put after the last is a KernelBug', () => {
    const r = run(
      yaml([
        '{ op: alloc_pages, order: 1, as: buf }',
        '{ op: folio_get, folio: buf }',
        '{ op: free_pages, page: buf }',
        '{ op: expect, page: buf, state: { type: unknown, refcount: 1 } }',
        '{ op: folio_put, folio: buf }',
        '{ op: folio_put, folio: buf, expect_error: KernelBug }',
      ]),
    );
    expect(r.exitCode).toBe(0);
    expect(r.machine!.meminfo().pagelab_DriverPages).toBe(0);
  });
});

describe('slab ops', () => {
  it('kmem_cache_create, kmem_cache_alloc and kmem_cache_free', () => {
    const r = run(
      yaml([
        '{ op: kmem_cache_create, name: dentry, size: 192, reclaimable: true }',
        '{ op: kmem_cache_alloc, cache: dentry, as: d }',
        '{ op: kmem_cache_alloc, cache: dentry, count: 20 }',
        '{ op: kmem_cache_free, obj: d }',
      ]),
    );
    expect(r.exitCode).toBe(0);
    expect(summaries(r)[0]).toBe('kmem_cache_create: dentry: 192-byte objects, 21 per 1-page slab');
    // An object reads as the kernel's pointer to it: its direct-map address (PAGE_OFFSET + __pa).
    const d = r.labels.num('d');
    expect(summaries(r)[1]).toBe(
      `kmem_cache_alloc: dentry -> object 0x${(0xffff888000000000n + BigInt(d)).toString(16)} (pfn 0x${Math.floor(d / 4096).toString(16)}) as d`,
    );
    expect(summaries(r)[3]).toBe(
      `kmem_cache_free: d 0x${(0xffff888000000000n + BigInt(d)).toString(16)} to dentry`,
    );
    expect(r.machine!.slabinfo().find((c) => c.name === 'dentry')).toMatchObject({
      activeObjs: 20,
      numSlabs: 1,
    });
    expect(r.machine!.page(pfnOf(r, 'd'))).toMatchObject({ type: 'slab', migratetype: 'Reclaimable' });
  });

  it('kmalloc picks a kmalloc-N cache, or whole pages above two pages; kfree frees either', () => {
    const r = run(
      yaml([
        '{ op: kmalloc, size: 100, as: small }',
        '{ op: kmalloc, size: 16K, as: large }',
        '{ op: expect, page: { label: large, index: 3 }, state: { type: large_kmalloc, order: 2 } }',
        '{ op: kfree, obj: large }',
        '{ op: kfree, obj: small }',
      ]),
    );
    expect(r.exitCode).toBe(0);
    expect(summaries(r)[0]).toMatch(
      /^kmalloc: 100 bytes -> kmalloc-128: 0x[0-9a-f]+ \(pfn 0x[0-9a-f]+\) as small$/,
    );
    expect(summaries(r)[1]).toMatch(/^kmalloc: 16384 bytes -> large kmalloc, order 2: /);
    expect(r.machine!.vmstat()).toMatchObject({
      pagelab_kmalloc: 2,
      pagelab_kfree: 2,
      pagelab_nr_large_kmalloc_pages: 0,
    });
  });

  it('kmem_cache_free of a kmalloc object names the cache, a wrong one is a KernelBug; a taken cache name is bad input', () => {
    const r = run(
      yaml([
        '{ op: kmem_cache_create, name: c, size: 64 }',
        '{ op: kmalloc, size: 64, as: k }',
        '{ op: kmem_cache_free, obj: k, cache: c, expect_error: KernelBug }',
        '{ op: kmem_cache_create, name: kmalloc-64, size: 64 }',
      ]),
    );
    expect(r.exitCode).toBe(2);
    expect(r.steps[2].summary).toMatch(/^BUG: object belongs to kmalloc-64, not c .*\(expected\)$/);
    expect(r.inputErrors.map((d) => d.message)).toEqual(["slab cache 'kmalloc-64' already exists"]);
  });
});

describe('page-table ops', () => {
  it('pagetable_alloc takes a frame per table, typed pgtable; pagetable_free gives it back', () => {
    const r = run(
      yaml([
        '{ op: pagetable_alloc, level: pgd, as: pgd }',
        '{ op: pagetable_alloc, level: pte, count: 3 }',
        '{ op: expect, page: pgd, state: { type: pgtable, refcount: 1 }, counters: { PageTables: 16K } }',
        '{ op: pagetable_free, table: pgd }',
        '{ op: pagetable_free, table: pgd, expect_error: KernelBug }',
      ]),
    );
    expect(r.exitCode).toBe(0);
    expect(summaries(r)[0]).toMatch(/^pagetable_alloc: pgd -> pfn 0x[0-9a-f]+ as pgd$/);
    expect(r.machine!.meminfo().PageTables).toBe(12);
  });
});

describe('dump', () => {
  it("prints dump_page() of a page and /proc views under the step's line", () => {
    const r = run(yaml(['{ op: folio_alloc, as: f }', '{ op: dump, page: f, what: [buddyinfo, meminfo] }']));
    const d = r.steps[1];
    expect(d.summary).toMatch(/^f \(pfn 0x[0-9a-f]+\), buddyinfo, meminfo$/);
    expect(d.output).toMatch(/^page: refcount:1 mapcount:0 mapping:anon index:0x0 pfn:0x[0-9a-f]+\n/);
    expect(d.output).toContain('flags: 0xfffffc0020000(swapbacked|node=0|zone=1|lastcpupid=0x1fffff)');
    expect(d.output).toContain('buddyinfo:\nNode 0, zone    DMA32');
    expect(d.output).toContain('meminfo:\nMemTotal:');
    const views = run(
      yaml(['{ op: dump, what: vmstat }', '{ op: dump, what: [zoneinfo, slabinfo, accounting] }']),
    );
    expect(views.steps[0].output).toMatch(/^vmstat:\nnr_free_pages \d+/);
    expect(views.steps[1].output).toContain('zoneinfo:\nnode 0 DMA32');
    expect(views.steps[1].output).toContain('slabinfo:\n(no slabs in use)');
    expect(views.steps[1].output).toContain('accounting:\nmemdesc: ');
  });
});

describe('vmalloc areas as kernel addresses', () => {
  it('area: NAME+OFFSET maps from the middle of an area (remap_vmalloc_range_partial finds the area holding it)', () => {
    const r = run(
      yaml([
        '{ op: vmalloc_user, size: 12K, as: ring }',
        '{ op: device, name: d, map: remap_vmalloc_range, backing: vmalloc, area: ring+4K }',
        '{ op: spawn, name: p }',
        '{ op: mmap, proc: p, name: buf, size: 8K, prot: rw, flags: [shared], device: d }',
      ]),
    );
    expect(r.exitCode).toBe(0);
    const m = r.machine!;
    const ring = r.labels.num('ring');
    const p = m.processes()[0].pid;
    const buf = r.labels.num('buf');
    expect(m.translate(p, buf)!.pfn).toBe(m.vmallocToPfn(ring + 4096));
    expect(m.translate(p, buf + 4096)!.pfn).toBe(m.vmallocToPfn(ring + 8192));
    // Summaries print the kernel's pointer: the vmalloc address sign-extended, as %px shows it.
    expect(summaries(r)[0]).toContain('ring = 0xffffc90000000000, 3 page(s)');
    expect(summaries(r)[1]).toBe(
      `device: d: remap_vmalloc_range of vmalloc area ring+4K (0x${(0xffff000000000000n | BigInt(ring + 4096)).toString(16)})`,
    );
  });

  it('area: must name a vmalloc step; an unknown label fails at parse time', () => {
    const errs = errorsOf(
      yaml([
        '{ op: spawn, name: p }',
        '{ op: mmap, proc: p, name: buf, size: 8K, prot: rw, flags: [private, anonymous] }',
        '{ op: device, name: d, map: remap_vmalloc_range, backing: vmalloc, area: nope+4K }',
        '{ op: device, name: e, map: remap_vmalloc_range, backing: vmalloc, area: buf+4K }',
      ]),
    );
    expect(errs).toHaveLength(2);
    expect(errs[0]).toMatch(/t\.yaml:6:\d+ step 3: area: .*nope/);
    expect(errs[1]).toMatch(/step 4: area: .*buf/);
  });
});
