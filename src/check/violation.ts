/**
 * A broken invariant as data: the rule, where (pfn, pid, address), and a sentence. Collected per
 * check run; the scenario runner prints the dump_page() of the first one's frame, as
 * VM_BUG_ON_FOLIO dumps the folio it fires on.
 */

export interface Violation {
  /** The family of invariant that broke ('folio', 'memmap', 'vm', 'pins', ...). */
  rule: string;
  message: string;
  pfn?: number;
  pid?: number;
  addr?: number;
}

export type Where = Pick<Violation, 'pfn' | 'pid' | 'addr'>;

/** The violations of one check run; `scope(rule)` gives a collector that files under `rule`. */
export class Violations {
  constructor(
    readonly list: Violation[] = [],
    private readonly rule = 'invariant',
  ) {}

  scope(rule: string): Violations {
    return new Violations(this.list, rule);
  }

  push(message: string, where: Where = {}): void {
    this.list.push({ rule: this.rule, message, ...where });
  }

  /** A violation under its own rule name. */
  add(rule: string, message: string, where: Where = {}): void {
    this.list.push({ rule, message, ...where });
  }
}

/** A frame number as the checks print it. */
export const hex = (n: number): string => `0x${n.toString(16)}`;
