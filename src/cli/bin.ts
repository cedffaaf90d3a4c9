#!/usr/bin/env node
/** The `pagelab` executable: runs the CLI and sets the exit code. */
import { settleSignals } from '../oracle/host_restore.js';
import { main } from './main.js';

// `pagelab run x.yaml | head` closes the pipe early; that is not an error worth a stack trace.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw e;
});

process.exitCode = await main(process.argv.slice(2));
// A SIGINT or SIGTERM that came while the oracle was blocked in its probe exits 128 + signo.
await settleSignals();
