import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/mm/machine.js';

describe('smoke', () => {
  it('boots and allocates', () => {
    const m = new Machine({ memory: '512M', check: 'full' });
    const before = m.meminfo().MemFree;
    const p = m.allocPages(0);
    const h = m.folioAlloc(9);
    const a = m.kmalloc(100);
    const pt = m.pagetableAlloc(1);
    m.check('full');
    m.freePages(p, 0);
    m.folioPut(h);
    m.kfree(a);
    m.pagetableFree(pt);
    m.check('full');
    expect(m.meminfo().MemFree).toBe(before);
    console.log(m.meminfo(), m.buddyinfo(), m.accounting()[0], m.hostBytes(), m.sections());
  });
});
