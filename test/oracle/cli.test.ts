import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
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
    it('prints the knobs, a table per step and the verdict; exit 0 when everything agrees', async () => {
      const r = await cli('oracle', '--wait', '600', 'examples/oracle/write-fault.yaml');
      expect(r.code).toBe(0);
      expect(r.out).toContain('knobs: transparent_hugepage/enabled=madvise');
      expect(r.out).toMatch(
        /step 3 \(line 8\) write: ok — agree\nproc +region +pages +verdict +kernel +model +note/,
      );
      expect(r.out).toMatch(/AGREE: \d+ agree, 0 disagree, 0 inconclusive\n$/);
    });

    it('exits 1 when the model disagrees (a design that loses a pin)', async () => {
      const r = await cli('oracle', '--wait', '600', 'examples/pin-ptebit-loses-a-pin.yaml');
      expect(r.code).toBe(1);
      expect(r.out).toContain('dma_read: kernel data 22, model data 11 — disagree');
    });
  });
});
