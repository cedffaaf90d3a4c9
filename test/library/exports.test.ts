/**
 * The library's surface: every named type a public method of Machine (and MachineBase), or a
 * function index.ts exports, takes or returns is itself exported from src/index.ts, so a user can
 * name it; every public method has a doc comment.
 */
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const program = ts.createProgram(['src/index.ts'], {
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  strict: true,
  noEmit: true,
});
const checker = program.getTypeChecker();
const index = program.getSourceFile('src/index.ts')!;
const exported = checker.getExportsOfModule(checker.getSymbolAtLocation(index)!);
const exportedNames = new Set(exported.map((s) => s.name));

/** Named types declared in src/ that appear in `type` (through unions, arrays, type arguments, members one level down). */
function namedTypes(type: ts.Type, out: Set<string>, depth = 0): void {
  if (depth > 3) return;
  const sym = type.aliasSymbol ?? type.getSymbol();
  const decl = sym?.declarations?.[0];
  const file = decl?.getSourceFile();
  const ours = !!file && file.fileName.includes('/src/') && !file.isDeclarationFile;
  const named =
    !!decl &&
    ours &&
    (ts.isInterfaceDeclaration(decl) || ts.isTypeAliasDeclaration(decl) || ts.isClassDeclaration(decl));
  if (named && sym) {
    if (out.has(sym.name)) return;
    out.add(sym.name);
  }
  if (type.isUnionOrIntersection()) for (const t of type.types) namedTypes(t, out, depth + 1);
  for (const t of type.aliasTypeArguments ?? []) namedTypes(t, out, depth + 1);
  if (type.flags & ts.TypeFlags.Object) {
    const ref = type as ts.TypeReference;
    for (const t of checker.getTypeArguments(ref) ?? []) namedTypes(t, out, depth + 1);
    // An anonymous object type (an inline `{ pid: number; ... }`): its members' types.
    if (!named && !(sym?.flags && sym.flags & ts.SymbolFlags.Class))
      for (const p of type.getProperties()) {
        const d = p.valueDeclaration ?? p.declarations?.[0];
        if (d) namedTypes(checker.getTypeOfSymbolAtLocation(p, d), out, depth + 1);
      }
  }
}

function publicMethods(className: string): { name: string; decl: ts.MethodDeclaration; sig: ts.Signature }[] {
  const sym = exported.find((s) => s.name === className)!;
  const cls = checker.getDeclaredTypeOfSymbol(
    ts.SymbolFlags.Alias & sym.flags ? checker.getAliasedSymbol(sym) : sym,
  );
  const out: { name: string; decl: ts.MethodDeclaration; sig: ts.Signature }[] = [];
  for (const p of cls.getProperties()) {
    const decl = p.valueDeclaration;
    if (!decl || !ts.isMethodDeclaration(decl)) continue;
    const mods = ts.getCombinedModifierFlags(decl);
    if (mods & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected)) continue;
    if (!decl.getSourceFile().fileName.includes('/src/machine/')) continue;
    const sig = checker.getSignatureFromDeclaration(decl)!;
    out.push({ name: `${className}.${p.name}`, decl, sig });
  }
  return out;
}

function signatureTypes(sig: ts.Signature): Set<string> {
  const out = new Set<string>();
  for (const p of sig.getParameters())
    namedTypes(checker.getTypeOfSymbolAtLocation(p, p.valueDeclaration!), out);
  namedTypes(sig.getReturnType(), out);
  return out;
}

const methods = [...publicMethods('Machine'), ...publicMethods('MachineBase')];

describe('the library exports', () => {
  it('finds the public methods it checks', () => {
    expect(methods.map((m) => m.name)).toEqual(
      expect.arrayContaining(['Machine.mmap', 'Machine.read', 'MachineBase.on']),
    );
  });

  it('every named type in a public Machine signature is exported from index.ts', () => {
    const missing = new Set<string>();
    for (const m of methods)
      for (const t of signatureTypes(m.sig)) if (!exportedNames.has(t)) missing.add(`${t} (${m.name})`);
    expect([...missing].sort()).toEqual([]);
  });

  it('every named type in an exported function signature is exported too', () => {
    const missing = new Set<string>();
    for (const s of exported) {
      const target = s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s;
      const d = target.valueDeclaration;
      if (!d || !ts.isFunctionDeclaration(d)) continue;
      for (const t of signatureTypes(checker.getSignatureFromDeclaration(d)!))
        if (!exportedNames.has(t)) missing.add(`${t} (${s.name})`);
    }
    expect([...missing].sort()).toEqual([]);
  });

  it('every public Machine method has a doc comment', () => {
    const undocumented = methods
      .filter((m) => ts.getJSDocCommentsAndTags(m.decl).length === 0)
      .map((m) => m.name);
    expect(undocumented).toEqual([]);
  });
});
