/**
 * How the oracle plans userfaultfd steps (src/oracle/translate.ts), without the live kernel: the
 * uffd ops become probe commands with the features in hex, an access that expects a sync-mode
 * userfault stays on the model side (the probe has no monitor thread to resolve it), and a
 * process that did not open a userfaultfd itself (a fork's child) cannot use one there.
 */
import { describe, expect, it } from 'vitest';
import { NotOracleable, planScenario } from '../../src/oracle/translate.js';
import { parseScenario } from '../../src/scenario/parse.js';

function plan(steps: string) {
  const text = `name: t
machine: { memory: 512M }
steps:
  - { op: spawn, name: p }
  - { op: mmap, proc: p, name: buf, size: 8K, prot: rw, flags: [private, anonymous] }
${steps}`;
  const parsed = parseScenario(text, 't.yaml');
  if (!parsed.ok) throw new Error(parsed.errors.map((e) => e.message).join('\n'));
  return planScenario(parsed.scenario);
}

describe('the oracle plan of userfaultfd steps', () => {
  it('maps uffd, register, writeprotect, unregister and read to probe commands', () => {
    const p = plan(`  - { op: uffd, proc: p, features: [wp_async, event_fork] }
  - { op: uffd_register, proc: p, addr: buf, len: 8K }
  - { op: uffd_writeprotect, proc: p, addr: buf+4K, len: 4K, wp: false, dontwake: true }
  - { op: uffd_unregister, proc: p, addr: buf, len: 8K }
  - { op: uffd_read, proc: p }
`);
    expect(p.steps.slice(2).map((s) => s.commands)).toEqual([
      ['uffd 0 8002'],
      ['uffdreg 0 buf 0 2000'],
      ['uffdwp 0 buf 1000 1000 0 1'],
      ['uffdunreg 0 buf 0 2000'],
      ['uffdread 0'],
    ]);
    expect(p.steps[6].uffdRead).toBe('p');
  });

  it('refuses a write that expects to wait on a sync-mode userfault', () => {
    expect(() =>
      plan(`  - { op: uffd, proc: p }
  - { op: uffd_register, proc: p, addr: buf, len: 8K }
  - { op: uffd_writeprotect, proc: p, addr: buf, len: 8K, wp: true }
  - { op: write, proc: p, addr: buf, len: 1, byte: 1, expect: { userfault: true } }
`),
    ).toThrow(NotOracleable);
  });

  it("refuses uffd ops on a child, whose EVENT_FORK context the parent's monitor holds", () => {
    expect(() =>
      plan(`  - { op: uffd, proc: p, features: [event_fork] }
  - { op: uffd_register, proc: p, addr: buf, len: 8K }
  - { op: fork, proc: p, child: c }
  - { op: uffd_writeprotect, proc: c, addr: buf, len: 8K, wp: true }
`),
    ).toThrow(/'c' has no userfaultfd of its own/);
  });
});
