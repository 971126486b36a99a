/**
 * The inode cache of the live xipfs (Linux's inode hash, iget_locked/iput,
 * reduced): one shared slot per inode in memory, holding i_count, the S_DAX
 * flag and the inode's locks. Layout: ICACHE/ISLOT in src/abi/layout.ts.
 *
 * ```
 *            iget                     iput (count -> 0)
 *  FREE ──────────────▶ ACTIVE ───────────────────────▶ FREEING ──┐
 *   ▲                    ▲  │                  nlink > 0:          │
 *   │                    │  │   CACHED ◀───────────────────────────┤
 *   │      iget (hit)    │  │      │                               │ nlink == 0: drop pages,
 *   │    ────────────────┘  │      │ reclaim (iget finds no FREE   │ free blocks and inode
 *   │                       │      ▼ slot): write back, drop pages │ (orphan semantics)
 *   └───────────────────────┴──── FREEING ◀────────────────────────┘
 * ```
 *
 * Slot ino/count/state change under the ICACHE lock (INODE_CACHE class,
 * which ranks inside the block-map and page locks: so the work done on the
 * way out of FREEING, which takes those, happens with the lock dropped and
 * the slot marked FREEING; iget of that inode waits for it). The slot
 * number is the inode's page-cache mapping id and never changes while the
 * inode is ACTIVE. An unlinked inode that is still open stays ACTIVE with
 * nlink 0 and is freed by its last iput.
 *
 * @module
 */

import {
  ICACHE,
  ICACHE_SLOTS,
  IFLAG_DAX,
  ISLOT,
  ISLOT_WORDS,
  ISTATE_ACTIVE,
  ISTATE_CACHED,
  ISTATE_FREE,
  ISTATE_FREEING,
  XFS,
  XFS_DAX_ALWAYS,
  XFS_DAX_INODE,
  XIP_FL_DAX,
} from "../abi/layout.ts";
import { ENFILE, ENOENT } from "../abi/errno.ts";
import { KernelPanic } from "../abi/panic.ts";
import { type Ino } from "../abi/types.ts";
import { mutexLock, mutexUnlock } from "../sync/mutex.ts";
import { LockClass } from "../sync/lockdep.ts";
import { freeInode } from "./balloc.ts";
import { fileAops, truncateBlocks } from "./getblock.ts";
import { truncateInodePages, writebackMapping } from "./pagecache.ts";
import { inodeGet, inodeInUse, inoValid } from "./xipfs_format.ts";
import { type InodeRef, islotBase, type XipCtx } from "./xipfs_ctx.ts";

/** How long iget sleeps between looks at an inode being torn down, in ms. */
const FREEING_WAIT_MS = 1;

function icLock(c: XipCtx): void {
  mutexLock(c.k32, c.icache + ICACHE.lock, LockClass.INODE_CACHE);
}

function icUnlock(c: XipCtx): void {
  mutexUnlock(c.k32, c.icache + ICACHE.lock);
}

/** Whether the mount option and inode `ino`'s XIP_FL_DAX make it S_DAX. */
function wantsDax(c: XipCtx, ino: Ino): boolean {
  if (c.mdev === null) return false;
  const mode = Atomics.load(c.k32, c.xfs + XFS.daxMode);
  if (mode === XFS_DAX_ALWAYS) return true;
  return mode === XFS_DAX_INODE && (inodeGet(c.vol, ino, "flags") & XIP_FL_DAX) !== 0;
}

/** Find `ino`'s slot. Caller holds the ICACHE lock. @returns the slot or 0 */
function findSlot(c: XipCtx, ino: Ino): number {
  for (let s = 1; s < ICACHE_SLOTS; s++) {
    if (c.k32[islotBase(c, s) + ISLOT.ino] === ino) return s;
  }
  return 0;
}

/** First slot in `state`. Caller holds the ICACHE lock. @returns the slot or 0 */
function slotInState(c: XipCtx, state: number): number {
  for (let s = 1; s < ICACHE_SLOTS; s++) {
    if (c.k32[islotBase(c, s) + ISLOT.state] === state) return s;
  }
  return 0;
}

/** Sleep briefly on a FREEING slot's state word. Caller holds no lock. */
function waitFreeing(c: XipCtx, slot: number): void {
  Atomics.wait(c.k32, islotBase(c, slot) + ISLOT.state, ISTATE_FREEING, FREEING_WAIT_MS);
}

/** Put a FREEING slot back to FREE and wake iget waiters. Takes the ICACHE lock. */
function releaseSlot(c: XipCtx, slot: number): void {
  const base = islotBase(c, slot);
  icLock(c);
  for (let i = 0; i < ISLOT_WORDS; i++) c.k32[base + i] = 0; // locks idle: nobody holds a ref
  Atomics.sub(c.k32, c.icache + ICACHE.nrInodes, 1);
  icUnlock(c);
  Atomics.notify(c.k32, base + ISLOT.state);
}

/**
 * Take a reference to inode `ino` in the inode cache, bringing it in if it
 * is not there (Linux's iget_locked + fill). Call with no page lock, no
 * block-map lock and nothing ranked inside INODE_CACHE held (it may write
 * back a cached inode's pages to reuse its slot).
 *
 * @returns the reference (drop it with iput), -ENOENT when `ino` is not an
 *   allocated inode, -ENFILE when every slot holds an active inode
 */
export function iget(c: XipCtx, ino: Ino): InodeRef | number {
  if (!inoValid(c.vol.sb, ino) || !inodeInUse(c.vol, ino) || inodeGet(c.vol, ino, "mode") === 0) {
    return -ENOENT;
  }
  const dax = wantsDax(c, ino); // read before the lock: may touch metadata pages
  for (;;) {
    icLock(c);
    const hit = findSlot(c, ino);
    if (hit !== 0) {
      const base = islotBase(c, hit);
      const st = c.k32[base + ISLOT.state]!;
      if (st === ISTATE_FREEING) {
        icUnlock(c);
        waitFreeing(c, hit);
        continue;
      }
      Atomics.add(c.k32, base + ISLOT.count, 1);
      Atomics.store(c.k32, base + ISLOT.state, ISTATE_ACTIVE);
      icUnlock(c);
      return { slot: hit, ino };
    }
    const free = slotInState(c, ISTATE_FREE);
    if (free !== 0) {
      const base = islotBase(c, free);
      c.k32[base + ISLOT.flags] = dax ? IFLAG_DAX : 0;
      Atomics.store(c.k32, base + ISLOT.writecount, 0); // a new inode: no writers, no denials
      Atomics.store(c.k32, base + ISLOT.count, 1);
      Atomics.store(c.k32, base + ISLOT.state, ISTATE_ACTIVE);
      Atomics.store(c.k32, base + ISLOT.ino, ino);
      Atomics.add(c.k32, c.icache + ICACHE.nrInodes, 1);
      icUnlock(c);
      return { slot: free, ino };
    }
    const victim = slotInState(c, ISTATE_CACHED);
    if (victim === 0) {
      icUnlock(c);
      return -ENFILE;
    }
    Atomics.store(c.k32, islotBase(c, victim) + ISLOT.state, ISTATE_FREEING);
    icUnlock(c);
    evictSlot(c, victim);
    Atomics.add(c.k32, c.icache + ICACHE.reclaims, 1);
  }
}

/**
 * Take another reference to an inode the caller already holds (Linux's ihold).
 */
export function ihold(c: XipCtx, ip: InodeRef): void {
  if (Atomics.add(c.k32, islotBase(c, ip.slot) + ISLOT.count, 1) <= 0) {
    throw new KernelPanic("ihold", `inode ${ip.ino} (slot ${ip.slot}) has no reference`);
  }
}

/**
 * Drop a reference (Linux's iput). The last reference to an unlinked inode
 * frees it: its page-cache pages, its blocks and the inode itself. The last
 * reference to a linked inode leaves it CACHED. Call with no lock of the
 * inode held and nothing ranked inside the block-map lock.
 *
 * @throws KernelPanic when the reference count would go below 0
 */
export function iput(c: XipCtx, ip: InodeRef): void {
  const base = islotBase(c, ip.slot);
  icLock(c);
  if (c.k32[base + ISLOT.ino] !== ip.ino) {
    icUnlock(c);
    throw new KernelPanic("iput", `slot ${ip.slot} no longer holds inode ${ip.ino}`);
  }
  const left = Atomics.sub(c.k32, base + ISLOT.count, 1) - 1;
  if (left < 0) {
    Atomics.add(c.k32, base + ISLOT.count, 1);
    icUnlock(c);
    throw new KernelPanic("iput", `inode ${ip.ino} reference count underflow`);
  }
  if (left > 0) {
    icUnlock(c);
    return;
  }
  Atomics.store(c.k32, base + ISLOT.state, ISTATE_FREEING);
  icUnlock(c);
  // Every other reference is gone and was dropped after any unlink that
  // came before it, so nlink is final here.
  if (inodeGet(c.vol, ip.ino, "links") === 0) {
    evictSlot(c, ip.slot);
    return;
  }
  icLock(c);
  Atomics.store(c.k32, base + ISLOT.state, ISTATE_CACHED);
  icUnlock(c);
  Atomics.notify(c.k32, base + ISLOT.state);
}

/**
 * Tear down FREEING slot `slot`: write back and drop its page-cache pages;
 * if the inode is unlinked, free its blocks and the inode. Then the slot
 * is FREE. Caller marked it FREEING and holds no lock.
 */
function evictSlot(c: XipCtx, slot: number): void {
  const base = islotBase(c, slot);
  const ino = c.k32[base + ISLOT.ino]! as Ino;
  const ip: InodeRef = { slot, ino };
  const unlinked = inodeGet(c.vol, ino, "links") === 0;
  if (!unlinked) {
    // A failed writeback (-ENOSPC on a full or corrupt volume, -EIO from a
    // bio device) loses the dirty data but leaves the file system
    // consistent. Linux records it as a mapping error that dies with the
    // inode (evict drops the pages regardless); it is not a kernel bug, so
    // no panic: the pages go below like clean ones.
    writebackMapping(c.mem, slot, fileAops(c));
  }
  truncateInodePages(c.mem, slot, 0);
  if (unlinked) {
    truncateBlocks(c, ip, 0);
    freeInode(c, ino);
  }
  releaseSlot(c, slot);
}

/** Whether the inode is S_DAX (mount option and inode flag; fixed while it is cached). */
export function isDax(c: XipCtx, ip: InodeRef): boolean {
  return (c.k32[islotBase(c, ip.slot) + ISLOT.flags]! & IFLAG_DAX) !== 0;
}

/** i_count of the inode's slot (tests, debugging). */
export function icount(c: XipCtx, ip: InodeRef): number {
  return Atomics.load(c.k32, islotBase(c, ip.slot) + ISLOT.count);
}

/** The inode held in slot `slot`, or null when the slot is not ACTIVE (aops: mapping -> inode). */
export function slotInode(c: XipCtx, slot: number): InodeRef | null {
  if (slot < 1 || slot >= ICACHE_SLOTS) return null;
  const base = islotBase(c, slot);
  const ino = Atomics.load(c.k32, base + ISLOT.ino);
  return ino === 0 ? null : { slot, ino: ino as Ino };
}

/** Slots in use (ACTIVE, CACHED or FREEING). */
export const icacheInUse = (c: XipCtx): number => Atomics.load(c.k32, c.icache + ICACHE.nrInodes);

/**
 * Evict every CACHED inode (write back and drop its pages): unmount, and
 * tests that want an empty cache. Takes the ICACHE lock per slot.
 *
 * @returns the number of ACTIVE inodes left (references still held)
 */
export function icacheShrink(c: XipCtx): number {
  for (;;) {
    icLock(c);
    const victim = slotInState(c, ISTATE_CACHED);
    if (victim === 0) {
      let active = 0;
      for (let s = 1; s < ICACHE_SLOTS; s++) {
        if (c.k32[islotBase(c, s) + ISLOT.state] !== ISTATE_FREE) active++;
      }
      icUnlock(c);
      return active;
    }
    Atomics.store(c.k32, islotBase(c, victim) + ISLOT.state, ISTATE_FREEING);
    icUnlock(c);
    evictSlot(c, victim);
  }
}
