/**
 * fallocate(2) on xipfs, every mode but punch-hole (xipfs_truncate.ts):
 * the file system half of Linux's ext4_fallocate (ext4_alloc_file_blocks,
 * ext4_zero_range, ext4_collapse_range, ext4_insert_range), with DAX
 * semantics (fs/dax.c's callers: ext4_break_layouts / dax_layout_busy_page).
 *
 * ```
 *  mode 0 / KEEP_SIZE   allocate zeroed blocks under the holes of the range; mode 0 grows i_size
 *  ZERO_RANGE           the range reads as zeros, with blocks allocated under all of it
 *  COLLAPSE_RANGE       the range goes; what follows moves down; i_size -= len
 *  INSERT_RANGE         a hole of len bytes appears at off; what follows moves up; i_size += len
 * ```
 *
 * Every mode runs under i_rwsem and invalidate_lock held for write (no
 * read, write or fault runs meanwhile). Those that change which block a
 * file offset reaches, or its contents under existing mappings (ZERO,
 * COLLAPSE, INSERT), first unmap the affected range from every process,
 * private COW copies included, and wait until no get_user_pages pin holds
 * a DAX frame of it (the truncate unmap hook, file_vm_ops.ts truncateUnmap);
 * page-cache files then write back (COLLAPSE, INSERT) and drop their cached
 * pages of the range. Mode 0 changes holes into zeroed blocks only: a DAX
 * process that mapped the zero page there loses that PTE (the block
 * now exists), nobody else notices.
 *
 * Blocks allocated past i_size (KEEP_SIZE) set XIP_FL_EOFBLOCKS on the
 * inode, ext4's EXT4_EOFBLOCKS_FL, so fsck accepts them; truncate frees
 * them and clears the flag.
 *
 * @module
 */

import { codeWritten } from "../../hw/jit/shared.ts";
import { XIP_FL_EOFBLOCKS, XIPFS_BLOCK_SIZE } from "../../abi/layout/mod.ts";
import { EFBIG, EINVAL, EOPNOTSUPP } from "../../abi/errno.ts";
import {
  FALLOC_FL_COLLAPSE_RANGE,
  FALLOC_FL_INSERT_RANGE,
  FALLOC_FL_KEEP_SIZE,
  FALLOC_FL_ZERO_RANGE,
} from "../../abi/fcntl.ts";
import { asBlock, type BlockNo, blockToSector } from "../../abi/types.ts";
import { markBlockDirty, markInodeDirty } from "./balloc.ts";
import { daxHoleFilled } from "../dax_fault.ts";
import { XIPFS_MAX_BYTES } from "../dax.ts";
import { bmapLookupFast, clearPoison, fileAops, getBlock } from "./getblock.ts";
import { isDax } from "./icache.ts";
import { truncateInodePages, writebackMapping } from "../pagecache/pagecache.ts";
import {
  dropPagesRange,
  lockForTruncate,
  stamp,
  unmapMappingRangeHook,
  zeroBlockRange,
} from "./xipfs_truncate.ts";
import { bmapLastIblock, collapseBlocks, insertBlocks } from "./xipfs_shift.ts";
import { inodeGet, inodeGetSize, inodeSet, inodeSetSize } from "./xipfs_format.ts";
import type { InodeRef, XipCtx } from "./xipfs_ctx.ts";

const BS = XIPFS_BLOCK_SIZE;
const ZERO_BLOCK = new Uint8Array(BS);

/**
 * fallocate modes other than punch-hole. The VFS has checked the argument
 * rules of vfs_fallocate (offset >= 0, len > 0, exclusive modes, the fd
 * open for writing, a regular file, off + len within the largest file).
 * Entry: a reference to `ip`, none of its locks held.
 *
 * @returns 0, or -EINVAL (unaligned COLLAPSE/INSERT, a range reaching
 *   EOF for COLLAPSE, an offset at or past EOF for INSERT), -EFBIG (INSERT
 *   past the largest file), -EOPNOTSUPP (NO_HIDE_STALE, UNSHARE_RANGE: as
 *   ext4), -ENOSPC (blocks allocated before it stay, i_size covers them),
 *   -EUCLEAN, or a device error
 */
export function xipfsFallocate(
  c: XipCtx,
  ip: InodeRef,
  mode: number,
  off: number,
  len: number,
): number {
  const keep = (mode & FALLOC_FL_KEEP_SIZE) !== 0;
  switch (mode & ~FALLOC_FL_KEEP_SIZE) {
    case 0:
      return allocRange(c, ip, off, len, keep);
    case FALLOC_FL_ZERO_RANGE:
      return zeroRange(c, ip, off, len, keep);
    case FALLOC_FL_COLLAPSE_RANGE:
      return keep ? -EINVAL : collapseRange(c, ip, off, len);
    case FALLOC_FL_INSERT_RANGE:
      return keep ? -EINVAL : insertRange(c, ip, off, len);
    default:
      return -EOPNOTSUPP;
  }
}

/** Run `fn` under lockForTruncate. */
function locked(c: XipCtx, ip: InodeRef, fn: () => number): number {
  const unlock = lockForTruncate(c, ip);
  try {
    return fn();
  } finally {
    unlock();
  }
}

/**
 * Fill the hole at file block `ib` with a zeroed block; a DAX process that
 * mapped the zero page there loses that PTE.
 *
 * @returns the block (> 0) or -errno
 */
function fillHole(c: XipCtx, ip: InodeRef, ib: number): BlockNo {
  const b = getBlock(c, ip, ib, true);
  if (b > 0 && c.mdev !== null && isDax(c, ip)) daxHoleFilled(c, ip, ib);
  return b;
}

/**
 * After allocating: set i_size for mode 0 (to `end`, or to the end of the
 * last block allocated when ENOSPC cut it short), flag blocks past EOF.
 */
function finishAlloc(c: XipCtx, ip: InodeRef, keep: boolean, end: number): void {
  const size = inodeGetSize(c.vol, ip.ino);
  if (!keep && end > size) inodeSetSize(c.vol, ip.ino, end);
  if (bmapLastIblock(c, ip.ino) >= Math.ceil(inodeGetSize(c.vol, ip.ino) / BS)) {
    inodeSet(c.vol, ip.ino, "flags", inodeGet(c.vol, ip.ino, "flags") | XIP_FL_EOFBLOCKS);
  }
  stamp(c, ip);
  markInodeDirty(c, ip.ino);
}

/** Mode 0 and KEEP_SIZE (ext4_alloc_file_blocks). */
function allocRange(c: XipCtx, ip: InodeRef, off: number, len: number, keep: boolean): number {
  return locked(c, ip, () => {
    const first = Math.floor(off / BS);
    const end = Math.ceil((off + len) / BS);
    for (let ib = first; ib < end; ib++) {
      if (bmapLookupFast(c, ip.ino, ib) !== 0) continue;
      const b = fillHole(c, ip, ib);
      if (b < 0) {
        if (ib > first) finishAlloc(c, ip, keep, ib * BS);
        return b;
      }
    }
    finishAlloc(c, ip, keep, off + len);
    return 0;
  });
}

/**
 * Zero whole file block `ib` in place, or give a hole a zeroed block.
 * Caller holds lockForTruncate, the block is unmapped everywhere and out
 * of the page cache.
 *
 * @returns 0 or -errno
 */
function zeroWholeBlock(c: XipCtx, ip: InodeRef, ib: number): number {
  const b = bmapLookupFast(c, ip.ino, ib);
  if (b < 0) return b;
  if (b === 0) {
    const nb = getBlock(c, ip, ib, true); // new blocks come zeroed
    return nb < 0 ? nb : 0;
  }
  if (c.mdev !== null) {
    const da = c.mdev.directAccess(blockToSector(b), BS);
    if (typeof da === "number") return da;
    c.mdev.bytes.fill(0, da.kaddr, da.kaddr + BS);
    clearPoison(c, b, 1);
    codeWritten(c.mem, c.mdev.bytes.byteOffset + da.kaddr, BS);
  } else {
    const w = c.dev.bioWrite(asBlock(b), ZERO_BLOCK);
    if (w < 0) return w;
  }
  markBlockDirty(c, b);
  return 0;
}

/** ZERO_RANGE (ext4_zero_range), with or without KEEP_SIZE. */
function zeroRange(c: XipCtx, ip: InodeRef, off: number, len: number, keep: boolean): number {
  return locked(c, ip, () => {
    const end = off + len;
    const firstPg = Math.floor(off / BS);
    const endPg = Math.ceil(end / BS);
    unmapMappingRangeHook(ip, firstPg, endPg - firstPg);
    const firstFull = Math.ceil(off / BS);
    const endFull = Math.floor(end / BS);
    if (!isDax(c, ip) && endFull > firstFull) dropPagesRange(c, ip, firstFull, endFull);
    // Partial blocks at the edges: zeroed where they lie (page and device), then allocated.
    for (const ib of new Set([firstPg, endPg - 1])) {
      if (ib >= firstFull && ib < endFull) continue;
      const from = ib === firstPg ? off - ib * BS : 0;
      const to = ib === endPg - 1 ? end - ib * BS : BS;
      const z = zeroBlockRange(c, ip, ib, from, to);
      if (z < 0) return z;
      if (bmapLookupFast(c, ip.ino, ib) === 0) {
        const nb = getBlock(c, ip, ib, true);
        if (nb < 0) return nb;
      }
    }
    for (let ib = firstFull; ib < endFull; ib++) {
      const z = zeroWholeBlock(c, ip, ib);
      if (z < 0) {
        finishAlloc(c, ip, keep, ib * BS);
        return z;
      }
    }
    finishAlloc(c, ip, keep, end);
    return 0;
  });
}

/**
 * Take [s, ∞) of `ip` out of every process and, for a page-cache file,
 * out of the cache after writing its dirty pages (collapse and insert move
 * every block from s on). Caller holds lockForTruncate.
 *
 * @returns 0 or the writeback's -errno (nothing dropped then)
 */
function evictFrom(c: XipCtx, ip: InodeRef, s: number): number {
  unmapMappingRangeHook(ip, s, 0);
  if (isDax(c, ip)) return 0;
  const w = writebackMapping(c.mem, ip.slot, fileAops(c), { from: s, to: Infinity });
  if (w < 0) return w;
  truncateInodePages(c.mem, ip.slot, s);
  return 0;
}

/** COLLAPSE_RANGE (ext4_collapse_range). */
function collapseRange(c: XipCtx, ip: InodeRef, off: number, len: number): number {
  if (off % BS !== 0 || len % BS !== 0) return -EINVAL;
  return locked(c, ip, () => {
    const size = inodeGetSize(c.vol, ip.ino);
    if (off + len >= size) return -EINVAL;
    const e = evictFrom(c, ip, off / BS);
    if (e < 0) return e;
    const rc = collapseBlocks(c, ip, off / BS, len / BS);
    if (rc < 0) return rc;
    inodeSetSize(c.vol, ip.ino, size - len);
    stamp(c, ip);
    return 0;
  });
}

/** INSERT_RANGE (ext4_insert_range). */
function insertRange(c: XipCtx, ip: InodeRef, off: number, len: number): number {
  if (off % BS !== 0 || len % BS !== 0) return -EINVAL;
  return locked(c, ip, () => {
    const size = inodeGetSize(c.vol, ip.ino);
    if (len > XIPFS_MAX_BYTES - size) return -EFBIG;
    if (off >= size) return -EINVAL;
    const e = evictFrom(c, ip, off / BS);
    if (e < 0) return e;
    const rc = insertBlocks(c, ip, off / BS, len / BS);
    if (rc < 0) return rc;
    inodeSetSize(c.vol, ip.ino, size + len);
    stamp(c, ip);
    return 0;
  });
}
