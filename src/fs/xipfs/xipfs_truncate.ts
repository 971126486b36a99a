/**
 * Truncate and punch-hole of the live xipfs, DAX and page-cache files alike
 * (Linux's ext2_setsize + truncate_pagecache, and dax's xip_truncate_page).
 *
 * Order of work, every step under i_rwsem and invalidate_lock held for write
 * (so no read, write or fault runs on the inode meanwhile):
 *   1. zero the tail of the partial last block (xipTruncatePage), on the
 *      device through directAccess for DAX, in the cached page and on the
 *      device (bio) otherwise, so no old byte past EOF can come back if the
 *      file grows again;
 *   2. set i_size;
 *   3. unmapMappingRangeHook: the mm layer unmaps the range from every
 *      process (and shoots down TLBs) before it returns;
 *   4. drop the page-cache pages of the range (non-DAX);
 *   5. free the blocks (getblock.ts), which therefore nobody can reach.
 *
 * @module
 */

import { inodeLock, inodeUnlock, invalidateLock, invalidateUnlock } from "./xipfs_locks.ts";
import {
  ISLOT,
  TASK,
  TRUNC_NONE,
  TRUNC_SIZE,
  XIP_FL_EOFBLOCKS,
  XIPFS_BLOCK_SIZE,
} from "../../abi/layout/mod.ts";
import { taskNote, taskNoteOf, withNoKill } from "../../sync/current.ts";
import { perturb } from "../../sync/debug.ts";
import { EFBIG, EINVAL } from "../../abi/errno.ts";
import { asBlock, asIno, asInodeSlot, type TaskSlot } from "../../abi/types.ts";
import {
  clearPageFlag,
  getPageUnlessZero,
  pageMapcount,
  PG_dirty,
  PG_uptodate,
  putPage,
  testPageFlag,
} from "../../mm/memmap.ts";
import { codeWritten } from "../../hw/jit/shared.ts";
import { markBlockDirty, markInodeDirty } from "./balloc.ts";
import { daxZeroBlockRange, nowSecs, XIPFS_MAX_BYTES } from "../dax.ts";
import { bmapLookupFast, freeBlockRange, truncateBlocks } from "./getblock.ts";
import { isDax } from "./icache.ts";
import {
  deleteFromPageCache,
  findGetPage,
  lockPage,
  pageView,
  truncateInodePages,
  unlockPage,
} from "../pagecache/pagecache.ts";
import { pcacheCollect } from "../pagecache/pagecache_index.ts";
import { unmapMappingRange } from "../../mm/rmap.ts";
import { pageIs } from "../pagecache/pagecache_page.ts";
import { inodeGet, inodeGetSize, inodeSet, inodeSetSize } from "./xipfs_format.ts";
import { type InodeRef, islotBase, type XipCtx } from "./xipfs_ctx.ts";

const BS = XIPFS_BLOCK_SIZE;

/**
 * Unmap file pages [startPgoff, startPgoff + nrPages) of `ip` from every
 * process (Linux's unmap_mapping_range); nrPages 0 means "to the end".
 * Called with i_rwsem and invalidate_lock held for write. On return no PTE
 * may map a page or device frame of the range.
 */
export type UnmapMappingRangeHook = (ip: InodeRef, startPgoff: number, nrPages: number) => void;

/**
 * Until the mm layer installs its own (setUnmapMappingRangeHook, once per
 * thread), this does nothing: with no process mappings there is nothing to
 * unmap. It is per thread because each Worker loads its own module copy.
 */
let unmapHook: UnmapMappingRangeHook = () => {};

/** Install the mm layer's unmapMappingRange for this thread. */
export function setUnmapMappingRangeHook(hook: UnmapMappingRangeHook): void {
  unmapHook = hook;
}

/** Call the installed unmap hook (exported for tests and for the VFS). */
export function unmapMappingRangeHook(ip: InodeRef, startPgoff: number, nrPages: number): void {
  unmapHook(ip, startPgoff, nrPages);
}

const ZERO = new Uint8Array(BS);

/**
 * Zero bytes [from, to) of file block `iblock` of a page-cache (non-DAX)
 * inode: in the cached page if there is one (under its page lock, which
 * also keeps writeback off it), and on the device with a bio
 * read-modify-write if the block is mapped.
 *
 * @returns 0 or -errno
 */
function pcacheZeroBlockRange(
  c: XipCtx,
  ip: InodeRef,
  iblock: number,
  from: number,
  to: number,
): number {
  // From the reference to the lock, no kill point (the rule of lockPage).
  const pfn = withNoKill(() => {
    const got = findGetPage(c.mem, ip.slot, iblock);
    if (got !== -1) lockPage(c.mem, got);
    return got;
  });
  try {
    if (
      pfn !== -1 && pageIs(c.mem, pfn, ip.slot, iblock) && testPageFlag(c.mem, pfn, PG_uptodate)
    ) {
      pageView(c.mem, pfn).fill(0, from, to);
      codeWritten(c.mem, pfn * XIPFS_BLOCK_SIZE + from, to - from);
    }
    const b = bmapLookupFast(c, ip.ino, iblock);
    if (b <= 0) return b;
    const buf = new Uint8Array(BS);
    const r = c.dev.bioRead(asBlock(b), buf);
    if (r < 0) return r;
    buf.fill(0, from, to);
    const w = c.dev.bioWrite(asBlock(b), buf.every((x) => x === 0) ? ZERO : buf);
    if (w < 0) return w;
    markBlockDirty(c, b);
    return 0;
  } finally {
    if (pfn !== -1) {
      unlockPage(c.mem, pfn);
      putPage(c.mem, pfn);
    }
  }
}

/**
 * Zero [from, to) of file block `iblock`, the DAX or the page-cache way.
 * Caller holds i_rwsem and invalidate_lock for write.
 *
 * @returns 0 or -errno
 */
export function zeroBlockRange(
  c: XipCtx,
  ip: InodeRef,
  iblock: number,
  from: number,
  to: number,
): number {
  if (from >= to) return 0;
  return isDax(c, ip)
    ? daxZeroBlockRange(c, ip, iblock, from, to)
    : pcacheZeroBlockRange(c, ip, iblock, from, to);
}

/**
 * Zero the file from byte `size` to the end of its block (Linux's
 * xip_truncate_page / dax_truncate_page). Caller holds i_rwsem and
 * invalidate_lock for write.
 *
 * @returns 0 or -errno
 */
export function xipTruncatePage(c: XipCtx, ip: InodeRef, size: number): number {
  const off = size % BS;
  if (off === 0) return 0;
  return zeroBlockRange(c, ip, Math.floor(size / BS), off, BS);
}

/**
 * Drop the cached pages of `ip` with pgoff in [from, to) (Linux's
 * truncate_inode_pages_range). Caller holds invalidate_lock for write and
 * has unmapped the range. Dirty data in them is discarded.
 */
export function dropPagesRange(c: XipCtx, ip: InodeRef, from: number, to: number): void {
  const entries = pcacheCollect(c.mem, (m, o) => m === ip.slot && o >= from && o < to);
  for (const e of entries) {
    const got = withNoKill(() => {
      if (!getPageUnlessZero(c.mem, e.pfn)) return false;
      lockPage(c.mem, e.pfn); // no kill point from the reference to the lock
      return true;
    });
    if (!got) continue;
    if (pageIs(c.mem, e.pfn, ip.slot, e.pgoff)) {
      if (pageMapcount(c.mem, e.pfn) > 0) {
        // A munmap or exit in another Worker cleared its PTE but drops the
        // mapcount only after its TLB shootdown: unmap again, as
        // truncateInodePages does (a real PTE goes; a lagging count belongs
        // to an unmap in flight, whose reference keeps the frame).
        unmapMappingRange(c.mem, ip.slot, e.pgoff, 1, true);
      }
      clearPageFlag(c.mem, e.pfn, PG_dirty);
      deleteFromPageCache(c.mem, e.pfn);
    }
    unlockPage(c.mem, e.pfn);
    putPage(c.mem, e.pfn);
  }
}

/**
 * Take i_rwsem then invalidate_lock, both for write (truncate, punch hole,
 * fallocate); returns the unlock. Entry: none of `ip`'s locks held.
 */
export function lockForTruncate(c: XipCtx, ip: InodeRef): () => void {
  inodeLock(c, ip);
  invalidateLock(c, ip);
  return () => {
    invalidateUnlock(c, ip);
    inodeUnlock(c, ip);
  };
}

/** Set mtime and ctime to now and mark the inode dirty. */
export function stamp(c: XipCtx, ip: InodeRef): void {
  const t = nowSecs();
  inodeSet(c.vol, ip.ino, "mtime", t);
  inodeSet(c.vol, ip.ino, "ctime", t);
  markInodeDirty(c, ip.ino);
}

/**
 * Set the size of regular file `ip` to `newSize`: growing leaves a hole;
 * shrinking zeroes the tail of the new last block, unmaps and drops what
 * lies past it, and frees its blocks. Entry: a reference to `ip`, none of
 * its locks held. Takes i_rwsem, then invalidate_lock, for write.
 *
 * @returns 0, or -EINVAL (negative size), -EFBIG (past the largest file),
 *   -EUCLEAN, a device error
 */
export function truncate(c: XipCtx, ip: InodeRef, newSize: number): number {
  if (!Number.isSafeInteger(newSize) || newSize < 0) return -EINVAL;
  if (newSize > XIPFS_MAX_BYTES) return -EFBIG;
  const unlock = lockForTruncate(c, ip);
  try {
    const old = inodeGetSize(c.vol, ip.ino);
    // ext4_setattr truncates blocks past EOF whenever the size does not
    // grow: a same-size truncate frees preallocated blocks (EOFBLOCKS).
    const prealloc = (inodeGet(c.vol, ip.ino, "flags") & XIP_FL_EOFBLOCKS) !== 0;
    if (newSize > old || (newSize === old && !prealloc)) {
      // Bytes past the old EOF in its last block must read as zeros once
      // they are inside the file (a store through a mapping may have put
      // something there).
      const rc = xipTruncatePage(c, ip, old);
      if (rc < 0) return rc;
      if (newSize > old) inodeSetSize(c.vol, ip.ino, newSize);
      stamp(c, ip);
      return 0;
    }
    const rc = xipTruncatePage(c, ip, newSize);
    if (rc < 0) return rc;
    // From i_size to the freed blocks the inode is inconsistent on disk:
    // note it, so that a task dying in between has the truncate finished
    // for it (finishTruncate), as ext4 does for an inode on its orphan list.
    taskNote(c.k32, TASK.truncSlot, ip.slot);
    taskNote(c.k32, TASK.truncOp, TRUNC_SIZE);
    inodeSetSize(c.vol, ip.ino, newSize);
    stamp(c, ip);
    perturb(c.k32); // DEBUG_PERTURB: widen the window between i_size and the unmap
    const r = dropPastEof(c, ip);
    // Nothing is left past EOF: preallocated blocks went with the rest.
    clearEofBlocks(c, ip);
    taskNote(c.k32, TASK.truncOp, TRUNC_NONE);
    return r;
  } finally {
    unlock();
  }
}

/** Clear XIP_FL_EOFBLOCKS once no block can lie past i_size. Caller holds lockForTruncate. */
function clearEofBlocks(c: XipCtx, ip: InodeRef): void {
  const flags = inodeGet(c.vol, ip.ino, "flags");
  if ((flags & XIP_FL_EOFBLOCKS) === 0) return;
  inodeSet(c.vol, ip.ino, "flags", flags & ~XIP_FL_EOFBLOCKS);
  markInodeDirty(c, ip.ino);
}

/** Unmap, drop and free everything of `ip` past i_size. Caller holds lockForTruncate. */
function dropPastEof(c: XipCtx, ip: InodeRef): number {
  const firstGone = Math.ceil(inodeGetSize(c.vol, ip.ino) / BS);
  unmapMappingRangeHook(ip, firstGone, 0);
  if (!isDax(c, ip)) truncateInodePages(c.mem, ip.slot, firstGone);
  return truncateBlocks(c, ip, firstGone);
}

/**
 * Finish the truncate that task `tid` left in flight when it died (its
 * TASK.truncOp is TRUNC_SIZE): free whatever lies past i_size, as ext4
 * does for orphan inodes. Entry: the task's locks were recovered and its
 * file reference still keeps the inode; none of the inode's locks held.
 *
 * @returns 0 when there was nothing to finish or it was finished; -errno
 */
export function finishTruncate(c: XipCtx, tid: TaskSlot): number {
  if (taskNoteOf(c.k32, tid, TASK.truncOp) !== TRUNC_SIZE) return 0;
  const slot = asInodeSlot(taskNoteOf(c.k32, tid, TASK.truncSlot));
  const ip: InodeRef = { slot, ino: asIno(Atomics.load(c.k32, islotBase(c, slot) + ISLOT.ino)) };
  const unlock = lockForTruncate(c, ip);
  try {
    return dropPastEof(c, ip);
  } finally {
    unlock();
  }
}

/**
 * Deallocate bytes [off, off + len) of `ip` (fallocate PUNCH_HOLE |
 * KEEP_SIZE): partial blocks at the edges are zeroed, whole blocks become
 * holes; i_size does not change.
 *
 * Entry: a reference to `ip`, none of its locks held. Takes i_rwsem then
 * invalidate_lock, both for write (lockForTruncate), as truncate does; under
 * them the unmap takes the i_mmap and page-table locks, dropping cached
 * pages takes their page locks, and freeing blocks the block-map lock.
 * Returns with nothing held.
 *
 * @returns 0, or -EINVAL, -EUCLEAN, a device error
 */
export function punchHole(c: XipCtx, ip: InodeRef, off: number, len: number): number {
  if (!Number.isSafeInteger(off) || !Number.isSafeInteger(len) || off < 0 || len <= 0) {
    return -EINVAL;
  }
  const unlock = lockForTruncate(c, ip);
  try {
    const end = Math.min(off + len, inodeGetSize(c.vol, ip.ino));
    if (off >= end) return 0;
    const firstFull = Math.ceil(off / BS);
    const endFull = Math.floor(end / BS);
    if (firstFull > endFull) {
      // Inside one block.
      const ib = Math.floor(off / BS);
      return zeroBlockRange(c, ip, ib, off - ib * BS, end - ib * BS);
    }
    let rc = zeroBlockRange(c, ip, firstFull - 1, off % BS === 0 ? BS : off % BS, BS);
    if (rc < 0) return rc;
    rc = zeroBlockRange(c, ip, endFull, 0, end - endFull * BS);
    if (rc < 0) return rc;
    if (endFull > firstFull) {
      perturb(c.k32); // DEBUG_PERTURB: widen the window between the zeroing and the unmap
      unmapMappingRangeHook(ip, firstFull, endFull - firstFull);
      if (!isDax(c, ip)) dropPagesRange(c, ip, firstFull, endFull);
      const n = freeBlockRange(c, ip, firstFull, endFull);
      if (n < 0) return n;
    }
    stamp(c, ip);
    return 0;
  } finally {
    unlock();
  }
}
