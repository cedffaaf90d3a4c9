#!/usr/bin/env node
/** The `pagelab` executable: runs the CLI and sets the exit code. */
import { main } from './main.js';

process.exitCode = await main(process.argv.slice(2));
