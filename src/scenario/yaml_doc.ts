/**
 * YAML text to plain data with `yaml`, every node's source range kept, or the first problem with
 * the document itself: a syntax error, nesting past MAX_NESTING, an undefined alias or an alias
 * bomb. Nothing about scenarios here; parse.ts checks what the data says.
 */
import { type Document, isCollection, LineCounter, parseDocument, visit } from 'yaml';
import type { Pos } from './diagnostics.js';

export const MAX_NESTING = 64;
/** Aliases are allowed (an anchored step reused), but each may be expanded only so often. */
export const MAX_ALIAS_COUNT = 1000;

export interface DocProblem {
  pos: Pos;
  message: string;
}

export type ReadDocument =
  | { ok: true; doc: Document; lines: LineCounter; data: unknown }
  | { ok: false; problems: DocProblem[] };

export function readDocument(text: string): ReadDocument {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const problems = doc.errors.map((e) => {
      const { line, col } = lines.linePos(e.pos[0]);
      const msg = e.message.split('\n')[0];
      const message = /call stack/i.test(msg) ? `nesting deeper than ${MAX_NESTING} levels` : msg;
      return { pos: { line, col }, message };
    });
    return { ok: false, problems };
  }
  const hostile = hostileStructure(doc, lines);
  if (hostile) return { ok: false, problems: [hostile] };
  try {
    return { ok: true, doc, lines, data: doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) };
  } catch (e) {
    if (!(e instanceof ReferenceError || e instanceof RangeError)) throw e;
    const pos = firstAlias(doc, lines, e.message);
    const message = /resource exhaustion|alias count/i.test(e.message)
      ? `aliases expand past ${MAX_ALIAS_COUNT} nodes (an alias bomb?)`
      : e.message.split('\n')[0];
    return { ok: false, problems: [{ pos, message }] };
  }
}

/** Collections nested deeper than MAX_NESTING, found without recursion. */
function hostileStructure(doc: Document, lines: LineCounter): DocProblem | undefined {
  const stack: [unknown, number][] = [[doc.contents, 1]];
  while (stack.length) {
    const [node, depth] = stack.pop()!;
    if (!isCollection(node)) continue;
    if (depth > MAX_NESTING) {
      const { line, col } = lines.linePos(node.range?.[0] ?? 0);
      return { pos: { line, col }, message: `nesting deeper than ${MAX_NESTING} levels` };
    }
    for (const item of node.items as unknown[]) {
      const pair = item as { key?: unknown; value?: unknown };
      if (pair && typeof pair === 'object' && 'value' in pair) stack.push([pair.value, depth + 1]);
      else stack.push([item, depth + 1]);
    }
  }
  return undefined;
}

/** Where the alias an error is about is written: the one it names, else the first. */
function firstAlias(doc: Document, lines: LineCounter, message: string): Pos {
  let first: number | undefined;
  let named: number | undefined;
  visit(doc, {
    Alias(_, node) {
      const at = node.range?.[0] ?? 0;
      first ??= at;
      if (named === undefined && message.includes(`: ${node.source}`)) named = at;
    },
  });
  const { line, col } = lines.linePos(named ?? first ?? 0);
  return { line, col };
}
