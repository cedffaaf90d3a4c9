/**
 * `expect: { buddyinfo: [{ node: 0, zone: Normal, free: { 9: 3, 10: 500 } }] }` — free blocks per
 * order in one zone, as /proc/buddyinfo prints them. `free` is either a map order -> blocks or a
 * list from order 0 up (a shorter list checks the lowest orders only).
 */
import { z } from 'zod';
import { ZONE_NAMES } from '../../mm/mmzone.js';
import { MAX_PAGE_ORDER } from '../../mm/types.js';
import { oneOf, uint } from '../fields.js';
import { defineExpectation, type Failure } from '../step.js';

const ORDER_KEY = /^(?:[0-9]|10)$/;

const zoneFree = z.strictObject({
  node: uint('a node number').default(0),
  zone: oneOf(ZONE_NAMES, 'a zone:'),
  free: z.union(
    [
      z.array(uint('a count of free blocks')).max(MAX_PAGE_ORDER + 1),
      z.record(z.string().regex(ORDER_KEY), uint('a count of free blocks')),
    ],
    { error: `expected free blocks as a list from order 0, or a map from orders 0..${MAX_PAGE_ORDER}` },
  ),
});

/** [order, blocks] pairs, whichever way they were written. */
const orders = (free: z.output<typeof zoneFree>['free']): [number, number][] =>
  Array.isArray(free) ? free.map((n, o) => [o, n]) : Object.entries(free).map(([o, n]) => [Number(o), n]);

export const buddyinfoExpectation = defineExpectation({
  fields: { buddyinfo: z.array(zoneFree).optional() },
  analyse: (a, ctx) => {
    (a.buddyinfo ?? []).forEach((want, i) => {
      if (want.node >= ctx.config.nodes)
        ctx.error(
          ['buddyinfo', i, 'node'],
          `node ${want.node} does not exist (the machine has ${ctx.config.nodes})`,
        );
    });
  },
  check: (a, { m }) => {
    const failures: Failure[] = [];
    let checks = 0;
    const zones = m.buddyinfo();
    (a.buddyinfo ?? []).forEach((want, i) => {
      const where = `node ${want.node} ${want.zone}`;
      const zone = zones.find((zi) => zi.nid === want.node && zi.zone === want.zone);
      checks++;
      if (!zone) {
        failures.push({ path: ['buddyinfo', i, 'zone'], message: `${where}: no such zone on this machine` });
        return;
      }
      const wrong = orders(want.free)
        .filter(([o, n]) => zone.free[o] !== n)
        .map(([o, n]) => `order ${o}: ${zone.free[o]} free blocks, expected ${n}`);
      if (wrong.length)
        failures.push({ path: ['buddyinfo', i, 'free'], message: `${where}: ${wrong.join('; ')}` });
    });
    return { checks, failures };
  },
});
