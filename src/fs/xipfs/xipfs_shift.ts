/**
 * Shifting a file's block map: the block-moving half of fallocate's
 * COLLAPSE_RANGE and INSERT_RANGE (Linux's ext4_ext_shift_extents and
 * xfs_collapse_file_space / xfs_insert_file_space, over xipfs's indirect
 * block map instead of extents).
 *
 * ```
 *  collapse(s, n):  [0, s) | [s, s+n) freed | [s+n, max]  →  [0, s) | [s+n, max] moved down by n
 *  insert(s, n):    [0, s) | [s, max]                     →  [0, s) | n holes | [s, max] moved up by n
 * ```
 *
 * Pointers move one at a time, in the order that never overwrites a
 * pointer not yet moved (upward for collapse, downward for insert). A
 * target's indirect blocks are allocated *before* any pointer moves, so
 * running out of space fails with nothing changed but a few empty
 * indirect blocks (which fsck accepts and a later truncate frees). The
 * move itself runs under the inode's block-map lock as a no-kill region:
 * a task stopped half-way would leave the file scrambled.
 *
 * Callers (xipfs_falloc.ts) hold i_rwsem and invalidate_lock for write and
 * have unmapped the file from the shift point on in every process and
 * dropped its cached pages there, so nobody reaches a moved block through
 * an old offset.
 *
 * @module
 */

import { bmapLock, bmapUnlock } from "./xipfs_locks.ts";
import { EFBIG, EUCLEAN } from "../../abi/errno.ts";
import { asBlock, type BlockNo, type Ino } from "../../abi/types.ts";
import { withNoKill } from "../../sync/current.ts";
import { freeMappedBlock, markBlockDirty, markInodeDirty } from "./balloc.ts";
import { ptrLocate, ptrSlotCreate } from "./getblock.ts";
import { BMAP_MAX_BLOCKS, bmapWalk } from "./xipfs_bmap.ts";
import { blockPtrValid, inodeGet, inodeSet } from "./xipfs_format.ts";
import { type InodeRef, type XipCtx } from "./xipfs_ctx.ts";

/** Where a block pointer lives: its word in c.i32 and the block holding it (for dirtying). */
interface PtrSlot {
  readonly w: number;
  readonly blk: number;
}

/**
 * The highest file block of `ino` that maps a data block, or -1 for none.
 * Caller holds the block-map lock (or i_rwsem: nothing allocates then).
 */
export function bmapLastIblock(c: XipCtx, ino: Ino): number {
  let last = -1;
  bmapWalk(c.vol, ino, (_b, ib, kind, valid) => {
    if (kind === "data" && valid && ib > last) last = ib;
  });
  return last;
}

/** Run `fn` under `ip`'s block-map lock, as one no-kill region. */
function withBmapLock<T>(c: XipCtx, ip: InodeRef, fn: () => T): T {
  return withNoKill(() => {
    bmapLock(c, ip);
    try {
      return fn();
    } finally {
      bmapUnlock(c, ip);
    }
  });
}

/**
 * Allocate the indirect blocks the pointers of [from, last] need at their
 * place after a shift by `delta`. Caller holds the block-map lock.
 *
 * @returns 0 or -errno (nothing moved yet)
 */
function prepareTargets(c: XipCtx, ino: Ino, from: number, last: number, delta: number): number {
  for (let ib = from; ib <= last; ib++) {
    const src = ptrLocate(c, ino, ib);
    if (typeof src === "number") {
      if (src < 0) return src;
      continue;
    }
    if (Atomics.load(c.i32, src.w) === 0) continue;
    const dst = ptrSlotCreate(c, ino, ib + delta);
    if (typeof dst === "number") return dst < 0 ? dst : -EUCLEAN;
  }
  return 0;
}

/** Move the pointer of `ib` to `ib + delta` (whose slot exists and is empty). */
function movePtr(c: XipCtx, ino: Ino, ib: number, delta: number): number {
  const src = ptrLocate(c, ino, ib);
  if (typeof src === "number") return src;
  const b = Atomics.load(c.i32, src.w) >>> 0;
  if (b === 0) return 0;
  const dst = ptrLocate(c, ino, ib + delta);
  if (typeof dst === "number" || Atomics.load(c.i32, dst.w) !== 0) return -EUCLEAN;
  Atomics.store(c.i32, dst.w, b);
  Atomics.store(c.i32, src.w, 0);
  markBlockDirty(c, dst.blk);
  markBlockDirty(c, src.blk);
  return 0;
}

/**
 * COLLAPSE_RANGE's block work: free the blocks of [s, s + n) and move every
 * pointer past them down by n. i_size is the caller's. Entry: i_rwsem and
 * invalidate_lock held for write, [s, ∞) unmapped and out of the page cache.
 *
 * @returns 0, or -ENOSPC (an indirect block for a target; nothing moved), -EUCLEAN
 */
export function collapseBlocks(c: XipCtx, ip: InodeRef, s: number, n: number): number {
  const freed: BlockNo[] = [];
  const rc = withBmapLock(c, ip, () => {
    const last = bmapLastIblock(c, ip.ino);
    if (last < s + n) return dropRange(c, ip.ino, s, last + 1, freed);
    const prep = prepareTargets(c, ip.ino, s + n, last, -n);
    if (prep < 0) return prep;
    const d = dropRange(c, ip.ino, s, s + n, freed);
    if (d < 0) return d;
    for (let ib = s + n; ib <= last; ib++) {
      const r = movePtr(c, ip.ino, ib, -n);
      if (r < 0) return r;
    }
    return 0;
  });
  let bad = 0;
  for (const b of freed) if (freeMappedBlock(c, b) < 0) bad = -EUCLEAN;
  return rc < 0 ? rc : bad;
}

/**
 * INSERT_RANGE's block work: move every pointer at or past `s` up by n,
 * leaving n holes at s. i_size is the caller's.
 *
 * Entry: i_rwsem and invalidate_lock held for write, [s, ∞) unmapped and out
 * of the page cache (as collapseBlocks). Takes and drops the block-map lock,
 * in one no-kill region; returns with i_rwsem and invalidate_lock still
 * held.
 *
 * @returns 0, or -EFBIG (a block would pass the largest file), -ENOSPC,
 *   -EUCLEAN
 */
export function insertBlocks(c: XipCtx, ip: InodeRef, s: number, n: number): number {
  return withBmapLock(c, ip, () => {
    const last = bmapLastIblock(c, ip.ino);
    if (last < s) return 0;
    if (last + n >= BMAP_MAX_BLOCKS) return -EFBIG;
    const prep = prepareTargets(c, ip.ino, s, last, n);
    if (prep < 0) return prep;
    for (let ib = last; ib >= s; ib--) {
      const r = movePtr(c, ip.ino, ib, n);
      if (r < 0) return r;
    }
    return 0;
  });
}

/** Unlink the data blocks of [from, to) into `freed`, adjusting i_blocks. Block-map lock held. */
function dropRange(c: XipCtx, ino: Ino, from: number, to: number, freed: BlockNo[]): number {
  let n = 0;
  for (let ib = from; ib < to; ib++) {
    const slot = ptrLocate(c, ino, ib);
    if (typeof slot === "number") {
      if (slot < 0) return slot;
      continue;
    }
    const b = Atomics.load(c.i32, slot.w) >>> 0;
    if (b === 0) continue;
    if (!blockPtrValid(c.vol.sb, b)) return -EUCLEAN;
    Atomics.store(c.i32, slot.w, 0);
    markBlockDirty(c, slot.blk);
    freed.push(asBlock(b));
    n++;
  }
  if (n > 0) {
    inodeSet(c.vol, ino, "blocks", inodeGet(c.vol, ino, "blocks") - n);
    markInodeDirty(c, ino);
  }
  return 0;
}
