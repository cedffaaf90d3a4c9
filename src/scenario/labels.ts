/**
 * Labels: the names a scenario gives to what its steps produce (`as: buf`), so later steps can
 * refer to a frame, a folio, a slab object or a cache without knowing numbers the model chose.
 *
 * Every label has a kind (pages, folio, object, cache, table, frame, and later process, region,
 * pin...). Labels that name memory can be used wherever a page is expected. The parser checks
 * statically that each label is defined before use and of a kind the step accepts; at run time
 * a label keeps its value after the object is freed, so a scenario can show what a use after
 * free does (the model answers with a KernelBug).
 */
import type { Machine } from '../machine/machine.js';

/** What a label names at run time. */
export interface Binding {
  kind: string;
  /** What the step produced: a pfn, a folio handle, an object address, a cache name. */
  value: number | string;
  /**
   * The frames the label names, looked up when asked (a folio is followed through its handle, so
   * a stale handle is reported by the model). Only labels that name memory have it.
   */
  frames?: (m: Machine) => { pfn: number; count: number };
  /** The slab cache an object came from. */
  cache?: string;
}

/** What the parser knows about a label: its kind and where it was defined. */
export interface StaticLabel {
  kind: string;
  memory: boolean;
  line: number;
}

/** The labels bound so far in one run. */
export class Labels {
  private readonly map = new Map<string, Binding>();

  bind(name: string, b: Binding): void {
    this.map.set(name, b);
  }

  has(name: string): boolean {
    return this.map.has(name);
  }

  /** The binding of `name`; the parser guarantees it exists and has the right kind. */
  get(name: string): Binding {
    const b = this.map.get(name);
    if (!b) throw new Error(`label '${name}' is not bound (the parser should have caught this)`);
    return b;
  }

  /** A label's number, typed as the id it names (`num<PinHandle>('p')`); the binding kind vouches for it. */
  num<T extends number = number>(name: string): T {
    return this.get(name).value as T;
  }

  /** Every bound label, in binding order. */
  entries(): [string, Binding][] {
    return [...this.map];
  }
}
