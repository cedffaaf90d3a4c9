import { z } from 'zod';
import { byteValue, hexData, labelName, size } from '../fields.js';
import { defineOp } from '../step.js';
import { checkBytes, hexBytes, valueExpect } from './vm.js';

export const createOp = defineOp({
  name: 'create',
  doc: 'a file of `size` bytes holding one repeated byte or exact hex bytes: on a disk filesystem (on disk, not cached), or with `memfd: true` a memfd_create() shmem file (written bytes cached, no writeback, no dirty tracking)',
  fields: {
    file: labelName(),
    size: size(),
    byte: byteValue().optional(),
    data: hexData().optional(),
    memfd: z.boolean().default(false),
  },
  binds: { key: 'file', kind: 'file', memory: false },
  analyse: (a, ctx) => {
    if (a.byte !== undefined && a.data !== undefined) ctx.error([], 'give at most one of byte and data');
  },
  run: (a, { m }) => {
    m.fileCreate(a.file, a.size, a.data !== undefined ? hexBytes(a.data) : a.byte, { memfd: a.memfd });
    return {
      summary: `${a.file}: ${a.size} bytes${a.memfd ? ' (memfd)' : ''}`,
      binding: { kind: 'file', value: a.file },
    };
  },
});

export const truncateOp = defineOp({
  name: 'truncate',
  doc: 'truncate(): pages past the new size leave every mapping (later accesses there are SIGBUS) and the cache',
  fields: { file: labelName(), size: size() },
  analyse: (a, ctx) => void ctx.use(a.file, ['file'], ['file']),
  run: (a, { m }) => {
    m.fileTruncate(a.file, a.size);
    return { summary: `${a.file} -> ${a.size} bytes, ${m.fileInfo(a.file).cached} page(s) cached` };
  },
});

export const syncOp = defineOp({
  name: 'sync',
  doc: 'fsync(): write back dirty page-cache folios; `expect` checks what is on disk afterwards',
  fields: {
    file: labelName(),
    offset: size().default(0),
    len: size().default(1),
    expect: valueExpect
      .omit({ signal: true })
      .extend({ error: z.union([z.string(), z.null()]).optional() })
      .optional(),
  },
  analyse: (a, ctx) => void ctx.use(a.file, ['file'], ['file']),
  run: (a, { m }) => {
    const err = m.fileSync(a.file);
    const failures = checkBytes(m.fileContents(a.file, a.offset, a.len), a.expect);
    // The error recorded on the mapping (mapping_set_error: writeback or memory failure).
    if (a.expect?.error !== undefined && err !== a.expect.error)
      failures.push({
        path: ['expect', 'error'],
        message: `fsync returned ${err ?? 'no error'}, expected ${a.expect.error ?? 'none'}`,
      });
    return {
      summary: `${a.file} written back${err ? `, error ${err}` : ''}`,
      checks: a.expect ? 1 : 0,
      failures,
    };
  },
});

export const FILE_OPS = [createOp, truncateOp, syncOp];
