import { execFileSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { resolveConfig } from '../../src/machine/config.js';
import { wantedKnobs } from '../../src/oracle/knobs.js';
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

/**
 * The CLI, built as one file inside the repository's .cache (so it resolves node_modules and finds
 * src/oracle/probe.c two levels up, as dist/cli/bin.js does). Returns the path of the bin.
 */
export function buildCli(dir: string): string {
  const bin = join(dir, 'bin.mjs');
  execFileSync('node_modules/.bin/esbuild', [
    'src/cli/bin.ts',
    '--bundle',
    '--platform=node',
    '--format=esm',
    '--packages=external',
    `--outfile=${bin}`,
  ]);
  return bin;
}

/** The current value of every knob the oracle may set (the bracketed choice, or the text). */
export function hostKnobs(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [path] of wantedKnobs(resolveConfig({}))) {
    const text = readFileSync(path, 'utf8').trim();
    out[path] = /\[([^\]]+)\]/.exec(text)?.[1] ?? text;
  }
  return out;
}
