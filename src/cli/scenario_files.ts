/** Reading scenario files from disk: the only part of running a scenario that needs Node. */
import { readFileSync } from 'node:fs';
import { type ParseResult, parseScenario } from '../scenario/parse.js';
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
