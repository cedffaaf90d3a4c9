/**
 * The mremap op and MADV_POPULATE_READ/WRITE in scenario files: flags by name (and the kernel's
 * spelling), new_addr as region+offset, the result bound as a region label with `as`, errnos as
 * expect_error, and the parse-time checks of the labels they use.
 */
import { describe, expect, it } from 'vitest';
import { errorsOf, run, summaries, yaml } from './helpers.js';

const M = '{ memory: 256M, check: full }';

describe('mremap op', () => {
  it('moves, grows and shrinks; `as` names the new address for later steps', () => {
    const r = run(
      yaml(
        [
          '{ op: spawn, name: p }',
          '{ op: mmap, proc: p, name: top, size: 4K, prot: r, flags: [private, anonymous] }',
          '{ op: mmap, proc: p, name: buf, size: 8K, prot: rw, flags: [private, anonymous] }',
          '{ op: write, proc: p, addr: buf, data: "0102" }',
          '{ op: expect, page: { proc: p, addr: buf }, state: { frame: F } }',
          '{ op: mremap, proc: p, addr: buf, old_len: 8K, new_len: 16K, flags: [maymove], as: big }',
          '{ op: read, proc: p, addr: big, len: 2, expect: { data: "0102" } }',
          '{ op: expect, page: { proc: p, addr: big }, state: { frame: F, mapcount: 1, anon_exclusive: true } }',
          '{ op: read, proc: p, addr: buf, expect: { signal: SIGSEGV } }',
          '{ op: mremap, proc: p, addr: big, old_len: 16K, new_len: 4K, as: small }',
          '{ op: read, proc: p, addr: big+4K, expect: { signal: SIGSEGV } }',
          '{ op: mmap, proc: p, name: dst, size: 64K, prot: none, flags: [private, anonymous] }',
          '{ op: mremap, proc: p, addr: small, old_len: 4K, new_len: 4K, flags: [MREMAP_MAYMOVE, MREMAP_FIXED], new_addr: dst+16K }',
          '{ op: read, proc: p, addr: dst+16K, len: 2, expect: { data: "0102" } }',
          '{ op: mremap, proc: p, addr: dst+16K, old_len: 4K, new_len: 8K, expect_error: ENOMEM }',
          '{ op: mremap, proc: p, addr: top+4K, old_len: 4K, new_len: 4K, flags: [maymove, fixed], new_addr: dst, expect_error: EFAULT }',
          '{ op: expect, process: p, rss: { anon: 1 } }',
        ],
        M,
      ),
    );
    expect(r.failures).toEqual([]);
    expect(r.exitCode).toBe(0);
    expect(summaries(r)[5]).toMatch(
      /^mremap: buf \(0x[0-9a-f]+\) \+8192 -> \+16384 moved to 0x[0-9a-f]+ as big$/,
    );
    expect(summaries(r)[9]).toMatch(/in place as small$/);
  });

  it('MREMAP_DONTUNMAP leaves the old range mapped and empty', () => {
    const r = run(
      yaml(
        [
          '{ op: spawn, name: p }',
          '{ op: mmap, proc: p, name: src, size: 20K, prot: rw, flags: [private, anonymous] }',
          '{ op: write, proc: p, addr: src, len: 20K, byte: 0x61 }',
          '{ op: mremap, proc: p, addr: src, old_len: 20K, new_len: 20K, flags: [maymove, dontunmap], as: dst }',
          '{ op: read, proc: p, addr: dst+16K, len: 4K, expect: { byte: 0x61 } }',
          '{ op: read, proc: p, addr: src+16K, len: 4K, expect: { byte: 0 } }',
          '{ op: expect, process: p, vmas: 2, rss: { anon: 5 } }',
        ],
        M,
      ),
    );
    expect(r.failures).toEqual([]);
  });

  it('checks its labels, flags and lengths at parse time', () => {
    expect(
      errorsOf(
        yaml([
          '{ op: spawn, name: p }',
          '{ op: mremap, proc: q, addr: buf, old_len: 4K, new_len: x, flags: [move], new_addr: nowhere }',
        ]),
      ),
    ).toEqual([
      "t.yaml:5:61 step 2: new_len: bad size 'x': expected a number with an optional K, M, G, T or P suffix",
      't.yaml:5:72 step 2: flags[0]: expected mremap flags from maymove, fixed, dontunmap (or MREMAP_MAYMOVE, ...)',
    ]);
    expect(
      errorsOf(
        yaml([
          '{ op: spawn, name: p }',
          '{ op: mremap, proc: q, addr: buf, old_len: 4K, new_len: 4K, new_addr: nowhere, as: r }',
          '{ op: mremap, proc: p, addr: 0x10000, old_len: 4K, new_len: 4K, as: r2, expect_error: EFAULT }',
        ]),
      ),
    ).toEqual([
      "t.yaml:5:25 step 2: proc: unknown label 'q' (define it with spawn name: or fork child: on an earlier step)",
      "t.yaml:5:34 step 2: addr: unknown label 'buf' (define it with mmap name: or mremap as: on an earlier step)",
      "t.yaml:5:75 step 2: new_addr: unknown label 'nowhere' (define it with mmap name: or mremap as: on an earlier step)",
      't.yaml:6:73 step 3: as: a step that expects an error binds no label',
    ]);
  });
});

describe('madvise populate_read / populate_write', () => {
  it('populates without touching the bytes; the kernel errnos for holes and protections', () => {
    const r = run(
      yaml(
        [
          '{ op: spawn, name: p }',
          '{ op: mmap, proc: p, name: ro, size: 8K, prot: r, flags: [private, anonymous] }',
          '{ op: madvise, proc: p, addr: ro, len: 8K, advice: populate_read }',
          '{ op: expect, page: { proc: p, addr: ro+4K }, state: { type: zero } }',
          '{ op: madvise, proc: p, addr: ro, len: 8K, advice: populate_write, expect_error: EINVAL }',
          '{ op: mmap, proc: p, name: rw, size: 16K, prot: rw, flags: [private, anonymous] }',
          '{ op: munmap, proc: p, addr: rw+8K, len: 4K }',
          '{ op: madvise, proc: p, addr: rw, len: 16K, advice: MADV_POPULATE_WRITE, expect_error: ENOMEM }',
          '{ op: expect, page: { proc: p, addr: rw+4K }, state: { type: anon, anon_exclusive: true } }',
          '{ op: expect, process: p, rss: { anon: 2 } }',
          '{ op: read, proc: p, addr: rw, len: 8K, expect: { byte: 0 } }',
          '{ op: mmap, proc: p, name: no, size: 4K, prot: none, flags: [private, anonymous] }',
          '{ op: madvise, proc: p, addr: no, len: 4K, advice: populate_read, expect_error: EINVAL }',
        ],
        M,
      ),
    );
    expect(r.failures).toEqual([]);
  });
});
