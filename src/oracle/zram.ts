/**
 * Swap for a run on the real kernel: a scenario with `machine: { swap: SIZE }` gets the host's zram
 * device as its swap device (the model's swap device is synchronous, as zram is), and the host
 * gets it back as it was afterwards — also when the run fails, and when the process exits or is
 * interrupted (SIGINT, SIGTERM) while the device is set up.
 *
 * Set up: load the zram module if no zram0 exists (and unload it afterwards), refuse politely if
 * zram0 is in use by someone else (a disksize already set, or it is swap or mounted), set its
 * disksize, mkswap it and swapon it at the highest priority, so pages go there before any other
 * swap the host has. Tear down: swapoff, reset (disksize back to 0), unload if loaded here.
 * Every change is recorded as a Knob, so the oracle's report says what it changed.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { OracleUnavailable } from './errors.js';
import { onHostRestore } from './host_restore.js';
import type { Knob } from './types.js';

const DEVICE = '/dev/zram0';
const SYS = '/sys/block/zram0';
/** swapon's highest priority: zram is used before any other swap device of the host. */
const PRIORITY = '32767';

/** What the run changed, to undo. */
export interface SwapSetup {
  knobs: Knob[];
  loadedModule: boolean;
  swapon: boolean;
  disksize: boolean;
}

let active: SwapSetup | null = null;
let hooked = false;

function run(cmd: string, args: string[]): void {
  try {
    execFileSync(cmd, args, { stdio: 'pipe' });
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: Buffer };
    const why = String(err.stderr ?? err.code ?? err.message)
      .trim()
      .split('\n')[0];
    throw new OracleUnavailable(`${cmd} ${args.join(' ')} failed: ${why}`);
  }
}

/** The swap devices /proc/swaps lists (its first column). */
export function activeSwaps(swaps = '/proc/swaps'): string[] {
  return readFileSync(swaps, 'utf8')
    .split('\n')
    .slice(1)
    .map((l) => l.split(/\s+/)[0])
    .filter((d) => d !== '');
}

/** zram0's disksize in bytes, or undefined when there is no zram0. */
export function zramDisksize(): number | undefined {
  return existsSync(SYS) ? Number(readFileSync(`${SYS}/disksize`, 'utf8').trim()) : undefined;
}

function mounted(): boolean {
  return readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .some((l) => l.startsWith(`${DEVICE} `));
}

/** Tear down at exit and on SIGINT/SIGTERM, through the one handler the knobs use too. */
function hook(): void {
  if (hooked) return;
  hooked = true;
  onHostRestore(() => {
    if (active) teardownSwap(active);
  });
}

/** Give zram0 `bytes` of disk and swap on it; OracleUnavailable (nothing left changed) if it cannot. */
export function setupSwap(bytes: number): SwapSetup {
  hook();
  const s: SwapSetup = { knobs: [], loadedModule: false, swapon: false, disksize: false };
  active = s;
  try {
    if (!existsSync(SYS)) {
      run('modprobe', ['zram']);
      s.loadedModule = true;
      s.knobs.push({ path: 'module zram', before: 'not loaded', set: 'loaded' });
    }
    const size = zramDisksize();
    if (size !== 0 || activeSwaps().includes(DEVICE) || mounted())
      throw new OracleUnavailable(
        `${DEVICE} is in use by someone else (disksize ${size}): the oracle needs it free for a scenario with swap`,
      );
    writeFileSync(`${SYS}/disksize`, String(bytes));
    s.disksize = true;
    s.knobs.push({ path: `${SYS}/disksize`, before: '0', set: String(bytes) });
    run('mkswap', [DEVICE]);
    run('swapon', ['-p', PRIORITY, DEVICE]);
    s.swapon = true;
    s.knobs.push({ path: `swapon ${DEVICE}`, before: 'off', set: `on, priority ${PRIORITY}` });
    return s;
  } catch (e) {
    teardownSwap(s);
    if (e instanceof OracleUnavailable) throw e;
    throw new OracleUnavailable(
      `cannot set up ${DEVICE} as swap (${(e as NodeJS.ErrnoException).code ?? e}): run it as root`,
    );
  }
}

/** Undo what setupSwap did, last change first. Safe to call twice. */
export function teardownSwap(s: SwapSetup): void {
  if (s.swapon && activeSwaps().includes(DEVICE)) execFileSync('swapoff', [DEVICE], { stdio: 'pipe' });
  s.swapon = false;
  if (s.disksize && existsSync(SYS)) writeFileSync(`${SYS}/reset`, '1');
  s.disksize = false;
  if (s.loadedModule) execFileSync('modprobe', ['-r', 'zram'], { stdio: 'pipe' });
  s.loadedModule = false;
  if (active === s) active = null;
}
