import { benchMachine, median } from './util.js';

const MIB = 1024,
  len = MIB << 20;
const m = benchMachine(`${MIB * 4}M`);
const p = m.spawn('bench');
const T: Record<string, number[]> = {};
const time = (n: string, fn: () => void) => {
  const t = performance.now();
  fn();
  (T[n] ??= []).push(performance.now() - t);
};
const only = process.argv[2];
for (let r = 0; r < 6; r++) {
  const a = m.mmap(p, { length: len, prot: 'rw', flags: ['private', 'anonymous'] });
  time('write', () => m.touch(p, a, len, { write: true }));
  let c = 0;
  if (!only || only === 'fork') {
    time('fork', () => {
      c = m.fork(p);
    });
    time('exit', () => m.exit(c));
  }
  if (!only || only === 'zap') {
    time('dontneed', () => m.madvise(p, a, len, 'dontneed'));
    m.touch(p, a, len, { write: true });
  }
  if (!only || only === 'pin') {
    const n = 65536;
    for (let i = 0; i < 3; i++) {
      let h: any;
      time('pin', () => {
        h = m.pinUserPages(p, a, n, ['write', 'longterm']);
      });
      time('unpin', () => m.unpinUserPages(h.id));
    }
  }
  time('munmap', () => m.munmap(p, a, len));
}
for (const [k, v] of Object.entries(T)) console.log(k, median(v.slice(1)).toFixed(2), 'ms');
