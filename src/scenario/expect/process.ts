/**
 * `expect: { process: p, rss: { anon: 2, file: 0 }, signals: [SIGSEGV], vmas: 3 }` — what
 * /proc/PID/status and the signal log would say of one process; and `pins: { false_negatives: 0 }`
 * — how the pin-count design answered folio_maybe_dma_pinned() so far, against the truth.
 */
import { z } from 'zod';
import { labelName, oneOf, uint } from '../fields.js';
import { SIGNALS } from '../ops/vm.js';
import { defineExpectation, type Failure } from '../step.js';

const rss = z.strictObject({
  anon: uint().optional(),
  file: uint().optional(),
  shmem: uint().optional(),
  swap: uint().optional(),
});

export const processExpectation = defineExpectation({
  fields: {
    process: labelName().optional(),
    rss: rss.optional(),
    signals: z.array(oneOf(SIGNALS, 'signals from')).optional(),
    vmas: uint('a VMA count').optional(),
    alive: z.boolean().optional(),
  },
  analyse: (a, ctx) => {
    if (a.process) ctx.use(a.process, ['process'], ['process']);
    const needs = a.rss ?? a.signals ?? a.vmas ?? a.alive;
    if (needs !== undefined && !a.process) ctx.error([], 'rss, signals, vmas and alive need process: NAME');
  },
  check: (a, ctx) => {
    if (!a.process) return { checks: 0, failures: [] };
    const p = ctx.m.process(ctx.labels.num(a.process));
    const failures: Failure[] = [];
    let checks = 0;
    for (const [k, want] of Object.entries(a.rss ?? {})) {
      checks++;
      const got = p.rss[k as keyof typeof p.rss];
      if (got !== want)
        failures.push({
          path: ['rss', k],
          message: `${a.process}: rss ${k} is ${got} pages, expected ${want}`,
        });
    }
    if (a.signals) {
      checks++;
      const got = p.signals.map((s) => s.signal);
      if (got.join(',') !== a.signals.join(','))
        failures.push({
          path: ['signals'],
          message: `${a.process}: received [${got.join(', ')}], expected [${a.signals.join(', ')}]`,
        });
    }
    if (a.vmas !== undefined) {
      checks++;
      if (p.vmas.length !== a.vmas)
        failures.push({ path: ['vmas'], message: `${a.process}: ${p.vmas.length} VMAs, expected ${a.vmas}` });
    }
    if (a.alive !== undefined) {
      checks++;
      if (p.alive !== a.alive)
        failures.push({ path: ['alive'], message: `${a.process}: ${p.alive ? 'alive' : 'exited'}` });
    }
    return { checks, failures };
  },
});

const SCORE_KEYS = {
  true_positives: 'truePositives',
  false_positives: 'falsePositives',
  false_negatives: 'falseNegatives',
  true_negatives: 'trueNegatives',
} as const;

export const pinScoreExpectation = defineExpectation({
  fields: {
    pins: z
      .strictObject(
        Object.fromEntries(Object.keys(SCORE_KEYS).map((k) => [k, uint().optional()])) as Record<
          keyof typeof SCORE_KEYS,
          z.ZodOptional<ReturnType<typeof uint>>
        >,
      )
      .optional(),
  },
  check: (a, ctx) => {
    const score = ctx.m.pinScore();
    const failures: Failure[] = [];
    let checks = 0;
    for (const [k, field] of Object.entries(SCORE_KEYS)) {
      const want = a.pins?.[k as keyof typeof SCORE_KEYS];
      if (want === undefined) continue;
      checks++;
      const got = score[field];
      if (got !== want)
        failures.push({
          path: ['pins', k],
          message: `design ${score.design}: ${k} is ${got}, expected ${want}`,
        });
    }
    return { checks, failures };
  },
});
