/**
 * A progress line for long work, on stderr: drawn only when stderr is a terminal and only once the
 * work has run for a second (short runs and pipes stay silent), redrawn at most ten times a
 * second in place (`\r` + erase to end of line), and erased when the work ends so the command's
 * own output follows on a clean line.
 */
import type { Io } from './io.js';

export interface Progress {
  /** `done` of `total` units finished (`total` 0: not known, no percentage). */
  update(done: number, total: number): void;
  /** Erase the line (if it was drawn). */
  end(): void;
}

const REDRAW_MS = 100;

export function progress(io: Io, label: string, unit: string): Progress {
  if (!io.tty) return { update() {}, end() {} };
  const after = io.progressAfterMs ?? 1000;
  const start = Date.now();
  let drawn = 0;
  let shown = false;
  return {
    update(done, total) {
      const now = Date.now();
      if (now - start < after || now - drawn < REDRAW_MS) return;
      drawn = now;
      shown = true;
      const n = done.toLocaleString('en-US');
      const of =
        total > 0
          ? `${n}/${total.toLocaleString('en-US')} ${unit} (${Math.floor((100 * done) / total)}%)`
          : `${n} ${unit}`;
      io.err(`\r${label}: ${of}\x1b[K`);
    },
    end() {
      if (shown) io.err('\r\x1b[K');
      shown = false;
    },
  };
}
