/**
 * What the oracle compares: after each step, every page of every region of every live process,
 * as the real kernel shows it (pagemap, kpagecount, kpageflags, the byte there) and as the model
 * describes the same page in the same terms; and what the step itself returned.
 */

/** One user page, as /proc/<pid>/pagemap, /proc/kpagecount and /proc/kpageflags show it. */
export interface PageObs {
  present: boolean;
  /** The first byte of the page, when present. */
  byte?: number;
  /** pagemap bit 56: mapped exactly once. */
  excl: boolean;
  /** The frame: a real PFN, or the model's frame number. Only compared through equality classes. */
  pfn: number;
  /** kpagecount: the page's mapcount (0 for the zero pages). */
  count: number;
  /** Stable identity flags: anon, ksm, zero, thp, head, tail, anonexcl; uffd_wp (pagemap bit 57); swap, marker when not present. */
  flags: string[];
  /** For a THP page: its index in the folio and the folio's pages (kpageflags' head and tail run). */
  folio?: { sub: number; nr: number };
}

/** The pages of one region in one process. */
export interface RegionObs {
  proc: string;
  region: string;
  pages: PageObs[];
}

/**
 * Counters after a step: per observed process (kB, /proc/PID/smaps_rollup) and
 * machine-wide (/proc/vmstat, KSM's sysfs), each compared as the change the step caused.
 */
export interface Counters {
  procs: Record<string, Record<string, number>>;
  global: Record<string, number>;
}

/** One side (kernel or model) after one step. */
export interface SideStep {
  /** 'ok', a signal name, 'err ERRNO', or 'data HEX' for what a device or a load read. */
  outcome: string;
  regions: RegionObs[];
  counters?: Counters;
}

/** One counter's change in one step on both sides. */
export interface CounterRow {
  /** `proc/Anonymous change`, `proc/AnonHugePages` or a machine-wide counter's change. */
  name: string;
  kernel: number;
  model: number;
  verdict: Verdict;
  note: string;
}

export type Verdict = 'agree' | 'disagree' | 'inconclusive';

/** A run of consecutive pages of one region with the same verdict and the same records. */
export interface PageRow {
  proc: string;
  region: string;
  first: number;
  last: number;
  verdict: Verdict;
  kernel: string;
  model: string;
  /** The fields that differ (disagree), or why the kernel's answer does not count (inconclusive). */
  note: string;
}

export interface StepResult {
  n: number;
  line: number;
  op: string;
  /** The probe commands the step became. */
  commands: string[];
  /** Set when the step is compared by rules instead of frame by frame (compact): the rules. */
  rules?: string;
  outcome: { kernel: string; model: string; verdict: Verdict };
  rows: PageRow[];
  counters: CounterRow[];
}

/** A sysfs knob the run set, and what it was before (put back afterwards). */
export interface Knob {
  path: string;
  before: string;
  set: string;
}

/** One of the scenario's own expectations that did not hold on the model. */
export interface ExpectationFailure {
  step: number;
  op: string;
  line: number;
  col: number;
  message: string;
}

/** The scenario's own `expect`s and `expect_error`s, checked on the model's full run. */
export interface ExpectationResult {
  checked: number;
  held: number;
  failures: ExpectationFailure[];
  /** The step after which the model's run stopped early, if it did. */
  stoppedAt?: number;
}

export interface OracleResult {
  file: string;
  name: string;
  knobs: Knob[];
  steps: StepResult[];
  counts: Record<Verdict, number>;
  expectations: ExpectationResult;
  /** 0: every comparison agreed or was inconclusive and every expectation held; 1 otherwise. */
  exitCode: 0 | 1;
}
