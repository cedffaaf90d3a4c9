/**
 * Ops of the slab allocator: kmem_cache_create, kmem_cache_alloc, kmem_cache_free, kmalloc, kfree
 * (mm/slub.c, mm/slab_common.c). Objects are named by address; a label of an object names the
 * frame holding it (virt_to_page), and a large kmalloc names all its frames.
 */
import { z } from 'zod';
import type { Machine } from '../../machine/machine.js';
import { kernelPointer, PAGE_SIZE } from '../../mm/types.js';
import { count, hex, labelName, nid, size } from '../fields.js';
import type { Binding } from '../labels.js';
import { defineOp } from '../step.js';
import { analyseCount, asText, repeat } from './bulk.js';

const pfnOf = (addr: number) => Math.floor(addr / PAGE_SIZE);

/** Where an object lives: `0xffff888001234040 (pfn 0x1234)`. */
const objText = (addr: number) => `${kernelPointer(addr)} (pfn ${hex(pfnOf(addr))})`;

function objectBinding(kind: 'object' | 'kmalloc', addr: number, cache?: string): Binding {
  return { kind, value: addr, cache, frames: () => ({ pfn: pfnOf(addr), count: 1 }) };
}

/** A kmalloc above two pages is whole LARGE_KMALLOC pages; the label then names all of them. */
function kmallocBinding(m: Machine, addr: number): Binding {
  const p = m.page(pfnOf(addr));
  if (p.type !== 'large_kmalloc') return objectBinding('kmalloc', addr);
  return { kind: 'kmalloc', value: addr, frames: () => ({ pfn: p.head, count: 1 << p.order }) };
}

export const kmemCacheCreate = defineOp({
  name: 'kmem_cache_create',
  doc: 'kmem_cache_create(name, size): a slab cache; its name becomes a label',
  fields: { name: labelName(), size: size(), reclaimable: z.boolean().optional() },
  binds: { key: 'name', kind: 'cache', memory: false },
  run: (a, { m }) => {
    m.kmemCacheCreate(a.name, a.size, { reclaimable: a.reclaimable });
    const row = m.slabinfo().find((r) => r.name === a.name)!;
    return {
      summary: `${a.name}: ${row.objSize}-byte objects, ${row.objPerSlab} per ${row.pagesPerSlab}-page slab`,
      binding: { kind: 'cache', value: a.name },
    };
  },
});

export const kmemCacheAlloc = defineOp({
  name: 'kmem_cache_alloc',
  doc: 'kmem_cache_alloc(cache): one object',
  fields: {
    cache: labelName(),
    nid: nid().optional(),
    count: count().optional(),
    as: labelName().optional(),
  },
  binds: { key: 'as', kind: 'object', memory: true },
  analyse: (a, ctx) => {
    ctx.use(a.cache, ['cache'], ['cache']);
    analyseCount(a, ctx);
  },
  run: (a, ctx) => {
    const objs = repeat(a.count ?? 1, ctx, () => ctx.m.kmemCacheAlloc(a.cache, { nid: a.nid }));
    const what = objs.length === 1 ? `object ${objText(objs[0])}` : `${objs.length} objects`;
    return {
      summary: `${a.cache} -> ${what}${asText(a.as)}`,
      binding: objectBinding('object', objs[0], a.cache),
    };
  },
});

export const kmemCacheFree = defineOp({
  name: 'kmem_cache_free',
  doc: "kmem_cache_free(cache, obj): cache defaults to the object's own",
  fields: { obj: labelName(), cache: labelName().optional() },
  analyse: (a, ctx) => {
    // A kmalloc object has no cache label of its own, so freeing one this way must name the cache.
    ctx.use(a.obj, a.cache === undefined ? ['object'] : ['object', 'kmalloc'], ['obj']);
    if (a.cache !== undefined) ctx.use(a.cache, ['cache'], ['cache']);
  },
  run: (a, { m, labels }) => {
    const b = labels.get(a.obj);
    const cache = a.cache ?? b.cache!;
    m.kmemCacheFree(cache, b.value as number);
    return { summary: `${a.obj} ${kernelPointer(b.value as number)} to ${cache}` };
  },
});

export const kmalloc = defineOp({
  name: 'kmalloc',
  doc: 'kmalloc(size): a kmalloc-N slab object, or whole pages above two pages',
  fields: { size: size(), nid: nid().optional(), count: count().optional(), as: labelName().optional() },
  binds: { key: 'as', kind: 'kmalloc', memory: true },
  analyse: analyseCount,
  run: (a, ctx) => {
    const { m } = ctx;
    const addrs = repeat(a.count ?? 1, ctx, () => m.kmalloc(a.size, { nid: a.nid }));
    const p = m.page(pfnOf(addrs[0]));
    const from =
      p.type === 'large_kmalloc' ? `large kmalloc, order ${p.order}` : p.flagNames.replace(/^slab:/, '');
    const what = addrs.length === 1 ? objText(addrs[0]) : `${addrs.length} objects`;
    return {
      summary: `${a.size} bytes -> ${from}: ${what}${asText(a.as)}`,
      binding: kmallocBinding(m, addrs[0]),
    };
  },
});

export const kfree = defineOp({
  name: 'kfree',
  doc: 'kfree(obj): free a kmalloc or slab object, or large-kmalloc pages',
  fields: { obj: labelName() },
  analyse: (a, ctx) => void ctx.use(a.obj, ['kmalloc', 'object'], ['obj']),
  run: (a, { m, labels }) => {
    const addr = labels.num(a.obj);
    m.kfree(addr);
    return { summary: `${a.obj} ${kernelPointer(addr)}` };
  },
});

export const SLAB_OPS = [kmemCacheCreate, kmemCacheAlloc, kmemCacheFree, kmalloc, kfree];
