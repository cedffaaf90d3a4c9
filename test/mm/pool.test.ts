import { describe, expect, it } from 'vitest';
import { grown, HandlePool } from '../../src/mm/pool.js';
import { KernelBug } from '../../src/mm/types.js';

/** The smallest pool: rows with a pfn column only. */
class TestPool extends HandlePool {
  pfn = new Float64Array(64);

  constructor() {
    super('test');
  }

  protected growFields(n: number): void {
    this.pfn = grown(this.pfn, n);
  }

  hostBytes(): number {
    return this.baseHostBytes() + this.pfn.byteLength;
  }

  alloc(pfn: number): number {
    const row = this.allocRow();
    this.pfn[row] = pfn;
    return this.handleOf(row);
  }

  free(h: number): void {
    this.freeRow(this.row(h));
  }
}

describe('HandlePool generations', () => {
  it('a row reused more than 2^21 times still hands out exact, valid handles', () => {
    const pool = new TestPool();
    let h = pool.alloc(1);
    const first = h;
    for (let i = 0; i < 2 ** 21 + 10; i++) {
      pool.free(h);
      h = pool.alloc(1);
      if (!Number.isSafeInteger(h)) throw new Error(`handle ${h} after ${i} reuses is not exact`);
    }
    expect(pool.row(h)).toBe(0);
    // The generation wrapped: the handle is a small one again, and the previous handle is stale.
    expect(h).toBeLessThan(first + 2 ** 32 * 20);
    pool.free(h);
    expect(() => pool.row(h)).toThrow(KernelBug);
  });
});
