import { benchMachine, prng } from './util.js';

const m = benchMachine('64G');
const rnd = prng(0x5eed);
const pages: number[] = [];
for (let i = 0; i < 65536; i++) pages.push(m.allocPages(0));
for (const p of pages) if (rnd() < 0.5) m.freePages(p, 0);
const k = m.kernel;
for (let j = 0; j < 10; j++)
  for (let i = 0; i < 1e6; i++) {
    const p = k.pa.rmqueue(0, 0, 0);
    k.pa.freeBlock(p, 0);
  }
