import { describe, expect, it } from 'vitest';
import { ConfigError, Machine } from '../../src/index.js';
import { MT } from '../../src/mm/memdesc.js';

describe('boot', () => {
  it('hands all but the reserved ranges to the buddy allocator', () => {
    const m = new Machine({ memory: '512M', check: 'full' });
    const reservedPages = (1 << 20) / 4096 + (16 << 20) / 4096;
    expect(m.meminfo().MemTotal).toBe(512 * 1024 - reservedPages * 4);
    expect(m.meminfo().MemFree).toBe(m.meminfo().MemTotal);
    expect(m.page(0).type).toBe('reserved');
    expect(m.page(m.zeroPfn).type).toBe('zero');
    m.check('full');
  });

  it('allocates the memmap only for sections that hold something other than free memory', () => {
    const m = new Machine({ memory: '1T' });
    expect(m.sections()).toEqual({ populated: 1, total: 8192 });
    expect(m.kernel.pa.memmap.type(1 << 20)).toBe(MT.BUDDY);
    // A user folio comes from ZONE_NORMAL (above 4 GiB): its section gets a memmap ...
    const h = m.folioAlloc(0);
    expect(m.page(m.folioPfn(h)).zone).toBe('Normal');
    expect(m.sections().populated).toBe(2);
    // ... which it gives back once the section is entirely free again.
    m.folioPut(h);
    expect(m.sections().populated).toBe(1);
    m.check('full');
  });

  it('rejects bad configurations with a ConfigError', () => {
    expect(() => new Machine({ memory: '12Q' })).toThrow(ConfigError);
    expect(() => new Machine({ memory: '100M' })).toThrow(/multiple of the 128M section/);
    expect(() => new Machine({ memory: '1G', nodes: 0 })).toThrow(ConfigError);
  });
});
