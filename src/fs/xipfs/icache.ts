/**
 * The inode cache of the live xipfs (Linux's inode hash, iget_locked/iput,
 * reduced): one shared slot per inode in memory, holding i_count, the S_DAX
 * flag and the inode's locks. Layout: ICACHE/ISLOT in src/abi/layout/mod.ts.
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
  SB_INFO,
  SB_INFO_DAX_ALWAYS,
  SB_INFO_DAX_INODE,
  XIP_FL_DAX,
} from "../../abi/layout/mod.ts";
import { asErrno, ENFILE, ENOENT, type Errno } from "../../abi/errno.ts";
import { KernelPanic } from "../../abi/panic.ts";
import { asIno, asInodeSlot, type Ino, type InodeSlot } from "../../abi/types.ts";
import { mutexLock, mutexUnlock } from "../../sync/mutex.ts";
import { LockClass } from "../../sync/lockdep.ts";
import { freeInode } from "./balloc.ts";
import { fileAops, truncateBlocks } from "./getblock.ts";
import { truncateInodePages, writebackMapping } from "../pagecache/pagecache.ts";
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
  const mode = Atomics.load(c.k32, c.sbInfo + SB_INFO.daxMode);
  if (mode === SB_INFO_DAX_ALWAYS) return true;
  return mode === SB_INFO_DAX_INODE && (inodeGet(c.vol, ino, "flags") & XIP_FL_DAX) !== 0;
}

/** Find `ino`'s slot. Caller holds the ICACHE lock. @returns the slot or 0 */
function findSlot(c: XipCtx, ino: Ino): InodeSlot {
  for (let s = 1; s < ICACHE_SLOTS; s++) {
    if (c.k32[islotBase(c, s) + ISLOT.ino] === ino) return asInodeSlot(s);
  }
  return asInodeSlot(0);
}

/** First slot in `state`. Caller holds the ICACHE lock. @returns the slot or 0 */
function slotInState(c: XipCtx, state: number): InodeSlot {
  for (let s = 1; s < ICACHE_SLOTS; s++) {
    if (c.k32[islotBase(c, s) + ISLOT.state] === state) return asInodeSlot(s);
  }
  return asInodeSlot(0);
}

/** Sleep briefly on a FREEING slot's state word. Caller holds no lock. */
function waitFreeing(c: XipCtx, slot: InodeSlot): void {
  Atomics.wait(c.k32, islotBase(c, slot) + ISLOT.state, ISTATE_FREEING, FREEING_WAIT_MS);
}

/** Put a FREEING slot back to FREE and wake iget waiters. Takes the ICACHE lock. */
function releaseSlot(c: XipCtx, slot: InodeSlot): void {
  const base = islotBase(c, slot);
  icLock(c);
  for (let i = 0; i < ISLOT_WORDS; i++) c.k32[base + i] = 0; // locks idle: nobody holds a ref
  Atomics.sub(c.k32, c.icache + ICACHE.nrInodes, 1);
  icUnlock(c);
  Atomics.notify(c.k32, base + ISLOT.state);
}

/**
 * Take a reference to inode `ino` in the inode cache, bringing it in if it
 * is not there (Linux's iget_locked + fill).
 *
 * Entry: no lock ranked at or inside DAX_ENTRY | PAGE_LOCK held (no page,
 * DAX-entry, block-map, i_mmap, page-table or inode-cache lock); i_rwsem of
 * other inodes may be held (namei, rename). Takes and drops the inode-cache
 * lock (INODE_CACHE); to reuse a CACHED slot it evicts that inode with the
 * lock dropped, writing back and dropping its pages under their page locks
 * and, for an unlinked one, freeing its blocks under its block-map lock.
 * Returns with no lock held.
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
 * Give inode `ino` of another in-memory filesystem (shmem: src/fs/shmem.ts)
 * a slot of its own, ACTIVE with one reference and `flags`, evicting a
 * CACHED xipfs inode when no slot is free (as iget does). Its slot is then
 * its page-cache mapping and holds its locks and i_mmap list; xipfs's iget
 * never finds it (the number is outside the volume). Release it with
 * icacheFreeSlot. Entry: as iget.
 *
 * @returns the slot, or -ENFILE when every slot holds an active inode
 */
export function icacheClaimSlot(c: XipCtx, ino: Ino, flags: number): InodeSlot | Errno {
  for (;;) {
    icLock(c);
    const free = slotInState(c, ISTATE_FREE);
    if (free !== 0) {
      const base = islotBase(c, free);
      c.k32[base + ISLOT.flags] = flags;
      Atomics.store(c.k32, base + ISLOT.count, 1);
      Atomics.store(c.k32, base + ISLOT.state, ISTATE_ACTIVE);
      Atomics.store(c.k32, base + ISLOT.ino, ino);
      Atomics.add(c.k32, c.icache + ICACHE.nrInodes, 1);
      icUnlock(c);
      return free;
    }
    const victim = slotInState(c, ISTATE_CACHED);
    if (victim === 0) {
      icUnlock(c);
      return asErrno(-ENFILE);
    }
    Atomics.store(c.k32, islotBase(c, victim) + ISLOT.state, ISTATE_FREEING);
    icUnlock(c);
    evictSlot(c, victim);
    Atomics.add(c.k32, c.icache + ICACHE.reclaims, 1);
  }
}

/**
 * Take a reference on inode `ino` of a slot claimed by icacheClaimSlot,
 * found by number (an iget for those inodes). A slot that is not ACTIVE
 * (its last reference went) is not found. Takes the ICACHE lock.
 *
 * @returns the slot, or 0 when no active slot holds `ino`
 */
export function icacheGrab(c: XipCtx, ino: Ino): InodeSlot {
  icLock(c);
  try {
    const s = findSlot(c, ino);
    if (s === 0) return s;
    const base = islotBase(c, s);
    if (c.k32[base + ISLOT.state] !== ISTATE_ACTIVE) return asInodeSlot(0);
    Atomics.add(c.k32, base + ISLOT.count, 1);
    return s;
  } finally {
    icUnlock(c);
  }
}

/**
 * Drop a reference on a slot claimed by icacheClaimSlot. When it was the
 * last, the slot turns FREEING (icacheGrab no longer finds it) and the
 * caller must release what the inode holds, then call icacheFreeSlot.
 * Takes the ICACHE lock.
 *
 * @returns true when this dropped the last reference
 * @throws KernelPanic when the count would go below 0 or the slot changed hands
 */
export function icacheDrop(c: XipCtx, ip: InodeRef): boolean {
  const base = islotBase(c, ip.slot);
  icLock(c);
  try {
    if (c.k32[base + ISLOT.ino] !== ip.ino) {
      throw new KernelPanic("icacheDrop", `slot ${ip.slot} no longer holds inode ${ip.ino}`);
    }
    const left = Atomics.sub(c.k32, base + ISLOT.count, 1) - 1;
    if (left < 0) {
      Atomics.add(c.k32, base + ISLOT.count, 1);
      throw new KernelPanic("icacheDrop", `inode ${ip.ino} reference count underflow`);
    }
    if (left > 0) return false;
    Atomics.store(c.k32, base + ISLOT.state, ISTATE_FREEING);
    return true;
  } finally {
    icUnlock(c);
  }
}

/**
 * Free a slot claimed by icacheClaimSlot whose last reference is gone and
 * whose pages are gone. Takes the ICACHE lock.
 */
export function icacheFreeSlot(c: XipCtx, slot: InodeSlot): void {
  const base = islotBase(c, slot);
  if (Atomics.load(c.k32, base + ISLOT.count) !== 0) {
    throw new KernelPanic("icacheFreeSlot", `slot ${slot} is still referenced`);
  }
  releaseSlot(c, slot);
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
function evictSlot(c: XipCtx, slot: InodeSlot): void {
  const base = islotBase(c, slot);
  const ino = asIno(c.k32[base + ISLOT.ino]!);
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
  return ino === 0 ? null : { slot: asInodeSlot(slot), ino: asIno(ino) };
}

/** Slots in use (ACTIVE, CACHED or FREEING). */
export const icacheInUse = (c: XipCtx): number => Atomics.load(c.k32, c.icache + ICACHE.nrInodes);

/**
 * Evict every CACHED inode (write back and drop its pages): unmount, and
 * tests that want an empty cache.
 *
 * Entry: no lock held. Takes and drops the inode-cache lock per slot; each
 * eviction runs with it dropped and takes the evicted inode's page locks
 * (and, for an unlinked inode, its block-map lock).
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
