/**
 * `expect: { vm_normal_page: { proc: p, addr: buf, returns: page } }` — what vm_normal_page()
 * returns for the entry mapping an address: a page (normal, refcounted), null (a special mapping:
 * pfn map, mixed-map pfn, zero page) or nothing (no entry).
 */
import { z } from 'zod';
import { analyseVmNormalPage, checkVmNormalPage, vmNormalPageExpect } from '../ops/driver.js';
import { defineExpectation } from '../step.js';

export const vmNormalPageExpectation = defineExpectation({
  fields: { vm_normal_page: z.union([vmNormalPageExpect, z.array(vmNormalPageExpect)]).optional() },
  analyse: (a, ctx) => {
    for (const v of [a.vm_normal_page ?? []].flat()) analyseVmNormalPage(v, ctx);
  },
  check: (a, ctx) => {
    const all = [a.vm_normal_page ?? []].flat();
    const failures = all
      .map((v) => checkVmNormalPage(v, ctx))
      .filter((m): m is string => m !== undefined)
      .map((message) => ({ path: ['vm_normal_page'], message }));
    return { checks: all.length, failures };
  },
});
