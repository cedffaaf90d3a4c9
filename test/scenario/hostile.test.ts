/**
 * Hostile scenario files (issue 13 item 4) are bad input with a position, never a hang or a stack
 * trace: an undefined alias, an alias bomb, nesting past MAX_NESTING, a document past
 * MAX_DOCUMENT_BYTES, and tens of thousands of errors (the first MAX_ERRORS, then one line counting
 * the rest). The CLI turns each into one line per error and exit 2.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { MAX_DOCUMENT_BYTES, MAX_ERRORS, MAX_NESTING, parseScenario } from '../../src/scenario/parse.js';
import { scratchDir } from '../helpers.js';

const HEAD = 'name: x\nmachine: { memory: 128M }\n';

function errorsOf(text: string) {
  const r = parseScenario(text, 'h.yaml');
  if (r.ok) throw new Error('parsed');
  return r.errors;
}

describe('hostile scenario files', () => {
  it('an undefined alias is an error at the alias', () => {
    const [e] = errorsOf(`${HEAD}steps:\n  - { op: spawn, name: p }\n  - *nope\n`);
    expect(e.pos).toEqual({ line: 5, col: 5 });
    expect(e.message).toMatch(/alias.*nope/);
  });

  it('an alias bomb stops at the alias count, in milliseconds', () => {
    const levels = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 9; i++) {
      const p = String.fromCharCode(96 + i);
      levels.push(
        `${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10).fill(`*${p}`).join(', ')}]`,
      );
    }
    const t0 = performance.now();
    const errors = errorsOf(`${levels.join('\n')}\n${HEAD}steps: *i\n`);
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(errors).toHaveLength(1);
    expect(errors[0].message).toMatch(/alias bomb/);
    expect(errors[0].pos.line).toBe(2);
  });

  it('aliases used sparingly still work', () => {
    const r = parseScenario(
      `${HEAD}steps:\n  - &s { op: spawn, name: p }\n  - { op: exit, proc: p }\n`,
      'ok.yaml',
    );
    expect(r.ok).toBe(true);
  });

  it('nesting past the bound is one clear error', () => {
    const deep = `${'['.repeat(MAX_NESTING + 5)}${']'.repeat(MAX_NESTING + 5)}`;
    const errors = errorsOf(`${HEAD}steps:\n  - ${deep}\n`);
    expect(errors.map((e) => e.message)).toEqual([`nesting deeper than ${MAX_NESTING} levels`]);
    const wild = errorsOf(`${HEAD}steps: ${'['.repeat(20000)}${']'.repeat(20000)}\n`);
    expect(wild[0].message).toBe(`nesting deeper than ${MAX_NESTING} levels`);
  });

  it('a document past the size bound is refused before it is parsed', () => {
    const errors = errorsOf(`${HEAD}# ${'x'.repeat(MAX_DOCUMENT_BYTES)}\n`);
    expect(errors[0]).toMatchObject({ pos: { line: 1, col: 1 } });
    expect(errors[0].message).toMatch(/at most 16777216/);
  });

  it('thousands of errors print the first MAX_ERRORS and a count of the rest', async () => {
    const steps = Array.from({ length: 5000 }, (_, i) => `  - { op: nope${i} }`).join('\n');
    const errors = errorsOf(`${HEAD}steps:\n${steps}\n`);
    expect(errors).toHaveLength(MAX_ERRORS + 1);
    expect(errors[MAX_ERRORS].message).toBe(
      `and ${5000 - MAX_ERRORS} more error(s) from here on (the first ${MAX_ERRORS} are shown)`,
    );
  });

  it('the CLI prints each as file:line:col with exit 2 and no stack trace', async () => {
    const dir = scratchDir('pagelab-hostile-');
    const file = join(dir, 'a.yaml');
    writeFileSync(file, `${HEAD}steps:\n  - *nope\n`);
    const out: string[] = [];
    const code = await main(['run', file], { out: (s) => out.push(s), err: (s) => out.push(s) });
    expect(code).toBe(2);
    expect(out.join('')).toContain(`${file}:4:5:`);
    expect(out.join('')).not.toMatch(/at .*\.js:\d+/);
  });
});

describe('a valid huge mapping', () => {
  it('100 TiB with three pages touched: the run and its report cost the page tables, not the range', async () => {
    const dir = scratchDir('pagelab-huge-');
    const file = join(dir, 'huge.yaml');
    writeFileSync(
      file,
      `${HEAD}steps:
  - { op: spawn, name: p }
  - { op: mmap, proc: p, name: big, size: 100T, prot: rw, flags: [private, anonymous] }
  - { op: write, proc: p, addr: big, byte: 1, len: 1 }
  - { op: write, proc: p, addr: big+50T, byte: 2, len: 1 }
  - { op: write, proc: p, addr: big+107374182396K, byte: 3, len: 1 }
  - { op: read, proc: p, addr: big+107374182396K, len: 1, expect: { byte: 3 } }
  - { op: expect, process: p, rss: { anon: 3 } }
`,
    );
    const out: string[] = [];
    const t0 = performance.now();
    const code = await main(['run', file], { out: (s) => out.push(s), err: (s) => out.push(s) });
    // Walking 2^35 pages takes minutes; a generous bound for a shared machine.
    expect(performance.now() - t0).toBeLessThan(5000);
    expect(code).toBe(0);
    const text = out.join('');
    expect(text).toContain('rss anon 3 file 0 shmem 0');
    // 64 characters of 2^35 / 64 pages each: the first, the middle and the last show the pages.
    expect(text).toContain(`|a${'.'.repeat(31)}a${'.'.repeat(30)}a (419430400 pages/char)|`);
  });
});
