/**
 * The `pagelab` command. Usage errors and bad input exit with code 2 and one line on stderr (a
 * scenario's problems one line each); a failed expectation exits 1.
 */
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import {
  CHECK_LEVELS,
  type CheckLevel,
  InputError,
  InvariantViolation,
  KernelBug,
  KernelError,
  LAYOUTS,
  type LayoutName,
  Machine,
  PFN_LOOKUPS,
  PIN_DESIGNS,
  parseSize,
  THP_MODES,
} from '../index.js';
import { ScenarioInputError, suggestion } from '../scenario/diagnostics.js';
import { opsText } from '../scenario/op_docs.js';
import { OPS_BY_NAME } from '../scenario/registry.js';
import { scenarioJsonSchema } from '../scenario/schema.js';
import { type CheckCommandOptions, checkCommand } from './check_command.js';
import { compareCommand, parseAxes } from './compare_command.js';
import { demoJson, runDemo } from './demo.js';
import { devmemJson, devmemReport } from './devmem_command.js';
import { type ExplainOptions, explainCommand } from './explain_command.js';
import type { Io } from './io.js';
import { JSON_HELP, jsonDocument } from './json.js';
import { oracleCommand } from './oracle_command.js';
import { bootReport, machineJson } from './report.js';
import { runCommand } from './run_command.js';
import { serveCommand } from './serve_command.js';
import { shellCommand } from './shell_command.js';
import { snapshotCommand } from './snapshot_command.js';
import { UsageError } from './usage_error.js';

export { UsageError };

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

function seedArg(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff)
    throw new InvalidArgumentError('expected a whole number from 0 to 4294967295');
  return n;
}

function shareArg(v: string): number {
  const n = Number(v);
  if (!(n >= 0 && n <= 1)) throw new InvalidArgumentError('expected a share from 0 to 1');
  return n;
}

function stepArg(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0)
    throw new InvalidArgumentError('expected a step number (0 = right after boot)');
  return n;
}

function secondsArg(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError('expected a number of seconds');
  return n;
}

/** The program; commands that have an exit code of their own report it through `setCode`. */
export function buildProgram(io: Io, setCode: (code: number) => void = () => {}): Command {
  const { out } = io;
  const program = new Command('pagelab')
    .description('an executable model of how Linux describes and maps physical memory')
    .version('0.1.0')
    .exitOverride()
    .configureOutput({ writeOut: out, writeErr: io.err, outputError: () => {} });

  program
    .command('run')
    .description('run scenario files: a line per step, the report, and whether every expectation held')
    .argument('<files...>', 'scenario files (YAML)')
    .option(
      '--json <file>',
      "stream the JSONL trace of events to a file, or with '-' to stdout (the text then goes to stderr)",
    )
    .option('--force', 'let --json replace an existing file that is not a pagelab trace')
    .action((files: string[], o: { json?: string; force?: boolean }) => setCode(runCommand(files, o, io)));

  program
    .command('explain')
    .description('describe one frame after step N of a scenario, as dump_page() would')
    .argument('<file>', 'scenario file (YAML)')
    .option('--after <n>', 'after this step (0: right after boot; default: the last step)', stepArg)
    .option('--pfn <pfn>', 'the frame: a number (0x hex or decimal) or a label of the scenario')
    .option('--proc <name>', 'a process label (with --addr): walk its page tables')
    .option('--addr <addr>', 'a user address in --proc: a region label, region+offset, or a number')
    .option('--json', JSON_HELP)
    .action((file: string, o: ExplainOptions) => setCode(explainCommand(file, o, io)));

  program
    .command('shell')
    .description(
      'a REPL on one machine state: kernel-named helpers (pfn_to_page, follow_page, ...), .step/.back',
    )
    .argument('[file]', 'scenario file (YAML); omitted: a freshly booted default machine')
    .option('--after <n>', 'after this step (0: right after boot; default: the last step)', stepArg)
    .addHelpText(
      'after',
      '\nExamples:\n  pagelab shell examples/cow-after-fork.yaml --after 5\n  echo \'follow_page("c", "buf")\' | pagelab shell examples/cow-after-fork.yaml --after 5',
    )
    .action(async (file: string | undefined, o: { after?: number }) =>
      setCode(await shellCommand(file, o, io, io.input)),
    );

  program
    .command('compare')
    .description(
      'run scenarios under every combination of the design axes and compare their answers and costs',
    )
    .argument('<files...>', 'scenario files (YAML)')
    .option('--design <layouts>', `comma-separated descriptor layouts (${LAYOUTS.join(', ')})`)
    .option(
      '--pincount <designs>',
      `comma-separated pin-count designs (${PIN_DESIGNS.join(', ')}); every one when no axis is given`,
    )
    .option('--pfn-lookup <lookups>', `comma-separated PFN lookups (${PFN_LOOKUPS.join(', ')})`)
    .option('--jobs <n>', 'worker threads for the combinations (1: serial); default one per CPU', intArg)
    .option('--json', JSON_HELP)
    .action(
      async (
        files: string[],
        o: { design?: string; pincount?: string; pfnLookup?: string; jobs?: number; json?: boolean },
      ) => setCode(await compareCommand(files, parseAxes(o), io, { json: o.json, jobs: o.jobs })),
    );

  program
    .command('oracle')
    .description('run scenarios on the real kernel and on the model and compare every page after every step')
    .argument('<files...>', 'scenario files (YAML) of the oracle subset')
    .option('--wait <seconds>', 'wait this long for another oracle run on this host to finish', secondsArg, 0)
    .option('--json', JSON_HELP)
    .action((files: string[], o: { wait: number; json?: boolean }) => setCode(oracleCommand(files, o, io)));

  program
    .command('check')
    .description(
      'fuzz the model: random ops checked against invariants, a reference model and unchanged state on failure',
    )
    .option('--ops <n>', 'operations to run', intArg, 10000)
    .option('--seed <n>', 'PRNG seed (same seed, same ops, same output)', seedArg, 1)
    .option(
      '--check <level>',
      `invariant checks after each op (${CHECK_LEVELS.join(', ')})`,
      choice(CHECK_LEVELS),
      'cheap',
    )
    .option('--design <layout>', `descriptor layout (${LAYOUTS.join(', ')})`, choice(LAYOUTS), 'memdesc')
    .option(
      '--pincount <design>',
      `pin-count design (${PIN_DESIGNS.join(', ')})`,
      choice(PIN_DESIGNS),
      'bias',
    )
    .option('--thp <mode>', `THP mode (${THP_MODES.join(', ')})`, choice(THP_MODES), 'madvise')
    .option('--invalid <share>', 'share of ops with an invalid argument, 0 to 1', shareArg, 0.05)
    .option('--memory <size>', 'RAM size', sizeArg, '512M')
    .option(
      '--out <file>',
      'where the reproducer scenario goes on a finding (default pagelab-check-seed<S>.yaml)',
    )
    .option('--no-shrink', 'write the whole failing sequence instead of shrinking it')
    .action((o: CheckCommandOptions) => setCode(checkCommand(o, io)));

  program
    .command('schema')
    .description('print the JSON schema of scenario files, for editor completion')
    .action(() => out(`${JSON.stringify(scenarioJsonSchema(), null, 2)}\n`));

  program
    .command('ops')
    .description('the scenario ops: each with the kernel function it models; with NAME, what each key means')
    .argument('[name]', 'an op')
    .action((name?: string) => {
      const text = opsText(name);
      if (text === undefined)
        throw new UsageError(
          `no op '${name}'${suggestion(name!, OPS_BY_NAME.keys())} ('pagelab ops' lists them)`,
        );
      out(`${text}\n`);
    });

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
    .option('--json', JSON_HELP)
    .action(
      (o: {
        memory: string;
        nodes: number;
        design: LayoutName;
        movable: string;
        cma: string;
        check: CheckLevel;
        json?: boolean;
      }) => {
        const m = new Machine({
          memory: o.memory,
          nodes: o.nodes,
          design: o.design,
          movable: o.movable,
          cma: o.cma,
        });
        m.check(o.check === 'off' ? 'cheap' : o.check);
        out(o.json ? jsonDocument('boot', machineJson(m)) : `${bootReport(m)}\n`);
      },
    );

  program
    .command('devmem')
    .description('metadata bytes of device memory per memmap mode and layout, 1/10/100 % of it touched')
    .option('--size <sizes>', 'device sizes, comma-separated (e.g. 1T,16T)', '1T,16T')
    .option('--json', JSON_HELP)
    .action((o: { size: string; json?: boolean }) => {
      const sizes = o.size.split(',');
      for (const s of sizes) {
        sizeArg(s);
        // A device is at least one page: 0 or 100 bytes would price a memmap of no whole pfn.
        if (parseSize(s) < 4096 || parseSize(s) % 4096 !== 0)
          throw new UsageError(`--size ${s}: a device is a whole number of 4 KiB pages, at least one`);
      }
      out(o.json ? jsonDocument('devmem', devmemJson(sizes)) : `${devmemReport(sizes)}\n`);
    });

  program
    .command('snapshot')
    .description(
      'a real machine: census, memdesc price and PFN map of a kpageflags capture (or live /proc, as root)',
    )
    .argument(
      '[file]',
      'saved /proc/kpageflags (raw, gzip or zstd) or a --save directory; omitted: the live machine',
    )
    .option('--count <file>', 'saved /proc/kpagecount (default: the kpagecount file beside FILE)')
    .option('--page-types', 'print the summary of the kernel tool `page-types -F FILE` instead')
    .option('-r, --raw', 'with --page-types: raw mode, as `page-types -r`')
    .option('--json', JSON_HELP)
    .option('--no-map', 'leave out the PFN map')
    .option('--width <n>', 'PFN map characters per row', intArg, 64)
    .option('--save <dir>', 'capture the live machine (root) into DIR: compressed files and a manifest')
    .option('--force', 'with --save: write into a non-empty directory no capture wrote')
    .option('--replay <scenario>', "run SCENARIO.yaml on a machine with the capture's frames where they were")
    .option('--owners', 'with --replay: map the anon folios into synthetic processes (made up, and said so)')
    .action(async (file: string | undefined, o) => setCode(await snapshotCommand(file, o, io)));

  program
    .command('serve')
    .description('the web visualiser: serve the built app and examples/ on http://127.0.0.1:5177/')
    .option('--port <n>', 'TCP port (0: any free one)', (v) => Number(stepArg(v)), 5177)
    .option('--host <host>', 'address to bind (default 127.0.0.1; anything else is warned about)')
    .option('--open', 'open the page in a browser')
    .action(async (o: { port: number; host?: string; open?: boolean }) => {
      await serveCommand(o, io);
    });

  program
    .command('demo')
    .description(
      'a built-in demo: a 4 GiB machine with a mix of folios, slabs and page tables, and its report',
    )
    .option('--memory <size>', 'RAM size', sizeArg, '4G')
    .option('--json', JSON_HELP)
    .action((o: { memory: string; json?: boolean }) =>
      out(o.json ? jsonDocument('demo', demoJson(o.memory)) : `${runDemo(o.memory)}\n`),
    );

  return program;
}

const STDIO: Io = {
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
  tty: process.stderr.isTTY === true,
};

/** Run the CLI; returns the exit code. */
export async function main(argv: string[], io: Io = STDIO): Promise<number> {
  let code = 0;
  const program = buildProgram(io, (c) => {
    code = c;
  });
  if (argv.length === 0) {
    io.out(program.helpInformation());
    return 0;
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.exitCode === 0)
        return 0;
      io.err(`pagelab: ${e.message.replace(/^error: /, '')}\n`);
      return 2;
    }
    if (e instanceof InputError || e instanceof UsageError || e instanceof ScenarioInputError) {
      io.err(`pagelab: ${e.message}\n`);
      return 2;
    }
    if (e instanceof KernelBug || e instanceof KernelError || e instanceof InvariantViolation) {
      io.err(`pagelab: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}
