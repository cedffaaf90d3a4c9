/**
 * The `pagelab` command. Usage errors and bad input exit with code 2 and one line on stderr;
 * a failed expectation exits 1.
 */
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { CHECK_LEVELS, type CheckLevel, InvariantViolation } from '../check/invariants.js';
import { LAYOUTS, type LayoutName } from '../designs/layout.js';
import { ConfigError, Machine } from '../mm/machine.js';
import { KernelBug, KernelError, parseSize } from '../mm/types.js';
import { runDemo } from './demo.js';
import { bootReport } from './report.js';

export class UsageError extends Error {}

function sizeArg(v: string): string {
  try {
    parseSize(v);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
  return v;
}

function choice<T extends string>(values: readonly T[]) {
  return (v: string): T => {
    if (!values.includes(v as T)) throw new InvalidArgumentError(`expected one of ${values.join(', ')}`);
    return v as T;
  };
}

function intArg(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive whole number');
  return n;
}

export function buildProgram(out: (s: string) => void): Command {
  const program = new Command('pagelab')
    .description('an executable model of how Linux describes and maps physical memory')
    .version('0.1.0')
    .exitOverride()
    .configureOutput({ writeOut: out, writeErr: (s) => process.stderr.write(s), outputError: () => {} });

  program
    .command('boot')
    .description('boot a machine and print its meminfo, zones, buddy lists and metadata accounting')
    .option('--memory <size>', 'RAM size (multiple of 128M)', sizeArg, '4G')
    .option('--nodes <n>', 'NUMA nodes', intArg, 1)
    .option(
      '--design <layout>',
      `descriptor layout reported first (${LAYOUTS.join(', ')})`,
      choice(LAYOUTS),
      'memdesc',
    )
    .option('--movable <size>', 'bytes of ZONE_MOVABLE', sizeArg, '0')
    .option('--cma <size>', 'bytes of CMA', sizeArg, '0')
    .option(
      '--check <level>',
      `invariant check level (${CHECK_LEVELS.join(', ')})`,
      choice(CHECK_LEVELS),
      'cheap',
    )
    .action(
      (o: {
        memory: string;
        nodes: number;
        design: LayoutName;
        movable: string;
        cma: string;
        check: CheckLevel;
      }) => {
        const m = new Machine({
          memory: o.memory,
          nodes: o.nodes,
          design: o.design,
          movable: o.movable,
          cma: o.cma,
        });
        m.check(o.check === 'off' ? 'cheap' : o.check);
        out(`${bootReport(m)}\n`);
      },
    );

  program
    .command('demo')
    .description('the built-in default job: a 4 GiB machine with a mix of folios, slabs and page tables')
    .option('--memory <size>', 'RAM size', sizeArg, '4G')
    .action((o: { memory: string }) => out(`${runDemo(o.memory)}\n`));

  return program;
}

/** Run the CLI; returns the exit code. */
export async function main(
  argv: string[],
  out: (s: string) => void = (s) => process.stdout.write(s),
): Promise<number> {
  const program = buildProgram(out);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.exitCode === 0)
        return 0;
      process.stderr.write(`pagelab: ${e.message.replace(/^error: /, '')}\n`);
      return 2;
    }
    if (e instanceof ConfigError || e instanceof UsageError) {
      process.stderr.write(`pagelab: ${e.message}\n`);
      return 2;
    }
    if (e instanceof KernelBug || e instanceof KernelError || e instanceof InvariantViolation) {
      process.stderr.write(`pagelab: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}
