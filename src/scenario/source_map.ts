/**
 * From a path in the parsed data back to a line and column of the YAML text, so every problem
 * can be reported where it was written.
 */
import { type Document, isMap, isPair, isScalar, isSeq, type LineCounter, type Node } from 'yaml';
import type { Path, Pos } from './diagnostics.js';

/** Where a path of the document is written: its value, or a key of the map at a path. */
export interface Locator {
  at(path: Path): Pos;
  keyAt(path: Path, key: string): Pos;
}

export class SourceMap implements Locator {
  constructor(
    private readonly doc: Document,
    private readonly lines: LineCounter,
  ) {}

  private posOf(offset: number): Pos {
    const { line, col } = this.lines.linePos(offset);
    return { line, col };
  }

  /** The node at `path`, or the deepest ancestor that exists (a missing key points at its map). */
  private walk(path: Path): { node: Node | null; keyNode?: Node; depth: number } {
    let node = this.doc.contents as Node | null;
    let keyNode: Node | undefined;
    let depth = 0;
    for (const seg of path) {
      if (isMap(node)) {
        const pair = node.items.find(
          (p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg),
        );
        if (!pair) break;
        keyNode = pair.key as Node;
        // `key:` with nothing after it has no value node: point at the key.
        node = (pair.value as Node | null) ?? keyNode;
      } else if (isSeq(node) && typeof seg === 'number' && seg < node.items.length) {
        node = node.items[seg] as Node;
        keyNode = undefined;
      } else break;
      depth++;
    }
    return { node, keyNode, depth };
  }

  /** Where the value at `path` is written. */
  at(path: Path): Pos {
    const { node } = this.walk(path);
    return this.posOf(node?.range?.[0] ?? 0);
  }

  /** Where the key `key` of the map at `path` is written (for unknown keys). */
  keyAt(path: Path, key: string): Pos {
    const { node, keyNode, depth } = this.walk([...path, key]);
    const found = depth === path.length + 1 ? keyNode : node;
    return this.posOf(found?.range?.[0] ?? 0);
  }
}
