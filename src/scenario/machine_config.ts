/**
 * The `machine:` section of a scenario, mapped onto the Machine's configuration. Scenarios check
 * invariants after every step at level `cheap` unless they say otherwise.
 */
import { z } from 'zod';
import { CHECK_LEVELS, type CheckLevel } from '../check/invariants.js';
import { LAYOUTS } from '../designs/layout.js';
import { PFN_LOOKUPS } from '../designs/pfnlookup.js';
import { PIN_DESIGNS } from '../designs/pincount.js';
import { ConfigError, type MachineConfig, type ResolvedConfig, resolveConfig } from '../machine/config.js';
import { THP_MODES, THP_SIZE_MODES, THP_SIZE_NAMES } from '../machine/uapi.js';
import type { Path } from './diagnostics.js';
import { oneOf, sizeText, uint } from './fields.js';

/**
 * The per-size form of `thp`: `enabled` is the top-level mode, each size its hugepages-<size>kB/enabled
 * (always, madvise, inherit, never).
 */
function thpSizesSchema() {
  const size = oneOf(THP_SIZE_MODES, 'a per-size THP mode:').optional();
  return z.strictObject({
    enabled: oneOf(THP_MODES, 'a THP mode:').optional(),
    ...Object.fromEntries(THP_SIZE_NAMES.map((n) => [n, size])),
  });
}

/** Sizes stay as written: the Machine parses them, and quotes them in its messages. */
export const machineSchema = z.strictObject({
  /** A size, or a memory map: RAM ranges with holes between them (config.ts MachineConfig.memory). */
  memory: z.union([sizeText(), z.array(z.strictObject({ start: sizeText(), size: sizeText() }))]).optional(),
  deferredInit: z.boolean().optional(),
  pcp: z.boolean().optional(),
  nodes: uint('a node count').optional(),
  design: oneOf(LAYOUTS, 'a design:').optional(),
  movable: sizeText().optional(),
  cma: sizeText().optional(),
  check: oneOf(CHECK_LEVELS, 'a check level:').optional(),
  reserved: z.array(z.strictObject({ start: sizeText(), size: sizeText() })).optional(),
  zeroPage: sizeText().optional(),
  pincount: oneOf(PIN_DESIGNS, 'a pin-count design:').optional(),
  thp: z
    .union([oneOf(THP_MODES, 'a THP mode:'), thpSizesSchema()], {
      error: `expected a THP mode (${THP_MODES.join(', ')}) or per-size modes such as { 64K: always, 2M: madvise }`,
    })
    .optional(),
  contents: z.boolean().optional(),
  swap: sizeText().optional(),
  pfn_lookup: oneOf(PFN_LOOKUPS, 'a pfn lookup:').optional(),
});

export type MachineSection = z.output<typeof machineSchema>;

export const DEFAULT_SCENARIO_CHECK: CheckLevel = 'cheap';

/** The Machine's configuration; the runner does the checking itself, after each step. */
export function machineConfig(s: MachineSection): MachineConfig {
  const { check: _check, ...rest } = s;
  return { ...rest, check: 'off' };
}

/**
 * Validate the configuration the way the Machine will; a problem comes back with the path of the
 * key it is about (ConfigError messages start with that key: `memory: ...`, `reserved[0].start: ...`).
 */
export function checkMachineConfig(
  s: MachineSection,
): { config: ResolvedConfig } | { path: Path; message: string } {
  try {
    return { config: resolveConfig(machineConfig(s)) };
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    const m = /^(\w+)(?:\[(\d+)\]\.(\w+))?: (.*)$/s.exec(e.message);
    if (!m) return { path: ['machine'], message: e.message };
    const path: Path = m[2] === undefined ? ['machine', m[1]] : ['machine', m[1], Number(m[2]), m[3]];
    return { path, message: m[4] };
  }
}
