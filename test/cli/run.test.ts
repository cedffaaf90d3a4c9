import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { scratchDir } from '../helpers.js';

const SHOWCASE = 'examples/memdesc-vs-struct-page.yaml';
const dir = scratchDir('pagelab-cli-');

/** A scenario file in a temporary directory. */
function file(name: string, steps: string[], machine = '{ memory: 128M }'): string {
  const path = join(dir, name);
  writeFileSync(
    path,
    ['name: t', `machine: ${machine}`, 'steps:', ...steps.map((s) => `  - ${s}`), ''].join('\n'),
  );
  return path;
}

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (s) => (out += s), err: (s) => (err += s) });
  return { code, out, err };
}

const passing = file('pass.yaml', [
  '{ op: folio_alloc, as: f }',
  '{ op: expect, page: f, state: { refcount: 1 } }',
]);
const failing = file('fail.yaml', [
  '{ op: folio_alloc, as: f }',
  '{ op: expect, page: f, state: { refcount: 2 } }',
]);
const bad = file('bad.yaml', ['{ op: compact, size: 8K }', '{ op: alloc_pages, order: 11 }']);

describe('pagelab run', () => {
  it('prints a line per step, the report and PASS, and exits 0', async () => {
    const r = await cli('run', passing);
    expect(r.code).toBe(0);
    expect(r.err).toBe('');
    expect(r.out).toContain('   1  folio_alloc        anon order 0 -> pfn 0x100 as f\n');
    expect(r.out).toContain('report after step 2:\n');
    expect(r.out.endsWith('PASS  2 steps, 1 expectation held\n')).toBe(true);
  });

  it('exits 1 when an expectation fails, naming it at its position', async () => {
    const r = await cli('run', failing);
    expect(r.code).toBe(1);
    expect(r.out).toContain(`  ${failing}:5:47 step 2 (expect): f (pfn 0x100): refcount is 1, expected 2\n`);
  });

  it('exits 2 on bad input, every problem on stderr as file:line:col, nothing run', async () => {
    const r = await cli('run', bad);
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toBe(
      `${bad}:4:20 step 1: size: unknown key 'size' (expected node, zone, order, expect, expect_error)\n${bad}:5:31 step 2: order: expected an order from 0 to 10\n`,
    );
  });

  it('runs several files and exits with the worst outcome', async () => {
    const r = await cli('run', passing, failing);
    expect(r.code).toBe(1);
    expect(r.out.match(/^== t /gm)).toHaveLength(2);
    expect((await cli('run', passing, bad, failing)).code).toBe(2);
  });

  it('a file that cannot be read is a one-line error, exit 2', async () => {
    const r = await cli('run', join(dir, 'nope.yaml'));
    expect(r.code).toBe(2);
    expect(r.err).toBe(`pagelab: cannot read ${join(dir, 'nope.yaml')}: ENOENT\n`);
  });

  it('--json FILE writes the JSONL trace; --json - puts it on stdout and the text on stderr', async () => {
    const trace = join(dir, 'trace.jsonl');
    const toFile = await cli('run', passing, '--json', trace);
    expect(toFile.code).toBe(0);
    const lines = readFileSync(trace, 'utf8').trimEnd().split('\n');
    expect(lines.map((l) => JSON.parse(l).type)).toEqual([
      'boot',
      'alloc',
      'step',
      'counters',
      'step',
      'report',
      'result',
    ]);
    const toStdout = await cli('run', passing, '--json', '-');
    expect(toStdout.out).toBe(readFileSync(trace, 'utf8'));
    expect(toStdout.err).toBe(toFile.out);
  });

  it("--json never takes an input's place: a scenario, or a file pagelab did not write, is refused before running", async () => {
    const copy = join(dir, 'copy.yaml');
    writeFileSync(copy, readFileSync(passing, 'utf8'));
    const before = readFileSync(copy, 'utf8');
    // `run --json a.yaml b.yaml` once took a.yaml as the trace path and overwrote it.
    const swallowed = await cli('run', '--json', copy, passing);
    expect(swallowed.code).toBe(2);
    expect(swallowed.err).toBe(
      `pagelab: --json ${copy} exists and is not a pagelab trace: use --force to overwrite it\n`,
    );
    expect(swallowed.out).toBe('');
    const asInput = await cli('run', copy, '--json', copy, '--force');
    expect(asInput.code).toBe(2);
    expect(asInput.err).toBe(
      `pagelab: --json ${copy} is one of the scenario files: refusing to overwrite an input\n`,
    );
    expect(readFileSync(copy, 'utf8')).toBe(before);
    const notes = join(dir, 'notes.txt');
    writeFileSync(notes, 'my notes\n');
    const foreign = await cli('run', passing, '--json', notes);
    expect(foreign.code).toBe(2);
    expect(foreign.err).toContain('exists and is not a pagelab trace: use --force');
    expect(readFileSync(notes, 'utf8')).toBe('my notes\n');
    expect((await cli('run', passing, '--json', notes, '--force')).code).toBe(0);
    expect(readFileSync(notes, 'utf8').startsWith('{"type":"boot"')).toBe(true);
    // A trace pagelab wrote may be replaced; a path in a missing directory fails before running.
    expect((await cli('run', passing, '--json', notes)).code).toBe(0);
    const nowhere = await cli('run', passing, '--json', join(dir, 'no/such/dir/t.jsonl'));
    expect(nowhere.code).toBe(2);
    expect(nowhere.out).toBe('');
    expect(nowhere.err).toMatch(/cannot write \(ENOENT\)/);
    // A file that does not parse still leaves its record in the trace, beside the good ones.
    const mixed = join(dir, 'mixed.jsonl');
    expect((await cli('run', bad, passing, '--json', mixed)).code).toBe(2);
    const results = readFileSync(mixed, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
      .filter((r) => r.type === 'result');
    expect(results.map((r) => r.status)).toEqual(['bad-input', 'pass']);
    expect(results[0]).toMatchObject({ file: bad, steps: 0, failed: 0 });
    expect(results[0].errors.length).toBe(2);
    expect(results[0].errors[0]).toMatchObject({ line: 4, path: 'steps[0].size' });
    // A directory, with or without --force: one line, exit 2, nothing run.
    for (const force of [[], ['--force']]) {
      const folder = await cli('run', passing, '--json', dir, ...force);
      expect(folder.code).toBe(2);
      expect(folder.out).toBe('');
      expect(folder.err).toBe(`pagelab: --json ${dir} is a directory: name a file (or - for stdout)\n`);
    }
  });

  it('the same input gives the same output, byte for byte', async () => {
    const a = await cli('run', SHOWCASE, '--json', '-');
    const b = await cli('run', SHOWCASE, '--json', '-');
    expect(a.code).toBe(0);
    expect(b.out).toBe(a.out);
    expect(b.err).toBe(a.err);
  });
});

describe('one step numbering', () => {
  it('a parse error, a run-time input error and a failed expectation name a step by the number the run prints', async () => {
    const steps = (second: string) => ['{ op: folio_alloc, as: f }', second, '{ op: folio_put, folio: f }'];
    const parse = await cli(
      'run',
      file('n-parse.yaml', steps('{ op: expect, page: f, state: { refcont: 1 } }')),
    );
    expect(parse.code).toBe(2);
    expect(parse.err).toMatch(/^\S+n-parse\.yaml:5:\d+ step 2: state\.refcont: unknown key 'refcont'/);
    const input = await cli(
      'run',
      file('n-input.yaml', steps('{ op: expect, page: { label: f, index: 5 }, state: { refcount: 1 } }')),
    );
    expect(input.code).toBe(2);
    expect(input.out).toMatch(/n-input\.yaml:5:\d+ step 2: page\.index: index 5 is past the end of f/);
    expect(input.out).toContain('   2  expect ');
    const failed = await cli(
      'run',
      file('n-fail.yaml', steps('{ op: expect, page: f, state: { refcount: 2 } }')),
    );
    expect(failed.code).toBe(1);
    expect(failed.out).toContain('   2  expect ');
    expect(failed.out).toMatch(
      /n-fail\.yaml:5:\d+ step 2 \(expect\): f \(pfn 0x100\): refcount is 1, expected 2/,
    );
  });
});

describe('pagelab explain', () => {
  const f = file('explain.yaml', [
    '{ op: folio_alloc, order: 2, as: big }',
    '{ op: folio_put, folio: big }',
    '{ op: kmalloc, size: 64 }',
  ]);

  it('describes a frame after step N as dump_page() does, with the labels on it', async () => {
    const r = await cli('explain', f, '--after', '1', '--pfn', 'big');
    expect(r.code).toBe(0);
    expect(r.out).toBe(
      [
        'after step 1 (line 4: folio_alloc anon order 2 -> pfn 0x100 as big):',
        '  page: refcount:1 mapcount:0 mapping:anon index:0x0 pfn:0x100',
        '  head: order:2 pincount:0 pfn:0x100',
        '  memdesc: anon node:0 zone:DMA32 migratetype:Movable',
        // page->flags as %pGp prints it (the raw line's first word); PG_large_rmappable is the model's bit
        // on the head where the kernel keeps it in the folio's second page.
        '  flags: 0xfffffc0020040(head|swapbacked|node=0|zone=1|lastcpupid=0x1fffff); kept elsewhere by the kernel: large_rmappable',
        '  memdesc word: 0x0000000000000022: type 2 (anon), order 2, descriptor: folio row 0',
        '  raw: 000fffffc0020040 dead000000000100 dead000000000122 0000000000000000',
        '  raw: 0000000000000000 0000000000000000 00000001ffffffff 0000000000000000',
        '  raw words: flags, lru.next*, lru.prev*, mapping, index, private, _mapcount|_refcount, memcg_data* (* synthesised: the model keeps no such value)',
        '  addresses: struct page 0xffffea0000004000 (vmemmap), page_address 0xffff888000100000 (direct map)',
        '  labels: big (folio, pfn 0x100..0x103)',
        '',
      ].join('\n'),
    );
    const tail = await cli('explain', f, '--after', '1', '--pfn', '0x103');
    expect(tail.out).toContain('  page: refcount:1 mapcount:0 mapping:anon index:0x3 pfn:0x103\n');
  });

  it('after the frame is freed, and right after boot', async () => {
    const freed = await cli('explain', f, '--after', '2', '--pfn', '256');
    expect(freed.out).toContain('  memdesc: buddy node:0 zone:DMA32 migratetype:Movable\n');
    expect(freed.out).not.toContain('labels:');
    const boot = await cli('explain', f, '--after', '0', '--pfn', '0');
    expect(boot.out.split('\n')[0]).toBe('after boot:');
    expect(boot.out).toContain('memdesc: reserved');
  });

  it('describes a vmalloc page after the vfree step of the shipped example (the area label is gone)', async () => {
    const r = await cli('explain', 'examples/vmalloc-to-user.yaml', '--after', '13', '--pfn', '0x403');
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain('vmalloc (vfreed, still referenced)');
    expect(r.out).toContain('labels: dma (pin, pfn 0x403)\n');
    expect(r.out).not.toContain('ring (');
  });

  it('walks a user address level by level with --proc/--addr, and refuses bad arguments with exit 2', async () => {
    const vm = file('vm.yaml', [
      '{ op: spawn, name: p }',
      '{ op: mmap, proc: p, name: buf, size: 8K, prot: rw, flags: [private, anonymous] }',
      '{ op: write, proc: p, addr: buf+4K, byte: 7, len: 1 }',
    ]);
    const walk = await cli('explain', vm, '--proc', 'p', '--addr', 'buf+4K');
    expect(walk.code).toBe(0);
    expect(walk.out).toMatch(
      /pgd table pfn 0x[0-9a-f]+ \[\s*\d+\] 0x[0-9a-f]{16} -> table pfn 0x[0-9a-f]+ \(x86: P RW US A D\)/,
    );
    expect(walk.out).toMatch(
      /pte table pfn 0x[0-9a-f]+ \[\s*\d+\] 0x8000000000[0-9a-f]{3}067 -> pfn 0x[0-9a-f]+ \(x86: P RW US A D NX\)/,
    );
    expect(walk.out).toContain("(the model's bits: present|write|user|dirty|young)");
    expect(walk.out).toContain('page: refcount:1 mapcount:1 mapping:anon');
    // Inside the VMA, not yet faulted in; past its end, no VMA at all: a SIGSEGV, said as such.
    expect((await cli('explain', vm, '--proc', 'p', '--addr', 'buf')).out).toMatch(
      /nothing mapped yet in buf \(0x[0-9a-f]+-0x[0-9a-f]+\): the next access faults it in/,
    );
    expect((await cli('explain', vm, '--proc', 'p', '--addr', 'buf+64K')).out).toContain(
      'no VMA covers this address: an access here is SIGSEGV',
    );
    expect((await cli('explain', vm, '--proc', 'p')).code).toBe(2);
    expect((await cli('explain', vm, '--proc', 'q', '--addr', 'buf')).code).toBe(2);
    expect((await cli('explain', f, '--after', '9', '--pfn', '0')).err).toBe(
      `pagelab: --after 9: ${f} has 3 steps\n`,
    );
    expect((await cli('explain', f, '--pfn', 'nope')).err).toBe(
      "pagelab: no label 'nope' naming memory after step 3\n",
    );
    expect((await cli('explain', f, '--pfn', '0x100000')).err).toBe(
      'pagelab: pfn 1048576 is not RAM on this machine\n',
    );
    expect((await cli('explain', f)).code).toBe(2);
    expect((await cli('explain', f, '--after', '-1', '--pfn', '0')).code).toBe(2);
  });

  it('exits 1 when the run stopped before step N', async () => {
    const broken = file('broken.yaml', [
      '{ op: folio_alloc, as: f }',
      '{ op: folio_put, folio: f }',
      '{ op: folio_put, folio: f }',
      '{ op: alloc_pages }',
    ]);
    const r = await cli('explain', broken, '--after', '4', '--pfn', '0x100');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(
      /:6:5 step 3 \(folio_put\): BUG: stale or invalid folio handle .*\npagelab: the run stopped at step 3, before step 4\n$/,
    );
  });
});

describe('pagelab schema, boot and demo', () => {
  it('schema prints the JSON schema of scenario files', async () => {
    const r = await cli('schema');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ type: 'object', required: ['name', 'steps'] });
  });

  it('boot and demo still work', async () => {
    expect((await cli('boot', '--memory', '1G')).out).toMatch(
      /^machine: 1G RAM, 1 node\(s\), 262144 page frames/,
    );
    const demo = await cli('demo');
    expect(demo.code).toBe(0);
    expect(demo.out).toContain('slabinfo:\n# name');
  });
});
