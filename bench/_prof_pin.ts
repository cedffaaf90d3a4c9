import { benchMachine, median } from './util.js';

const len = 256 << 20;
const m = benchMachine('2G');
const p = m.spawn('bench');
const buf = m.mmap(p, { length: len, prot: 'rw', flags: ['private', 'anonymous'] });
m.touch(p, buf, len, { write: true });
const pin: number[] = [],
  unpin: number[] = [];
for (let r = 0; r < 40; r++) {
  let t = performance.now();
  const h = m.pinUserPages(p, buf, len / 4096, ['write', 'longterm']);
  const a = performance.now() - t;
  t = performance.now();
  m.unpinUserPages(h.id);
  const b = performance.now() - t;
  if (r >= 5) {
    pin.push(a);
    unpin.push(b);
  }
}
console.log('pin', median(pin).toFixed(2), 'unpin', median(unpin).toFixed(2));
