/** Where a command writes: stdout and stderr, replaceable in tests. */
export interface Io {
  out(s: string): void;
  err(s: string): void;
  /** Where `pagelab shell` reads its commands (default: stdin). */
  input?: { input: import('node:stream').Readable; terminal: boolean };
  /** stderr is a terminal: long work draws a progress line there (progress.ts). */
  tty?: boolean;
  /** How long work runs before its progress line appears (default 1000 ms; tests set 0). */
  progressAfterMs?: number;
}
