import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import type { runOracle } from '../../src/oracle/oracle.js';
import { parseScenario, type Scenario } from '../../src/scenario/parse.js';

/** Why the live-kernel oracle cannot run here, or undefined when it can. */
function unavailable(): string | undefined {
  if (process.platform !== 'linux') return 'not Linux';
  try {
    const fd = openSync('/proc/kpageflags', 'r');
    try {
      readSync(fd, Buffer.alloc(8), 0, 8, 0);
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    return `/proc/kpageflags is not readable (${(e as NodeJS.ErrnoException).code}): needs root on Linux`;
  }
  return undefined;
}

export const UNAVAILABLE = unavailable();

/** The title of a describe that needs the live kernel: says why it is skipped when it is. */
export const liveTitle = (what: string) => (UNAVAILABLE ? `${what} (skipped: ${UNAVAILABLE})` : what);

export function loadScenario(file: string): Scenario {
  const parsed = parseScenario(readFileSync(file, 'utf8'), file);
  if (!parsed.ok) throw new Error(parsed.errors.map((e) => e.message).join('\n'));
  return parsed.scenario;
}

/** The rows and outcomes that disagreed, as readable lines. */
export function disagreements(r: ReturnType<typeof runOracle>): string[] {
  return r.steps.flatMap((s) => [
    ...(s.outcome.verdict === 'disagree'
      ? [`step ${s.n}: kernel ${s.outcome.kernel}, model ${s.outcome.model}`]
      : []),
    ...s.rows
      .filter((p) => p.verdict !== 'agree')
      .map(
        (p) =>
          `step ${s.n} ${p.proc} ${p.region}[${p.first}-${p.last}] ${p.verdict}: kernel ${p.kernel} / model ${p.model} (${p.note})`,
      ),
  ]);
}
