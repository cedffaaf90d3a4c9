/**
 * Every type a public signature names is exported: the library's declarations (src/index.ts
 * emitted as .d.ts, what a user's editor sees) are walked, and each named type they reference
 * that is declared in pagelab must itself be importable from 'pagelab'. Members marked @internal
 * are stripped from the published declarations (tsconfig.build.json), as here.
 */
import { dirname, join, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = resolve('.');
const OUT = join(ROOT, '.cache', 'exports-dts');

function declarations(): Map<string, string> {
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    strict: true,
    skipLibCheck: true,
    declaration: true,
    emitDeclarationOnly: true,
    stripInternal: true,
    rootDir: join(ROOT, 'src'),
    outDir: OUT,
    types: ['node'],
  };
  const files = new Map<string, string>();
  const program = ts.createProgram([join(ROOT, 'src/index.ts')], options);
  program.emit(undefined, (name, text) => files.set(resolve(name), text), undefined, true);
  return files;
}

/** `Exported -> Unexported` for each named pagelab type a public declaration uses but index does not export. */
function unexportedUses(dts: Map<string, string>): string[] {
  const base = ts.createCompilerHost({});
  const host: ts.CompilerHost = {
    ...base,
    fileExists: (f) => dts.has(resolve(f)) || base.fileExists(f),
    directoryExists: (d) => resolve(d).startsWith(OUT) || (base.directoryExists?.(d) ?? false),
    realpath: (f) => f,
    readFile: (f) => dts.get(resolve(f)) ?? base.readFile(f),
    getSourceFile: (f, lang) => {
      const text = dts.get(resolve(f));
      return text !== undefined ? ts.createSourceFile(f, text, lang) : base.getSourceFile(f, lang);
    },
  };
  const index = join(OUT, 'index.d.ts');
  const program = ts.createProgram(
    [index],
    {
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      skipLibCheck: true,
      types: ['node'],
    },
    host,
  );
  const checker = program.getTypeChecker();
  const real = (s: ts.Symbol) => (s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s);
  const moduleSymbol = checker.getSymbolAtLocation(program.getSourceFile(index)!)!;
  const exported = new Set(checker.getExportsOfModule(moduleSymbol).map(real));
  const ours = (s: ts.Symbol) =>
    (s.declarations ?? []).some((d) => d.getSourceFile().fileName.startsWith(OUT));
  const found = new Set<string>();
  for (const sym of exported) {
    for (const decl of sym.declarations ?? []) {
      const visit = (node: ts.Node): void => {
        // Private and protected members are not part of the public surface.
        if (ts.canHaveModifiers(node)) {
          const mods = ts.getModifiers(node) ?? [];
          if (
            mods.some(
              (m) => m.kind === ts.SyntaxKind.PrivateKeyword || m.kind === ts.SyntaxKind.ProtectedKeyword,
            )
          )
            return;
        }
        let target: ts.Symbol | undefined;
        if (ts.isTypeReferenceNode(node)) target = checker.getSymbolAtLocation(node.typeName);
        else if (ts.isExpressionWithTypeArguments(node))
          target = checker.getSymbolAtLocation(node.expression);
        else if (ts.isImportTypeNode(node) && node.qualifier)
          target = checker.getSymbolAtLocation(node.qualifier);
        if (target) {
          const t = real(target);
          if (ours(t) && !exported.has(t) && !(t.flags & ts.SymbolFlags.TypeParameter))
            found.add(
              `${sym.name} -> ${t.name} (${dirname(t.declarations![0].getSourceFile().fileName).slice(OUT.length + 1)})`,
            );
        }
        ts.forEachChild(node, visit);
      };
      visit(decl);
    }
  }
  return [...found].sort();
}

describe('the library surface', () => {
  it('every pagelab type a public signature names can be imported from the package', () => {
    expect(unexportedUses(declarations())).toEqual([]);
  }, 120_000);
});
