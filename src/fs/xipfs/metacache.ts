/**
 * Metadata of xipfs on a bio-only device (HostFileDevice): Linux's design,
 * where the superblock, bitmaps, inode table, directory and indirect blocks
 * are buffer heads on the block device's own page cache.
 *
 * Here every metadata block b is page (XIPFS_META_MAPPING, b) of the shared
 * page cache: filled by bioRead on first use, then pinned (each thread that
 * uses it keeps a reference, so eviction skips it) and addressed in place,
 * so `XipVol.blockBase(b)` is the frame's byte offset in physical memory and
 * the on-disk accessors work on it unchanged. Changes mark the page dirty
 * (PG_dirty); sync writes the dirty pages back with bioWrite and flushes the
 * device. Regular-file data never comes here: it is in the inode's own
 * mapping (the page cache proper) or, on a memory device, DAX.
 *
 * Each thread memoises block → pfn in a Map. A metadata block that is freed
 * leaves the cache (forget) and bumps a shared generation word; a thread
 * that sees the generation change drops the memo entries whose frame no
 * longer holds its block, so a freed block reused as file data is never
 * written over by a stale copy.
 *
 * A metadata read error (-EIO, or no frame to hold the block) has no errno
 * path through the on-disk accessors, which address bytes; it panics.
 *
 * @module
 */

import { isErr } from "../../abi/errno.ts";
import { ICACHE_SLOTS } from "../../abi/layout/mod.ts";
import { KernelPanic } from "../../abi/panic.ts";
import { asBlock, PAGE_SIZE, type Pfn } from "../../abi/types.ts";
import type { BlockDevice } from "../../hw/device.ts";
import type { Memory } from "../../hw/memory.ts";
import { allocFrame, withReclaim } from "../../mm/frame_alloc.ts";
import {
  pageFlagsWord,
  PG_locked,
  PG_uptodate,
  putPage,
  setPageFlag,
  testPageFlag,
} from "../../mm/memmap.ts";
import { bitTryLock, waitOnBit } from "../../sync/bitlock.ts";
import { LockClass } from "../../sync/lockdep.ts";
import {
  type AddressSpaceOps,
  addToPageCacheLocked,
  deleteFromPageCache,
  findGetPage,
  lockPage,
  pageView,
  setPageDirty,
  shrinkPageCache,
  unlockPage,
  writebackMapping,
} from "../pagecache/pagecache.ts";
import { pageIs } from "../pagecache/pagecache_page.ts";

/** Page-cache mapping id of the block device's metadata (above every inode-cache slot). */
export const XIPFS_META_MAPPING = ICACHE_SLOTS;

/** One thread's view of the metadata cache. */
export class MetaCache {
  readonly #memo = new Map<number, Pfn>();
  #gen = -1;
  /** The device's address-space ops: pgoff is the block number. */
  readonly aops: AddressSpaceOps;

  /**
   * @param genWord word index (in mem.k32) of the shared generation counter
   */
  constructor(readonly mem: Memory, readonly dev: BlockDevice, readonly genWord: number) {
    this.aops = {
      readpage: (_m, b, frame) => dev.bioRead(asBlock(b), frame),
      writepage: (_m, b, frame) => dev.bioWrite(asBlock(b), frame),
    };
  }

  /**
   * When some thread has forgotten a block, drop the memo entries (and pins)
   * whose frame no longer holds that block. Entries still valid keep their
   * pins: this thread may be in the middle of using them.
   */
  #revalidate(): void {
    const g = Atomics.load(this.mem.k32, this.genWord);
    if (g === this.#gen) return;
    this.#gen = g;
    for (const [b, pfn] of this.#memo) {
      if (pageIs(this.mem, pfn, XIPFS_META_MAPPING, b)) continue;
      this.#memo.delete(b);
      putPage(this.mem, pfn);
    }
  }

  /**
   * Byte offset in physical memory of metadata block `b`, reading it in and
   * pinning it on first use. No lock needed on entry; may take a page lock
   * (the fill) so call it with no page lock held.
   *
   * @throws KernelPanic when the block cannot be read (I/O error, no frame)
   */
  base(b: number): number {
    this.#revalidate();
    const hit = this.#memo.get(b);
    if (hit !== undefined) return hit * PAGE_SIZE;
    const pfn = this.#find(b);
    this.#memo.set(b, pfn);
    return pfn * PAGE_SIZE;
  }

  /**
   * Find or read metadata block `b` and return it with a reference (the
   * pin). Like readCachePage, but the fill locks its fresh frame with a
   * trylock: metadata is reached from under the block-map lock, and the
   * only page lock taken here is one on a frame nobody else can see yet
   * (Linux's buffer-head fill under i_data_sem nests the same way), so it
   * can never close a cycle and lockdep is right not to order it.
   */
  #find(b: number): Pfn {
    const mem = this.mem;
    for (let tries = 0; tries < 1000; tries++) {
      const found = findGetPage(mem, XIPFS_META_MAPPING, b);
      if (found !== -1) {
        if (testPageFlag(mem, found, PG_uptodate)) return found;
        waitOnBit(mem.k32, pageFlagsWord(mem, found), PG_locked);
        if (testPageFlag(mem, found, PG_uptodate) && pageIs(mem, found, XIPFS_META_MAPPING, b)) {
          return found;
        }
        putPage(mem, found); // the fill failed and dropped it: start over
        continue;
      }
      const pfn = withReclaim(mem, () => allocFrame(mem), (m, nr) => shrinkPageCache(m, nr, null));
      if (isErr(pfn)) break;
      const page = pfn;
      if (!bitTryLock(mem.k32, pageFlagsWord(mem, page), PG_locked, LockClass.PAGE_LOCK)) {
        throw new KernelPanic("MetaCache.find", `fresh frame ${page} is locked`);
      }
      if (addToPageCacheLocked(mem, page, XIPFS_META_MAPPING, b) !== 0) {
        unlockPage(mem, page);
        putPage(mem, page);
        continue; // another thread inserted it first
      }
      const r = this.dev.bioRead(asBlock(b), pageView(mem, page));
      if (r < 0) {
        deleteFromPageCache(mem, page);
        unlockPage(mem, page);
        putPage(mem, page);
        throw new KernelPanic("MetaCache.find", `cannot read metadata block ${b}: ${r}`);
      }
      setPageFlag(mem, page, PG_uptodate);
      unlockPage(mem, page);
      return page;
    }
    throw new KernelPanic("MetaCache.find", `no frame for metadata block ${b}`);
  }

  /** Mark metadata block `b` dirty if it is in the cache (a change made through base()). */
  markDirty(b: number): void {
    this.#revalidate();
    const pfn = this.#memo.get(b);
    if (pfn !== undefined) setPageDirty(this.mem, pfn);
  }

  /**
   * Block `b` was freed: drop its metadata page (dirty or not) so that a
   * later use of the block as file data is not overwritten by writeback,
   * and tell the other threads. No lock needed; takes the page lock.
   */
  forget(b: number): void {
    const pfn = findGetPage(this.mem, XIPFS_META_MAPPING, b);
    if (pfn === -1) return;
    lockPage(this.mem, pfn);
    deleteFromPageCache(this.mem, pfn);
    unlockPage(this.mem, pfn);
    putPage(this.mem, pfn);
    Atomics.add(this.mem.k32, this.genWord, 1);
    this.#revalidate();
  }

  /**
   * Write every dirty metadata page to the device and flush it.
   *
   * @returns 0 or the first -errno
   */
  sync(): number {
    const n = writebackMapping(this.mem, XIPFS_META_MAPPING, this.aops);
    if (n < 0) return n;
    return this.dev.flush();
  }

  /** Drop this thread's pins (unmount, detach). The pages stay cached until evicted. */
  release(): void {
    for (const pfn of this.#memo.values()) putPage(this.mem, pfn);
    this.#memo.clear();
  }
}
