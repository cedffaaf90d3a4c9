/**
 * The fast path of parseScenario: the `steps:` section through the recogniser of fast_yaml.ts,
 * the few lines around it (name, machine...) through `yaml` as usual, and a source map that knows
 * where each step starts and finds anything inside a step by reading that step again. Valid files
 * never pay for a source range per node; anything unsure, and every error, goes the slow way.
 */
import { isMap, isScalar, type Scalar } from 'yaml';
import type { Path, Pos } from './diagnostics.js';
import { notSure, type PosNode, StepScanner, unlessUnsure } from './fast_yaml.js';
import { type Locator, SourceMap } from './source_map.js';
import { readDocument } from './yaml_doc.js';

/** `steps:` at the start of a line with nothing after it but a comment. */
const STEPS_KEY = /^steps:(?:[ ]+#[^\n]*)?[ ]*$/m;

/** A document the fast path takes: everything but the steps, and a way to read the steps one by one. */
export interface FastDocument {
  /** The document, its `steps` key null (the steps come from scan). */
  data: Record<string, unknown>;
  map: Locator;
  /**
   * Read the steps in order, each handed to `visit` as soon as it is read (so nothing needs to
   * hold them all but what the caller keeps); false if the recogniser turned out unsure of one.
   */
  scan(visit: (step: unknown, i: number) => void): boolean;
}

/**
 * The document, or undefined when the fast path is unsure of it or the rest of the document has
 * problems (the slow path then reports them).
 */
export function fastDocument(text: string): FastDocument | undefined {
  if (/[\t\r\ufeff]/.test(text)) return undefined;
  const key = STEPS_KEY.exec(text);
  if (!key) return undefined;
  const afterKey = key.index + 'steps:'.length;
  const from = text.indexOf('\n', afterKey);
  if (from < 0) return undefined;
  // Where the steps end: the next line that starts with something other than a space or a
  // comment. The scan checks that the sequence ends just there.
  NEXT_TOP.lastIndex = from;
  const next = NEXT_TOP.exec(text);
  const end = next ? next.index + 1 : text.length;
  // The rest keeps every line and column: the steps section becomes as many empty lines (or is
  // cut when last). Not spaces: yaml would read megabytes of them for nothing.
  const head =
    end >= text.length
      ? `${text.slice(0, afterKey)}\n`
      : text.slice(0, afterKey) + '\n'.repeat(newlines(text, afterKey, end)) + text.slice(end);
  const doc = readDocument(head);
  if (!doc.ok || !isRecord(doc.data) || !isMap(doc.doc.contents)) return undefined;
  // The line found must be the top level's steps key, not text inside a quoted scalar.
  const pair = doc.doc.contents.items.find((p) => isScalar(p.key) && p.key.value === 'steps');
  if (!pair || (pair.key as Scalar).range?.[0] !== key.index) return undefined;
  const where: StepsWritten = { seq: 0, starts: [] };
  return {
    data: doc.data,
    map: new FastSourceMap(text, new SourceMap(doc.doc, doc.lines), where),
    scan: (visit) => unlessUnsure(() => scanSteps(text, from, end, where, visit)) ?? false,
  };
}

function newlines(text: string, from: number, to: number): number {
  let n = 0;
  for (let i = text.indexOf('\n', from); i >= 0 && i < to; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

/** A newline followed by a character that starts a top-level line (not a space, newline or #). */
const NEXT_TOP = /\n[^ \n#]/g;

/** The document's data with every step and its source map (what the tests compare with yaml's). */
export function fastParse(text: string): { data: Record<string, unknown>; map: Locator } | undefined {
  const doc = fastDocument(text);
  if (!doc) return undefined;
  const steps: unknown[] = [];
  if (!doc.scan((step) => steps.push(step))) return undefined;
  // The key where it is written: JSON keeps key order.
  return { data: { ...doc.data, steps }, map: doc.map };
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Where the steps are written: the sequence's first dash, and each step's node (after its dash). */
interface StepsWritten {
  seq: number;
  starts: number[];
}

/** The items of the block sequence after `steps:` (from the newline ending that line) up to `end`. */
function scanSteps(
  text: string,
  from: number,
  end: number,
  where: StepsWritten,
  visit: (step: unknown, i: number) => void,
): true {
  const s = new StepScanner(text);
  s.offset = from + 1;
  const dash = s.nextContent();
  if (dash <= 0) notSure(); // no items, or a sequence at column 0: left to yaml
  where.seq = s.offset + dash;
  let i = 0;
  for (let indent = dash; indent === dash; indent = s.nextContent()) {
    if (text[s.offset + indent] !== '-') notSure();
    const value = s.item(indent);
    where.starts.push(s.itemStart);
    visit(value, i++);
  }
  // The next thing at the top level (a key), or the end; anything else is left to yaml.
  const at = s.nextContent() === -1 ? text.length : s.offset;
  if (at !== end) notSure();
  return true;
}

/** Where things are in a file read by the fast path; the same answers as SourceMap gives. */
class FastSourceMap implements Locator {
  private lineStarts: number[] | undefined;
  /** The line posOf found last (0-based). */
  private lastLine = 0;

  constructor(
    private readonly text: string,
    /** The document with its steps section blank: right for everything outside it. */
    private readonly head: SourceMap,
    /** Filled in as the steps are read. */
    private readonly steps: StepsWritten,
  ) {}

  at(path: Path): Pos {
    if (path[0] !== 'steps') return this.head.at(path);
    // A step itself (every step asks, in order): its node's offset, no walk.
    const start = path.length === 2 && typeof path[1] === 'number' ? this.steps.starts[path[1]] : undefined;
    return this.posOf(start ?? this.walk(path).node);
  }

  keyAt(path: Path, key: string): Pos {
    if (path.length === 0 || path[0] !== 'steps') return this.head.keyAt(path, key);
    const { node, key: keyNode, depth } = this.walk([...path, key]);
    return this.posOf(depth === path.length + 1 && keyNode !== undefined ? keyNode : node);
  }

  /** As SourceMap.walk: the offset of the node at `path` or of its deepest existing ancestor. */
  private walk(path: Path): { node: number; key?: number; depth: number } {
    const i = path[1];
    const { seq, starts } = this.steps;
    if (typeof i !== 'number' || i >= starts.length) return { node: seq, depth: 1 };
    // A negative or fractional index: yaml's walk finds no node there, so offset 0.
    const start = starts[i];
    if (start === undefined) return { node: 0, depth: 2 };
    if (path.length === 2) return { node: start, depth: 2 };
    let node = this.step(start);
    let key: number | undefined;
    let depth = 2;
    for (const seg of path.slice(2)) {
      const entry = node.entries?.get(String(seg));
      if (entry) {
        key = entry.key;
        node = entry.value;
      } else if (node.items && typeof seg === 'number' && seg < node.items.length) {
        const item = node.items[seg];
        if (!item) return { node: 0, depth: depth + 1 };
        node = item;
        key = undefined;
      } else break;
      depth++;
    }
    return { node: node.start, key, depth };
  }

  /** The step at `start` read again, with positions this time (one step, and only on demand). */
  private step(start: number): PosNode {
    const s = new StepScanner(this.text, true);
    s.offset = start;
    s.node(-1);
    return s.tracked;
  }

  /** 1-based line and column, as yaml's LineCounter counts them. */
  private posOf(offset: number): Pos {
    if (!this.lineStarts) {
      this.lineStarts = [0];
      for (let nl = this.text.indexOf('\n'); nl >= 0; nl = this.text.indexOf('\n', nl + 1))
        this.lineStarts.push(nl + 1);
    }
    const ls = this.lineStarts;
    // The steps ask in order: the line after the last one found is the usual answer.
    let lo = this.lastLine;
    if (ls[lo]! <= offset && (lo + 1 >= ls.length || ls[lo + 1]! > offset)) return this.pos(lo, offset);
    lo++;
    if (lo < ls.length && ls[lo]! <= offset && (lo + 1 >= ls.length || ls[lo + 1]! > offset))
      return this.pos(lo, offset);
    lo = 0;
    let hi = ls.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (ls[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return this.pos(lo, offset);
  }

  private pos(line: number, offset: number): Pos {
    this.lastLine = line;
    return { line: line + 1, col: offset - this.lineStarts![line]! + 1 };
  }
}
