import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { scratchDir } from '../helpers.js';

async function cli(...argv: string[]) {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (s) => (out += s), err: (s) => (err += s) });
  return { code, out, err };
}

const dir = scratchDir('pagelab-ops-');
function file(steps: string[], machine = '{ memory: 128M }'): string {
  const path = join(dir, `s${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(
    path,
    ['name: t', `machine: ${machine}`, 'steps:', ...steps.map((s) => `  - ${s}`), ''].join('\n'),
  );
  return path;
}

describe('pagelab with no arguments', () => {
  it('prints the help on stdout and exits 0', async () => {
    const r = await cli();
    expect(r.code).toBe(0);
    expect(r.err).toBe('');
    expect(r.out).toMatch(/^Usage: pagelab \[options\] \[command\]/);
    expect(r.out).toContain('ops [name]');
  });
});

describe('pagelab ops', () => {
  it('lists every op with the kernel function it models', async () => {
    const r = await cli('ops');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^alloc_pages +alloc_pages\(gfp, order\)/);
    expect(r.out).toMatch(/\nodirect +write\(O_DIRECT\)/);
    expect(r.out).toContain("'pagelab ops NAME' shows what each key of NAME means");
  });

  it('NAME: each key, whether it is required or its default, what it means and its values', async () => {
    const r = await cli('ops', 'madvise');
    expect(r.code).toBe(0);
    expect(r.out.split('\n')[0]).toBe(
      'madvise: madvise(): DONTNEED (a PTE table it empties whole is freed, as CONFIG_PT_RECLAIM does), NORMAL/RANDOM/SEQUENTIAL (VMA flags only: the model reads no ahead), HUGEPAGE/NOHUGEPAGE, DONTFORK/DOFORK, WIPEONFORK/KEEPONFORK, DONTDUMP/DODUMP, MERGEABLE/UNMERGEABLE, COLD (clears the accessed bits of the pages this process alone maps), PAGEOUT, FREE (private anon pages made clean and lazyfree: reclaim drops them unless written again; swap entries freed), POPULATE_READ/WRITE, COLLAPSE. Not yet: WILLNEED, REMOVE, DONTNEED_LOCKED, the guard-region advice and HWPOISON/SOFT_OFFLINE (EINVAL)',
    );
    expect(r.out).toMatch(/\n {2}proc +required +a process label \(from spawn or fork\) \(string\)\n/);
    expect(r.out).toMatch(
      /\n {2}advice +required +MADV_\* advice: .*\(normal \| random \| sequential \| dontneed \|/,
    );
    const pin = (await cli('ops', 'pin')).out;
    expect(pin).toMatch(/\n {2}pages +default 1 +how many pages/);
    // Every FOLL_ flag a pin takes is listed (longterm sat past a cut once), and every errno.
    expect(pin).toMatch(/flags .*\| longterm \|/);
    expect(pin).toMatch(/expect_error .*\| EHWPOISON\)/);
  });

  it('an unknown NAME: one line with the nearest op, exit 2', async () => {
    const r = await cli('ops', 'folio_aloc');
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toBe(
      "pagelab: no op 'folio_aloc': did you mean 'folio_alloc'? ('pagelab ops' lists them)\n",
    );
  });
});

describe('scenario files: did you mean, and kernel spellings', () => {
  it('suggests the nearest op, step key, nested key, machine key and value', async () => {
    const f = file(
      [
        '{ op: folio_aloc }',
        '{ op: folio_alloc, oder: 1, as: f }',
        '{ op: expect, page: f, state: { refcont: 1 } }',
        '{ op: spawn, name: p }',
        '{ op: mmap, proc: p, name: b, size: 4K, prot: rw, flags: [private, anonymous] }',
        '{ op: madvise, proc: p, addr: b, len: 4K, advice: MADV_DONTNED }',
      ],
      '{ memroy: 128M }',
    );
    const r = await cli('run', f);
    expect(r.code).toBe(2);
    const lines = r.err.trimEnd().split('\n');
    expect(lines[0]).toMatch(
      /machine\.memroy: unknown key 'memroy': did you mean 'memory'\? \(expected memory,/,
    );
    expect(lines[1]).toMatch(/step 1: op: unknown op 'folio_aloc': did you mean 'folio_alloc'\? \(ops: /);
    expect(lines[2]).toMatch(/step 2: oder: unknown key 'oder': did you mean 'order'\? \(expected order,/);
    expect(lines[3]).toMatch(
      /step 3: state\.refcont: unknown key 'refcont': did you mean 'refcount'\? \(expected type,/,
    );
    expect(lines[4]).toMatch(/step 6: advice: expected advice: one of .*: did you mean 'MADV_DONTNEED'\?$/);
    expect(lines).toHaveLength(5);
  });

  it('no suggestion for a word close to nothing', async () => {
    const r = await cli('run', file(['{ op: frobnicate }']));
    expect(r.err).toMatch(/unknown op 'frobnicate' \(ops: /);
  });

  it('accepts MADV_DONTNEED, FOLL_LONGTERM and MAP_PRIVATE as the lowercase names', async () => {
    const steps = (advice: string, foll: string, map: string) => [
      '{ op: spawn, name: p }',
      `{ op: mmap, proc: p, name: b, size: 8K, prot: rw, flags: [${map}, anonymous] }`,
      '{ op: write, proc: p, addr: b, byte: 1, len: 8K }',
      `{ op: pin, proc: p, addr: b+4K, flags: [${foll}, write], as: d }`,
      `{ op: madvise, proc: p, addr: b, len: 4K, advice: ${advice} }`,
      '{ op: expect, process: p, rss: { anon: 1 } }',
      '{ op: expect, page: d, state: { maybe_dma_pinned: true } }',
    ];
    const kernel = await cli('run', file(steps('MADV_DONTNEED', 'FOLL_LONGTERM', 'MAP_PRIVATE')));
    const model = await cli('run', file(steps('dontneed', 'longterm', 'private')));
    expect(kernel.err).toBe('');
    expect(kernel.code).toBe(0);
    expect(kernel.out).toContain('+4096 dontneed');
    expect(kernel.out.replace(/\/tmp\S+/g, '')).toBe(model.out.replace(/\/tmp\S+/g, ''));
  });
});

describe('pagelab devmem', () => {
  it('prices every device size given; a size of no whole page is one line and exit 2', async () => {
    const ok = await cli('devmem', '--size', '1T');
    expect(ok.code).toBe(0);
    expect(ok.out).toContain('device 1T (268435456 pfns)');
    for (const bad of ['0', '100', '6K']) {
      const r = await cli('devmem', '--size', `1T,${bad}`);
      expect(r.code).toBe(2);
      expect(r.out).toBe('');
      expect(r.err).toBe(`pagelab: --size ${bad}: a device is a whole number of 4 KiB pages, at least one\n`);
    }
  });
});
