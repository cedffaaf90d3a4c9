/**
 * `pagelab shell [FILE] [--after N]`: a REPL on one machine state, as crash and drgn give one on a
 * vmcore — run the scenario to step N once, then question that state as often as wanted with
 * kernel-named helpers (shell_helpers.ts) and the whole Machine as `m`. `.step` and `.back` move
 * one step (by running the scenario again to that step: runs are deterministic, so the state
 * reached is the same each time), `.where` says which step this is.
 *
 * Without a TTY on stdin it reads the commands from there, prints each result and exits 0 at the
 * end of input, so a session can be scripted. Without FILE it is a freshly booted default machine.
 */
import repl from 'node:repl';
import { type Readable, Writable } from 'node:stream';
import { inspect } from 'node:util';
import vm from 'node:vm';
import { formatDiagnostic, parseScenario, type RunResult, runScenario, type Scenario } from '../index.js';
import { failureText } from '../scenario/format.js';
import type { Io } from './io.js';
import { readScenario } from './scenario_files.js';
import { SHELL_HELP, ShellError, shellHelpers } from './shell_helpers.js';
import { UsageError } from './usage_error.js';

export interface ShellOptions {
  after?: number;
}

/** Where the session reads from; a TTY gets a prompt, colours and line editing. */
export interface ShellInput {
  input: Readable;
  terminal: boolean;
}

/** The scenario to question: the file's, or an empty one on the default machine. */
function loadScenario(file: string | undefined, io: Io): Scenario | undefined {
  const parsed =
    file === undefined ? parseScenario('name: shell\nsteps: []\n', '<shell>') : readScenario(file);
  if (parsed.ok) return parsed.scenario;
  for (const d of parsed.errors) io.err(`${formatDiagnostic(d)}\n`);
  return undefined;
}

/** Run `s` up to step `n`; undefined (with the reason on stderr) when it cannot get there. */
function runTo(s: Scenario, n: number, io: Io): RunResult | undefined {
  const r = runScenario(s, { until: n });
  for (const d of r.inputErrors) io.err(`${formatDiagnostic(d)}\n`);
  if (r.inputErrors.length > 0 || !r.machine) return undefined;
  if (r.stoppedAt !== undefined && r.stoppedAt < n) {
    for (const f of r.failures) io.err(`${failureText(s.file, f)}\n`);
    io.err(`pagelab: the run stopped at step ${r.stoppedAt}, before step ${n}\n`);
    return undefined;
  }
  return r;
}

/** `after step 3 of 7 (line 9: write ...)`, or `after boot`. */
function whereText(r: RunResult, total: number): string {
  const last = r.steps[r.steps.length - 1];
  if (!last) return `after boot (${total} step${total === 1 ? '' : 's'} in ${r.scenario.file})`;
  return `after step ${last.n} of ${total} (line ${last.pos.line}: ${last.op} ${last.summary})`;
}

/** The labels as plain values: name -> { kind, value }. */
function labelValues(r: RunResult): Record<string, { kind: string; value: number | string }> {
  return Object.fromEntries(r.labels.entries().map(([name, b]) => [name, { kind: b.kind, value: b.value }]));
}

/**
 * Evaluate one input in the session's context: an error in it is one line (`ShellError: message`),
 * never a stack trace; input that is not finished yet (an open brace) continues on the next line.
 */
function oneLineEval(print: (s: string) => void): repl.REPLEval {
  return (cmd, context, _file, done) => {
    let value: unknown;
    try {
      value = vm.runInContext(cmd, context, { filename: 'pagelab-shell' });
    } catch (e) {
      // The error comes from the context's realm: `instanceof Error` would be false.
      const err = e as Error;
      if (err?.name === 'SyntaxError' && /Unexpected end of input|missing \) after/.test(err.message))
        return done(new repl.Recoverable(err), undefined);
      print(`${err?.name ?? 'Error'}: ${err?.message ?? String(e)}\n`);
      return done(null, undefined);
    }
    done(null, value);
  };
}

export async function shellCommand(
  file: string | undefined,
  o: ShellOptions,
  io: Io,
  from: ShellInput = { input: process.stdin, terminal: process.stdin.isTTY === true },
): Promise<number> {
  const s = loadScenario(file, io);
  if (!s) return 2;
  const total = s.steps.length;
  const after = o.after ?? total;
  if (after > total) throw new UsageError(`--after ${after}: ${file} has ${total} steps`);
  let r = runTo(s, after, io);
  if (!r) return after === 0 ? 2 : 1;

  const output = new Writable({
    write(chunk, _enc, done) {
      io.out(String(chunk));
      done();
    },
  });
  const print = (text: string): void => {
    io.out(text);
  };
  const helpers = shellHelpers(() => r!, print);
  const server = repl.start({
    prompt: from.terminal ? 'pagelab> ' : '',
    input: from.input,
    output,
    terminal: from.terminal,
    useColors: from.terminal,
    ignoreUndefined: true,
    preview: false,
    eval: oneLineEval(print),
    writer: (v) => (typeof v === 'string' ? v : inspect(v, { colors: from.terminal, depth: 4 })),
  });
  const refresh = () => {
    Object.assign(server.context, helpers, {
      m: r!.machine,
      labels: labelValues(r!),
      help: () => print(`${SHELL_HELP}\n`),
    });
  };
  refresh();
  const move = (to: number) => {
    const next = runTo(s, to, io);
    if (next) {
      r = next;
      refresh();
    }
    print(`${whereText(r!, total)}\n`);
    server.displayPrompt();
  };
  server.defineCommand('where', {
    help: 'Which step of the scenario this state is after',
    action: () => {
      print(`${whereText(r!, total)}\n`);
      server.displayPrompt();
    },
  });
  server.defineCommand('step', {
    help: 'Run one more step of the scenario',
    action: () => {
      const at = r!.steps.length;
      if (at >= total) {
        print(`already after the last step (${total})\n`);
        server.displayPrompt();
      } else move(at + 1);
    },
  });
  server.defineCommand('back', {
    help: 'Go one step back (the scenario runs again up to the step before)',
    action: () => {
      const at = r!.steps.length;
      if (at === 0) {
        print('already right after boot\n');
        server.displayPrompt();
      } else move(at - 1);
    },
  });
  if (from.terminal) print(`${whereText(r, total)}; help() lists the helpers\n`);
  return new Promise<number>((resolve) => server.on('exit', () => resolve(0)));
}

export { ShellError };
