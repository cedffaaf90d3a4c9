import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';

/** Run the CLI with captured stdout and stderr. */
async function run(...argv: string[]) {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (s) => (out += s), err: (s) => (err += s) });
  return { code, out, err };
}

/** A one-line error: exactly one newline, at the end, prefixed with the program name. */
function expectOneLine(err: string): void {
  expect(err.endsWith('\n')).toBe(true);
  expect(err.trimEnd().includes('\n')).toBe(false);
  expect(err.startsWith('pagelab: ')).toBe(true);
}

describe('pagelab boot: bad input', () => {
  it('--memory 12Q exits 2 with a one-line error and prints nothing else', async () => {
    const r = await run('boot', '--memory', '12Q');
    expect(r.code).toBe(2);
    expectOneLine(r.err);
    expect(r.err).toContain('12Q');
    expect(r.out).toBe('');
  });

  it.each([
    [['boot', '--memory', '100M'], /multiple of the 128M section/],
    [['boot', '--memory', '1G', '--nodes', '0'], /positive whole number/],
    [['boot', '--memory', '1G', '--nodes', '9'], /9 nodes need at least 9 sections/],
    [['boot', '--design', 'struct-folio'], /expected one of struct-page, memdesc/],
    [['boot', '--check', 'paranoid'], /expected one of off, cheap, full/],
    [['boot', '--memory', '1G', '--cma', '1G'], /CMA area does not fit/],
    [['boot', '--memory', '1G', '--movable', '1G'], /movable memory must leave/],
    [['frobnicate'], /unknown command/],
  ])('%j exits 2 with one line', async (argv, pattern) => {
    const r = await run(...argv);
    expect(r.code).toBe(2);
    expectOneLine(r.err);
    expect(r.err).toMatch(pattern);
    expect(r.out).toBe('');
  });
});

describe('pagelab boot', () => {
  it('--memory 1T prints meminfo, zones and the accounting under both layouts', async () => {
    const r = await run('boot', '--memory', '1T');
    expect(r.code).toBe(0);
    expect(r.err).toBe('');
    const pages = 2 ** 28;
    expect(r.out).toContain(`machine: 1T RAM, 1 node(s), ${pages} page frames, design memdesc`);
    // All but the reserved first MiB and 16 MiB kernel image is free.
    const managedKb = (pages - 256 - 4096) * 4;
    expect(r.out).toMatch(new RegExp(`MemTotal:\\s+${managedKb} kB`));
    expect(r.out).toMatch(new RegExp(`MemFree:\\s+${managedKb} kB`));
    expect(r.out).toMatch(/node 0 DMA32 +pfn 0x0-0x100000/);
    expect(r.out).toMatch(/node 0 Normal +pfn 0x100000-0x10000000/);
    // Only the first section (the reserved ranges) has a memmap after boot.
    expect(r.out).toContain('memmap: 1 of 8192 sections populated');
    // memdesc: 8 B x 2^28 frames = 2 GiB and no descriptors; struct page: 64 B x 2^28 = 16 GiB.
    const memdesc = r.out.indexOf('memdesc: 2G of metadata (8.00 bytes per page)');
    const structPage = r.out.indexOf('struct-page: 16G of metadata (64.00 bytes per page)');
    expect(memdesc).toBeGreaterThan(0);
    expect(structPage).toBeGreaterThan(memdesc);
  });

  it('--design struct-page reports that layout first', async () => {
    const r = await run('boot', '--memory', '1G', '--design', 'struct-page');
    expect(r.code).toBe(0);
    const structPage = r.out.indexOf('struct-page: 16M of metadata (64.00 bytes per page)');
    const memdesc = r.out.indexOf('memdesc: 2M of metadata (8.00 bytes per page)');
    expect(structPage).toBeGreaterThan(0);
    expect(memdesc).toBeGreaterThan(structPage);
  });

  it('--nodes, --movable and --cma shape the zones it prints', async () => {
    const r = await run('boot', '--memory', '2G', '--nodes', '2', '--movable', '512M', '--cma', '64M');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/node 0 DMA32 +pfn 0x0-0x30000 .* cma 16384/);
    expect(r.out).toMatch(/node 0 Movable +pfn 0x30000-0x40000/);
    expect(r.out).toMatch(/node 1 DMA32 +pfn 0x40000-0x70000/);
    expect(r.out).toMatch(/node 1 Movable +pfn 0x70000-0x80000/);
    expect(r.out).toMatch(/CmaTotal:\s+65536 kB/);
  });
});

describe('pagelab demo', () => {
  it('runs the default job and prints the machine report and slabinfo', async () => {
    const r = await run('demo');
    expect(r.code).toBe(0);
    expect(r.err).toBe('');
    expect(r.out).toContain('machine: 4G RAM');
    // 2000 small anon folios + two order-9 THPs, mapped by nobody (not AnonPages); 300 order-2 and 1000 small file folios.
    expect(r.out).toMatch(new RegExp(`pagelab_AnonUnmapped:\\s+${(2000 + 2 * 512) * 4} kB`));
    expect(r.out).toMatch(new RegExp(`Cached:\\s+${(300 * 4 + 1000) * 4} kB`));
    // 8 processes x (PGD + PUD + PMD + 6 PTE tables).
    expect(r.out).toMatch(new RegExp(`PageTables:\\s+${8 * 9 * 4} kB`));
    // One 64 KiB kmalloc (order 4) and one order-4 driver buffer.
    expect(r.out).toMatch(/pagelab_DriverPages:\s+64 kB/);
    expect(r.out).toMatch(/^dentry +3000 +3003 +192 +21 +1 +143$/m);
    expect(r.out).toMatch(/^inode_cache +1200 +1209 +600 +13 +2 +93$/m);
    expect(r.out).toMatch(/^kmalloc-4k +400 +400 +4096 +8 +8 +50$/m);
    expect(r.out).toMatch(/memdesc: .* of metadata/);
    expect(r.out).toMatch(/struct-page: .* of metadata/);
  });
});

describe('pagelab --help', () => {
  it('exits 0', async () => {
    const r = await run('--help');
    expect(r.code).toBe(0);
    expect(r.out).toContain('boot');
    expect(r.out).toContain('demo');
  });
});
