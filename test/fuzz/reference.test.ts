/**
 * The fuzzer's reference model (src/fuzz/reference.ts) on the rules it states: private pages copy
 * on write, populating for write copies them at once (MAP_POPULATE of a writable private mapping,
 * MADV_POPULATE_WRITE), and a populate stops where a fault would fail.
 */
import { describe, expect, it } from 'vitest';
import { Backing, PAGE, RefProcess } from '../../src/fuzz/reference.js';

function mapFile(p: RefProcess, file: Backing, pages: number, shared: boolean, at = 0) {
  for (let i = 0; i < pages; i++) p.pages.set(at + i * PAGE, { prot: 'rw', shared, obj: file, idx: i });
}

describe('the reference model', () => {
  it('a private page reads the file until written, then its own copy', () => {
    const file = new Backing('file', 2, 2, 7);
    const p = new RefProcess();
    mapFile(p, file, 2, false);
    file.cell(0)[0] = 9; // a write through someone's shared mapping
    expect((p.load(0) as { cell: Int16Array }).cell[0]).toBe(9);
    (p.store(0) as { cell: Int16Array }).cell[1] = 5;
    file.cell(0)[0] = 3;
    expect((p.load(0) as { cell: Int16Array }).cell[0]).toBe(9);
  });

  it('populating for write copies private pages now, up to the end of the file', () => {
    const file = new Backing('file', 2, 2, 7);
    const p = new RefProcess();
    mapFile(p, file, 3, false); // the third page is past the end
    p.populateWrite(0, 3);
    file.cell(0)[0] = 9;
    file.cell(1)[0] = 9;
    expect((p.load(0) as { cell: Int16Array }).cell[0]).toBe(7);
    expect((p.load(PAGE) as { cell: Int16Array }).cell[0]).toBe(7);
    expect(p.pages.get(2 * PAGE)!.priv).toBeUndefined();
    expect(p.load(2 * PAGE)).toEqual({ signal: 'SIGBUS' });
  });

  it('leaves shared pages and refused memory alone', () => {
    const file = new Backing('file', 2, 2, 7);
    const dev = new Backing('dev');
    const p = new RefProcess();
    mapFile(p, file, 2, true);
    p.populateWrite(0, 2);
    expect(p.pages.get(0)!.priv).toBeUndefined();
    const q = new RefProcess();
    q.pages.set(0, { prot: 'rw', shared: false, obj: dev, idx: 0 });
    q.populateWrite(0, 1, dev);
    expect(q.pages.get(0)!.priv).toBeUndefined();
  });

  it('MADV_DONTNEED zaps in order up to a pfn map; a vm_insert_page page is SIGBUS after it', () => {
    const file = new Backing('file', 2, 2, 7);
    const pfn = new Backing('dev');
    const ram = new Backing('dev');
    const p = new RefProcess();
    mapFile(p, file, 2, false);
    p.pages.set(2 * PAGE, { prot: 'rw', shared: true, obj: ram, idx: 0 });
    p.pages.set(3 * PAGE, { prot: 'rw', shared: true, obj: pfn, idx: 0 });
    p.pages.set(4 * PAGE, { prot: 'rw', shared: false, idx: 0 });
    (p.store(0) as { cell: Int16Array }).cell[0] = 5;
    (p.store(4 * PAGE) as { cell: Int16Array }).cell[0] = 6;
    p.dontneed(0, 5, pfn, ram);
    expect((p.load(0) as { cell: Int16Array }).cell[0]).toBe(7);
    expect(p.load(2 * PAGE)).toEqual({ signal: 'SIGBUS' });
    // The walk stopped at the pfn map: the private page after it keeps its copy.
    expect((p.load(4 * PAGE) as { cell: Int16Array }).cell[0]).toBe(6);
  });
});
