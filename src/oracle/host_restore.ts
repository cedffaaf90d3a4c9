/**
 * One place that puts the host back when the process ends while the oracle has changed it: the
 * sysfs knobs (knobs.ts) and the zram swap device (zram.ts) each register an undo here, and it
 * runs — last registered first — on a normal exit and on SIGINT or SIGTERM, after which the
 * process exits with 128 + the signal's number, as a shell reports a process the signal killed.
 * One handler, not one per module: two would each call process.exit and the second undo could be
 * skipped. An undo that fails does not stop the others.
 */
import { constants } from 'node:os';

const undos: (() => void)[] = [];
let hooked = false;

function restoreAll(): void {
  for (const undo of [...undos].reverse()) {
    try {
      undo();
    } catch {
      // Best effort at exit: the next undo still runs.
    }
  }
}

function hook(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', restoreAll);
  for (const sig of ['SIGINT', 'SIGTERM'] as const)
    process.on(sig, () => {
      restoreAll();
      process.exit(128 + constants.signals[sig]);
    });
}

/**
 * Register `undo` to run at exit and on SIGINT/SIGTERM. It must be cheap to call when there is
 * nothing to undo: it stays registered for the life of the process.
 */
export function onHostRestore(undo: () => void): void {
  hook();
  undos.push(undo);
}

/**
 * Let a SIGINT or SIGTERM that came while the process was blocked in a synchronous child (the
 * probe runs under execFileSync, so no JavaScript runs until it returns) reach its handler before
 * the process ends: libuv has queued it, but node's signal handles do not keep the loop alive, and
 * a zero-length wait can end the loop before it polls. A short poll delivers it; nothing is
 * waited for in a process that never changed the host.
 */
export async function settleSignals(): Promise<void> {
  if (hooked) await new Promise((resolve) => setTimeout(resolve, 50));
}
