import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runOracle } from '../../src/oracle/oracle.js';
import { NotOracleable, planScenario } from '../../src/oracle/translate.js';
import { parseScenario } from '../../src/scenario/parse.js';
import { disagreements, liveTitle, loadScenario, UNAVAILABLE } from './helpers.js';

// The top level here; examples/oracle/selftests/ (the ported kernel selftests) has its own file,
// so vitest runs the two sets in parallel.
const DIR = 'examples/oracle';
const files = readdirSync(DIR).filter((f) => f.endsWith('.yaml'));

describe.skipIf(UNAVAILABLE !== undefined)(liveTitle('the oracle against the live kernel'), () => {
  it('has the scenarios issue 7 asks for', () => {
    expect(files.length).toBeGreaterThanOrEqual(11);
  });

  it.each(files)('%s agrees with the kernel on every page after every step', (name) => {
    const r = runOracle(loadScenario(join(DIR, name)), { lockWaitMs: 600_000 });
    expect(disagreements(r)).toEqual([]);
    expect(r.exitCode).toBe(0);
    expect(r.counts.agree).toBeGreaterThan(0);
    expect(r.knobs.map((k) => k.path)).toContain('/sys/kernel/mm/transparent_hugepage/enabled');
    // ksmd stays stopped except inside a ksm_scan step, and the run says so.
    expect(r.knobs).toContainEqual(expect.objectContaining({ path: '/sys/kernel/mm/ksm/run', set: '0' }));
  });

  it('catches a wrong model: ptebit forgets the second pin, so fork shares the page the device still sees', () => {
    const s = loadScenario(join(DIR, 'pin-twice-across-fork.yaml'));
    const r = runOracle(s, { model: { pincount: 'ptebit' }, lockWaitMs: 600_000 });
    expect(r.exitCode).toBe(1);
    const fork = r.steps.find((st) => st.op === 'fork')!;
    expect(fork.rows.some((row) => row.proc === 'c' && row.verdict === 'disagree')).toBe(true);
    const dma = r.steps.find((st) => st.op === 'dma_read')!;
    expect(dma.outcome).toEqual({ kernel: 'data 22', model: 'data 11', verdict: 'disagree' });
  });
});

describe('what the oracle can run', () => {
  const plan = (text: string) => {
    const p = parseScenario(text, 'x.yaml');
    if (!p.ok) throw new Error(p.errors[0].message);
    return () => planScenario(p.scenario);
  };

  it('rejects kernel-internal ops with the step, line and reason', () => {
    const run = plan('name: x\nsteps:\n  - { op: folio_alloc, order: 0, as: f }\n');
    expect(run).toThrow(NotOracleable);
    expect(run).toThrow(
      "step 1 (line 3, folio_alloc): the kernel side cannot run 'folio_alloc' from user space",
    );
  });

  it('rejects pins no user-space path takes and numeric addresses', () => {
    const head =
      'name: x\nsteps:\n  - { op: spawn, name: p }\n  - { op: mmap, proc: p, name: b, size: 4K, prot: rw, flags: [private, anonymous] }\n';
    expect(plan(`${head}  - { op: pin, proc: p, addr: b, flags: [write] }\n`)).toThrow(/\[write, longterm\]/);
    expect(plan(`${head}  - { op: read, proc: p, addr: 4096 }\n`)).toThrow(/region\+offset/);
  });

  it('turns steps into probe commands with the regions to observe after each', () => {
    const p = plan(
      'name: x\nsteps:\n  - { op: spawn, name: p }\n  - { op: mmap, proc: p, name: b, size: 8K, prot: rw, flags: [private, anonymous] }\n  - { op: fork, proc: p, child: c }\n  - { op: write, proc: c, addr: b+4K, byte: 0x22, len: 1 }\n  - { op: expect, page: { proc: c, addr: b }, state: { type: buddy } }\n',
    )();
    expect(p.steps.map((s) => s.commands)).toEqual([
      ['spawn 0'],
      ['mmap 0 b 2000 rw private'],
      ['fork 0 1'],
      ['fill 1 b 1000 1 22'],
    ]);
    expect(p.steps[3].observe.map((o) => `${o.proc}/${o.region}/${o.pages}`)).toEqual(['p/b/2', 'c/b/2']);
  });

  it('turns KSM advice into madvise and ksm_scan into the probe running ksmd at that step', () => {
    const p = plan(
      'name: x\nsteps:\n  - { op: spawn, name: p }\n  - { op: mmap, proc: p, name: b, size: 8K, prot: rw, flags: [private, anonymous] }\n  - { op: madvise, proc: p, addr: b, len: 8K, advice: mergeable }\n  - { op: ksm_scan }\n  - { op: madvise, proc: p, addr: b, len: 8K, advice: unmergeable }\n',
    )();
    expect(p.steps.slice(2).map((s) => s.commands)).toEqual([
      ['madvise 0 b 0 2000 mergeable'],
      ['ksmscan'],
      ['madvise 0 b 0 2000 unmergeable'],
    ]);
  });

  it('turns mremap into a probe command that names the result, observed as a region of its own', () => {
    const p = plan(
      'name: x\nsteps:\n  - { op: spawn, name: p }\n  - { op: mmap, proc: p, name: b, size: 8K, prot: rw, flags: [private, anonymous] }\n  - { op: mmap, proc: p, name: d, size: 16K, prot: none, flags: [private, anonymous] }\n  - { op: mremap, proc: p, addr: b+4K, old_len: 4K, new_len: 4K, flags: [maymove, fixed], new_addr: d+8K }\n  - { op: mremap, proc: p, addr: b, old_len: 4K, new_len: 12K, flags: [MREMAP_MAYMOVE], as: big }\n  - { op: mremap, proc: p, addr: big, old_len: 12K, new_len: 4K }\n  - { op: madvise, proc: p, addr: big, len: 4K, advice: populate_write }\n',
    )();
    expect(p.steps.slice(3).map((s) => s.commands)).toEqual([
      ['mremap 0 b 1000 1000 1000 maymove,fixed d 2000 -'],
      ['mremap 0 b 0 1000 3000 maymove - 0 big'],
      ['mremap 0 big 0 3000 1000 - - 0 -'],
      ['madvise 0 big 0 1000 populate_write'],
    ]);
    expect(p.steps[4].observe.map((o) => `${o.proc}/${o.region}/${o.pages}`)).toEqual([
      'p/b/2',
      'p/d/4',
      'p/big/3',
    ]);
    expect(
      plan(
        'name: x\nsteps:\n  - { op: spawn, name: p }\n  - { op: mmap, proc: p, name: b, size: 4K, prot: rw, flags: [private, anonymous] }\n  - { op: mremap, proc: p, addr: b, old_len: 4K, new_len: 4K, flags: [maymove, fixed], new_addr: 0x100000 }\n',
      ),
    ).toThrow(/region\+offset/);
  });
});
