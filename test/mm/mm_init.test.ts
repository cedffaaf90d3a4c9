import { describe, expect, it } from 'vitest';
import { ConfigError, Machine } from '../../src/index.js';
import { MT } from '../../src/mm/memdesc.js';
import { findFreeBlock } from '../../src/mm/page_isolation.js';
import { KernelError, MAX_PAGE_ORDER, PAGES_PER_SECTION } from '../../src/mm/types.js';

/**
 * A PC-like memory map: 636 KiB of low memory from 4 KiB (page 0 and the ISA hole 640K–1M are
 * not RAM), RAM from 1 MiB to 2 GiB, a hole to 4 GiB (PCI), 1 GiB above 4 GiB.
 */
const PC_MAP = [
  { start: '4K', size: '636K' },
  { start: '1M', size: '2047M' },
  { start: '4G', size: '1G' },
];
const G4 = (4 * 2 ** 30) / 4096;

/** Take every free page with alloc_pages(), largest orders first; returns the PFNs handed out. */
function drain(m: Machine): number[] {
  const pfns: number[] = [];
  for (let order = MAX_PAGE_ORDER; order >= 0; order--) {
    for (;;) {
      try {
        const pfn = m.allocPages(order);
        for (let i = 0; i < 1 << order; i++) pfns.push(pfn + i);
      } catch (e) {
        if (e instanceof KernelError) break;
        throw e;
      }
    }
  }
  return pfns;
}

describe('a memory map with holes (calculate_node_totalpages, init_unavailable_range)', () => {
  const m = new Machine({ memory: PC_MAP, check: 'full' });

  it("zones are x86-64's clamped to the RAM; spanned counts the holes, present does not (hand-computed)", () => {
    const zi = m.zoneinfo().map(({ zone, startPfn, spanned, present, managed }) => ({
      zone,
      startPfn,
      spanned,
      present,
      managed,
    }));
    expect(zi).toEqual([
      // DMA starts at the node's first RAM page (1) and ends at 16 MiB; RAM: 1..160 and 256..4096;
      // the first MiB is reserved (default), so only 256..4096 is managed.
      { zone: 'DMA', startPfn: 1, spanned: 4095, present: 159 + 3840, managed: 3840 },
      // DMA32 spans 16 MiB..4 GiB although RAM ends at 2 GiB; the kernel's 16 MiB are reserved.
      { zone: 'DMA32', startPfn: 4096, spanned: G4 - 4096, present: 2 ** 19 - 4096, managed: 2 ** 19 - 8192 },
      { zone: 'Normal', startPfn: G4, spanned: 2 ** 18, present: 2 ** 18, managed: 2 ** 18 },
    ]);
    expect(m.meminfo().MemTotal).toBe((3840 + 2 ** 19 - 8192 + 2 ** 18) * 4);
  });

  it('pfn_valid() is false in a section with no RAM, true (and reserved) for a non-RAM frame of a section with RAM', () => {
    const mm = m.kernel.pa.memmap;
    expect(mm.pfnValid(2 ** 19)).toBe(false); // 2 GiB: the first frame of the PCI hole
    expect(mm.pfnValid(G4 - 1)).toBe(false);
    expect(mm.pfnValid(G4)).toBe(true);
    expect(mm.pfnValid(2 ** 19 - 1)).toBe(true);
    // 640K..1M lies in section 0, which has RAM: its struct pages exist and are PageReserved.
    expect(mm.pfnValid(0xa0)).toBe(true);
    expect(m.page(0xa0).type).toBe('reserved');
    expect(m.page(0).type).toBe('reserved');
    expect(() => m.page(2 ** 19)).toThrow(/hole/);
    expect(() => m.page(2 ** 19)).toThrow(ConfigError);
    // explain prints dump_page(), which says the same.
    expect(() => m.dumpPage(G4 - 1)).toThrow(/hole .*pfn_valid\(\) is false/);
    expect(m.census().presentPages).toBe((16 + 8) * PAGES_PER_SECTION);
  });

  it('allocations never return a frame of a hole: draining the machine hands out exactly the free RAM', () => {
    const d = new Machine({ memory: PC_MAP });
    const free = d.meminfo().MemFree / 4;
    const pfns = drain(d);
    expect(pfns.length).toBe(free);
    const ram = (p: number) =>
      (p >= 1 && p < 160) || (p >= 256 && p < 2 ** 19) || (p >= G4 && p < G4 + 2 ** 18);
    expect(pfns.filter((p) => !ram(p) || p < 256)).toEqual([]);
    expect(new Set(pfns).size).toBe(pfns.length);
    d.check('full');
  });

  it('a free block never merges across a hole or a zone boundary', () => {
    const d = new Machine({ memory: PC_MAP });
    // The last max-order block below the PCI hole and the DMA/DMA32 boundary at 16 MiB.
    const last = 2 ** 19 - 1024;
    expect(findFreeBlock(d.kernel.pa, last)).toEqual({ pfn: last, order: MAX_PAGE_ORDER });
    expect(findFreeBlock(d.kernel.pa, 4095)).toEqual({ pfn: 3072, order: MAX_PAGE_ORDER });
    expect(d.page(3072).zone).toBe('DMA');
    expect(d.page(4096).zone).toBe('DMA32');
  });

  it('refuses a map whose ranges overlap, are out of order or are not whole pages; nodes must be 1', () => {
    expect(
      () =>
        new Machine({
          memory: [
            { start: '1G', size: '1G' },
            { start: '1500M', size: '1G' },
          ],
        }),
    ).toThrow(/memory\[1\]\.start: .* overlaps/);
    expect(() => new Machine({ memory: [{ start: 0, size: '1000' }] })).toThrow(/whole pages/);
    expect(() => new Machine({ memory: [] })).toThrow(ConfigError);
    expect(() => new Machine({ memory: PC_MAP, nodes: 2 })).toThrow(/one node/);
  });

  it('ZONE_MOVABLE takes the top of RAM, and CMA the top of the RAM of its zone (not the hole above it)', () => {
    const d = new Machine({ memory: PC_MAP, movable: '512M', cma: '64M', check: 'full' });
    const zi = d.zoneinfo();
    expect(zi.map((z) => [z.zone, z.startPfn, z.endPfn])).toEqual([
      ['DMA', 1, 4096],
      ['DMA32', 4096, G4],
      ['Normal', G4, G4 + 2 ** 17],
      ['Movable', G4 + 2 ** 17, G4 + 2 ** 18],
    ]);
    const cma = zi.find((z) => z.cma > 0)!;
    expect(cma.zone).toBe('Normal');
    d.check('full');
  });
});

describe('deferred struct page init (CONFIG_DEFERRED_STRUCT_PAGE_INIT)', () => {
  const config = { memory: '2G', deferredInit: true, check: 'full' as const };

  it('defer_init(): boot initialises one section of the highest zone; the rest is present, not managed, not free', () => {
    const m = new Machine({ memory: '8G', deferredInit: true });
    const [dma32, normal] = m.zoneinfo();
    // The lower zone is always initialised ("address-constrained allocations").
    expect(dma32.deferred).toBe(0);
    expect(normal.present).toBe(2 ** 20);
    expect(normal.managed).toBe(PAGES_PER_SECTION);
    expect(normal.deferred).toBe(2 ** 20 - PAGES_PER_SECTION);
    expect(m.kernel.pa.nodes[0].firstDeferredPfn).toBe(G4 + PAGES_PER_SECTION);
    expect(m.meminfo().MemTotal).toBe((dma32.managed + PAGES_PER_SECTION) * 4);
    expect(m.kernel.pa.memmap.type(G4 + PAGES_PER_SECTION)).toBe(MT.NONE);
    m.check('full');
  });

  it('deferred_grow_zone(): an allocation the zone cannot serve initialises one more section, from first_deferred_pfn', () => {
    const m = new Machine({ memory: '8G', deferredInit: true, check: 'full' });
    const z = () => m.zoneinfo().at(-1)!;
    const first = m.kernel.pa.nodes[0].firstDeferredPfn;
    expect(z().managed).toBe(PAGES_PER_SECTION);
    // Take the initialised section, then one more page: the zone grows by exactly one section.
    for (let i = 0; i < PAGES_PER_SECTION / 1024; i++) m.allocPages(10);
    expect(z().free).toBe(0);
    const pfn = m.allocPages(0);
    expect(z().managed).toBe(2 * PAGES_PER_SECTION);
    expect(pfn).toBeGreaterThanOrEqual(first);
    expect(pfn).toBeLessThan(first + PAGES_PER_SECTION);
    expect(m.kernel.pa.nodes[0].firstDeferredPfn).toBe(first + PAGES_PER_SECTION);
    m.check('full');
  });

  it('draining a deferred machine grows the zone section by section until it hands out every page a plain boot has', () => {
    const m = new Machine({ memory: '256M', deferredInit: true });
    // 256 MiB is one DMA32 zone: two sections, the second deferred.
    expect(m.zoneinfo()[0].deferred).toBe(PAGES_PER_SECTION);
    const pfns = drain(m);
    expect(m.zoneinfo()[0].deferred).toBe(0);
    const plain = drain(new Machine({ memory: '256M' }));
    expect(pfns.length).toBe(plain.length);
  });

  it('page_alloc_init_late(): the deferred init thread frees everything left; first_deferred_pfn becomes ULONG_MAX', () => {
    const m = new Machine(config);
    const deferred = m.zoneinfo().at(-1)!.deferred;
    const before = m.meminfo().MemFree;
    expect(m.pageAllocInitLate()).toBe(deferred);
    expect(m.zoneinfo().at(-1)!.deferred).toBe(0);
    expect(m.meminfo().MemFree).toBe(before + deferred * 4);
    expect(m.kernel.pa.nodes[0].firstDeferredPfn).toBe(Number.POSITIVE_INFINITY);
    // The machine reads as one booted without deferral.
    const plain = new Machine({ memory: '2G' });
    expect(m.buddyinfo()).toEqual(plain.buddyinfo());
    expect(m.zoneinfo()).toEqual(plain.zoneinfo());
    expect(m.pageAllocInitLate()).toBe(0);
    m.check('full');
  });

  it('a deferred section holding reserved frames keeps them reserved and frees the rest when it is initialised', () => {
    const reserved = [
      { start: 0, size: '1M' },
      { start: '16M', size: '16M' },
      { start: '1600M', size: '8K' },
    ];
    const m = new Machine({ memory: '2G', deferredInit: true, reserved, check: 'full' });
    const pfn = (1600 * 2 ** 20) / 4096;
    expect(m.page(pfn).type).toBe('reserved');
    expect(m.kernel.pa.memmap.type(pfn + 2)).toBe(MT.NONE);
    m.check('full');
    m.pageAllocInitLate();
    expect(m.page(pfn + 1).type).toBe('reserved');
    expect(m.page(pfn + 2).type).toBe('buddy');
    const plain = new Machine({ memory: '2G', reserved });
    expect(m.zoneinfo()).toEqual(plain.zoneinfo());
    m.check('full');
  });

  it('uninitialised struct pages are counted apart in the accounting: the memmap exists, its bytes are not yet written', () => {
    const m = new Machine({ memory: '8G', deferredInit: true, design: 'struct-page' });
    const acc = m.accounting().find((a) => a.layout === 'struct-page')!;
    const deferred = m.zoneinfo().at(-1)!.deferred;
    expect(acc.memmapBytes).toBe(2 ** 21 * 64);
    expect(acc.memmapInitialisedBytes).toBe((2 ** 21 - deferred) * 64);
  });
});
