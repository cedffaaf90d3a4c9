import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';

async function cli(...argv: string[]) {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (s) => (out += s), err: (s) => (err += s) });
  return { code, out, err };
}

const FORK = 'examples/pinned-page-across-fork.yaml';
const PTEBIT = 'examples/pin-ptebit-loses-a-pin.yaml';

describe('pagelab compare', () => {
  it('prints a legend for every column once, then a table per file with human sizes; exit 0 when every expectation holds', async () => {
    const r = await cli('compare', FORK, 'examples/cow-after-fork.yaml', '--pincount', 'bias,shadow,ptebit');
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out.match(/^legend:/gm)).toHaveLength(1);
    const header = r.out.split('\n').find((l) => l.startsWith('pincount'))!;
    const columns = header.split(/ {2,}/);
    expect(columns).toEqual([
      'pincount',
      'pin meta',
      'pins',
      'true+',
      'false+',
      'false-',
      'true-',
      'safe here',
      'fork copies',
      'migr. fails',
      'expectations',
    ]);
    const legend = r.out.slice(0, r.out.indexOf('\n\n'));
    for (const c of columns.slice(1)) expect(legend).toContain(c);
    expect(r.out).toContain(`(${FORK}) under 3 combinations of pincount:`);
    expect(r.out).toContain('(examples/cow-after-fork.yaml) under 3 combinations of pincount:');
    expect(r.out).toMatch(/\nshadow +512 KiB +1 +1 +0 +0 +0 +yes +1 +0 +18\/18 held\n/);
    // A design known unsafe is marked on its name, apart from whether this run caught it out.
    expect(r.out).toMatch(/\nptebit† +0 B .* yes /);
  });

  it('separates "expectations held" from "design safe", and lists failures with "and N more"', async () => {
    const r = await cli('compare', PTEBIT, '--pincount', 'bias,ptebit');
    expect(r.code).toBe(1);
    // bias is safe but the scenario (written for ptebit) fails its expectations; ptebit holds them, unsafely.
    expect(r.out).toMatch(/\nbias +0 B +2 +1 +0 +0 +0 +yes +1 +0 +FAIL 1\/7 held\n/);
    expect(r.out).toMatch(/\nptebit† +0 B +2 +0 +0 +1 +0 +NO +0 +0 +7\/7 held\n/);
    const bias = r.out.split('\n').filter((l) => l.startsWith('  bias: '));
    expect(bias).toHaveLength(6);
    expect(bias[0]).toContain(
      `${PTEBIT}:15:85 step 7 (expect): p:buf (pfn 0x100): maybe_dma_pinned is true, expected false`,
    );
    expect(bias[5]).toBe('  bias: ... and 1 more');
  });

  it('every axis: one row per combination, the metrics of each axis, a legend for every column', async () => {
    const r = await cli(
      'compare',
      FORK,
      '--design',
      'memdesc,struct-page',
      '--pincount',
      'bias,exact',
      '--pfn-lookup',
      'memmap,vma',
      '--jobs',
      '1',
    );
    expect(r.err).toBe('');
    const lines = r.out.split('\n');
    const header = lines.find((l) => l.startsWith('design '))!;
    const columns = header.split(/ {2,}/);
    expect(columns.slice(0, 3)).toEqual(['design', 'metadata', 'pincount']);
    expect(columns).toEqual(
      expect.arrayContaining(['pfn lookup', 'moved', 'o9 gained', 'mf results', 'lookup work']),
    );
    const legend = r.out.slice(0, r.out.indexOf('\n\n'));
    for (const c of columns.slice(1)) expect(legend).toContain(c);
    expect(legend).toContain('FAIL');
    const rows = lines.filter((l) => /^(memdesc|struct-page) /.test(l));
    expect(rows).toHaveLength(8);
    expect(rows[0]).toMatch(/^memdesc +\S+ \S+ +bias .* memmap /);
    expect(rows[7]).toMatch(/^struct-page .* exact .* vma /);
    // The layouts differ in metadata, never in what the run did.
    expect(rows[0].split(/ {2,}/)[1]).not.toBe(rows[4].split(/ {2,}/)[1]);
  });

  it('rejects a name no axis knows', async () => {
    const r = await cli('compare', FORK, '--pfn-lookup', 'rmap');
    expect(r.code).toBe(2);
    expect(r.err).toContain("--pfn-lookup: 'rmap' is not one of memmap, vma");
  });

  it('bad input in one file: its diagnostics, exit 2', async () => {
    const r = await cli('compare', 'nope.yaml');
    expect(r.code).toBe(2);
    expect(r.err).toBe('pagelab: cannot read nope.yaml: ENOENT\n');
  });
});
