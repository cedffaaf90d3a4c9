/**
 * The fuzzer's kernel-object ops: KSM scans, folio_alloc/folio_put, kmalloc/kfree and
 * vmalloc/vfree, as a module calls them — no reference bytes, only the invariants and the
 * fingerprint watch them.
 */
import type { FuzzOp } from './ops.js';
import { PAGE } from './reference.js';
import type { Prepared, World } from './world.js';

export function prepareKernelObject(w: World, o: FuzzOp): Prepared | undefined {
  switch (o.op) {
    case 'ksm_scan':
      return w.plain({ op: 'ksm_scan' }, () => void w.m.ksmScan());
    case 'folio_alloc':
      if (w.folios.has(o.as)) return undefined;
      return w.plain({ op: 'folio_alloc', order: o.order, as: o.as }, () => {
        w.folios.set(o.as, w.m.folioAlloc(o.order));
      });
    case 'folio_put':
      return w.plain({ op: 'folio_put', folio: o.folio }, () => {
        w.m.folioPut(w.folios.get(o.folio)!);
        w.folios.delete(o.folio);
      });
    case 'kmalloc':
      if (w.kobjs.has(o.as)) return undefined;
      return w.plain({ op: 'kmalloc', size: o.size, as: o.as }, () => {
        w.kobjs.set(o.as, w.m.kmalloc(o.size));
      });
    case 'kfree':
      return w.plain({ op: 'kfree', obj: o.obj }, () => {
        w.m.kfree(w.kobjs.get(o.obj)!);
        w.kobjs.delete(o.obj);
      });
    case 'vmalloc':
      if (w.areas.has(o.as)) return undefined;
      return w.plain({ op: 'vmalloc', size: o.pages * PAGE, as: o.as }, () => {
        w.areas.set(o.as, w.m.vmalloc(o.pages * PAGE));
      });
    case 'vfree':
      return w.plain({ op: 'vfree', area: o.area }, () => {
        w.m.vfree(w.areas.get(o.area)!);
        w.areas.delete(o.area);
      });
    default:
      return undefined;
  }
}
