import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { scratchDir } from '../helpers.js';
import { liveTitle, UNAVAILABLE } from './helpers.js';

async function cli(...args: string[]) {
  let out = '';
  let err = '';
  const code = await main(args, {
    out: (s) => {
      out += s;
    },
    err: (s) => {
      err += s;
    },
  });
  return { code, out, err };
}

describe('pagelab oracle', () => {
  it('exits 2 for a scenario the kernel cannot run, naming the step', async () => {
    const r = await cli('oracle', 'examples/memdesc-vs-struct-page.yaml');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/not oracle-able: step 1 \(line \d+, folio_alloc\)/);
  });

  describe.skipIf(UNAVAILABLE !== undefined)(liveTitle('on the live kernel'), () => {
    it('prints a legend once, a table per step, a verdict per scenario, the knobs once and a grand total; exit 0 when everything agrees', async () => {
      const r = await cli(
        'oracle',
        '--wait',
        '600',
        'examples/oracle/write-fault.yaml',
        'examples/oracle/madv-dontneed.yaml',
      );
      expect(r.code).toBe(0);
      expect(r.out.startsWith('legend: ')).toBe(true);
      expect(r.out.match(/legend: /g)).toHaveLength(1);
      expect(r.out).toMatch(
        /step 3 \(line 8\) write: ok — agree\nproc +region +pages +verdict +kernel +model +note/,
      );
      expect(
        r.out.match(/\nAGREE: \d+ agree, 0 disagree, 0 inconclusive; expectations: (\d+) of \1 held\n/g),
      ).toHaveLength(2);
      expect(r.out.match(/knobs/g)).toHaveLength(1);
      expect(r.out).toMatch(
        /\nknobs \(set for each run and put back after it\): transparent_hugepage\/enabled=madvise, .*\nAGREE \(2 scenarios\): \d+ agree, 0 disagree, 0 inconclusive; expectations: (\d+) of \1 held\n$/,
      );
    });

    it("checks the scenario's own expectations: one that fails on the model is reported, exit 1", async () => {
      const dir = scratchDir('pagelab-oracle-');
      const f = join(dir, 'wrong.yaml');
      writeFileSync(
        f,
        readFileSync('examples/oracle/write-fault.yaml', 'utf8').replace(
          'rss: { anon: 1 }',
          'rss: { anon: 3 }',
        ),
      );
      const r = await cli('oracle', '--wait', '600', f);
      expect(r.code).toBe(1);
      expect(r.out).toMatch(
        /\nEXPECTATIONS FAILED: \d+ agree, 0 disagree, 0 inconclusive; expectations: 5 of 6 held\n/,
      );
      expect(r.out).toContain(`  ${f}:11:98 step 6 (expect): p: rss anon is 1 pages, expected 3\n`);
      expect(r.out).toMatch(/\nFAIL \(1 scenario, 1 failed\): /);
    });

    it('exits 1 when the model disagrees (a design that loses a pin)', async () => {
      const r = await cli('oracle', '--wait', '600', 'examples/pin-ptebit-loses-a-pin.yaml');
      expect(r.code).toBe(1);
      expect(r.out).toContain('dma_read: kernel data 22, model data 11 — disagree');
    });
  });
});
