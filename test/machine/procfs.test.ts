import { describe, expect, it } from 'vitest';
import { Machine } from '../../src/index.js';

const PAGE = 4096;

describe('/proc/meminfo and /proc/vmstat use Linux names and meanings', () => {
  it('AnonPages counts mapped anon pages (NR_ANON_MAPPED), AnonHugePages the PMD-mapped ones', () => {
    const m = new Machine({ memory: '1G', check: 'full', thp: 'madvise' });
    const p = m.spawn('p');
    const buf = m.mmap(p, { length: 2 * PAGE, prot: 'rw', flags: ['private', 'anonymous'] });
    m.write(p, buf, { byte: 1, len: 2 * PAGE });
    expect(m.meminfo()).toMatchObject({ AnonPages: 8, AnonHugePages: 0 });
    expect(m.vmstat().nr_anon_pages).toBe(2);
    const huge = m.mmap(p, { length: 2 << 20, prot: 'rw', flags: ['private', 'anonymous'] });
    m.madvise(p, huge, 2 << 20, 'hugepage');
    m.write(p, huge, { byte: 1, len: 1 });
    expect(m.meminfo()).toMatchObject({ AnonPages: 8 + 2048, AnonHugePages: 2048 });
    expect(m.vmstat().nr_anon_transparent_hugepages).toBe(1);
    // A partial munmap splits the PMD: the rest stays mapped by PTEs, no longer AnonHugePages.
    m.munmap(p, huge, PAGE);
    expect(m.meminfo()).toMatchObject({ AnonPages: 8 + 2044, AnonHugePages: 0 });
    // A page pinned and then unmapped is still anon memory, but nobody maps it.
    const pin = m.pinUserPages(p, buf, 1, ['write', 'longterm']);
    m.munmap(p, buf, PAGE);
    expect(m.meminfo().AnonPages).toBe(4 + 2044);
    expect(m.meminfo().pagelab_AnonUnmapped).toBe(4 + 4);
    m.unpinUserPages(pin.id);
  });

  it('Shmem and Cached count shared anonymous memory; a write reuse is pgreuse; pins are nr_foll_pin_*', () => {
    const m = new Machine({ memory: '512M', check: 'full' });
    const p = m.spawn('p');
    const shm = m.mmap(p, { length: PAGE, prot: 'rw', flags: ['shared', 'anonymous'] });
    m.write(p, shm, { byte: 1, len: 1 });
    expect(m.meminfo()).toMatchObject({ Shmem: 4, Cached: 4, AnonPages: 0 });
    const buf = m.mmap(p, { length: PAGE, prot: 'rw', flags: ['private', 'anonymous'] });
    m.write(p, buf, { byte: 1, len: 1 });
    const c = m.fork(p);
    m.exit(c);
    m.write(p, buf, { byte: 2, len: 1 });
    expect(m.vmstat()).toMatchObject({ pgreuse: 1, pagelab_cow_copy: 0 });
    m.unpinUserPages(m.pinUserPages(p, buf, 1, ['write', 'longterm']).id);
    expect(m.vmstat()).toMatchObject({ nr_foll_pin_acquired: 1, nr_foll_pin_released: 1 });
    expect(Object.keys(m.vmstat()).filter((k) => /^(cow_|foll_pin|kmalloc$)/.test(k))).toEqual([]);
  });

  it('Slab includes large kmalloc pages (kmalloc_large accounts NR_SLAB_UNRECLAIMABLE_B)', () => {
    const m = new Machine({ memory: '512M', check: 'full' });
    const a = m.kmalloc(64 * 1024);
    expect(m.meminfo()).toMatchObject({ Slab: 64, SUnreclaim: 64, SReclaimable: 0 });
    expect(m.vmstat().nr_slab_unreclaimable).toBe(16);
    m.kfree(a);
    expect(m.meminfo().Slab).toBe(0);
  });
});
