/**
 * `pagelab check`: the fuzzer (src/fuzz/) as a command. Prints what ran and what it found; on a
 * finding, writes the shrunk reproducer as a scenario file (`--out`, default
 * pagelab-check-seed<S>.yaml) and exits 1. The same options print the same bytes.
 */
import { writeFileSync } from 'node:fs';
import { DEFAULT_FUZZ, type FuzzOptions, fuzz, fuzzText } from '../fuzz/fuzz.js';
import type { Io } from './io.js';
import { UsageError } from './usage_error.js';

export interface CheckCommandOptions extends Omit<FuzzOptions, 'shrinkBudget'> {
  out?: string;
  shrink: boolean;
}

export function checkCommand(o: CheckCommandOptions, io: Io): number {
  if (!(o.invalid >= 0 && o.invalid <= 1))
    throw new UsageError(`--invalid ${o.invalid}: expected a share from 0 to 1`);
  const { out: outFile, shrink, ...rest } = o;
  const r = fuzz({ ...rest, shrinkBudget: shrink ? DEFAULT_FUZZ.shrinkBudget : 0 });
  io.out(`${fuzzText(r)}\n`);
  if (!r.reproducer) return 0;
  const file = outFile ?? `pagelab-check-seed${o.seed}.yaml`;
  try {
    writeFileSync(file, r.reproducer.yaml);
  } catch (e) {
    throw new UsageError(
      `--out ${file}: cannot write (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
    );
  }
  io.out(`reproducer written to ${file}: pagelab run ${file}\n`);
  return 1;
}
