/**
 * `--json` on every command: one document on stdout with `schemaVersion` and `command`, valid
 * against that command's schema (src/cli/json.ts), whose JSON schema is the file in docs/json/
 * (regenerate with `npm run docs:json`).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { JSON_SCHEMA_VERSION, JSON_SCHEMAS, type JsonCommand, jsonOutputSchema } from '../../src/cli/json.js';
import { main } from '../../src/cli/main.js';
import { liveTitle, UNAVAILABLE } from '../oracle/helpers.js';

async function cli(...argv: string[]) {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (s) => (out += s), err: (s) => (err += s) });
  return { code, out, err };
}

/** Run a command with --json: exit code as given, nothing on stderr, and a valid document. */
async function document(command: JsonCommand, argv: string[], code = 0) {
  const r = await cli(command, ...argv, '--json');
  expect(r.err).toBe('');
  expect(r.code).toBe(code);
  const doc = JSON.parse(r.out);
  expect(doc.schemaVersion).toBe(JSON_SCHEMA_VERSION);
  expect(doc.command).toBe(command);
  const valid = JSON_SCHEMAS[command].safeParse(doc);
  expect(valid.error?.issues ?? []).toEqual([]);
  // z.object() drops keys it does not list while the JSON schema (io: output) forbids them: the
  // document must come through parsing unchanged, or the published schema rejects it.
  expect(valid.data).toEqual(doc);
  return doc;
}

const SNAPSHOT = 'examples/snapshots/loaded.kpageflags.gz';

describe('--json', () => {
  it('boot: the machine report as data', async () => {
    const d = await document('boot', ['--memory', '1G']);
    expect(d.config.memory).toBe(1 << 30);
    expect(d.meminfo.MemTotal).toBeGreaterThan(0);
    expect(d.accounting.map((a: { layout: string }) => a.layout).sort()).toEqual(['memdesc', 'struct-page']);
  });

  it('demo: the report and slabinfo', async () => {
    const d = await document('demo', ['--memory', '1G']);
    expect(d.slabinfo.map((r: { name: string }) => r.name)).toContain('dentry');
  });

  it('devmem: every row of every size', async () => {
    const d = await document('devmem', ['--size', '1T,16T']);
    expect(d.devices.map((x: { bytes: number }) => x.bytes)).toEqual([2 ** 40, 2 ** 44]);
    expect(d.devices[0].rows.length).toBeGreaterThan(3);
  });

  it('explain: a frame by label, and an address walk', async () => {
    const f = await document('explain', ['examples/refcounts-and-reuse.yaml', '--after', '8', '--pfn', 'g']);
    expect(f.after).toBe(8);
    expect(f.dump).toContain('page: refcount:');
    expect(f.labels.join()).toContain('g (');
    const a = await document('explain', [
      'examples/cow-after-fork.yaml',
      '--after',
      '6',
      '--proc',
      'p',
      '--addr',
      'buf',
    ]);
    expect(a.walk.map((s: { level: string }) => s.level)).toEqual(['pgd', 'pud', 'pmd', 'pte']);
    expect(a.pfn).toBe(a.page.pfn);
  });

  it('compare: every design of every file, expectations apart from safety', async () => {
    const d = await document(
      'compare',
      ['examples/pin-ptebit-loses-a-pin.yaml', '--pincount', 'bias,ptebit'],
      1,
    );
    const [bias, ptebit] = d.scenarios[0].designs;
    expect([bias.safe, bias.expectations.failures.length > 0]).toEqual([true, true]);
    expect([ptebit.safe, ptebit.expectations.failures]).toEqual([false, []]);
  });

  it('snapshot: the census, and the page-types summary', async () => {
    const d = await document('snapshot', [SNAPSHOT]);
    expect(d.slabs).toBe(7968);
    const pt = await document('snapshot', [SNAPSHOT, '--page-types']);
    expect(pt.rows.length).toBeGreaterThan(10);
  });

  describe.skipIf(UNAVAILABLE !== undefined)(liveTitle('oracle, on the live kernel'), () => {
    it('oracle: every scenario with its steps, counts and expectations', async () => {
      const d = await document('oracle', ['--wait', '600', 'examples/oracle/write-fault.yaml']);
      expect(d.scenarios[0].counts.disagree).toBe(0);
      expect(d.scenarios[0].expectations.failures).toEqual([]);
    });
  });

  it('a document that breaks the schema is refused (the test would see a changed shape)', () => {
    const bad = { schemaVersion: JSON_SCHEMA_VERSION, command: 'devmem', devices: [], extra: 1 };
    expect(JSON_SCHEMAS.devmem.safeParse(bad).success).toBe(false);
    expect(JSON_SCHEMAS.devmem.safeParse({ ...bad, extra: undefined, schemaVersion: 0 }).success).toBe(false);
  });
});

describe('docs/json', () => {
  it.each(Object.keys(JSON_SCHEMAS) as JsonCommand[])(
    '%s.schema.json is the schema of the output',
    (command) => {
      const path = `docs/json/${command}.schema.json`;
      const want = jsonOutputSchema(command);
      if (process.env.UPDATE_DOCS) writeFileSync(path, `${JSON.stringify(want, null, 2)}\n`);
      else expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual(want);
    },
  );
});
