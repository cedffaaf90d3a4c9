// Writes examples/oracle/selftests/cow-*.yaml: the oracle scenarios ported from the kernel's
// tools/testing/selftests/mm/cow.c, one file per test case x runner that user space here can run
// (docs/selftests.md has the whole matrix, with the reasons for the cells left out).
// Run: node scripts/selftests.mjs (it rewrites the generated files; the others there are written by hand).
import { mkdirSync, writeFileSync } from 'node:fs';

const DIR = 'examples/oracle/selftests';
const K = 4096;
const M2 = 2 << 20;

/** The runners: how the memory under test is prepared, as in cow.c's run_with_* functions. */
const RUNNERS = {
  base: {
    what: 'a base page (MADV_NOHUGEPAGE, one 4 KiB page written)',
    thp: false,
    size: K,
    prep: (S) => [
      S`{ op: mmap, proc: p, name: mem, size: 4K, prot: rw, flags: [private, anonymous] }`,
      S`{ op: madvise, proc: p, addr: mem, len: 4K, advice: nohugepage }`,
      S`{ op: write, proc: p, addr: mem, len: 4K, byte: 0x01 }`,
    ],
  },
  thp: {
    what: 'a PMD-mapped THP (MADV_HUGEPAGE on an aligned 2 MiB range, written whole)',
    thp: true,
    size: M2,
    prep: (S) => thpPrep(S),
  },
  'pte-thp': {
    what: 'a PTE-mapped THP (mprotect of one subpage to read-only and back splits the PMD)',
    thp: true,
    size: M2,
    prep: (S) => [
      ...thpPrep(S),
      S`{ op: mprotect, proc: p, addr: mem+4K, len: 4K, prot: r }`,
      S`{ op: mprotect, proc: p, addr: mem+4K, len: 4K, prot: rw }`,
    ],
  },
  'single-pte-thp': {
    what: 'a single PTE of a THP (MADV_DONTNEED of all but the first subpage; the test uses 4 KiB)',
    thp: true,
    size: K,
    prep: (S) => [...thpPrep(S), S`{ op: madvise, proc: p, addr: mem+4K, len: 2044K, advice: dontneed }`],
  },
  'partial-mremap-thp': {
    what: "a partially mremap()'ed THP (its upper half moved with MREMAP_MAYMOVE|MREMAP_FIXED onto a 1 MiB PROT_NONE placeholder, which splits the PMD; the test uses the lower 1 MiB)",
    thp: true,
    size: M2 / 2,
    prep: (S) => [
      ...thpPrep(S),
      S`{ op: mmap, proc: p, name: rem, size: 1M, prot: none, flags: [private, anonymous] }`,
      S`{ op: mremap, proc: p, addr: mem+1M, old_len: 1M, new_len: 1M, flags: [maymove, fixed], new_addr: rem }`,
      S`{ op: expect, page: { proc: p, addr: rem }, state: { order: 9, mapcount: 1 } }`,
    ],
  },
  'partial-shared-thp': {
    what: 'a partially shared THP (only the first subpage was shared with a child, which exited)',
    thp: true,
    size: M2,
    prep: (S) => [
      ...thpPrep(S),
      S`{ op: madvise, proc: p, addr: mem+4K, len: 2044K, advice: dontfork }`,
      S`{ op: fork, proc: p, child: h }`,
      S`{ op: exit, proc: h }`,
      S`{ op: madvise, proc: p, addr: mem+4K, len: 2044K, advice: dofork }`,
    ],
  },
};

// cow.c runs the THP runners once per THP size the host offers (run_anon_test_case with each of
// thpsizes[]), with that size `always` and the PMD size `never`. Below PMD size a folio is PTE-mapped
// from birth, so the PMD runner and its swapped twin are PMD-only; the others take the size here.
const MTHP_SIZES = [16 << 10, 64 << 10, 1 << 20];
const sizeKey = (n) => (n >= 1 << 20 ? `${n >> 20}M` : `${n >> 10}K`);
const MTHP_RUNNERS = ['pte-thp', 'single-pte-thp', 'partial-mremap-thp', 'partial-shared-thp'];
for (const folio of MTHP_SIZES)
  for (const from of MTHP_RUNNERS) {
    const r = RUNNERS[from];
    const size = r.size === K ? K : r.size === M2 ? folio : folio / 2;
    RUNNERS[`${from}-${sizeKey(folio).toLowerCase()}`] = {
      what: mthpWhat(from, folio),
      thp: true,
      mthp: folio,
      pteMapped: from === 'pte-thp',
      size,
      prep: (S) => mthpRunnerPrep(S, from),
    };
  }

function mthpWhat(from, folio) {
  const k = sizeKey(folio);
  const base = `a ${k} mTHP (hugepages-${folio >> 10}kB always, 2M never; MADV_HUGEPAGE on the range, one write fault maps the whole folio with ${folio / K} PTEs)`;
  return {
    'pte-thp': `${base}; the mprotect() of one subpage to read-only and back that splits a PMD changes nothing here, the folio is PTE-mapped already`,
    'single-pte-thp': `${base}; MADV_DONTNEED of all but the first subpage; the test uses 4 KiB`,
    'partial-mremap-thp': `${base}; its upper half moved with MREMAP_MAYMOVE|MREMAP_FIXED onto a PROT_NONE placeholder; the test uses the lower half`,
    'partial-shared-thp': `${base}; only the first subpage was shared with a child, which exited`,
  }[from];
}

/** cow.c's do_run_with_thp() for a size below PMD size: $F is the folio's size, $H half of it. */
function mthpRunnerPrep(S, from) {
  const prep = [
    S`{ op: mmap, proc: p, name: mem, size: 2M, prot: rw, flags: [private, anonymous] }`,
    S`{ op: madvise, proc: p, addr: mem, len: $F, advice: hugepage }`,
    S`{ op: write, proc: p, addr: mem, len: $F, byte: 0x01 }`,
    S`{ op: expect, page: { proc: p, addr: mem+$L }, state: { order: $O } }`,
  ];
  const after = {
    'pte-thp': [
      S`{ op: mprotect, proc: p, addr: mem+4K, len: 4K, prot: r }`,
      S`{ op: mprotect, proc: p, addr: mem+4K, len: 4K, prot: rw }`,
    ],
    'single-pte-thp': [S`{ op: madvise, proc: p, addr: mem+4K, len: $L, advice: dontneed }`],
    'partial-mremap-thp': [
      S`{ op: mmap, proc: p, name: rem, size: $H, prot: none, flags: [private, anonymous] }`,
      S`{ op: mremap, proc: p, addr: mem+$H, old_len: $H, new_len: $H, flags: [maymove, fixed], new_addr: rem }`,
      S`{ op: expect, page: { proc: p, addr: rem }, state: { order: $O, mapcount: 1 } }`,
    ],
    'partial-shared-thp': [
      S`{ op: madvise, proc: p, addr: mem+4K, len: $L, advice: dontfork }`,
      S`{ op: fork, proc: p, child: h }`,
      S`{ op: exit, proc: h }`,
      S`{ op: madvise, proc: p, addr: mem+4K, len: $L, advice: dofork }`,
    ],
  }[from];
  return [...prep, ...after];
}

// cow.c's swapped-out runners: the same preparation, then MADV_PAGEOUT of what the test uses, and
// the check that it went (cow.c skips the test when pagemap does not show it swapped).
const SWAPPED = {
  base: 'base page swapped out',
  thp: 'THP swapped out',
  'pte-thp': 'PTE-mapped THP swapped out',
  'single-pte-thp': 'single PTE of a swapped-out THP',
};
// At mTHP sizes, cow.c swaps out the PTE-mapped and the single-PTE runners (the PMD one is PMD-only).
for (const folio of MTHP_SIZES)
  for (const from of ['pte-thp', 'single-pte-thp'])
    SWAPPED[`${from}-${sizeKey(folio).toLowerCase()}`] = SWAPPED[from].replace(
      'THP',
      `${sizeKey(folio)} mTHP`,
    );
for (const [from, what] of Object.entries(SWAPPED)) {
  const r = RUNNERS[from];
  RUNNERS[`${from}-swapped`] = {
    what: `${r.what}, then MADV_PAGEOUT of the ${r.size === K ? 'page' : 'THP'} (${what})`,
    thp: r.thp,
    mthp: r.mthp,
    pteMapped: r.pteMapped,
    swap: true,
    size: r.size,
    prep: (S) => [
      ...r.prep(S),
      S`{ op: pageout, proc: p, addr: mem, len: $T }`,
      S`{ op: expect, page: { proc: p, addr: mem }, state: { swapped: true } }`,
    ],
  };
}

function thpPrep(S) {
  return [
    S`{ op: mmap, proc: p, name: mem, size: 2M, prot: rw, flags: [private, anonymous] }`,
    S`{ op: madvise, proc: p, addr: mem, len: 2M, advice: hugepage }`,
    S`{ op: write, proc: p, addr: mem, len: 2M, byte: 0x01 }`,
    S`{ op: expect, page: { proc: p, addr: mem+2044K }, state: { order: 9 } }`,
  ];
}

const sizeText = (n) => (n >= M2 ? `${n / (1 << 20)}M` : `${n / 1024}K`);

const mprot = (S, on) =>
  on
    ? [
        S`{ op: mprotect, proc: p, addr: mem, len: $T, prot: r }`,
        S`{ op: mprotect, proc: p, addr: mem, len: $T, prot: rw }`,
      ]
    : [];

/** The anonymous-memory test cases (cow.c's anon_test_cases), each as steps after the runner. */
const ANON = {
  'cow-in-parent': {
    desc: 'Basic COW after fork()',
    what: 'the parent overwrites the range after fork; the child must still read the old bytes',
    steps: (S) => cowInParent(S, false),
  },
  'cow-in-parent-mprotect': {
    desc: 'Basic COW after fork() with mprotect() optimization',
    what: 'as the basic case, with mprotect(PROT_READ) and back in the parent before its write',
    steps: (S) => cowInParent(S, true),
  },
  'vmsplice-in-child': {
    desc: 'vmsplice() + unmap in child',
    what: 'the child vmsplices the range into a pipe (a read-only reference) and unmaps it; the parent overwrites it; the pipe must keep the old bytes (CVE-2020-29374)',
    steps: (S) => vmspliceInChild(S, false),
  },
  'vmsplice-in-child-mprotect': {
    desc: 'vmsplice() + unmap in child with mprotect() optimization',
    what: 'as vmsplice-in-child, with mprotect(PROT_READ) and back in the parent before its write',
    steps: (S) => vmspliceInChild(S, true),
  },
  'vmsplice-before-fork': {
    desc: 'vmsplice() before fork(), unmap in parent after fork()',
    what: 'the parent vmsplices the range, forks and unmaps it; the child overwrites it and exits; the pipe must keep the old bytes',
    steps: (S) => vmspliceInParent(S, true),
  },
  'vmsplice-after-fork': {
    desc: 'vmsplice() + unmap in parent after fork()',
    what: 'the parent forks, then vmsplices the range and unmaps it; the child overwrites it and exits; the pipe must keep the old bytes',
    steps: (S) => vmspliceInParent(S, false),
  },
  'iouring-ro': {
    desc: 'R/O-mapping a page registered as iouring fixed buffer',
    what: "an io_uring fixed buffer (FOLL_WRITE|FOLL_PIN|FOLL_LONGTERM) is mapped read-only and writable again; the parent's write must be what the pin sees",
    steps: (S) => [
      S`{ op: pin, proc: p, addr: mem, pages: $N, flags: [write, longterm], as: dma }`,
      ...mprot(S, true),
      S`{ op: write, proc: p, addr: mem, len: $T, byte: 0xff }`,
      S`{ op: dma_read, pin: dma, len: 2, expect: { data: 'ffff' } }`,
      S`{ op: unpin, pin: dma }`,
    ],
  },
  'iouring-fork': {
    desc: 'fork() with an iouring fixed buffer',
    what: "an io_uring fixed buffer, then fork: the pinned pages are not shared with the child, so the parent's write is what the pin sees",
    steps: (S) => [
      S`{ op: pin, proc: p, addr: mem, pages: $N, flags: [write, longterm], as: dma }`,
      S`{ op: fork, proc: p, child: c }`,
      S`{ op: write, proc: p, addr: mem, len: $T, byte: 0xff }`,
      S`{ op: dma_read, pin: dma, len: 2, expect: { data: 'ffff' } }`,
      S`{ op: read, proc: c, addr: mem, len: $T, expect: { byte: 0x01 } }`,
      S`{ op: exit, proc: c }`,
      S`{ op: unpin, pin: dma }`,
    ],
  },
  'ro-fast-pin-shared': {
    desc: 'R/O GUP-fast pin on R/O-mapped shared page',
    what: 'a read-only GUP-fast pin of a range shared with a child must unshare it first, so a later write is not lost to the pin',
    steps: (S) => [
      S`{ op: fork, proc: p, child: c }`,
      S`{ op: odirect, proc: p, addr: mem, pages: $N }`,
      S`{ op: expect, page: { proc: p, addr: mem }, state: { anon_exclusive: true, not_same_frame_as: { proc: c, addr: mem } } }`,
      S`{ op: write, proc: p, addr: mem, len: $T, byte: 0xff }`,
      S`{ op: read, proc: c, addr: mem, len: $T, expect: { byte: 0x01 } }`,
    ],
  },
  'ro-fast-pin-previously-shared': {
    desc: 'R/O GUP-fast pin on R/O-mapped previously-shared page',
    what: 'the range was shared with a child that has exited: a read-only GUP-fast pin must make it exclusive again (reusing a PMD-mapped THP or a small page, copying the lone PTE of a THP), and the write then reuses it',
    steps: (S) => [
      S`{ op: fork, proc: p, child: c }`,
      S`{ op: exit, proc: c }`,
      // Swapped out, the page is still out: fork cleared its entry's exclusive marker.
      S.swap
        ? S`{ op: expect, page: { proc: p, addr: mem }, state: { swapped: true, anon_exclusive: false } }`
        : S`{ op: expect, page: { proc: p, addr: mem }, state: { mapcount: 1, anon_exclusive: false, frame: A } }`,
      S`{ op: odirect, proc: p, addr: mem, pages: $N }`,
      S`{ op: expect, page: { proc: p, addr: mem }, state: { anon_exclusive: true, frame: B } }`,
      S`{ op: write, proc: p, addr: mem, len: $T, byte: 0xff }`,
      S`{ op: expect, page: { proc: p, addr: mem }, state: { frame: B } }`,
    ],
  },
  'ro-fast-pin-ro-exclusive': {
    desc: 'R/O GUP-fast pin on R/O-mapped exclusive page',
    what: 'a range mapped read-only and back: a read-only GUP-fast pin leaves each page exclusive on its frame, and the write reuses it',
    steps: (S) => [
      ...mprot(S, true),
      // Swapped out, the pin brings the page back; its frame is taken from then on.
      S.swap
        ? S`{ op: expect, page: { proc: p, addr: mem }, state: { swapped: true, anon_exclusive: true } }`
        : S`{ op: expect, page: { proc: p, addr: mem }, state: { frame: A } }`,
      S`{ op: odirect, proc: p, addr: mem, pages: $N }`,
      ...(S.swap ? [S`{ op: expect, page: { proc: p, addr: mem }, state: { frame: A } }`] : []),
      S`{ op: write, proc: p, addr: mem, len: $T, byte: 0xff }`,
      S`{ op: expect, page: { proc: p, addr: mem }, state: { frame: A, anon_exclusive: true } }`,
    ],
  },
};

function cowInParent(S, mp) {
  return [
    S`{ op: fork, proc: p, child: c }`,
    ...mprot(S, mp),
    S`{ op: write, proc: p, addr: mem, len: $T, byte: 0xff }`,
    S`{ op: read, proc: c, addr: mem, len: $T, expect: { byte: 0x01 } }`,
    S`{ op: read, proc: p, addr: mem, len: $T, expect: { byte: 0xff } }`,
  ];
}

function vmspliceInChild(S, mp) {
  return [
    S`{ op: fork, proc: p, child: c }`,
    S`{ op: get, proc: c, addr: mem, pages: $P, as: pipe }`,
    S`{ op: munmap, proc: c, addr: mem, len: $T }`,
    ...mprot(S, mp),
    S`{ op: write, proc: p, addr: mem, len: $T, byte: 0xff }`,
    S`{ op: dma_read, pin: pipe, len: 2, expect: { data: '0101' } }`,
    S`{ op: put, get: pipe }`,
  ];
}

function vmspliceInParent(S, before) {
  const get = S`{ op: get, proc: p, addr: mem, pages: $P, as: pipe }`;
  return [
    ...(before ? [get] : []),
    S`{ op: fork, proc: p, child: c }`,
    ...(before ? [] : [get]),
    S`{ op: munmap, proc: p, addr: mem, len: $T }`,
    S`{ op: write, proc: c, addr: mem, len: $T, byte: 0xff }`,
    S`{ op: exit, proc: c }`,
    S`{ op: dma_read, pin: pipe, len: 2, expect: { data: '0101' } }`,
    S`{ op: put, get: pipe }`,
  ];
}

/** The non-anonymous cases (cow.c's non_anon_test_cases x runners) that user space here can run. */
const NON_ANON = {
  'cow-zeropage': {
    desc: 'Basic COW ... with shared zeropage',
    what: 'two private anonymous pages read (both map the shared zero page); a write to one must leave the other reading zeros',
    machine: '{ memory: 512M, check: full }',
    steps: [
      '{ op: spawn, name: p }',
      '{ op: mmap, proc: p, name: mem, size: 4K, prot: rw, flags: [private, anonymous] }',
      '{ op: mmap, proc: p, name: smem, size: 4K, prot: r, flags: [private, anonymous] }',
      '{ op: read, proc: p, addr: mem, expect: { byte: 0 } }',
      '{ op: read, proc: p, addr: smem, expect: { byte: 0 } }',
      '{ op: expect, page: { proc: p, addr: smem }, state: { type: zero } }',
      '{ op: write, proc: p, addr: mem, len: 4K, byte: 0xff }',
      '{ op: read, proc: p, addr: smem, len: 4K, expect: { byte: 0 } }',
      '{ op: expect, page: { proc: p, addr: mem }, state: { type: anon, anon_exclusive: true } }',
    ],
  },
  'cow-huge-zeropage': {
    desc: 'Basic COW ... with huge zeropage',
    what: 'two MADV_HUGEPAGE ranges read (both map the huge zero page); a write to one must leave the other reading zeros',
    machine: '{ memory: 1G, check: full, thp: madvise }',
    steps: [
      '{ op: spawn, name: p }',
      '{ op: mmap, proc: p, name: mem, size: 2M, prot: rw, flags: [private, anonymous] }',
      '{ op: mmap, proc: p, name: smem, size: 2M, prot: r, flags: [private, anonymous] }',
      '{ op: madvise, proc: p, addr: mem, len: 2M, advice: hugepage }',
      '{ op: madvise, proc: p, addr: smem, len: 2M, advice: hugepage }',
      '{ op: read, proc: p, addr: mem, expect: { byte: 0 } }',
      '{ op: read, proc: p, addr: smem, expect: { byte: 0 } }',
      '{ op: expect, page: { proc: p, addr: smem+4K }, state: { type: zero, order: 9 } }',
      '{ op: write, proc: p, addr: mem, len: 2M, byte: 0xff }',
      '{ op: read, proc: p, addr: smem, len: 2M, expect: { byte: 0 } }',
      '{ op: expect, page: { proc: p, addr: smem+4K }, state: { type: zero, order: 9 } }',
    ],
  },
  ...Object.fromEntries(
    [
      ['memfd', 'memfd', 'true', 'a memfd (shmem)'],
      ['tmpfile', 'tmpfile', 'false', 'a file on a disk filesystem (tmpfile())'],
    ].map(([name, runner, memfd, what]) => [
      `cow-${name}`,
      {
        desc: `Basic COW ... with ${runner}`,
        what: `${what}, one page, mapped private (read-write) and shared (read-only), both read; a write through the private mapping must not reach the shared one`,
        machine: '{ memory: 512M, check: full }',
        steps: [
          '{ op: spawn, name: p }',
          `{ op: create, file: f, size: 4K, byte: 0, memfd: ${memfd} }`,
          '{ op: mmap, proc: p, name: mem, size: 4K, prot: rw, flags: [private], file: f }',
          '{ op: mmap, proc: p, name: smem, size: 4K, prot: r, flags: [shared], file: f }',
          '{ op: read, proc: p, addr: mem, expect: { byte: 0 } }',
          '{ op: read, proc: p, addr: smem, expect: { byte: 0 } }',
          '{ op: write, proc: p, addr: mem, len: 4K, byte: 0xff }',
          '{ op: read, proc: p, addr: smem, len: 4K, expect: { byte: 0 } }',
          '{ op: expect, page: { proc: p, addr: mem }, state: { type: anon, anon_exclusive: true } }',
        ],
      },
    ]),
  ),
};

/**
 * gup_longterm.c's io_uring cases (the GUP_TEST ones need CONFIG_GUP_TEST): a fixed buffer is a
 * FOLL_WRITE|FOLL_PIN|FOLL_LONGTERM pin. It must work in a private mapping (the write COWs the page
 * into anonymous memory first) and in a shared mapping of shmem, and fail with EFAULT in a shared
 * mapping of a file whose filesystem tracks dirty pages for writeback (ext4 here).
 */
const GUP_LONGTERM = Object.fromEntries(
  [
    ['memfd', 'true', 'a memfd (shmem)'],
    ['tmpfile', 'false', 'a file on a disk filesystem (tmpfile())'],
  ].flatMap(([runner, memfd, what]) =>
    ['shared', 'private'].map((share) => {
      const works = share === 'private' || memfd === 'true';
      const pin = works
        ? '{ op: pin, proc: p, addr: mem, pages: 1, flags: [write, longterm], as: buf }'
        : '{ op: pin, proc: p, addr: mem, pages: 1, flags: [write, longterm], expect_error: EFAULT }';
      const after = works
        ? [
            `{ op: expect, page: { proc: p, addr: mem }, state: { type: ${share === 'private' ? 'anon' : 'file'}, pins: 1 } }`,
            '{ op: unpin, pin: buf }',
          ]
        : [];
      return [
        `gup-longterm-iouring-${share}--${runner}`,
        {
          desc: `io_uring fixed buffer with MAP_${share.toUpperCase()} file mapping ... with ${runner}`,
          what: `${what}, one page, mapped ${share} and written, then registered as an io_uring fixed buffer: ${works ? 'the long-term write pin must work' : 'the long-term write pin must fail with EFAULT (the filesystem needs dirty tracking)'}`,
          machine: '{ memory: 512M, check: full }',
          steps: [
            '{ op: spawn, name: p }',
            `{ op: create, file: f, size: 4K, memfd: ${memfd} }`,
            `{ op: mmap, proc: p, name: mem, size: 4K, prot: rw, flags: [${share}], file: f }`,
            '{ op: write, proc: p, addr: mem, len: 4K, byte: 0 }',
            pin,
            ...after,
          ],
        },
      ];
    }),
  ),
);

function write(name, source, desc, what, machine, steps) {
  const head = [
    `# Ported from tools/testing/selftests/mm/${source}: "${desc}".`,
    ...wrap(what),
    '# Generated by scripts/selftests.mjs; docs/selftests.md has the whole matrix.',
  ];
  const body = [
    `name: '${source} ${name}'`,
    `machine: ${machine}`,
    'steps:',
    ...steps.map((s) => `  - ${s}`),
  ];
  writeFileSync(`${DIR}/${name}.yaml`, `${[...head, ...body].join('\n')}\n`);
}

function wrap(text) {
  const out = [];
  let line = '#';
  for (const w of text.split(' ')) {
    if (line.length + w.length + 1 > 100) {
      out.push(line);
      line = '#';
    }
    line += ` ${w}`;
  }
  out.push(line);
  return out;
}

// The cases whose first swap-in comes while the slot has its only reference (no fork before it, or
// the child gone): Linux brings a swapped-out mTHP back whole there (alloc_swap_folio), which needs
// the folio's range inside one VMA. After the PTE-mapped runner's mprotect() and back, Linux has
// merged the VMAs again and the model has not (it does no VMA merging), so it swaps in page by
// page: those cells disagree and are not generated (docs/selftests.md, **vma-merge**).
const WHOLE_SWAPIN = new Set([
  'iouring-ro',
  'iouring-fork',
  'vmsplice-before-fork',
  'ro-fast-pin-previously-shared',
  'ro-fast-pin-ro-exclusive',
]);
const VMA_MERGE = (test, r) => r.mthp && r.swap && r.pteMapped && WHOLE_SWAPIN.has(test);

mkdirSync(DIR, { recursive: true });
let n = 0;
for (const [test, t] of Object.entries(ANON))
  for (const [runner, r] of Object.entries(RUNNERS)) {
    if (VMA_MERGE(test, r)) continue;
    const folio = r.mthp ?? M2;
    const S = (parts) =>
      parts
        .join('')
        .replaceAll('$T', sizeText(r.size))
        .replaceAll('$F', sizeText(folio))
        .replaceAll('$H', sizeText(folio / 2))
        .replaceAll('$L', sizeText(folio - K))
        .replaceAll('$O', String(Math.log2(folio / K)))
        .replaceAll('$N', String(r.size / K))
        // vmsplice() moves what fits in a pipe of the default 64 KiB (the test compares what moved).
        .replaceAll('$P', String(Math.min(16, r.size / K)));
    S.swap = r.swap === true;
    const swap = r.swap ? ', swap: 256M' : '';
    const machine = r.mthp
      ? `{ memory: 1G, check: cheap, thp: { ${sizeKey(r.mthp)}: always, 2M: never }${swap} }`
      : r.thp
        ? `{ memory: 1G, check: cheap, thp: madvise${swap} }`
        : `{ memory: 512M, check: full${swap} }`;
    const steps = [S`{ op: spawn, name: p }`, ...r.prep(S), ...t.steps(S)];
    write(
      `cow-${test}--${runner}`,
      'cow.c',
      `${t.desc}`,
      `Runner: ${r.what}. ${t.what[0].toUpperCase()}${t.what.slice(1)}.`,
      machine,
      steps,
    );
    n++;
  }
for (const [name, t] of Object.entries(NON_ANON)) {
  write(name, 'cow.c', t.desc, `${t.what}.`, t.machine, t.steps);
  n++;
}
for (const [name, t] of Object.entries(GUP_LONGTERM)) {
  write(name, 'gup_longterm.c', t.desc, `${t.what}.`, t.machine, t.steps);
  n++;
}
console.log(`${n} scenarios in ${DIR}`);
