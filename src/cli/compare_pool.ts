/**
 * `pagelab compare`'s worker pool (tinypool, worker_threads): every combination of every scenario
 * is one task, run by src/cli/compare_worker.ts; the results come back in task order, so the
 * output is the serial one. Each combination builds its own Machine, so nothing is shared.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import Tinypool from 'tinypool';
import type { Combo, ComboOutcome } from '../scenario/compare.js';
import type { CompareTask } from './compare_worker.js';

/** The compiled worker beside this module (dist/cli/compare_worker.js). */
export function defaultWorkerFile(): string | undefined {
  const file = fileURLToPath(new URL('./compare_worker.js', import.meta.url));
  return existsSync(file) ? file : undefined;
}

/** Threads for `n` tasks: at most one per CPU, at most `jobs`. */
export const poolSize = (n: number, jobs?: number): number =>
  Math.max(1, Math.min(n, jobs ?? availableParallelism()));

/** Run every (scenario text, combination) task on `threads` workers; outcomes in task order. */
export async function runPool(
  workerFile: string,
  tasks: { file: string; text: string; combos: readonly Combo[] }[],
  threads: number,
  onDone?: () => void,
): Promise<ComboOutcome[][]> {
  const pool = new Tinypool({ filename: workerFile, minThreads: threads, maxThreads: threads });
  try {
    return await Promise.all(
      tasks.map((t) =>
        Promise.all(
          t.combos.map((combo) =>
            (
              pool.run({ file: t.file, text: t.text, combo } satisfies CompareTask) as Promise<ComboOutcome>
            ).then((r) => {
              onDone?.();
              return r;
            }),
          ),
        ),
      ),
    );
  } finally {
    await pool.destroy();
  }
}
