import { describe, expect, it } from 'vitest';
import { errorsOf, parse, parseOk, yaml } from './helpers.js';

describe('parsing good files', () => {
  it('reads the top level, the machine section and every step with its position', () => {
    const s = parseOk(
      [
        'name: two steps',
        'description: a test',
        'machine: { memory: 1G, nodes: 2, design: struct-page, movable: 256M, cma: 0x8000000, check: full }',
        'steps:',
        '  - { op: alloc_pages, order: 3, as: buf }',
        '  - op: free_pages',
        '    page: buf',
        '',
      ].join('\n'),
    );
    expect(s.name).toBe('two steps');
    expect(s.description).toBe('a test');
    expect(s.machine).toEqual({
      memory: '1G',
      nodes: 2,
      design: 'struct-page',
      movable: '256M',
      cma: 128 << 20,
      check: 'off',
    });
    expect(s.check).toBe('full');
    expect(s.steps.map((st) => [st.n, st.op.name, st.pos])).toEqual([
      [1, 'alloc_pages', { line: 5, col: 5 }],
      [2, 'free_pages', { line: 6, col: 5 }],
    ]);
    expect(s.steps[0].args).toMatchObject({ op: 'alloc_pages', order: 3, as: 'buf' });
  });

  it('defaults: 4G machine checked at cheap, order 0, anon folios', () => {
    const s = parseOk('name: t\nsteps:\n  - { op: alloc_pages }\n  - { op: folio_alloc }\n');
    expect(s.machine).toEqual({ check: 'off' });
    expect(s.check).toBe('cheap');
    expect(s.steps[0].args.order).toBe(0);
    expect(s.steps[1].args).toMatchObject({ order: 0, kind: 'anon' });
  });

  it('takes sizes with K/M/G/T suffixes, hex numbers, and expect_error names', () => {
    const s = parseOk(
      yaml([
        '{ op: kmalloc, size: 4K }',
        '{ op: kmalloc, size: 0x2000 }',
        "{ op: kmalloc, size: '0x10' }",
        '{ op: expect, page: { pfn: 0x1f }, state: { type: reserved } }',
        '{ op: alloc_pages, order: 10, expect_error: ENOMEM }',
        '{ op: folio_put, folio: x, expect_error: KernelBug }'.replace('x', 'f'),
      ]).replace('steps:\n', 'steps:\n  - { op: folio_alloc, as: f }\n'),
    );
    expect(s.steps.slice(1, 4).map((st) => st.args.size)).toEqual([4096, 8192, 16]);
    expect(s.steps[4].args.page).toEqual({ pfn: 31 });
    expect(s.steps.slice(5).map((st) => st.expectError)).toEqual(['ENOMEM', 'KernelBug']);
  });

  it('accepts a label where a page is expected, or a page of it by index', () => {
    const s = parseOk(
      yaml([
        '{ op: folio_alloc, order: 2, as: f }',
        '{ op: expect, page: { label: f, index: 3 }, state: { order: 2, frame: F } }',
        '{ op: expect, page: F, state: { same_frame_as: { label: f, index: 3 } } }',
      ]),
    );
    expect(s.steps).toHaveLength(3);
  });
});

describe('parsing bad files', () => {
  it('reports a YAML syntax error at its position and nothing else', () => {
    expect(errorsOf('name: t\nsteps:\n  - { op: alloc_pages, order: 1\n')).toEqual([
      expect.stringMatching(/^t\.yaml:4:1: /),
    ]);
    expect(errorsOf('name: t\nname: u\nsteps: []\n')).toEqual(['t.yaml:2:1: Map keys must be unique']);
  });

  it('rejects a file that is not a map, or lacks name and steps', () => {
    expect(errorsOf('- 1\n')).toEqual(['t.yaml:1:1: a scenario is a map with name, machine and steps']);
    expect(errorsOf('description: x\n')).toEqual([
      "t.yaml:1:1: missing required key 'name'",
      "t.yaml:1:1: missing required key 'steps'",
    ]);
  });

  it('reports several errors at once, in file order, at the exact line and column', () => {
    const text = [
      'name: bad', // 1
      'machine: { memory: 1G, colour: blue }', // 2
      'steps:', // 3
      '  - { op: alloc_pages, order: 11 }', // 4
      '  - { op: kmalloc, size: 12Q, as: k }', // 5
      '  - op: folio_alloc', // 6
      '    kind: shmem', // 7
      '    orders: 2', // 8
      '  - { op: free_pages }', // 9
      '  - 42', // 10
      '  - { op: mmapp }', // 11
      '  - { op: expect, counters: { MemFre: 1 } }', // 12
      '',
    ].join('\n');
    expect(errorsOf(text)).toEqual([
      "t.yaml:2:24 machine.colour: unknown key 'colour' (expected memory, deferredInit, pcp, nodes, design, movable, cma, check, reserved, zeroPage, pincount, thp, contents, swap, pfn_lookup)",
      't.yaml:4:31 step 1: order: expected an order from 0 to 10',
      "t.yaml:5:26 step 2: size: bad size '12Q': expected a number with an optional K, M, G, T or P suffix",
      't.yaml:7:11 step 3: kind: expected one of anon, file',
      "t.yaml:8:5 step 3: orders: unknown key 'orders': did you mean 'order'? (expected order, kind, gfp, nid, count, as, expect_error)",
      "t.yaml:9:5 step 4: missing required key 'page'",
      't.yaml:10:5 step 5: a step is a map with an op: key',
      expect.stringMatching(
        /^t\.yaml:11:11 step 6: op: unknown op 'mmapp': did you mean 'mmap'\? \(ops: alloc_pages, free_pages, /,
      ),
      "t.yaml:12:31 step 7: counters.MemFre: no counter named 'MemFre' in meminfo or vmstat",
    ]);
  });

  it('checks the machine configuration as the Machine would', () => {
    expect(errorsOf(yaml([], '{ memory: 100M }'))).toEqual([
      't.yaml:2:20 machine.memory: 100M is not a positive multiple of the 128M section size',
    ]);
    expect(errorsOf(yaml([], '{ nodes: 0 }'))).toEqual([
      't.yaml:2:19 machine.nodes: 0 is not a whole number from 1 to 64',
    ]);
    expect(errorsOf(yaml([], '{ design: folio }'))).toEqual([
      't.yaml:2:20 machine.design: expected a design: struct-page, memdesc',
    ]);
    // thp per size: each size one of the four modes, `enabled` one of the three top-level ones.
    expect(parse(yaml([], '{ thp: { 64K: always, 2M: madvise } }')).ok).toBe(true);
    expect(errorsOf(yaml([], '{ thp: { 64K: sometimes } }'))).toEqual([
      't.yaml:2:24 machine.thp.64K: expected a per-size THP mode: always, madvise, inherit, never',
    ]);
    expect(errorsOf(yaml([], '{ thp: { 3M: always } }'))).toEqual([
      "t.yaml:2:19 machine.thp.3M: unknown key '3M'",
    ]);
  });

  it('points at the wrong part of a page reference', () => {
    expect(
      errorsOf(
        yaml([
          "{ op: expect, page: { pfn: 'x' }, state: { refcount: 1 } }",
          '{ op: expect, page: { colour: 1 }, state: { refcount: 1 } }',
          '{ op: expect, page: { pfn: 0x8000 }, state: { refcount: 1 } }',
          '{ op: expect, page: { pfn: 1 } }',
          '{ op: expect, state: { refcount: 1 } }',
          '{ op: expect, page: { pfn: 1 }, state: {} }',
        ]),
      ),
    ).toEqual([
      't.yaml:4:32 step 1: page.pfn: expected a page frame number',
      't.yaml:5:25 step 2: page: expected a page: a label, {label: NAME, index: N}, {pfn: N} or {proc: P, addr: A}',
      't.yaml:6:32 step 3: page.pfn: pfn 0x8000 is past the last frame 0x7fff of this machine',
      't.yaml:7:25 step 4: page: page needs a state to expect of it',
      't.yaml:8:26 step 5: state: state needs a page to check',
      't.yaml:9:44 step 6: state: state lists nothing to check',
    ]);
  });
});

describe('not implemented yet', () => {
  it('takes signals only on user accesses, and checks process addresses and designs statically', () => {
    expect(
      errorsOf(
        [
          'name: t',
          'machine: { pincount: perfect }',
          'steps:',
          '  - { op: alloc_pages, as: a, expect: { signal: SIGSEGV } }',
          '  - { op: expect, page: { proc: p, addr: buf }, state: { refcount: 1 } }',
          '',
        ].join('\n'),
      ),
    ).toEqual([
      't.yaml:2:22 machine.pincount: expected a pin-count design: bias, exact, ptable, shadow, sticky, ptebit',
      't.yaml:4:31 step 1: expect: not implemented yet: expect on this op (only user accesses, DMA reads and sync check values or signals)',
      "t.yaml:5:33 step 2: page.proc: unknown label 'p' (define it with spawn name: or fork child: on an earlier step)",
      "t.yaml:5:42 step 2: page.addr: unknown label 'buf' (define it with mmap name: or mremap as: on an earlier step)",
    ]);
  });
});

describe('labels', () => {
  it('must be defined before use, once, and be of a kind the step takes', () => {
    expect(
      errorsOf(
        yaml([
          '{ op: free_pages, page: buf }', // 4
          '{ op: alloc_pages, order: 1, as: buf }', // 5
          '{ op: folio_alloc, as: buf }', // 6
          '{ op: kmem_cache_create, name: dentry, size: 64 }', // 7
          '{ op: kfree, obj: buf }', // 8
          '{ op: kmem_cache_alloc, cache: buf }', // 9
          '{ op: expect, page: dentry, state: { refcount: 1 } }', // 10
          '{ op: expect, slabinfo: { dentri: { num_slabs: 1 } } }', // 11
        ]),
      ),
    ).toEqual([
      "t.yaml:4:29 step 1: page: unknown label 'buf' (define it with as: on an earlier step)",
      "t.yaml:6:28 step 3: as: label 'buf' is already defined (line 5)",
      "t.yaml:8:23 step 5: obj: 'buf' is a pages label (line 5); expected kmalloc or object",
      "t.yaml:9:36 step 6: cache: 'buf' is a pages label (line 5); expected cache",
      "t.yaml:10:25 step 7: page: 'dentry' is a cache label (line 7); expected a label naming memory",
      "t.yaml:11:31 step 8: slabinfo.dentri: unknown label 'dentri': did you mean 'dentry'? (define it with kmem_cache_create name: on an earlier step)",
    ]);
  });

  it('frame: binds on first sight, must name a frame afterwards', () => {
    expect(
      errorsOf(
        yaml([
          '{ op: folio_alloc, as: f }',
          '{ op: expect, page: f, state: { same_frame_as: F } }',
          '{ op: expect, page: f, state: { frame: F } }',
          '{ op: expect, page: F, state: { frame: f } }',
        ]),
      ),
    ).toEqual([
      "t.yaml:5:52 step 2: state.same_frame_as: unknown label 'F' (define it with as: on an earlier step)",
      "t.yaml:7:44 step 4: state.frame: 'f' is a folio label (line 4); expected frame",
    ]);
  });

  it('a step that expects an error binds nothing; count and as do not go together', () => {
    expect(
      errorsOf(
        yaml([
          '{ op: alloc_pages, order: 10, as: big, expect_error: ENOMEM }',
          '{ op: kmem_cache_create, name: c, size: 0, expect_error: EINVAL }',
          '{ op: kmem_cache_alloc, cache: c }',
          '{ op: folio_alloc, count: 3, as: many }',
        ]),
      ),
    ).toEqual([
      't.yaml:4:39 step 1: as: a step that expects an error binds no label',
      "t.yaml:6:36 step 3: cache: unknown label 'c' (define it with kmem_cache_create name: on an earlier step)",
      't.yaml:7:38 step 4: as: a label names one allocation: drop `as` or `count`',
    ]);
  });

  it('a step that fails validation still defines its label, so its uses are not reported too', () => {
    expect(errorsOf(yaml(['{ op: folio_alloc, order: 12, as: f }', '{ op: folio_put, folio: f }']))).toEqual([
      't.yaml:4:31 step 1: order: expected an order from 0 to 10',
    ]);
  });
});
