/**
 * `pagelab run FILE...`: each scenario's step lines, report and verdict; `--json` writes the
 * JSONL trace of all of them (to a file, or to stdout — the text then goes to stderr so the two
 * never mix). Exit code: 2 if any input was bad, else 1 if any expectation failed, else 0.
 */
import { writeFileSync } from 'node:fs';
import { runText } from '../scenario/format.js';
import { runScenario } from '../scenario/run.js';
import type { Io } from './io.js';
import { forEachScenario } from './scenario_files.js';

export function runCommand(files: string[], opts: { json?: string | true }, io: Io): number {
  const text = opts.json === true ? io.err : io.out;
  const trace: string[] = [];
  const code = forEachScenario(files, io, (s, i) => {
    const r = runScenario(s, { trace: opts.json !== undefined });
    text(`${i > 0 ? '\n' : ''}${runText(r)}\n`);
    trace.push(...r.trace);
    return r.exitCode;
  });
  const jsonl = trace.map((l) => `${l}\n`).join('');
  if (opts.json === true) io.out(jsonl);
  else if (opts.json !== undefined) writeFileSync(opts.json, jsonl);
  return code;
}
