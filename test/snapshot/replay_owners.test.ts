import { describe, expect, it } from 'vitest';
import { MT } from '../../src/mm/memdesc.js';
import { classify, FRAME } from '../../src/snapshot/classify.js';
import { machineFromSnapshot } from '../../src/snapshot/replay.js';
import { addSyntheticOwners } from '../../src/snapshot/replay_owners.js';
import { loadedCapture } from './fixture.js';

describe('synthetic owners for a replayed capture', async () => {
  const s = await loadedCapture();
  const c = classify(s);
  const { machine, notes } = machineFromSnapshot(s, c, {}, { owners: { anonPerProcess: 8192 } });
  const k = machine.kernel;
  const anonRows = [...k.folios.liveRows()].filter((r) => k.folios.kind[r] === MT.ANON);

  it('maps every anon folio exactly once, by PTEs, in made-up processes: refcount = mapcount = its pages', () => {
    // The capture's anon and KSM folios, every one of them.
    let captured = 0;
    for (const [key, n] of c.objects)
      if ([FRAME.ANON, FRAME.KSM].includes(Number(key.split(':')[0]) as 8)) captured += n;
    expect(anonRows.length).toBe(captured);
    const bad = anonRows.filter(
      (r) => k.folios.mapcountOf(r) !== k.folios.nrPages(r) || k.folios.refcount[r] !== k.folios.nrPages(r),
    );
    expect(bad).toEqual([]);
    const procs = [...k.processes.values()].filter((p) => p.name.startsWith('snapshot-anon-'));
    expect(procs.length).toBe(Math.ceil(anonRows.length / 8192));
    const rss = procs.reduce((n, p) => n + p.mm.rss[1], 0);
    expect(rss).toBe(anonRows.reduce((n, r) => n + k.folios.nrPages(r), 0));
    // The rmap finds each folio's one mapping.
    expect(machine.rmap(k.folios.pfn[anonRows[0]]).length).toBe(1);
  });

  it('says what is made up', () => {
    expect(notes.at(-1)).toMatch(
      /synthetic owners: .* anon folios mapped once each by \d+ made-up processes/,
    );
  });

  it('the machine with owners passes the full invariant check', () => {
    machine.check('full');
  });

  it('compaction migrates replayed anon folios now that their rmap explains their references (and not without owners)', () => {
    const [withOwners] = machine.compact({ zone: 'Normal' });
    expect(withOwners.migrated).toBeGreaterThan(1000);
    expect(withOwners.failed).toBe(0);
    expect(withOwners.skipped.extra_refs).toBe(0);
    machine.check('full');
    const bare = machineFromSnapshot(s, c).machine;
    const [without] = bare.compact({ zone: 'Normal' });
    expect(without.migrated).toBe(0);
    // Unmapped, the placed folios are on no LRU: isolate_migratepages_block passes them over.
    expect(without.skipped.non_lru).toBeGreaterThan(1000);
  });

  it('refuses a bad folio count per process', () => {
    expect(() => addSyntheticOwners(machine, { anonPerProcess: 0 })).toThrow(RangeError);
  });
});
