/**
 * The README's op list is generated from the op registry; this fails when they differ (run
 * `npm run docs:readme` to regenerate it), and when an op takes a key whose meaning
 * `pagelab ops NAME` cannot tell.
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fieldDoc, opKeys, readmeOpList } from '../../src/scenario/op_docs.js';
import { OPS } from '../../src/scenario/registry.js';

const BEGIN = '<!-- ops:begin -->\n';
const END = '<!-- ops:end -->';

describe('the README op list', () => {
  it('is the registry, op for op and key for key', () => {
    const readme = readFileSync('README.md', 'utf8');
    const start = readme.indexOf(BEGIN) + BEGIN.length;
    const end = readme.indexOf(END);
    expect(start).toBeGreaterThan(BEGIN.length - 1);
    const want = `${readmeOpList()}\n`;
    if (process.env.UPDATE_README && readme.slice(start, end) !== want)
      writeFileSync('README.md', readme.slice(0, start) + want + readme.slice(end));
    else expect(readme.slice(start, end)).toBe(want);
  });

  it('names every op of the registry', () => {
    const list = readmeOpList();
    for (const op of OPS) expect(list).toContain(`- \`${op.name}\` — ${op.doc}`);
    expect(list).toContain('`odirect`');
    expect(list).toContain('Keys: `page`, `what`');
  });
});

describe('pagelab ops', () => {
  it('has a meaning for every key of every op', () => {
    const missing = OPS.flatMap((o) =>
      opKeys(o)
        .filter((k) => !fieldDoc(o.name, k))
        .map((k) => `${o.name}.${k}`),
    );
    expect(missing).toEqual([]);
  });
});

describe('citations', () => {
  it('README, docs, examples and the user-facing layers cite no document the repository does not ship', () => {
    const roots = [
      'README.md',
      'docs/architecture.md',
      'docs/json/README.md',
      'examples',
      'src/cli',
      'src/scenario',
      'src/oracle',
      'src/machine',
    ];
    const files = roots.flatMap((r) =>
      statSync(r).isDirectory()
        ? (readdirSync(r, { recursive: true }) as string[])
            .map((f) => join(r, f))
            .filter((f) => statSync(f).isFile())
        : [r],
    );
    const cites = files.flatMap((f) =>
      readFileSync(f, 'utf8')
        .split('\n')
        .flatMap((l, i) => (/kernel-semantics|oracle-notes/.test(l) ? [`${f}:${i + 1}`] : [])),
    );
    expect(cites).toEqual([]);
  });
});
