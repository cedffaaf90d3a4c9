import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { scratchDir } from '../helpers.js';
import { fixture } from './fixture.js';

async function run(...argv: string[]) {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (s) => (out += s), err: (s) => (err += s) });
  return { code, out, err };
}

const FLAGS = fixture('loaded.kpageflags.gz');

describe('pagelab snapshot', () => {
  it('--page-types prints exactly what page-types -F prints, and -r what page-types -r prints', async () => {
    const a = await run('snapshot', FLAGS, '--page-types');
    expect(a.code).toBe(0);
    expect(a.out).toBe(readFileSync(fixture('loaded.page-types.txt'), 'utf8'));
    const b = await run('snapshot', fixture('loaded.kpageflags.zst'), '--page-types', '-r');
    expect(b.out).toBe(readFileSync(fixture('loaded.page-types-raw.txt'), 'utf8'));
  });

  it('the census, the price and the map', async () => {
    const r = await run('snapshot', FLAGS);
    expect(r.code).toBe(0);
    expect(r.out).toContain('folios: 464,038 (4,521 large');
    expect(r.out).toContain(
      'slabs: 7,968 on 13,673 pages; page tables: 6,765; KSM: 288 pages mapped 73,728 times',
    );
    expect(r.out).toMatch(/total\s+6,291,456\s+384\.0 MiB/);
    expect(r.out).toContain('PFN map: one character = 3200 PFNs');
    expect(r.out).toContain('method:');
  });

  it('--json carries the same numbers and a map for a web view', async () => {
    const r = await run('snapshot', FLAGS, '--json');
    const j = JSON.parse(r.out);
    expect(j.folios).toEqual({ folios: 464_038, large: 4_521 });
    expect(j.types.free.pages).toBe(807_167);
    expect(j.ksm).toEqual({ pages: 288, mapcount: 73_728 });
    expect(j.map.buckets.length).toBe(2048);
    expect(
      j.map.buckets.reduce(
        (s: number, b: { pages: Record<string, number> }) =>
          s + Object.values(b.pages).reduce((x, y) => x + y, 0),
        0,
      ),
    ).toBe(6_553_600);
    const pt = JSON.parse((await run('snapshot', FLAGS, '--page-types', '--json')).out);
    expect(pt.total).toBe(6_553_600);
    expect(pt.rows[0]).toEqual({ flags: '0x0000000000000000', pages: 4_584_014, names: '' });
  });

  it('bad input: one line on stderr, exit 2', async () => {
    for (const argv of [
      ['snapshot', fixture('loaded.page-types.txt')],
      ['snapshot', fixture('nope.kpageflags')],
      ['snapshot', FLAGS, '--count', fixture('loaded.meminfo.txt')],
      ['snapshot', FLAGS, '-r'],
    ]) {
      const r = await run(...argv);
      expect(r.code).toBe(2);
      expect(r.out).toBe('');
      expect(r.err.startsWith('pagelab: ')).toBe(true);
      expect(r.err.trimEnd().includes('\n')).toBe(false);
    }
  });
});

describe('pagelab snapshot --replay', () => {
  it("runs a scenario on the capture's machine: its 777 free order-10 blocks and its 131 uninitialised sections' 4,192, not one more", async () => {
    const r = await run('snapshot', FLAGS, '--replay', join(import.meta.dirname, 'replay-max-order.yaml'));
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain('machine memory: taken from the capture, not the scenario');
    expect(r.out).toMatch(/holes stay holes/);
    expect(r.out).toMatch(/deferredInit/);
    expect(r.out).toContain('ENOMEM');
  });

  it('a scenario whose expectation the capture contradicts fails (exit 1)', async () => {
    const yaml = join(scratchDir('pagelab-replay-'), 'replay.yaml');
    writeFileSync(
      yaml,
      'name: too many\nmachine: {}\nsteps:\n  - { op: alloc_pages, order: 10, count: 4970 }\n',
    );
    const r = await run('snapshot', FLAGS, '--replay', yaml);
    expect(r.code).toBe(1);
    expect(r.out).toContain('ENOMEM');
  });

  it('--owners gives the anon folios synthetic owners and says so; without --replay it is a usage error', async () => {
    const yaml = join(scratchDir('pagelab-owners-'), 'owners.yaml');
    writeFileSync(
      yaml,
      'name: owners\nmachine: { check: full }\nsteps:\n  - { op: compact, zone: Normal }\n',
    );
    const r = await run('snapshot', FLAGS, '--replay', yaml, '--owners');
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/synthetic owners: 356,435 anon folios mapped once each by 88 made-up processes/);
    const u = await run('snapshot', FLAGS, '--owners');
    expect(u.code).toBe(2);
    expect(u.err).toMatch(/--owners applies to --replay only/);
  });

  it('--replay with --json or --page-types is a usage error', async () => {
    const r = await run('snapshot', FLAGS, '--replay', 'x.yaml', '--json');
    expect(r.code).toBe(2);
    expect(r.err.trimEnd().includes('\n')).toBe(false);
  });
});
