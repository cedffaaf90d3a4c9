/**
 * `pagelab oracle FILE...`: each scenario on the real kernel and on the model, compared page by
 * page after every step (src/oracle). Exit code: 2 for bad input (including a scenario the kernel
 * cannot run) or when no oracle can run here, else 1 if anything disagreed, else 0.
 */

import { oracleText } from '../oracle/format.js';
import { runOracle } from '../oracle/oracle.js';
import { OracleUnavailable } from '../oracle/probe.js';
import { NotOracleable } from '../oracle/translate.js';
import type { Io } from './io.js';
import { forEachScenario } from './scenario_files.js';

export function oracleCommand(files: string[], io: Io): number {
  return forEachScenario(files, io, (s, i) => {
    try {
      const r = runOracle(s);
      io.out(`${i > 0 ? '\n' : ''}${oracleText(r)}\n`);
      return r.exitCode;
    } catch (e) {
      if (!(e instanceof NotOracleable || e instanceof OracleUnavailable)) throw e;
      io.err(
        `${s.file}: ${e instanceof NotOracleable ? 'not oracle-able: ' : 'oracle unavailable: '}${e.message}\n`,
      );
      return 2;
    }
  });
}
