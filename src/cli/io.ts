/** Where a command writes: stdout and stderr, replaceable in tests. */
export interface Io {
  out(s: string): void;
  err(s: string): void;
  /** Where `pagelab shell` reads its commands (default: stdin). */
  input?: { input: import('node:stream').Readable; terminal: boolean };
}
