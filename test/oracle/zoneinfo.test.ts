/**
 * The model's watermark and per-CPU list sizing against this machine's own kernel: given the
 * managed pages of the host's zones, its min_free_kbytes and its CPU count, __setup_per_zone_wmarks,
 * zone_batchsize and zone_highsize (src/mm/pcp.ts) must give what /proc/zoneinfo prints. Reads
 * /proc only (no root, nothing changed).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ZONE, type ZoneId } from '../../src/mm/mmzone.js';
import { minFreeKbytes, setupPerZoneWmarks, zoneBatchsize, zoneHighsize } from '../../src/mm/pcp.js';

interface HostZone {
  name: string;
  id: ZoneId;
  managedPages: number;
  presentPages: number;
  min: number;
  low: number;
  high: number;
  boost: number;
  /** The first CPU's pageset, and how many CPUs print one. */
  batch?: number;
  highMin?: number;
  highMax?: number;
  cpus: number;
}

const IDS: Record<string, ZoneId> = {
  DMA: ZONE.DMA,
  DMA32: ZONE.DMA32,
  Normal: ZONE.NORMAL,
  Movable: ZONE.MOVABLE,
};

/** The zones of node 0 that the model has (DMA, DMA32, Normal, Movable), as /proc/zoneinfo shows them. */
function hostZones(): HostZone[] {
  const out: HostZone[] = [];
  let z: HostZone | undefined;
  for (const line of readFileSync('/proc/zoneinfo', 'utf8').split('\n')) {
    const head = /^Node (\d+), zone\s+(\S+)/.exec(line);
    if (head) {
      z = undefined;
      if (head[1] === '0' && head[2] in IDS) {
        z = {
          name: head[2],
          id: IDS[head[2]],
          managedPages: 0,
          presentPages: 0,
          min: 0,
          low: 0,
          high: 0,
          boost: 0,
          cpus: 0,
        };
        out.push(z);
      }
      continue;
    }
    if (!z) continue;
    if (/^\s+cpu:/.test(line)) z.cpus++;
    // Zone fields are "name value"; a pageset's are "name: value" (its high is pcp->high).
    const field = /^\s+(\w+)\s+(\d+)$/.exec(line);
    const pcp = /^\s+(\w+):\s+(\d+)$/.exec(line);
    if (field) {
      const [, key, value] = field;
      if (key === 'managed') z.managedPages = Number(value);
      else if (key === 'present') z.presentPages = Number(value);
      else if (key === 'min' || key === 'low' || key === 'high' || key === 'boost') z[key] = Number(value);
    } else if (pcp && z.cpus === 1) {
      const [, key, value] = pcp;
      if (key === 'batch') z.batch = Number(value);
      else if (key === 'high_min') z.highMin = Number(value);
      else if (key === 'high_max') z.highMax = Number(value);
    }
  }
  return out;
}

const sysctl = (name: string) => Number(readFileSync(`/proc/sys/vm/${name}`, 'utf8'));

describe("this machine's kernel sizes its watermarks and per-CPU lists as the model does", () => {
  const zones = hostZones();

  it('min, low and high of every zone from min_free_kbytes (__setup_per_zone_wmarks)', () => {
    expect(zones.length).toBeGreaterThan(0);
    // The model's watermark_scale_factor is the default, 10.
    expect(sysctl('watermark_scale_factor')).toBe(10);
    const want = setupPerZoneWmarks(zones, sysctl('min_free_kbytes'));
    const got = zones.map((z) => ({ min: z.min - z.boost, low: z.low - z.boost, high: z.high - z.boost }));
    expect(got).toEqual(want);
  });

  it("min_free_kbytes with THP on: khugepaged's recommended 2 + 3 × 3 pageblocks per zone", () => {
    const thp = /\[(\w+)\]/.exec(readFileSync('/sys/kernel/mm/transparent_hugepage/enabled', 'utf8'))?.[1];
    const kb = sysctl('min_free_kbytes');
    // Set once THP was on since boot (set_recommended_min_free_kbytes never lowers it), else the
    // boot value from the square root; this host boots with THP on (madvise).
    if (thp !== 'never') expect(kb).toBe(minFreeKbytes(zones, true));
    else expect([minFreeKbytes(zones, false), minFreeKbytes(zones, true)]).toContain(kb);
  });

  it('batch, high_min and high_max of every pageset (zone_batchsize, zone_highsize)', () => {
    const withPagesets = zones.filter((z) => z.batch !== undefined);
    expect(withPagesets.length).toBeGreaterThan(0);
    expect(sysctl('percpu_pagelist_high_fraction')).toBe(0);
    const wmarks = setupPerZoneWmarks(zones, sysctl('min_free_kbytes'));
    for (const z of withPagesets) {
      const batch = Math.max(1, zoneBatchsize(z.managedPages));
      expect([z.name, z.batch]).toEqual([z.name, batch]);
      // high_min and high_max are printed since Linux 6.7 (the pcp->high auto-tuning).
      if (z.highMin === undefined) continue;
      const low = wmarks[zones.indexOf(z)].low;
      expect([z.name, z.highMin, z.highMax]).toEqual([
        z.name,
        zoneHighsize(z, low, batch, 0, z.cpus),
        zoneHighsize(z, low, batch, 8, z.cpus),
      ]);
    }
  });
});
