/** Reading scenario files from disk: the only part of running a scenario that needs Node. */
import { readFileSync } from 'node:fs';
import { type Diagnostic, formatDiagnostic } from '../scenario/diagnostics.js';
import { type ParseResult, parseScenario, type Scenario } from '../scenario/parse.js';
import type { Io } from './io.js';
import { UsageError } from './usage_error.js';

export function readScenario(file: string): ParseResult {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return parseScenario(text, file);
}

/**
 * Parse each file and hand the good ones to `each` (with their position in the list); a file with
 * bad input has its diagnostics printed (and given to `bad`) and makes the result 2. Returns the
 * worst exit code.
 */
export function forEachScenario(
  files: string[],
  io: Io,
  each: (s: Scenario, i: number) => number,
  bad?: (file: string, errors: Diagnostic[]) => void,
): number {
  let code = 0;
  files.forEach((file, i) => {
    const parsed = readScenario(file);
    if (!parsed.ok) {
      for (const d of parsed.errors) io.err(`${formatDiagnostic(d)}\n`);
      bad?.(file, parsed.errors);
      code = 2;
      return;
    }
    code = Math.max(code, each(parsed.scenario, i));
  });
  return code;
}
