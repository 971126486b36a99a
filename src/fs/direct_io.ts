/**
 * O_DIRECT through get_user_pages (Linux's iomap_dio_rw / the old
 * blockdev_direct_IO, reduced): the user buffer is pinned, and the data
 * moves between the pinned frames and the device blocks with no kernel
 * buffer and no page cache in between.
 *
 * Because the user buffer goes through gup, a buffer that is itself a DAX
 * mapping has no struct pages without a device memmap, and the transfer
 * fails with -EFAULT — the seeds' shortcoming, on purpose. With a device
 * memmap the DAX frames pin like RAM and the transfer works. (O_DIRECT *of*
 * a DAX file into an ordinary buffer always works.)
 *
 * The syscall layer calls directIORead / directIOWrite with the user
 * address, for files opened with O_DIRECT. (vfs's setDirectIO hook hands
 * over a kernel buffer already copied from the user, which is exactly the
 * copy O_DIRECT avoids, so it is not the entry point for this path.)
 *
 * Requests must be page aligned in file position, user address and length
 * (Linux requires logical-block alignment; here a block is a page), else
 * -EINVAL.
 *
 * Locking: gup first (mmap_lock of `mm`, faults), with no inode lock held;
 * then i_rwsem of the file (read for reads, write for writes). A page-cache
 * file's dirty pages of the range are written back first so the device is
 * current, and a write refreshes pages that stay cached.
 *
 * @module
 */

import { VMSTAT } from "../abi/layout/mod.ts";
import { EINVAL, isErr } from "../abi/errno.ts";
import { asBlock, type MmId, PAGE_SIZE, type Pfn } from "../abi/types.ts";
import { statAdd } from "../hw/memory.ts";
import { codeWritten } from "../hw/jit/shared.ts";
import { getUserPagesFast, unpinUserPages } from "../mm/gup.ts";
import { putPage } from "../mm/memmap.ts";
import { markBlockDirty } from "./xipfs/balloc.ts";
import { daxBlockPfn, daxHoleFilled } from "./dax_fault.ts";
import { bmapLookupFast, getBlock } from "./xipfs/getblock.ts";
import {
  findGetPage,
  lockPage,
  pageView,
  unlockPage,
  writebackMapping,
} from "./pagecache/pagecache.ts";
import { type InodeRef, type XipCtx } from "./xipfs/xipfs_ctx.ts";
import { type XipFs } from "./xipfs/xipfs_live.ts";

const aligned = (n: number): boolean => Number.isSafeInteger(n) && n >= 0 && n % PAGE_SIZE === 0;

/**
 * Copy one page between pinned frame `pfn` and device block `b`, through
 * directAccess on a memory device, bio otherwise.
 *
 * @returns 0 or -errno
 */
function copyBlock(c: XipCtx, b: number, pfn: Pfn, toDevice: boolean, bytes: number): number {
  const u8 = c.mem.u8;
  const at = pfn * PAGE_SIZE;
  if (c.mdev !== null) {
    const src = daxBlockPfn(c, b);
    if (isErr(src)) return src;
    const dev = src * PAGE_SIZE;
    if (toDevice) u8.copyWithin(dev, at, at + bytes);
    else u8.copyWithin(at, dev, dev + bytes);
    codeWritten(c.mem, toDevice ? dev : at, bytes);
    return 0;
  }
  if (bytes !== PAGE_SIZE) {
    const buf = new Uint8Array(PAGE_SIZE);
    const r = c.dev.bioRead(asBlock(b), buf);
    if (r < 0) return r;
    u8.set(buf.subarray(0, bytes), at);
    codeWritten(c.mem, at, bytes);
    return 0;
  }
  const r = toDevice ? c.dev.bioWrite(asBlock(b), u8, at) : c.dev.bioRead(asBlock(b), u8, at);
  if (r >= 0 && !toDevice) codeWritten(c.mem, at, PAGE_SIZE);
  return r < 0 ? r : 0;
}

/**
 * O_DIRECT read of `len` bytes of `ip` at `pos` into user memory at `va` of
 * mm `mm`. Stops at EOF. Entry: a reference to `ip`, no lock held.
 *
 * @returns bytes read (0 at or past EOF), or -EINVAL (misaligned), -EFAULT
 *   (the buffer cannot be pinned: unmapped, read-only, or a DAX mapping
 *   without a device memmap), or a device error
 */
export function directIORead(
  fs: XipFs,
  mm: MmId,
  ip: InodeRef,
  pos: number,
  va: number,
  len: number,
): number {
  if (!aligned(pos) || !aligned(va) || !aligned(len)) return -EINVAL;
  if (len === 0) return 0;
  const c = fs.ctx;
  const pins = getUserPagesFast(c.mem, mm, va, len / PAGE_SIZE, true);
  if (typeof pins === "number") return pins;
  fs.inodeLockShared(ip);
  try {
    const size = fs.size(ip);
    if (pos >= size) return 0;
    const want = Math.min(len, size - pos);
    const first = pos / PAGE_SIZE;
    const pages = Math.ceil(want / PAGE_SIZE);
    if (!fs.isDax(ip)) {
      const wb = writebackMapping(c.mem, ip.slot, fs.aops, { from: first, to: first + pages });
      if (wb < 0) return wb;
    }
    for (let i = 0; i < pages; i++) {
      const n = Math.min(PAGE_SIZE, want - i * PAGE_SIZE);
      const b = bmapLookupFast(c, ip.ino, first + i);
      const r = b < 0 ? b : b === 0 ? 0 : copyBlock(c, b, pins[i]!, false, n);
      if (b === 0) {
        c.mem.u8.fill(0, pins[i]! * PAGE_SIZE, pins[i]! * PAGE_SIZE + n);
        codeWritten(c.mem, pins[i]! * PAGE_SIZE, n);
      }
      if (r < 0) return i > 0 ? i * PAGE_SIZE : r;
    }
    statAdd(c.mem, VMSTAT.copiedRead, want);
    return want;
  } finally {
    fs.inodeUnlockShared(ip);
    unpinUserPages(c.mem, pins);
  }
}

/**
 * O_DIRECT write of `len` bytes from user memory at `va` of mm `mm` to `ip`
 * at `pos`, allocating blocks for holes and growing i_size. Entry: a
 * reference to `ip`, no lock held.
 *
 * @returns bytes written, or -EINVAL, -EFAULT (as directIORead), -ENOSPC,
 *   a device error (only when nothing was written)
 */
export function directIOWrite(
  fs: XipFs,
  mm: MmId,
  ip: InodeRef,
  pos: number,
  va: number,
  len: number,
): number {
  if (!aligned(pos) || !aligned(va) || !aligned(len)) return -EINVAL;
  if (len === 0) return 0;
  const c = fs.ctx;
  const pins = getUserPagesFast(c.mem, mm, va, len / PAGE_SIZE, false);
  if (typeof pins === "number") return pins;
  fs.inodeLock(ip);
  try {
    const first = pos / PAGE_SIZE;
    const dax = fs.isDax(ip);
    if (!dax) {
      const wb = writebackMapping(c.mem, ip.slot, fs.aops, {
        from: first,
        to: first + pins.length,
      });
      if (wb < 0) return wb;
    }
    let done = 0;
    for (let i = 0; i < pins.length; i++) {
      const hole = bmapLookupFast(c, ip.ino, first + i) === 0;
      const b = getBlock(c, ip, first + i, true);
      const r = b < 0 ? b : copyBlock(c, b, pins[i]!, true, PAGE_SIZE);
      if (r < 0) {
        if (done === 0) return r;
        break;
      }
      markBlockDirty(c, b);
      if (dax && hole) daxHoleFilled(c, ip, first + i);
      if (!dax) refreshCachedPage(c, ip, first + i, pins[i]!);
      done += PAGE_SIZE;
    }
    if (pos + done > fs.size(ip)) fs.setSize(ip, pos + done);
    statAdd(c.mem, VMSTAT.copiedWrite, done);
    return done;
  } finally {
    fs.inodeUnlock(ip);
    unpinUserPages(c.mem, pins);
  }
}

/** A page of the range that is still cached gets the new bytes, so the cache is never stale. */
function refreshCachedPage(c: XipCtx, ip: InodeRef, pgoff: number, src: Pfn): void {
  const pfn = findGetPage(c.mem, ip.slot, pgoff);
  if (pfn === -1) return;
  lockPage(c.mem, pfn);
  pageView(c.mem, pfn).set(c.mem.u8.subarray(src * PAGE_SIZE, (src + 1) * PAGE_SIZE));
  codeWritten(c.mem, pfn * PAGE_SIZE, PAGE_SIZE);
  unlockPage(c.mem, pfn);
  putPage(c.mem, pfn);
}
