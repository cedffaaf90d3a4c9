/**
 * `pagelab shell`: a REPL on one machine state. Scripted sessions (stdin not a TTY) read commands,
 * print results and exit 0; the helpers answer what the machine keeps; .step/.back move one step
 * by running the scenario again; bad FILE or --after is one line and exit 2. The last test runs
 * the built bin with piped stdin, as a user's script would.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { parseScenario, runScenario } from '../../src/index.js';

const COW = 'examples/cow-after-fork.yaml';

/** A scripted session: `lines` on stdin, stdout and stderr captured. */
async function session(argv: string[], lines: string[]) {
  let out = '';
  let err = '';
  const code = await main(['shell', ...argv], {
    out: (s) => (out += s),
    err: (s) => (err += s),
    input: { input: Readable.from([`${lines.join('\n')}\n`]), terminal: false },
  });
  return { code, out, err };
}

/** The machine after step `n` of the COW example, run independently of the shell. */
function machineAfter(n: number) {
  const parsed = parseScenario(readFileSync(COW, 'utf8'), COW);
  if (!parsed.ok) throw new Error('example does not parse');
  return runScenario(parsed.scenario, { until: n });
}

describe('pagelab shell, scripted', () => {
  it('answers with kernel-named helpers what the machine keeps, and exits 0 at the end of input', async () => {
    const r = await session(
      [COW, '--after', '5'],
      [
        'follow_page("c", "buf").refcount',
        'follow_page("c", "buf").mapcount',
        'page_folio(follow_page("p", "buf")).id',
        'page_folio("A").nrPages',
        '[...for_each_page({ type: "anon" })].length',
        'Array.isArray(for_each_page({ type: "anon" }))',
        '[...for_each_vma("p")].map((v) => v.start === labels.buf.value)',
        'decode_page_flags(0x17ffffc0000000n)',
        'decode_page_flags(0x820)',
        'for_each_page({ type: "anon" })',
        'for_each_vma("p")',
      ],
    );
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const m = machineAfter(5).machine!;
    const anon = [...Array(m.totalPages).keys()].filter((pfn) => {
      try {
        return m.page(pfn).type === 'anon';
      } catch {
        return false;
      }
    }).length;
    expect(anon).toBe(2);
    expect(r.out).toBe(
      [
        '2', // shared after fork: parent and child
        '2',
        'folio#0.1', // strings print as they are
        '1',
        String(anon),
        'false',
        '[ true ]',
        "{ flags: '', node: 0, zone: 'Normal', lastCpupid: '0x1fffff' }",
        'lru|anon_exclusive',
        // An iterator printed says how to use it (not `Object [Generator] {}`).
        '[for_each_page: an iterator — [...for_each_page(...)] for an array, or for (const x of for_each_page(...))]',
        '[for_each_vma: an iterator — [...for_each_vma(...)] for an array, or for (const x of for_each_vma(...))]',
        '',
      ].join('\n'),
    );
  });

  it('dump_page() prints the same text as explain; a helper misused is one line and the session goes on', async () => {
    const m = machineAfter(5).machine!;
    const r = await session(
      [COW, '--after', '5'],
      [
        'dump_page("A")',
        'pfn_to_page(-1)',
        'for_each_page({ type: "folio" })',
        'pfn_to_page("nope")',
        '1 + 1',
      ],
    );
    expect(r.code).toBe(0);
    const pfn = machineAfter(5).labels.get('A').frames!(m).pfn;
    expect(r.out).toBe(
      [
        m.dumpPage(pfn),
        'ShellError: not a pfn: -1',
        `ShellError: type 'folio' is none of none, buddy, anon, file, slab, large_kmalloc, pgtable, vmalloc, device, zero, reserved, offline, hwpoison, unknown`,
        "ShellError: no label 'nope' naming memory",
        '2',
        '',
      ].join('\n'),
    );
  });

  it('.step and .back move one step (the state is that of a fresh run to that step); .where says where', async () => {
    const r = await session(
      [COW, '--after', '5'],
      [
        '.where',
        '.step',
        'follow_page("c", "buf").anonExclusive',
        '.back',
        '.back',
        'follow_page("c", "buf")',
        'follow_page("p", "buf").refcount',
      ],
    );
    expect(r.code).toBe(0);
    expect(r.out).toBe(
      [
        'after step 5 of 17 (line 11: fork p -> c (pid 2))',
        'after step 6 of 17 (line 13: expect ok, 4 checks)',
        'false',
        'after step 5 of 17 (line 11: fork p -> c (pid 2))',
        'after step 4 of 17 (line 10: expect ok, 3 checks)',
        "ShellError: no process named 'c'", // the fork has not happened yet
        '1',
        '',
      ].join('\n'),
    );
    const edges = await session([COW, '--after', '0'], ['.back', '.where']);
    expect(edges.out).toBe(
      'already right after boot\nafter boot (17 steps in examples/cow-after-fork.yaml)\n',
    );
    const last = await session([COW], ['.step']);
    expect(last.out).toBe('already after the last step (17)\n');
  });

  it('without FILE: a freshly booted default machine', async () => {
    const r = await session([], ['m.totalPages > 0', '.where']);
    expect(r.code).toBe(0);
    expect(r.out).toBe('true\nafter boot (0 steps in <shell>)\n');
  });

  it('a bad FILE or --after is one line and exit 2', async () => {
    const missing = await session(['no/such.yaml'], []);
    expect(missing.code).toBe(2);
    expect(missing.err).toBe('pagelab: cannot read no/such.yaml: ENOENT\n');
    const past = await session([COW, '--after', '99'], []);
    expect(past.code).toBe(2);
    expect(past.err).toBe(`pagelab: --after 99: ${COW} has 17 steps\n`);
    const word = await session([COW, '--after', 'x'], []);
    expect(word.code).toBe(2);
    expect(word.err).toBe(
      "pagelab: option '--after <n>' argument 'x' is invalid. expected a step number (0 = right after boot)\n",
    );
  });
});

describe('pagelab shell, the built bin with piped stdin', () => {
  const out = mkdtempSync(join(resolve('.cache'), 'shell-bin-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('reads the commands, prints the results and exits 0', () => {
    // Built inside the repository so the bin resolves its dependencies from node_modules.
    execFileSync(process.execPath, [
      'node_modules/typescript/bin/tsc',
      '-p',
      'tsconfig.build.json',
      '--outDir',
      out,
    ]);
    const r = spawnSync(process.execPath, [join(out, 'cli/bin.js'), 'shell', COW, '--after', '5'], {
      input: 'follow_page("c", "buf").refcount\n.where\npfn_to_page(-1)\n',
      encoding: 'utf8',
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(
      '2\nafter step 5 of 17 (line 11: fork p -> c (pid 2))\nShellError: not a pfn: -1\n',
    );
  }, 180_000);
});
