/**
 * A recogniser for the YAML that scenario steps are almost always written in: a block sequence of
 * one-line flow maps (`- { op: write, proc: p, addr: buf+4K }`) or short block maps whose values
 * are scalars or one-line flow collections. It reads such steps 30 times faster than `yaml` (3
 * against 100 µs a step), which builds a CST and an AST with source ranges for every node first.
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
  /** A map's entries: where each key is written, and its value's node. */
  entries?: Map<string, { key: number; value: PosNode }>;
  items?: PosNode[];
}

const SP = 0x20;
const NL = 0x0a;
const HASH = 0x23;
const COLON = 0x3a;
const COMMA = 0x2c;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;

const isFlowIndicator = (c: number) =>
  c === COMMA || c === LBRACKET || c === RBRACKET || c === LBRACE || c === RBRACE;

/** 1 for printable ASCII that is plain inside a scalar: not a space, `:`, `#` or a flow indicator. */
const PLAIN = new Uint8Array(0x80);
for (let c = 0x21; c <= 0x7e; c++) PLAIN[c] = c === COLON || c === HASH || isFlowIndicator(c) ? 0 : 1;

/** What may not start a plain scalar here: `yaml` reads these as indicators (or, `-`, maybe). */
const NOT_FIRST = new Uint8Array(0x80);
for (const c of ',[]{}?:#&*!|>\'"%@`-') NOT_FIRST[c.charCodeAt(0)] = 1;

/** What starts a word key: a letter or `_` (never a number, an indicator or `<<`). */
const WORD_START = new Uint8Array(0x80);
for (let c = 0; c < 0x80; c++) WORD_START[c] = /[A-Za-z_]/.test(String.fromCharCode(c)) ? 1 : 0;

/** Plain scalars that resolve to something other than a string, an int or a bool: left to `yaml`. */
const OTHER_SCALAR = [
  /^0o[0-7]+$/,
  /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+$/,
  /^[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)$/,
  /^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/,
];

/**
 * One string for each plain scalar text seen recently: a file of 100,000 steps writes `op`,
 * `proc: p` and `write` 100,000 times, and the parse keeps every value, so without this it holds
 * (and the young generation copies) 100,000 copies of each. A direct-mapped cache on a hash of
 * the text: a hit compares in place and allocates nothing; long texts are rarely repeated.
 */
const INTERNED = 4096;
const MAX_INTERNED_LENGTH = 32;
const interned: (string | undefined)[] = new Array(INTERNED).fill(undefined);

function intern(text: string, start: number, end: number): string {
  let h = 0;
  for (let j = start; j < end; j++) h = (Math.imul(h, 31) + text.charCodeAt(j)) | 0;
  return internHashed(text, start, end, h);
}

/** intern() with the text's hash already taken (by the loop that found the text's end). */
function internHashed(text: string, start: number, end: number, h: number): string {
  const len = end - start;
  if (len > MAX_INTERNED_LENGTH) return text.slice(start, end);
  const slot = (h ^ (h >>> 12)) & (INTERNED - 1);
  const had = interned[slot];
  if (had !== undefined && had.length === len) {
    let j = 0;
    while (j < len && had.charCodeAt(j) === text.charCodeAt(start + j)) j++;
    if (j === len) return had;
  }
  const s = text.slice(start, end);
  interned[slot] = s;
  return s;
}

/** `[-+]?[0-9]+`: the core schema's int (without a regex: most steps have two or three). */
function isDecimalInt(s: string): boolean {
  let i = s.charCodeAt(0) === 0x2b || s.charCodeAt(0) === 0x2d ? 1 : 0;
  if (i === s.length) return false;
  for (; i < s.length; i++) {
    const d = s.charCodeAt(i);
    if (d < 0x30 || d > 0x39) return false;
  }
  return true;
}

/**
 * Digits only, short enough to be exact: the int the core schema reads (`012` is 12), read in
 * place; undefined for any other text. Most numbers in a step are these (`byte: 7`, `len: 1`).
 */
function decimal(text: string, start: number, end: number): number | undefined {
  if (end - start > 15) return undefined;
  let v = 0;
  for (let j = start; j < end; j++) {
    const d = text.charCodeAt(j) - 0x30;
    if (d < 0 || d > 9) return undefined;
    v = v * 10 + d;
  }
  return end > start ? v : undefined;
}

/** A plain scalar's value as the core schema resolves it (the tag tests of yaml/dist/schema/core). */
function resolvePlain(s: string): unknown {
  const c = s.charCodeAt(0);
  // Only these start a number of the core schema; any other text is a string, null or a bool.
  if ((c >= 0x30 && c <= 0x39) || c === 0x2b || c === 0x2d || c === 0x2e) {
    if (isDecimalInt(s)) return Number.parseInt(s, 10);
    if (/^0x[0-9a-fA-F]+$/.test(s)) return Number.parseInt(s.slice(2), 16);
    for (const re of OTHER_SCALAR) if (re.test(s)) notSure();
    return s;
  }
  if (s === 'null' || s === 'Null' || s === 'NULL' || s === '~') return null;
  if (s === 'true' || s === 'True' || s === 'TRUE') return true;
  if (s === 'false' || s === 'False' || s === 'FALSE') return false;
  return s;
}

/**
 * A map key as `yaml`'s toJS writes it: String() of the key's value. Only keys whose string is
 * their text are taken (`op`, `0`, `10`); `0x10`, `true`, `null` or `<<` are left to `yaml`.
 */
function keyOf(v: unknown, text: string): string {
  if (typeof v === 'string' && text !== '__proto__' && text !== '<<') return v;
  if (typeof v === 'number' && String(v) === text && v <= Number.MAX_SAFE_INTEGER) return text;
  return notSure();
}

export class StepScanner {
  private i = 0;
  /** When tracking: the PosNode of the node just read. */
  private pos: PosNode | undefined;
  /** Where the last item()'s node starts. */
  itemStart = 0;

  constructor(
    private readonly text: string,
    /** Build a PosNode tree alongside the values (on demand, for one step). */
    private readonly track = false,
  ) {}

  get offset(): number {
    return this.i;
  }

  set offset(at: number) {
    this.i = at;
  }

  private code(at = this.i): number {
    return this.text.charCodeAt(at);
  }

  private spaces(): void {
    while (this.text.charCodeAt(this.i) === SP) this.i++;
  }

  /** The rest of a line: spaces, a comment after a space, the newline (or the end). */
  private lineEnd(): void {
    const from = this.i;
    this.spaces();
    if (this.code() === HASH) {
      if (this.i === from) notSure();
      const nl = this.text.indexOf('\n', this.i);
      this.i = nl < 0 ? this.text.length : nl;
    }
    if (this.i < this.text.length && this.code() !== NL) notSure();
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
      if (this.i >= this.text.length) return -1;
      const c = this.code();
      if (c === NL) {
        this.i++;
        continue;
      }
      if (c === HASH) {
        const nl = this.text.indexOf('\n', this.i);
        this.i = nl < 0 ? this.text.length : nl + 1;
        continue;
      }
      const indent = this.i - start;
      this.i = start;
      return indent;
    }
  }

  /**
   * One item of a block sequence whose dashes are at `indent`, from its line's start; returns its
   * value and leaves `this.i` at the start of the next content line, and the offset of the
   * item's node (after the dash) in `itemStart`.
   */
  item(indent: number): unknown {
    this.i += indent + 1; // past the dash
    if (this.code() !== SP) notSure();
    this.spaces();
    this.itemStart = this.i;
    return this.node(indent);
  }

  /** The node at `this.i`, a one-line flow collection or a block map, under a parent at `parent`. */
  node(parent: number): unknown {
    const c = this.code();
    if (c !== LBRACE && c !== LBRACKET)
      return this.blockMap(this.i - this.text.lastIndexOf('\n', this.i - 1) - 1, parent, 0);
    const v = this.flow(0);
    this.lineEnd();
    return v;
  }

  /** The node just read, when tracking. */
  get tracked(): PosNode {
    return this.pos!;
  }

  /** A block map whose keys are at column `col` (0-based) under a parent at `parent`. */
  private blockMap(col: number, parent: number, depth: number): unknown {
    if (depth > MAX_DEPTH || col <= parent) notSure();
    const value: Record<string, unknown> = {};
    const pos: PosNode | undefined = this.track ? { start: this.i, entries: new Map() } : undefined;
    for (;;) {
      const keyAt = this.i;
      const key = this.key(false);
      if (this.code() !== COLON) notSure();
      this.i++;
      const after = this.code();
      if (after !== SP && after !== NL && this.i < this.text.length) notSure();
      this.spaces();
      const c = this.code();
      let v: unknown;
      if (c === NL || c === HASH || this.i >= this.text.length) {
        // The value on the lines below: a nested block map or a one-line flow collection.
        this.lineEnd();
        const indent = this.nextContent();
        if (indent <= col) notSure(); // `key:` with no value: null, left to yaml
        this.i += indent;
        const d = this.code();
        if (d === LBRACE || d === LBRACKET) {
          v = this.flow(depth + 1);
          this.lineEnd();
        } else v = this.blockMap(indent, col, depth + 1);
      } else {
        v = c === LBRACE || c === LBRACKET ? this.flow(depth + 1) : this.scalar(false);
        this.lineEnd();
      }
      if (Object.hasOwn(value, key)) notSure();
      value[key] = v;
      if (pos) pos.entries!.set(key, { key: keyAt, value: this.pos! });
      const indent = this.nextContent();
      if (indent < col) {
        this.pos = pos;
        return value; // the map ends (the caller checks what follows)
      }
      if (indent > col) notSure();
      this.i += indent;
    }
  }

  /** A key: a plain scalar that ends at `: ` (quoted and complex keys are left to yaml). */
  private key(inFlow: boolean): string {
    const start = this.i;
    const c = this.code();
    if (c === 0x27 || c === 0x22) notSure();
    const value = this.scalar(inFlow);
    // A string key's text is its value (a plain scalar, no quotes): only a number needs the text.
    return keyOf(value, typeof value === 'string' ? value : this.text.slice(start, this.i));
  }

  /**
   * The common flow-map key in one pass: a word (a letter or `_`, then plain characters) right
   * before `: `, as key() would read it; undefined, having read nothing, for anything else.
   */
  private flowKey(): string | undefined {
    const text = this.text;
    const start = this.i;
    const c = text.charCodeAt(start);
    if (!(c < 0x80 && WORD_START[c] === 1)) return undefined;
    let j = start + 1;
    let h = c;
    for (let d = text.charCodeAt(j); d < 0x80 && PLAIN[d] === 1; d = text.charCodeAt(++j))
      h = (Math.imul(h, 31) + d) | 0;
    if (text.charCodeAt(j) !== COLON || text.charCodeAt(j + 1) !== SP) return undefined;
    const k = internHashed(text, start, j, h);
    if (resolvePlain(k) !== k || k === '__proto__') return undefined;
    this.i = j;
    return k;
  }

  /** A flow collection on one line, at `this.i` (`{` or `[`). */
  private flow(depth: number): unknown {
    if (depth > MAX_DEPTH) notSure();
    const start = this.i;
    const isMap = this.code() === LBRACE;
    const close = isMap ? RBRACE : RBRACKET;
    this.i++;
    this.spaces();
    const map: Record<string, unknown> | undefined = isMap ? {} : undefined;
    const seq: unknown[] | undefined = isMap ? undefined : [];
    const pos: PosNode | undefined = this.track
      ? isMap
        ? { start, entries: new Map() }
        : { start, items: [] }
      : undefined;
    if (this.code() !== close)
      for (;;) {
        if (map) {
          const keyAt = this.i;
          const key = this.flowKey() ?? this.key(true);
          if (this.code() !== COLON || this.code(this.i + 1) !== SP) notSure();
          this.i += 2;
          this.spaces();
          const v = this.flowValue(depth);
          if (Object.hasOwn(map, key)) notSure();
          map[key] = v;
          if (pos) pos.entries!.set(key, { key: keyAt, value: this.pos! });
        } else {
          seq!.push(this.flowValue(depth));
          if (pos) pos.items!.push(this.pos!);
        }
        this.spaces();
        const c = this.code();
        if (c === close) break;
        if (c !== COMMA) notSure(); // a `:` in a sequence (an implicit pair), a newline...
        this.i++;
        this.spaces();
        if (this.code() === close) notSure(); // a trailing comma
      }
    this.i++;
    this.pos = pos;
    return map ?? seq;
  }

  private flowValue(depth: number): unknown {
    const c = this.code();
    if (c === LBRACE || c === LBRACKET) return this.flow(depth + 1);
    if (this.track || !(c < 0x80 && PLAIN[c] === 1 && NOT_FIRST[c] === 0)) return this.scalar(true);
    // The common value in one pass: plain characters up to `,`, `}` or `]` (spaces before it
    // allowed); anything else (`a b`, `a #c`, `a:b`) is read again by scalar().
    const text = this.text;
    const start = this.i;
    // The intern hash is taken on the way.
    let j = start + 1;
    let h = c;
    for (let d = text.charCodeAt(j); d < 0x80 && PLAIN[d] === 1; d = text.charCodeAt(++j))
      h = (Math.imul(h, 31) + d) | 0;
    let k = j;
    while (text.charCodeAt(k) === SP) k++;
    const e = text.charCodeAt(k);
    if (e !== COMMA && e !== RBRACE && e !== RBRACKET) return this.scalar(true);
    this.i = j;
    return decimal(text, start, j) ?? resolvePlain(internHashed(text, start, j, h));
  }

  /** A scalar on one line: plain, '' quoted or "" quoted without escapes; printable ASCII only. */
  private scalar(inFlow: boolean): unknown {
    const start = this.i;
    if (this.track) this.pos = { start };
    const q = this.code();
    if (q === 0x27 || q === 0x22) return this.quoted(q);
    // `-1` and `-x` are plain scalars; `- ` and a lone `-` are not (and rare in a value).
    if (Number.isNaN(q) || (q < 0x80 && NOT_FIRST[q] === 1)) {
      const n = this.code(start + 1);
      if (q !== 0x2d || n === SP || n === NL || Number.isNaN(n) || isFlowIndicator(n)) notSure();
    }
    const text = this.text;
    let end = start;
    let j = start;
    for (; j < text.length; j++) {
      const c = text.charCodeAt(j);
      // Most characters of a scalar are printable and none of the ones looked at below.
      if (c < 0x80 && PLAIN[c] === 1) {
        end = j + 1;
        continue;
      }
      if (c === SP) continue;
      if (c === NL) break;
      if (c === COLON) {
        const n = text.charCodeAt(j + 1);
        if (n === SP || n === NL || j + 1 >= text.length) break;
        notSure(); // `a:b` is one plain scalar in YAML; rare enough to leave to yaml
      }
      if (c === HASH) {
        if (text.charCodeAt(j - 1) === SP) break;
        notSure();
      }
      if (c < SP || c > 0x7e) notSure();
      if (isFlowIndicator(c)) {
        if (inFlow) break;
        notSure(); // in block context `a,b` is one scalar; left to yaml
      }
      end = j + 1;
    }
    this.i = end;
    return decimal(text, start, end) ?? resolvePlain(intern(text, start, end));
  }

  /** 'it''s' or "text" (no escapes), on one line. */
  private quoted(q: number): string {
    let out = '';
    let from = this.i + 1;
    for (let j = from; ; j++) {
      const c = this.code(j);
      if (Number.isNaN(c) || c < SP || c > 0x7e || (q === 0x22 && c === 0x5c)) notSure();
      if (c !== q) continue;
      if (q === 0x27 && this.code(j + 1) === 0x27) {
        out += this.text.slice(from, j + 1);
        from = ++j + 1;
        continue;
      }
      this.i = j + 1;
      return out + this.text.slice(from, j);
    }
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
