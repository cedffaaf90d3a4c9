/** Bad command-line input: one line on stderr, exit code 2. */
export class UsageError extends Error {}
