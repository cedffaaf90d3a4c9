/**
 * Bad snapshot input: an unreadable, truncated, corrupt or mismatched capture. The message is one
 * line naming the file and what is wrong; the CLI prints it and exits with code 2.
 */
export class SnapshotError extends Error {
  override name = 'SnapshotError';
}
