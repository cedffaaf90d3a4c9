/**
 * Where in a scenario file something is, and how problems are printed: `file:line:col path: message`,
 * the form editors and terminals turn into a jump to the spot.
 */

/** A path into the scenario document: keys and (0-based) sequence indexes. */
export type Path = readonly (string | number)[];

/** A 1-based line and column. */
export interface Pos {
  line: number;
  col: number;
}

/** One problem with the input, found while parsing or while running. */
export interface Diagnostic {
  file: string;
  pos: Pos;
  path: Path;
  message: string;
}

/** `steps[3].state.refcount` */
export function formatPath(path: Path): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out === '' ? p : `.${p}`;
  return out;
}

/**
 * `file:line:col step 3: state.refcount: message`. A step is named by its 1-based number, the one
 * the run's lines, its failures and the report use, not by its 0-based index in the document.
 */
export function formatDiagnostic(d: Diagnostic): string {
  const where = `${d.file}:${d.pos.line}:${d.pos.col}`;
  const [top, index, ...rest] = d.path;
  if (top === 'steps' && typeof index === 'number') {
    const inStep = rest.length > 0 ? ` ${formatPath(rest)}:` : '';
    return `${where} step ${index + 1}:${inStep} ${d.message}`;
  }
  return d.path.length > 0 ? `${where} ${formatPath(d.path)}: ${d.message}` : `${where}: ${d.message}`;
}

export function byPosition(a: Diagnostic, b: Diagnostic): number {
  return a.pos.line - b.pos.line || a.pos.col - b.pos.col;
}

/**
 * Bad input that only shows while running (a label index past the end of its object, a pfn that is
 * not RAM): reported like a parse error, at `path` inside the step, and the run exits with code 2.
 */
export class ScenarioInputError extends Error {
  override readonly name = 'ScenarioInputError';
  constructor(
    message: string,
    readonly path: Path = [],
  ) {
    super(message);
  }
}

export { didYouMean, suggestion } from '../machine/suggest.js';
