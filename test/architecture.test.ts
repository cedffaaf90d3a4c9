/**
 * The layer order of docs/architecture.md, enforced: each layer of src/ imports only from the
 * layers before it, the CLI reaches the library only through src/index.ts, no value-import cycle
 * exists anywhere, and the model (mm, designs, check, machine) imports nothing from Node, so it
 * runs in a browser. Imports are read with the TypeScript parser, so `import type` is told apart.
 */
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/** Layers in order; a file may import from its own layer and the ones before it. */
const LAYERS = [
  'mm',
  'designs',
  'check',
  'machine',
  'scenario',
  'fuzz',
  'snapshot',
  'oracle',
  'index',
  'cli',
  'web',
];
/** Layers that must run without Node (no `node:` or Node built-in imports): the browser runs them too. */
const PORTABLE = new Set(['mm', 'designs', 'check', 'machine', 'scenario', 'fuzz']);
/** The CLI reaches the model (mm, designs, check, machine) only through index.ts; the tool layers directly. */
const CLI_MAY_IMPORT = new Set(['index', 'scenario', 'fuzz', 'snapshot', 'oracle', 'cli']);

interface Edge {
  from: string;
  to: string;
  typeOnly: boolean;
}

const layerOf = (file: string): string => (file === 'index.ts' ? 'index' : file.split('/')[0]);

function isTypeOnly(s: ts.ImportDeclaration | ts.ExportDeclaration): boolean {
  if (ts.isExportDeclaration(s)) {
    if (s.isTypeOnly) return true;
    const c = s.exportClause;
    return !!c && ts.isNamedExports(c) && c.elements.length > 0 && c.elements.every((e) => e.isTypeOnly);
  }
  const c = s.importClause;
  if (!c) return false; // a side-effect import runs the module
  if (c.isTypeOnly) return true;
  const b = c.namedBindings;
  return (
    !c.name && !!b && ts.isNamedImports(b) && b.elements.length > 0 && b.elements.every((e) => e.isTypeOnly)
  );
}

/** Every import and re-export of the .ts files under `root`, as paths relative to it. */
function importGraph(root: string): Edge[] {
  const files = (fs.readdirSync(root, { recursive: true }) as string[]).filter((f) => f.endsWith('.ts'));
  const edges: Edge[] = [];
  for (const rel of files) {
    const file = path.join(root, rel);
    const sf = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.Latest);
    for (const s of sf.statements) {
      if (!(ts.isImportDeclaration(s) || ts.isExportDeclaration(s)) || !s.moduleSpecifier) continue;
      const spec = (s.moduleSpecifier as ts.StringLiteral).text;
      const to = spec.startsWith('.')
        ? path.relative(root, path.resolve(path.dirname(file), spec.replace(/\.js$/, '.ts')))
        : spec;
      edges.push({
        from: rel.split(path.sep).join('/'),
        to: to.split(path.sep).join('/'),
        typeOnly: isTypeOnly(s),
      });
    }
  }
  return edges;
}

const NODE_BUILTINS = new Set([
  'fs',
  'path',
  'os',
  'child_process',
  'crypto',
  'url',
  'util',
  'zlib',
  'process',
]);

/** Value-import cycles (strongly connected components of more than one file, or a self-import). */
function valueCycles(edges: Edge[]): string[][] {
  const adj = new Map<string, string[]>();
  for (const e of edges)
    if (!e.typeOnly && e.to.endsWith('.ts')) adj.set(e.from, [...(adj.get(e.from) ?? []), e.to]);
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  let next = 0;
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of adj.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const scc: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      scc.push(w);
    } while (w !== v);
    if (scc.length > 1 || adj.get(v)?.includes(v)) out.push(scc.sort());
  };
  for (const v of adj.keys()) if (!index.has(v)) visit(v);
  return out;
}

/** Every rule the graph breaks, one line each. */
function architectureViolations(edges: Edge[]): string[] {
  const bad: string[] = [];
  for (const e of edges) {
    const from = layerOf(e.from);
    const bare = !e.to.endsWith('.ts');
    if (bare) {
      const name = e.to.replace(/^node:/, '').split('/')[0];
      if (PORTABLE.has(from) && (e.to.startsWith('node:') || NODE_BUILTINS.has(name)) && !e.typeOnly)
        bad.push(`${e.from} imports ${e.to}: ${from}/ must run without Node`);
      continue;
    }
    const to = layerOf(e.to);
    if (LAYERS.indexOf(to) > LAYERS.indexOf(from))
      bad.push(`${e.from} imports ${e.to}: ${from}/ is below ${to}/`);
    if (from === 'cli' && !CLI_MAY_IMPORT.has(to))
      bad.push(`${e.from} imports ${e.to}: the CLI uses the library only through src/index.ts`);
  }
  for (const c of valueCycles(edges)) bad.push(`value-import cycle: ${c.join(' <-> ')}`);
  return bad;
}

describe('architecture', () => {
  const edges = importGraph(path.resolve(__dirname, '../src'));

  it('reads the imports of src/', () => {
    expect(edges.length).toBeGreaterThan(200);
    expect(edges).toContainEqual({ from: 'machine/machine.ts', to: 'machine/base.ts', typeOnly: false });
    expect(edges.some((e) => e.from === 'mm/memory.ts' && e.to === 'mm/kernel.ts' && e.typeOnly)).toBe(true);
  });

  it('src/ keeps the layer order, the CLI goes through index.ts, no value cycles, a portable model', () => {
    expect(architectureViolations(edges)).toEqual([]);
  });

  it('finds an upward import, a CLI shortcut, a value cycle and a node: import in a bad graph', () => {
    const bad: Edge[] = [
      { from: 'mm/folio.ts', to: 'machine/machine.ts', typeOnly: false },
      { from: 'cli/main.ts', to: 'mm/types.ts', typeOnly: false },
      { from: 'mm/a.ts', to: 'mm/b.ts', typeOnly: false },
      { from: 'mm/b.ts', to: 'mm/a.ts', typeOnly: false },
      { from: 'mm/c.ts', to: 'mm/d.ts', typeOnly: false },
      { from: 'mm/d.ts', to: 'mm/c.ts', typeOnly: true }, // a type back-edge is allowed
      { from: 'check/vm.ts', to: 'node:fs', typeOnly: false },
      { from: 'machine/x.ts', to: 'zlib', typeOnly: false },
      { from: 'oracle/x.ts', to: 'node:fs', typeOnly: false },
    ];
    expect(architectureViolations(bad)).toEqual([
      'mm/folio.ts imports machine/machine.ts: mm/ is below machine/',
      'cli/main.ts imports mm/types.ts: the CLI uses the library only through src/index.ts',
      'check/vm.ts imports node:fs: check/ must run without Node',
      'machine/x.ts imports zlib: machine/ must run without Node',
      'value-import cycle: mm/a.ts <-> mm/b.ts',
    ]);
  });
});
