/**
 * The locks inside an inode-cache slot as handles: each names its word and
 * its lockdep class together, so no caller passes a raw (word, LockClass)
 * pair. The names are Linux's: inode_lock is i_rwsem, filemap_invalidate_lock
 * is invalidate_lock, and the block-map lock is ext2's truncate_mutex (here
 * it serialises block allocation for one inode). Shmem inodes live in the
 * same slots and use the same handles. Lock order: docs/ARCHITECTURE.md §3.
 *
 * @module
 */

import { ISLOT } from "../../abi/layout/mod.ts";
import { LockClass } from "../../sync/lockdep.ts";
import { mutexLock, mutexUnlock } from "../../sync/mutex.ts";
import { downRead, downWrite, upRead, upWrite } from "../../sync/rwsem.ts";
import { islotBase, type XipCtx } from "./xipfs_ctx.ts";
import type { InodeSlot } from "../../abi/types.ts";

/** An inode as the lock handles need it: its cache slot. */
export interface SlotRef {
  readonly slot: InodeSlot;
}

const word = (c: XipCtx, ip: SlotRef, f: "iRwsem" | "invalidateLock" | "bmapLock"): number =>
  islotBase(c, ip.slot) + ISLOT[f];

/** Take i_rwsem for write (Linux's inode_lock); `sub` orders two inodes (lock_two_nondirectories). */
export function inodeLock(c: XipCtx, ip: SlotRef, sub = 0): void {
  downWrite(c.k32, word(c, ip, "iRwsem"), LockClass.I_RWSEM, sub);
}
/** Drop i_rwsem taken for write. */
export function inodeUnlock(c: XipCtx, ip: SlotRef): void {
  upWrite(c.k32, word(c, ip, "iRwsem"));
}
/** Take i_rwsem for read (Linux's inode_lock_shared). */
export function inodeLockShared(c: XipCtx, ip: SlotRef): void {
  downRead(c.k32, word(c, ip, "iRwsem"), LockClass.I_RWSEM);
}
/** Drop i_rwsem taken for read. */
export function inodeUnlockShared(c: XipCtx, ip: SlotRef): void {
  upRead(c.k32, word(c, ip, "iRwsem"));
}
/** Take invalidate_lock for write: truncate, hole punching (filemap_invalidate_lock). */
export function invalidateLock(c: XipCtx, ip: SlotRef): void {
  downWrite(c.k32, word(c, ip, "invalidateLock"), LockClass.INVALIDATE_LOCK);
}
/** Drop invalidate_lock taken for write. */
export function invalidateUnlock(c: XipCtx, ip: SlotRef): void {
  upWrite(c.k32, word(c, ip, "invalidateLock"));
}
/** Take invalidate_lock for read: faults, page-cache fills (filemap_invalidate_lock_shared). */
export function invalidateLockShared(c: XipCtx, ip: SlotRef): void {
  downRead(c.k32, word(c, ip, "invalidateLock"), LockClass.INVALIDATE_LOCK);
}
/** Drop invalidate_lock taken for read. */
export function invalidateUnlockShared(c: XipCtx, ip: SlotRef): void {
  upRead(c.k32, word(c, ip, "invalidateLock"));
}
/** Take the block-map lock (BLOCK_MAP): allocating or moving the inode's blocks. */
export function bmapLock(c: XipCtx, ip: SlotRef): void {
  mutexLock(c.k32, word(c, ip, "bmapLock"), LockClass.BLOCK_MAP);
}
/** Drop the block-map lock. */
export function bmapUnlock(c: XipCtx, ip: SlotRef): void {
  mutexUnlock(c.k32, word(c, ip, "bmapLock"));
}
