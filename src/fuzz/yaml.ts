/** A scenario file from the steps the fuzzer ran: one flow mapping per step, as examples/ are written. */
import type { Step } from './world.js';

const PLAIN = /^[A-Za-z_][A-Za-z0-9_]*$/;
const RESERVED = new Set(['true', 'false', 'null', 'yes', 'no', 'on', 'off', 'y', 'n', 'nan', 'inf']);

function scalar(v: unknown): string {
  if (typeof v === 'number') return Number.isInteger(v) && v >= 0x10000 ? `0x${v.toString(16)}` : String(v);
  if (typeof v === 'boolean') return String(v);
  if (typeof v === 'string') return PLAIN.test(v) && !RESERVED.has(v.toLowerCase()) ? v : JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(scalar).join(', ')}]`;
  if (v && typeof v === 'object') return flow(v as Record<string, unknown>);
  return 'null';
}

export function flow(o: Record<string, unknown>): string {
  const parts = Object.entries(o)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}: ${scalar(v)}`);
  return `{ ${parts.join(', ')} }`;
}

export function scenarioYaml(
  name: string,
  comments: string[],
  machine: Record<string, unknown>,
  steps: (Step | string)[],
): string {
  const lines = comments.map((c) => `# ${c}`);
  lines.push(`name: ${JSON.stringify(name)}`, `machine: ${flow(machine)}`, 'steps:');
  for (const s of steps) lines.push(typeof s === 'string' ? `  # ${s}` : `  - ${flow(s)}`);
  return `${lines.join('\n')}\n`;
}
