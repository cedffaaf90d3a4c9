/**
 * The oracle on bad input (issue 13 item 5), through the built CLI: a machine the model cannot
 * boot, and a store or load past the end of its region, are one line and exit 2, found on the
 * model's side before the kernel side runs — no probe, no stack trace, and no knob changed (the
 * test holds the host's oracle lock meanwhile, so no other run moves the knobs under it, and the
 * CLI, which must not even ask for the lock, would fail differently if it did).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acquireOracleLock, type OracleLock } from '../../src/oracle/lock.js';
import { buildCli, hostKnobs } from './helpers.js';

const dir = mkdtempSync(join(resolve('.cache'), 'oracle-bad-'));
let bin: string;
let lock: OracleLock;

beforeAll(() => {
  bin = buildCli(dir);
  lock = acquireOracleLock(600_000);
}, 620_000);
afterAll(() => {
  lock?.release();
  rmSync(dir, { recursive: true, force: true });
});

function oracle(name: string, text: string) {
  const file = join(dir, name);
  writeFileSync(file, text);
  const r = spawnSync(process.execPath, [bin, 'oracle', file], { encoding: 'utf8' });
  return { file, code: r.status, out: r.stdout, err: r.stderr };
}

const STEPS = `steps:
  - { op: spawn, name: p }
  - { op: mmap, proc: p, name: mem, size: 8K, prot: rw, flags: [private, anonymous] }
`;

describe('pagelab oracle on bad input', () => {
  it('a machine the model cannot boot (4 nodes in one section): one line with its position, exit 2', () => {
    const before = hostKnobs();
    const r = oracle('nodes.yaml', `name: x\nmachine: { memory: 128M, nodes: 4 }\n${STEPS}`);
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toBe(`${r.file}:2:10 machine: 4 nodes need at least 4 sections of 128 MiB\n`);
    expect(hostKnobs()).toEqual(before);
  });

  it('a machine the parser refuses (memory: 1K) is the same kind of one line', () => {
    const before = hostKnobs();
    const r = oracle('tiny.yaml', `name: x\nmachine: { memory: 1K }\n${STEPS}`);
    expect(r.code).toBe(2);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toMatch(/tiny\.yaml:2:\d+ machine\.memory: 1K is not a positive multiple/);
    expect(hostKnobs()).toEqual(before);
  });

  it.each([
    ['write', '{ op: write, proc: p, addr: mem+4K, len: 8K, byte: 1 }', /0x2000 bytes at mem\+0x1000/],
    ['write of data', '{ op: write, proc: p, addr: mem+8190, data: "112233" }', /0x3 bytes at mem\+0x1ffe/],
    ['mem_write', '{ op: mem_write, proc: p, addr: mem, len: 12K, byte: 1 }', /0x3000 bytes at mem\+0x0/],
    ['read', '{ op: read, proc: p, addr: mem+8K, len: 1 }', /0x1 bytes at mem\+0x2000/],
  ])('a %s past the end of its region is refused on the model side, naming the step', (_, step, what) => {
    const before = hostKnobs();
    const r = oracle('past.yaml', `name: x\nmachine: { memory: 128M }\n${STEPS}  - ${step}\n`);
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toMatch(/not oracle-able: step 3 \(line 6, \w+\): /);
    expect(r.err).toMatch(what);
    expect(r.err).toContain('end past the region (0x2000 bytes)');
    expect(r.err).not.toMatch(/at .*\.(js|mjs):\d+/);
    expect(hostKnobs()).toEqual(before);
  });
});
