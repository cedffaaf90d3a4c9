/**
 * `pagelab run FILE...`: each scenario's step lines, report and verdict; `--json FILE` streams the
 * JSONL trace of all of them as events happen (`--json -`: to stdout, the text then going to
 * stderr so the two never mix). Exit code: 2 if any input was bad, else 1 if any expectation
 * failed, else 0.
 *
 * An output never takes an input's place: the trace path is checked before anything runs — it may
 * not be one of the scenarios, and an existing file is replaced only if pagelab wrote it (its first
 * record is a trace's `boot` record) or `--force` says so.
 */
import { closeSync, existsSync, openSync, readSync, realpathSync, statSync, writeSync } from 'node:fs';
import { resolve } from 'node:path';
import { type Diagnostic, formatPath } from '../scenario/diagnostics.js';
import { runText } from '../scenario/format.js';
import { runScenario } from '../scenario/run.js';
import type { Io } from './io.js';
import { progress } from './progress.js';
import { forEachScenario } from './scenario_files.js';
import { UsageError } from './usage_error.js';

const real = (f: string) => (existsSync(f) ? realpathSync(f) : resolve(f));

/** Does the file start like a trace pagelab wrote? */
function writtenByPagelab(file: string): boolean {
  const fd = openSync(file, 'r');
  try {
    const head = Buffer.alloc(64);
    const n = readSync(fd, head, 0, head.length, 0);
    return n === 0 || head.subarray(0, n).toString('utf8').startsWith('{"type":"boot"');
  } finally {
    closeSync(fd);
  }
}

/** Open the trace output after checking it may be written; returns its file descriptor. */
export function openTraceOutput(path: string, inputs: string[], force: boolean): number {
  const target = real(path);
  if (inputs.some((f) => real(f) === target))
    throw new UsageError(`--json ${path} is one of the scenario files: refusing to overwrite an input`);
  if (existsSync(path) && statSync(path).isDirectory())
    throw new UsageError(`--json ${path} is a directory: name a file (or - for stdout)`);
  if (existsSync(path) && !force && !writtenByPagelab(path))
    throw new UsageError(`--json ${path} exists and is not a pagelab trace: use --force to overwrite it`);
  try {
    return openSync(path, 'w');
  } catch (e) {
    throw new UsageError(
      `--json ${path}: cannot write (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
    );
  }
}

/** The trace's record of a file that did not parse: it ran nothing, and this is why. */
function badInputRecord(file: string, errors: Diagnostic[]): string {
  return JSON.stringify({
    type: 'result',
    file,
    status: 'bad-input',
    steps: 0,
    expectations: 0,
    failed: 0,
    errors: errors.map((d) => ({
      line: d.pos.line,
      col: d.pos.col,
      path: formatPath(d.path),
      message: d.message,
    })),
  });
}

export function runCommand(files: string[], opts: { json?: string; force?: boolean }, io: Io): number {
  const toStdout = opts.json === '-';
  const fd =
    opts.json !== undefined && !toStdout ? openTraceOutput(opts.json, files, opts.force ?? false) : -1;
  const text = toStdout ? io.err : io.out;
  const emit = toStdout ? (l: string) => io.out(`${l}\n`) : (l: string) => writeSync(fd, `${l}\n`);
  try {
    return forEachScenario(
      files,
      io,
      (s, i) => {
        const bar = progress(io, `pagelab run ${s.file}`, 'steps');
        const r = runScenario(s, { trace: opts.json !== undefined, onRecord: emit, onStep: bar.update });
        bar.end();
        text(`${i > 0 ? '\n' : ''}${runText(r)}\n`);
        return r.exitCode;
      },
      opts.json === undefined ? undefined : (file, errors) => emit(badInputRecord(file, errors)),
    );
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}
