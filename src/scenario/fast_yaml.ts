/**
 * A recogniser for the YAML that scenario steps are almost always written in: a block sequence of
 * one-line flow maps (`- { op: write, proc: p, addr: buf+4K }`) or short block maps whose values
 * are scalars or one-line flow collections. It reads such steps some 20 times faster than `yaml`,
 * which builds a CST and an AST with source ranges for every node before any value exists.
 *
 * It gives exactly the values `yaml` gives (YAML 1.2 core schema) or nothing: at anything it is
 * not sure of (anchors, aliases, tags, escapes, floats, multi-line scalars or flow collections,
 * tabs, duplicate keys, non-ASCII text...) it returns undefined and the caller takes `yaml`'s path.
 * Being sure is cheap; being wrong would change what a scenario means, so the subset is small.
 */

/** Not in the subset: the caller parses the document with `yaml` instead. */
class Unsure extends Error {}
const UNSURE = new Unsure();

/** Deeper than this is left to `yaml` and its own bound (MAX_NESTING). */
const MAX_DEPTH = 16;

/** Where a node is written, and under it where its keys and values are (the step's source map). */
export interface PosNode {
  start: number;
  /** For a map's entries: the key's offset and the value (absent: `key:` with no value). */
  entries?: Map<string, { key: number; value: PosNode }>;
  items?: PosNode[];
}

const SP = 0x20;
const NL = 0x0a;
const HASH = 0x23;
const COLON = 0x3a;

/** Flow indicators, and what else may not start a plain scalar (`yaml` reads them otherwise). */
const FLOW = new Set([',', '[', ']', '{', '}']);
const NOT_FIRST = new Set([...FLOW, '?', ':', '#', '&', '*', '!', '|', '>', "'", '"', '%', '@', '`', '-']);

/** Plain scalars that resolve to something other than a string, an int or a bool: left to `yaml`. */
const OTHER_SCALAR = [
  /^0o[0-7]+$/,
  /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+$/,
  /^[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)$/,
  /^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/,
];

/** A plain scalar's value as the core schema resolves it (the tag tests of yaml/dist/schema/core). */
function resolvePlain(s: string): unknown {
  if (s === 'null' || s === 'Null' || s === 'NULL' || s === '~') return null;
  if (s === 'true' || s === 'True' || s === 'TRUE') return true;
  if (s === 'false' || s === 'False' || s === 'FALSE') return false;
  if (/^[-+]?[0-9]+$/.test(s)) return Number.parseInt(s, 10);
  if (/^0x[0-9a-fA-F]+$/.test(s)) return Number.parseInt(s.slice(2), 16);
  for (const re of OTHER_SCALAR) if (re.test(s)) throw UNSURE;
  return s;
}

/**
 * A map key as `yaml`'s toJS writes it: String() of the key's value. Only keys whose string is
 * their text are taken (`op`, `0`, `10`); `0x10`, `true`, `null` or `<<` are left to `yaml`.
 */
function keyOf(v: unknown, text: string): string {
  if (typeof v === 'string' && text !== '__proto__' && text !== '<<') return v;
  if (typeof v === 'number' && String(v) === text && v <= Number.MAX_SAFE_INTEGER) return text;
  throw UNSURE;
}

export class StepScanner {
  private i = 0;

  constructor(
    private readonly text: string,
    /** Build a PosNode tree alongside the values (on demand, for one step). */
    private readonly track = false,
  ) {}

  private fail(): never {
    return notSure();
  }

  private code(at = this.i): number {
    return this.text.charCodeAt(at);
  }

  private spaces(): void {
    while (this.code() === SP) this.i++;
  }

  /** The rest of a line: spaces, a comment after a space, the newline (or the end). */
  private lineEnd(): void {
    const from = this.i;
    this.spaces();
    if (this.code() === HASH) {
      if (this.i === from) this.fail();
      const nl = this.text.indexOf('\n', this.i);
      this.i = nl < 0 ? this.text.length : nl;
    }
    if (this.i < this.text.length && this.code() !== NL) this.fail();
    if (this.i < this.text.length) this.i++;
  }

  /**
   * From a line start, past blank and comment lines, to the first content line; its indent, or
   * -1 at the end. `this.i` is left at the line's start.
   */
  nextContent(): number {
    for (;;) {
      if (this.i >= this.text.length) return -1;
      const start = this.i;
      this.spaces();
      const c = this.code();
      if (this.i >= this.text.length) return -1;
      if (c === NL) {
        this.i++;
        continue;
      }
      if (c === HASH) {
        this.lineEnd();
        continue;
      }
      const indent = this.i - start;
      this.i = start;
      return indent;
    }
  }

  /**
   * One item of a block sequence whose dashes are at `indent`, from its line's start: its value
   * and, when tracking, its PosNode. Leaves `this.i` at the start of the next content line.
   */
  item(indent: number): { value: unknown; pos?: PosNode; start: number } {
    this.i += indent + 1; // past the dash
    if (this.code() !== SP) this.fail();
    this.spaces();
    const start = this.i;
    return { ...this.node(indent), start };
  }

  /** The node at `this.i`, a one-line flow collection or a block map, under a parent at `parent`. */
  node(parent: number): { value: unknown; pos?: PosNode } {
    const c = this.text[this.i];
    if (c !== '{' && c !== '[') return this.blockMap(this.i - this.text.lastIndexOf('\n', this.i - 1) - 1, parent);
    const r = this.flow(0);
    this.lineEnd();
    return r;
  }

  /** A block map whose keys are at column `col` (0-based) under a parent at `parent`. */
  private blockMap(col: number, parent: number, depth = 0): { value: unknown; pos?: PosNode } {
    if (depth > MAX_DEPTH || col <= parent) this.fail();
    const value: Record<string, unknown> = {};
    const pos: PosNode | undefined = this.track ? { start: this.i, entries: new Map() } : undefined;
    for (;;) {
      const keyAt = this.i;
      const key = this.key(false);
      if (this.code() !== COLON) this.fail();
      this.i++;
      const after = this.code();
      if (after !== SP && after !== NL && this.i < this.text.length) this.fail();
      this.spaces();
      const c = this.code();
      let v: { value: unknown; pos?: PosNode };
      if (c === NL || c === HASH || this.i >= this.text.length) {
        // The value on the lines below: a nested block map or a one-line flow collection.
        this.lineEnd();
        const indent = this.nextContent();
        if (indent <= col) this.fail(); // `key:` with no value: null, left to yaml
        this.i += indent;
        const d = this.text[this.i];
        if (d === '{' || d === '[') {
          v = this.flow(depth + 1);
          this.lineEnd();
        } else v = this.blockMap(indent, col, depth + 1);
      } else {
        v = c === 0x7b || c === 0x5b ? this.flow(depth + 1) : this.scalar(false);
        this.lineEnd();
      }
      if (Object.hasOwn(value, key)) this.fail();
      value[key] = v.value;
      pos?.entries!.set(key, { key: keyAt, value: v.pos! });
      const indent = this.nextContent();
      if (indent < col) return { value, pos }; // the map ends (the caller checks what follows)
      if (indent > col) this.fail();
      this.i += indent;
    }
  }

  /** A key: a plain scalar that ends at `: ` (quoted and complex keys are left to yaml). */
  private key(inFlow: boolean): string {
    const start = this.i;
    const c = this.text[this.i];
    if (c === "'" || c === '"') this.fail();
    const { value } = this.scalar(inFlow);
    return keyOf(value, this.text.slice(start, this.i).trimEnd());
  }

  /** A flow collection on one line, at `this.i` (`{` or `[`). */
  private flow(depth: number): { value: unknown; pos?: PosNode } {
    if (depth > MAX_DEPTH) this.fail();
    const start = this.i;
    const isMap = this.text[this.i] === '{';
    const close = isMap ? '}' : ']';
    this.i++;
    this.spaces();
    const map: Record<string, unknown> = {};
    const seq: unknown[] = [];
    const pos: PosNode | undefined = this.track
      ? isMap
        ? { start, entries: new Map() }
        : { start, items: [] }
      : undefined;
    if (this.text[this.i] === close) {
      this.i++;
      return { value: isMap ? map : seq, pos };
    }
    for (;;) {
      if (isMap) {
        const keyAt = this.i;
        const key = this.key(true);
        if (this.code() !== COLON || this.code(this.i + 1) !== SP) this.fail();
        this.i += 2;
        this.spaces();
        const v = this.flowValue(depth);
        if (Object.hasOwn(map, key)) this.fail();
        map[key] = v.value;
        pos?.entries!.set(key, { key: keyAt, value: v.pos! });
      } else {
        const v = this.flowValue(depth);
        seq.push(v.value);
        pos?.items!.push(v.pos!);
      }
      this.spaces();
      const c = this.text[this.i];
      if (c === close) {
        this.i++;
        return { value: isMap ? map : seq, pos };
      }
      if (c !== ',') this.fail(); // a `:` in a sequence (an implicit pair), a newline...
      this.i++;
      this.spaces();
      if (this.text[this.i] === close) this.fail(); // a trailing comma
    }
  }

  private flowValue(depth: number): { value: unknown; pos?: PosNode } {
    const c = this.text[this.i];
    return c === '{' || c === '[' ? this.flow(depth + 1) : this.scalar(true);
  }

  /** A scalar on one line: plain, '' quoted or "" quoted without escapes; printable ASCII only. */
  private scalar(inFlow: boolean): { value: unknown; pos?: PosNode } {
    const start = this.i;
    const pos = this.track ? { start } : undefined;
    const q = this.text[this.i];
    if (q === "'" || q === '"') {
      let out = '';
      for (let j = this.i + 1; ; j++) {
        const c = this.code(j);
        if (c < SP || c > 0x7e || (q === '"' && c === 0x5c)) this.fail();
        if (this.text[j] !== q) continue;
        if (q === "'" && this.text[j + 1] === "'") {
          out += this.text.slice(this.i + 1, j + 1);
          this.i = ++j;
          continue;
        }
        out += this.text.slice(this.i + 1, j);
        this.i = j + 1;
        return { value: out, pos };
      }
    }
    const next = this.text[this.i + 1];
    if (NOT_FIRST.has(q ?? ',') && !(q === '-' && next !== undefined && /[0-9A-Za-z_.]/.test(next)))
      this.fail();
    let end = this.i;
    for (let j = this.i; j < this.text.length; j++) {
      const c = this.code(j);
      if (c === NL) break;
      if (c === COLON) {
        const n = this.code(j + 1);
        if (n === SP || n === NL || j + 1 >= this.text.length) break;
        this.fail(); // `a:b` is one plain scalar in YAML; rare enough to leave to yaml
      }
      if (c === HASH) {
        if (this.code(j - 1) === SP) break;
        this.fail();
      }
      if (c < SP || c > 0x7e) this.fail();
      if (FLOW.has(this.text[j]!)) {
        if (inFlow) break;
        this.fail(); // in block context `a,b` is one scalar; left to yaml
      }
      if (c !== SP) end = j + 1;
    }
    const s = this.text.slice(start, end);
    this.i = end;
    return { value: resolvePlain(s), pos };
  }

  get offset(): number {
    return this.i;
  }

  set offset(at: number) {
    this.i = at;
  }
}

/** Leave the subset: the caller's unlessUnsure() returns undefined. */
export function notSure(): never {
  throw UNSURE;
}

/** Run `f`, or undefined if the text left the subset. */
export function unlessUnsure<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch (e) {
    if (e instanceof Unsure) return undefined;
    throw e;
  }
}
