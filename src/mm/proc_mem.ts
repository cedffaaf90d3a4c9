/**
 * Another process's memory read and written the way /proc/PID/mem and ptrace(PEEKDATA/POKEDATA)
 * do it: GUP with FOLL_FORCE, one page at a time, through the kernel's mapping of the frame.
 * A forced write into a read-only private mapping breaks COW into an exclusive anonymous page and
 * writes that — never the page cache or a page another mapping shares — and leaves the PTE
 * read-only (the fault makes it dirty, not writable: mkdirty.c), so the process's own store still
 * faults with SIGSEGV.
 *
 * Models: fs/proc/base.c mem_rw() over mm/memory.c __access_remote_vm()
 * (get_user_page_vma_remote, copy_to_user_page / copy_from_user_page, set_page_dirty_lock,
 * put_page). Leaves out: the ptrace access check (the caller may always), vm_ops->access for
 * VM_IO/VM_PFNMAP mappings (they read as an error here, as for a driver without ->access).
 */
import { FOLL, getUserPages } from './gup.js';
import { putUserPages } from './gup_release.js';
import type { Kernel } from './kernel.js';
import type { Mm } from './mm_types.js';
import { folioMarkDirty } from './page-writeback.js';
import { KernelError, mod, PAGE_SIZE } from './types.js';
import type { UserData } from './uaccess.js';

/**
 * __access_remote_vm(): copy `len` bytes at `addr` out of (or `data` into) `mm`. Returns the
 * bytes done; it stops at the first page GUP cannot get, as the kernel returns a short count.
 */
export function accessRemoteVm(
  k: Kernel,
  mm: Mm,
  addr: number,
  len: number,
  data: UserData | null,
  out: Uint8Array | null,
): number {
  const flags = FOLL.FORCE | FOLL.GET | (data ? FOLL.WRITE : 0);
  let done = 0;
  while (done < len) {
    const a = addr + done;
    const off = mod(a, PAGE_SIZE);
    const n = Math.min(len - done, PAGE_SIZE - off);
    let h: ReturnType<typeof getUserPages>;
    try {
      h = getUserPages(k, mm, { start: a - off, nrPages: 1, flags });
    } catch (e) {
      if (e instanceof KernelError) break;
      throw e;
    }
    const pfn = h.pfns[0];
    if (data instanceof Uint8Array) k.frames.write(pfn, off, data.subarray(done, done + n));
    else if (data) k.frames.fillRange(pfn, off, n, data.byte);
    else if (out) k.frames.read(pfn, off, n, out, done);
    // copy_to_user_page() then set_page_dirty_lock(): the folio is dirtied by what owns it.
    const row = data ? k.pa.memmap.folioRow(pfn) : -1;
    if (row >= 0) folioMarkDirty(k, row);
    putUserPages(k, h.id);
    done += n;
  }
  return done;
}

/** mem_rw() writing: the bytes written; EIO when not one byte could be. */
export function memWrite(k: Kernel, mm: Mm, addr: number, data: UserData): number {
  const len = data instanceof Uint8Array ? data.length : data.len;
  const done = accessRemoteVm(k, mm, addr, len, data, null);
  if (done === 0 && len > 0) throw noPage(addr);
  return done;
}

/** mem_rw() reading: the bytes read (fewer at the first page that cannot be had); EIO for none. */
export function memRead(k: Kernel, mm: Mm, addr: number, len: number): Uint8Array {
  const out = new Uint8Array(len);
  const done = accessRemoteVm(k, mm, addr, len, null, out);
  if (done === 0 && len > 0) throw noPage(addr);
  return out.subarray(0, done);
}

const noPage = (addr: number) =>
  new KernelError('EIO', `/proc/PID/mem at 0x${addr.toString(16)}: no page GUP can reach`);
