import { benchMachine, prng } from './util.js';

const m = benchMachine('64G');
const rnd = prng(0x5eed);
const pages: number[] = [];
for (let i = 0; i < 65536; i++) pages.push(m.allocPages(0));
for (const p of pages) if (rnd() < 0.5) m.freePages(p, 0);
const k = m.kernel;
const N = 2e6;
function run(name: string, fn: () => void) {
  const r: number[] = [];
  for (let j = 0; j < 7; j++) {
    const t = performance.now();
    fn();
    r.push(performance.now() - t);
  }
  r.sort((a, b) => a - b);
  console.log(name.padEnd(28), ((r[3] * 1e6) / N).toFixed(1), 'ns/pair');
}
run('api allocPages+freePages', () => {
  for (let i = 0; i < N; i++) m.freePages(m.allocPages(0), 0);
});
run('kapi-level folio alloc+put', () => {
  for (let i = 0; i < N; i++) {
    const h = k.folios.alloc(0x40000 | 0xcc0, 0, 13);
    k.folios.putRow(h >>> 0);
  }
});
run('pa.rmqueue+freeBlock', () => {
  for (let i = 0; i < N; i++) {
    const p = k.pa.rmqueue(0, 0xcc0, 0);
    k.folios;
    k.pa.freeBlock(p, 0);
  }
});
