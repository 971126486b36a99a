/**
 * DAX read and write: the project's dax_iomap_rw. Bytes move directly
 * between device memory and the caller's buffer, with no page cache, through
 * getBlock (file block -> device block) and directAccess (device block ->
 * addressable memory), which is the only route from a DAX file's block to
 * device memory.
 *
 * Speed: the copy is done in runs of blocks that are contiguous on the
 * device, one directAccess and one TypedArray.set per run, so a 1 MiB read
 * of a file written sequentially is a handful of copies (the next-fit
 * allocator keeps a writer's blocks together). Holes copy zeros.
 *
 * Locking (docs/ARCHITECTURE.md §3): daxRead holds i_rwsem for read and daxWrite for
 * write over the whole call; getBlock takes the block-map lock inside that
 * when it allocates. A write that races a fault on the same hole gets the
 * same block as the fault (getBlock's contract).
 *
 * @module
 */

import { inodeLock, inodeLockShared, inodeUnlock, inodeUnlockShared } from "./xipfs/xipfs_locks.ts";
import { VMSTAT, XIPFS_BLOCK_SIZE } from "../abi/layout/mod.ts";
import { EFBIG, EINVAL, EIO, EOPNOTSUPP } from "../abi/errno.ts";
import { type BlockNo, blockToSector } from "../abi/types.ts";
import { statAdd } from "../hw/memory.ts";
import { codeWritten } from "../hw/jit/shared.ts";
import { markInodeDirty, markRangeDirty } from "./xipfs/balloc.ts";
import { bmapLookupFast, bmapRun, getBlock } from "./xipfs/getblock.ts";
import { daxHoleFilled } from "./dax_fault.ts";
import { BMAP_MAX_BLOCKS } from "./xipfs/xipfs_bmap.ts";
import { inodeGetSize, inodeSet, inodeSetSize } from "./xipfs/xipfs_format.ts";
import { badblockFirst } from "../hw/badblocks.ts";
import { setPoison } from "./xipfs/xipfs_poison.ts";
import { type InodeRef, type XipCtx } from "./xipfs/xipfs_ctx.ts";

const BS = XIPFS_BLOCK_SIZE;
/** The largest file xipfs maps, in bytes (Linux's s_maxbytes). */
export const XIPFS_MAX_BYTES = BMAP_MAX_BLOCKS * BS;

/** Seconds since the epoch, for mtime/ctime. */
export const nowSecs = (): number => Math.floor(Date.now() / 1000);

/**
 * Device byte offset of device block `b` through directAccess, asking for
 * `bytes` from its start. The memory device returns all of it (it is
 * contiguous); anything shorter is a device bug here.
 *
 * @returns the byte offset in the device's `bytes`, or -errno
 */
function daxAddr(c: XipCtx, b: BlockNo, bytes: number): number {
  const da = c.mdev!.directAccess(blockToSector(b), bytes);
  if (typeof da === "number") return da;
  return da.avail < bytes ? -EIO : da.kaddr;
}

/**
 * Read up to `dst.length` bytes of DAX inode `ip` at byte `pos` into `dst`.
 * Entry: a reference to `ip`, no lock of the inode held. Takes i_rwsem for
 * read. Holes read as zeros; the read stops at i_size.
 *
 * @returns bytes read (0 at or past EOF; short before a poisoned block),
 *   or -EINVAL, -EUCLEAN, -EIO (the first block is poisoned, or a device
 *   error), -EOPNOTSUPP on a device without directAccess
 */
export function daxRead(c: XipCtx, ip: InodeRef, pos: number, dst: Uint8Array): number {
  if (c.mdev === null) return -EOPNOTSUPP; // no directAccess: no DAX
  if (!Number.isSafeInteger(pos) || pos < 0) return -EINVAL;
  inodeLockShared(c, ip);
  try {
    return daxReadLocked(c, ip, pos, dst);
  } finally {
    inodeUnlockShared(c, ip);
  }
}

function daxReadLocked(c: XipCtx, ip: InodeRef, pos: number, dst: Uint8Array): number {
  const size = inodeGetSize(c.vol, ip.ino);
  if (pos >= size) return 0;
  const end = Math.min(size, pos + dst.length);
  const bytes = c.mdev!.bytes;
  let p = pos;
  while (p < end) {
    const ib = Math.floor(p / BS);
    const inOff = p - ib * BS;
    const b = bmapLookupFast(c, ip.ino, ib);
    if (b < 0) return p > pos ? p - pos : b;
    // Extend the run while the next file block is the next device block
    // (or, for a hole, the next hole).
    const n = bmapRun(c, ip.ino, ib, b, Math.floor((end - 1) / BS) - ib + 1);
    let len = Math.min(n * BS - inOff, end - p);
    if (b === 0) {
      dst.fill(0, p - pos, p - pos + len);
    } else {
      // Poison (src/hw/badblocks.ts): read up to it; at it, -EIO (pmem's read path).
      const bad = badblockFirst(c.mem, b, n);
      if (bad === b) break;
      if (bad > b) len = Math.min(len, (bad - b) * BS - inOff);
      const at = daxAddr(c, b, n * BS);
      if (at < 0) return p > pos ? p - pos : at;
      dst.set(bytes.subarray(at + inOff, at + inOff + len), p - pos);
    }
    p += len;
  }
  if (p === pos && p < end) return -EIO; // stopped at a poisoned block before any byte
  statAdd(c.mem, VMSTAT.copiedRead, p - pos);
  return p - pos;
}

/**
 * Write `src` into DAX inode `ip` at byte `pos`, allocating (zeroed) blocks
 * for holes and growing i_size. Entry: a reference to `ip`, no lock of the
 * inode held. Takes i_rwsem for write. A write that would pass the largest
 * file is cut short there; one that starts past it fails.
 *
 * @returns bytes written, or -EFBIG, -ENOSPC (when nothing was written),
 *   -EINVAL, -EUCLEAN, -EIO (a poisoned block the write does not cover
 *   whole, first; a write covering a poisoned block whole clears it),
 *   -EOPNOTSUPP on a device without directAccess
 */
export function daxWrite(c: XipCtx, ip: InodeRef, pos: number, src: Uint8Array): number {
  if (c.mdev === null) return -EOPNOTSUPP;
  if (!Number.isSafeInteger(pos) || pos < 0) return -EINVAL;
  if (src.length === 0) return 0;
  if (pos >= XIPFS_MAX_BYTES) return -EFBIG;
  inodeLock(c, ip);
  try {
    return daxWriteLocked(c, ip, pos, src);
  } finally {
    inodeUnlock(c, ip);
  }
}

/**
 * Append `src` to DAX inode `ip` (O_APPEND): the position is i_size read
 * under i_rwsem for write, so concurrent appenders never pick the same
 * offset. Errors as daxWrite.
 *
 * Entry: a reference to `ip`, no lock of the inode held. Takes i_rwsem
 * (write) for the whole append; under it getBlock takes the block-map lock
 * to fill holes, and a filled hole's zero page is unmapped under the i_mmap
 * and page-table locks (daxHoleFilled). Returns with nothing held.
 *
 * @returns the bytes written (or -errno) and the position they start at
 */
export function daxAppend(c: XipCtx, ip: InodeRef, src: Uint8Array): [number, number] {
  if (c.mdev === null) return [-EOPNOTSUPP, 0];
  inodeLock(c, ip);
  try {
    const pos = inodeGetSize(c.vol, ip.ino);
    if (src.length === 0) return [0, pos];
    if (pos >= XIPFS_MAX_BYTES) return [-EFBIG, pos];
    return [daxWriteLocked(c, ip, pos, src), pos];
  } finally {
    inodeUnlock(c, ip);
  }
}

/**
 * getBlock(create) for the write path; a hole it fills may have the zero
 * page mapped in some process (a read fault), which must go now that the
 * block exists (dax_fault.ts daxHoleFilled).
 */
function getBlockFilling(c: XipCtx, ip: InodeRef, ib: number): BlockNo {
  const hole = bmapLookupFast(c, ip.ino, ib) === 0;
  const b = getBlock(c, ip, ib, true);
  if (hole && b > 0) daxHoleFilled(c, ip, ib);
  return b;
}

function daxWriteLocked(c: XipCtx, ip: InodeRef, pos: number, src: Uint8Array): number {
  const end = Math.min(pos + src.length, XIPFS_MAX_BYTES);
  const bytes = c.mdev!.bytes;
  let p = pos;
  let err = 0;
  while (p < end) {
    const ib = Math.floor(p / BS);
    const inOff = p - ib * BS;
    const lastIb = Math.floor((end - 1) / BS);
    const mapped = bmapLookupFast(c, ip.ino, ib);
    const b = mapped !== 0 ? mapped : getBlockFilling(c, ip, ib);
    if (b < 0) {
      err = b;
      break;
    }
    let n: number;
    if (mapped > 0) {
      n = bmapRun(c, ip.ino, ib, b, lastIb - ib + 1); // overwrite: no allocation
    } else {
      n = 1; // filling holes: allocate block by block, coalescing what comes out contiguous
      while (ib + n <= lastIb) {
        const nb = getBlockFilling(c, ip, ib + n);
        if (nb !== b + n) break; // an error or a jump: the next run starts there
        n++;
      }
    }
    const full = Math.min(n * BS - inOff, end - p);
    // Poison: a block the write covers whole is written and cleared (pmem's
    // recovery write); one it covers in part stops the write there (-EIO).
    const len = poisonCut(c, b, n, inOff, full);
    if (len <= 0) {
      err = -EIO;
      break;
    }
    const at = daxAddr(c, b, n * BS);
    if (at < 0) {
      err = at;
      break;
    }
    bytes.set(src.subarray(p - pos, p - pos + len), at + inOff);
    codeWritten(c.mem, bytes.byteOffset + at + inOff, len); // text mapped elsewhere changes in place
    markRangeDirty(c, b, n);
    clearWrittenPoison(c, b, inOff, len);
    p += len;
    if (len < full) {
      err = -EIO; // stopped before a poisoned block it covers only in part
      break;
    }
  }
  const done = p - pos;
  if (done > 0) {
    if (p > inodeGetSize(c.vol, ip.ino)) inodeSetSize(c.vol, ip.ino, p);
    const t = nowSecs();
    inodeSet(c.vol, ip.ino, "mtime", t);
    inodeSet(c.vol, ip.ino, "ctime", t);
    markInodeDirty(c, ip.ino);
    statAdd(c.mem, VMSTAT.copiedWrite, done);
  }
  return done > 0 ? done : err;
}

/**
 * How many of `len` bytes, from byte `inOff` of device block `b` on (a run
 * of `n` blocks), a write may store before a poisoned block it does not
 * cover whole. No lock needed (the bits change only under the poison lock;
 * a write racing a new poison is the race real hardware has too).
 *
 * @returns `len`, or fewer (0: the first block is such a block)
 */
function poisonCut(c: XipCtx, b: number, n: number, inOff: number, len: number): number {
  for (let k = badblockFirst(c.mem, b, n); k >= 0; k = badblockFirst(c.mem, k + 1, b + n - k - 1)) {
    const start = (k - b) * BS;
    if (start >= inOff + len) break;
    if (start < inOff || start + BS > inOff + len) return Math.max(0, start - inOff);
  }
  return len;
}

/** Clear the poison of the blocks of the run at `b` that [inOff, inOff + len) wrote whole. */
function clearWrittenPoison(c: XipCtx, b: number, inOff: number, len: number): void {
  const first = b + Math.ceil(inOff / BS), end = b + Math.floor((inOff + len) / BS);
  for (let k = badblockFirst(c.mem, first, end - first); k >= 0;) {
    setPoison(c, k, 1, false);
    k = badblockFirst(c.mem, k + 1, end - k - 1);
  }
}

/**
 * Zero bytes [from, to) of DAX inode `ip`'s file block `iblock` on the
 * device, if the block is mapped (a hole is zero already). Caller holds
 * i_rwsem and invalidate_lock for write (truncate, punch hole).
 *
 * @returns 0 or -errno
 */
export function daxZeroBlockRange(
  c: XipCtx,
  ip: InodeRef,
  iblock: number,
  from: number,
  to: number,
): number {
  const b = bmapLookupFast(c, ip.ino, iblock);
  if (b <= 0) return b;
  const at = daxAddr(c, b, BS);
  if (at < 0) return at;
  c.mdev!.bytes.fill(0, at + from, at + to);
  codeWritten(c.mem, c.mdev!.bytes.byteOffset + at + from, to - from);
  markRangeDirty(c, b, 1);
  return 0;
}
