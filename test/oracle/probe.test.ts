import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MADV } from '../../src/mm/mm_types.js';
import { probeBinary } from '../../src/oracle/probe.js';
import { liveTitle, UNAVAILABLE } from './helpers.js';

const probe = (script: string) =>
  execFileSync(probeBinary(), [], { input: script, encoding: 'utf8', timeout: 20_000 }).trim().split('\n');

describe("the probe's madvise names", () => {
  it('are every advice the model takes, each bound to the Linux constant of its name', () => {
    // An advice the probe did not know would reach the kernel as -1 (EINVAL) and read as the
    // model disagreeing with Linux.
    const src = readFileSync(new URL('../../src/oracle/probe.c', import.meta.url), 'utf8');
    const table = [...src.matchAll(/\{"([a-z_]+)", MADV_([A-Z_]+)\}/g)];
    expect(table.map((m) => m[1]).sort()).toEqual(
      Object.keys(MADV)
        .map((k) => k.toLowerCase())
        .sort(),
    );
    for (const m of table) expect(m[2].toLowerCase()).toBe(m[1]);
  });
});

describe.skipIf(UNAVAILABLE !== undefined)(liveTitle('the native probe'), () => {
  it('compiles and maps the zero page on a read fault, observed without faulting the next page in', () => {
    const out = probe('spawn 0\nmmap 0 buf 2000 rw private\nread 0 buf 0 1\nobs 0 buf\nquit\n');
    expect(out[0]).toMatch(/^ready \d+$/);
    expect(out[2]).toMatch(/^ok [0-9a-f]+$/);
    expect(out[3]).toBe('ok 00');
    expect(out[4]).toMatch(/^p 0 1 00 0 [0-9a-f]+ 0 zero -$/);
    expect(out[5]).toBe('p 1 0 - 0 0 0 - -');
    expect(out.slice(6)).toEqual(['end', 'bye']);
  });

  it('answers a fault with the signal and leaves no process behind, even on a bad command', () => {
    const out = probe('spawn 0\nfork 0 1\nmmap 1 ro 1000 r private\nfill 1 ro 0 1 1\nbogus 1\n');
    expect(out).toContain('sig SIGSEGV');
    expect(out).toContain('err command EINVAL');
    const pids = out.filter((l) => /^ok \d+$/.test(l)).map((l) => Number(l.slice(3)));
    expect(pids).toHaveLength(2);
    for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow();
  });

  it('mremaps: the page moves with its frame, the result is a region the controller observes', () => {
    const out = probe(
      'spawn 0\nmmap 0 a 2000 rw private\nfill 0 a 0 1 5a\nmremap 0 a 0 1000 3000 maymove - 0 big\nread 0 big 0 1\nobs 0 big\nmremap 0 big 1 1000 1000 - - 0 -\nmadvise 0 big 1000 1000 populate_read\nquit\n',
    );
    expect(out[4]).toMatch(/^ok [0-9a-f]+$/);
    expect(out[5]).toBe('ok 5a');
    expect(out[6]).toMatch(/^p 0 1 5a 1 [0-9a-f]+ 1 anon,anonexcl -$/);
    expect(out[7]).toBe('p 1 0 - 0 0 0 - -');
    expect(out[9]).toBe('end');
    expect(out[10]).toBe('err mremap EINVAL');
    expect(out[11]).toBe('ok');
  });
});
