/** The fast path's answers against yaml's: the same data, and every position the same. */
import { expect } from 'vitest';
import type { Path } from '../../src/scenario/diagnostics.js';
import { fastParse } from '../../src/scenario/fast_parse.js';
import { SourceMap } from '../../src/scenario/source_map.js';
import { readDocument } from '../../src/scenario/yaml_doc.js';

/** Every path into `v`, with the keys of each map. */
function* paths(v: unknown, at: Path = []): Generator<{ path: Path; keys: string[] }> {
  if (Array.isArray(v)) {
    yield { path: at, keys: [] };
    for (let i = 0; i < v.length; i++) yield* paths(v[i], [...at, i]);
  } else if (v && typeof v === 'object') {
    yield { path: at, keys: Object.keys(v) };
    for (const [k, x] of Object.entries(v)) yield* paths(x, [...at, k]);
  } else yield { path: at, keys: [] };
}

/** Whether the fast path took `text`; if it did, that it agrees with yaml on everything. */
export function agreesWithYaml(text: string): boolean {
  const fast = fastParse(text);
  if (!fast) return false;
  const slow = readDocument(text);
  expect(slow.ok).toBe(true);
  if (!slow.ok) return true;
  // JSON keeps key order, which toEqual ignores.
  expect(JSON.stringify(fast.data)).toBe(JSON.stringify(slow.data));
  expect(fast.data).toEqual(slow.data);
  const map = new SourceMap(slow.doc, slow.lines);
  for (const { path, keys } of paths(slow.data)) {
    expect(fast.map.at(path), `at ${JSON.stringify(path)}`).toEqual(map.at(path));
    for (const k of [...keys, 'missing'])
      expect(fast.map.keyAt(path, k), `keyAt ${JSON.stringify(path)} ${k}`).toEqual(map.keyAt(path, k));
    expect(fast.map.at([...path, 'missing', 3])).toEqual(map.at([...path, 'missing', 3]));
    for (const i of [99, -1, 0.5]) expect(fast.map.at([...path, i])).toEqual(map.at([...path, i]));
  }
  return true;
}
