/**
 * `pagelab oracle FILE...`: each scenario on the real kernel and on the model, compared page by
 * page after every step (src/oracle). Exit code: 2 for bad input (including a scenario the kernel
 * cannot run) or when no oracle can run here, else 1 if anything disagreed, else 0.
 *
 * Where the oracle cannot run at all (not root, no /proc/kpageflags, no compiler, another run
 * holding the host's lock) that is said once, in one line, and nothing runs.
 */

import { OracleBadInput } from '../oracle/errors.js';
import { ORACLE_LEGEND, oracleSummary, oracleText } from '../oracle/format.js';
import { runOracle } from '../oracle/oracle.js';
import { OracleUnavailable } from '../oracle/probe.js';
import { NotOracleable } from '../oracle/translate.js';
import type { Knob, OracleResult } from '../oracle/types.js';
import type { Io } from './io.js';
import { jsonDocument } from './json.js';
import { progress } from './progress.js';
import { forEachScenario } from './scenario_files.js';
import { UsageError } from './usage_error.js';

export interface OracleCommandOptions {
  /** Seconds to wait for another oracle run on this host. */
  wait?: number;
  json?: boolean;
}

export function oracleCommand(files: string[], o: OracleCommandOptions, io: Io): number {
  let unavailable: string | undefined;
  const results: OracleResult[] = [];
  const errors: string[] = [];
  const text = o.json ? () => {} : io.out;
  // The first scenario's knobs are listed once, in the summary; a scenario under others lists its own.
  let common: Knob[] | undefined;
  // Each file is one probe run: the line counts files (the selftest matrix is hundreds).
  const bar = progress(io, 'pagelab oracle', 'scenarios');
  const code = forEachScenario(files, io, (s, i) => {
    if (unavailable) return 2;
    bar.update(i, files.length);
    try {
      const r = runOracle(s, { lockWaitMs: (o.wait ?? 0) * 1000 });
      bar.end();
      if (results.length === 0) text(`${ORACLE_LEGEND}\n`);
      common ??= r.knobs;
      results.push(r);
      text(`\n${oracleText(r, common)}\n`);
      return r.exitCode;
    } catch (e) {
      bar.end();
      if (e instanceof OracleBadInput) {
        errors.push(e.message);
        io.err(`${e.message}\n`);
        return 2;
      }
      if (e instanceof NotOracleable) {
        errors.push(`${s.file}: not oracle-able: ${e.message}`);
        io.err(`${s.file}: not oracle-able: ${e.message}\n`);
        return 2;
      }
      if (!(e instanceof OracleUnavailable)) throw e;
      unavailable = e.message; // the host, not this file: the next files would fail the same way
      return 2;
    }
  });
  if (unavailable) throw new UsageError(`oracle unavailable: ${unavailable}`);
  if (o.json) io.out(jsonDocument('oracle', { scenarios: results, errors }));
  else if (results.length > 0) io.out(`\n${oracleSummary(results, common!)}\n`);
  return code;
}
