/**
 * The page cache: file pages held in RAM frames, keyed by (mapping, pgoff).
 * It is the classic path that XIP removes: a read of a non-DAX file copies
 * each 4 KiB block from the device into a RAM frame once (the fill, counted
 * in VMSTAT.copiedPagecacheFill), and every later access uses that frame.
 *
 * A mapping id is a small positive integer chosen by the filesystem (its
 * inode-cache slot); the cache never interprets it. The index lives in
 * src/fs/pagecache/pagecache_index.ts; this module holds the page-level protocol.
 *
 * Page states, as in Linux:
 *
 * ```
 *  PG_locked    a bit lock: held while the page is filled, written back,
 *               truncated or evicted. Waiters sleep on the bit.
 *  PG_uptodate  the bytes are valid; set once, after the fill, before unlock.
 *  PG_dirty     newer than the device; writeback clears it.
 *  refcount     the cache's own reference (1), plus one per user
 *               (readCachePage/findGetPage callers, refcounted PTEs, pins).
 *  mapping/index  (mapping, pgoff) while the page is in the cache, 0 once
 *               it has been removed. Set and cleared under the index lock.
 * ```
 *
 * Lock order (src/sync/lockdep.ts): page lock, then the index lock
 * (PAGE_CACHE); frames come from the lock-free allocator. Never two page
 * locks at once.
 *
 * @module
 */

import { EEXIST, ENOMEM, type Errno, isErr } from "../../abi/errno.ts";
import { VMSTAT } from "../../abi/layout/mod.ts";
import { KernelPanic } from "../../abi/panic.ts";
import { asInodeSlot, PAGE_SIZE, type Pfn } from "../../abi/types.ts";
import { type Memory, statAdd } from "../../hw/memory.ts";
import { codeWritten } from "../../hw/jit/shared.ts";
import { allocFrame, withReclaim } from "../../mm/frame_alloc.ts";
import {
  clearPageFlag,
  getPage,
  getPageUnlessZero,
  pageFlagsWord,
  pageMapcount,
  pageMapping,
  pfnIsRam,
  PG_dirty,
  PG_locked,
  PG_uptodate,
  putPage,
  setPageFlag,
  setPageIndex,
  setPageMapping,
  testPageFlag,
} from "../../mm/memmap.ts";
import { waitOnBit } from "../../sync/bitlock.ts";
import { withNoKill } from "../../sync/current.ts";
import {
  pcacheCollect,
  pcacheInsertLocked,
  pcacheLock,
  pcacheLookup,
  pcacheNrPages,
  pcacheUnlock,
} from "./pagecache_index.ts";
import {
  type AddressSpaceOps,
  type AopsLookup,
  deleteFromPageCache,
  lockPage,
  pageIs,
  pageView,
  type ReadPageInfo,
  unlockPage,
  writeOnePage,
} from "./pagecache_page.ts";
import { shrinkPageCache } from "./pagecache_shrink.ts";
import { unmapMappingRange } from "../../mm/rmap.ts";

export type { AddressSpaceOps, AopsLookup, ReadPageInfo } from "./pagecache_page.ts";
export { deleteFromPageCache, lockPage, pageView, unlockPage } from "./pagecache_page.ts";
export { shrinkPageCache } from "./pagecache_shrink.ts";

/** Internal: readCachePage should look the page up again. */
const EAGAIN_RETRY = -0x7fff_0000;

/** Spins of findGetPage before it starts sleeping 1 ms between tries. */
const SPINS_BEFORE_SLEEP = 64;
const backoff = new Int32Array(new SharedArrayBuffer(4));

/**
 * Look up (mapping, pgoff) and take a reference to the page (Linux's
 * find_get_page). No lock needed on entry; takes none.
 *
 * The lookup is speculative: find the slot, get_page_unless_zero, then
 * re-check the struct page's mapping and index and that the index still
 * names this frame. A frame that was freed, reused or is being evicted fails
 * one of these and the lookup retries. The page returned may be locked and
 * not yet uptodate (a fill in progress): callers that need the bytes use
 * readCachePage.
 *
 * @returns the pfn, with a reference the caller drops with putPage; -1 when absent
 */
export function findGetPage(mem: Memory, mapping: number, pgoff: number): Pfn | -1 {
  for (let tries = 0;; tries++) {
    if (tries >= SPINS_BEFORE_SLEEP) Atomics.wait(backoff, 0, 0, 1);
    const pfn = pcacheLookup(mem, mapping, pgoff);
    if (pfn === -1) return -1;
    if (!pfnIsRam(mem, pfn)) {
      throw new KernelPanic("findGetPage", `index holds non-RAM pfn ${pfn}`);
    }
    if (!getPageUnlessZero(mem, pfn)) continue; // freed, or frozen by eviction
    if (pageIs(mem, pfn, mapping, pgoff) && pcacheLookup(mem, mapping, pgoff) === pfn) return pfn;
    putPage(mem, pfn);
  }
}

/**
 * Insert locked page `pfn` into the cache at (mapping, pgoff) (Linux's
 * add_to_page_cache_locked). On entry the caller holds PG_locked on `pfn`
 * and a reference, and the page belongs to no mapping. On success the page
 * carries (mapping, pgoff) and the cache's own reference; the caller still
 * holds its lock and reference. Takes and drops the index lock.
 *
 * @returns 0, or -EEXIST when another page is already cached there (nothing changed)
 */
export function addToPageCacheLocked(
  mem: Memory,
  pfn: Pfn,
  mapping: number,
  pgoff: number,
): number {
  if (!testPageFlag(mem, pfn, PG_locked) || pageMapping(mem, pfn) !== 0) {
    throw new KernelPanic("addToPageCacheLocked", `pfn ${pfn} not locked or already cached`);
  }
  pcacheLock(mem);
  try {
    if (pcacheLookup(mem, mapping, pgoff) !== -1) return -EEXIST;
    // The struct page is filled in before the slot publishes it, so a
    // lock-free reader that finds the slot finds the page consistent. Index
    // before mapping: pageIs reads the mapping first, so a reader holding a
    // stale candidate that sees the new mapping also sees the new index.
    setPageIndex(mem, pfn, pgoff);
    setPageMapping(mem, pfn, mapping);
    getPage(mem, pfn);
    const err = pcacheInsertLocked(mem, mapping, pgoff, pfn);
    if (err !== 0) throw new KernelPanic("addToPageCacheLocked", `insert failed ${err}`);
    return 0;
  } finally {
    pcacheUnlock(mem);
  }
}

/** Allocate a frame; on -ENOMEM shrink the cache while that frees frames (withReclaim). */
function allocCacheFrame(mem: Memory, aopsFor: AopsLookup | null): Pfn | Errno {
  const pfn = allocFrame(mem);
  if (pfn !== -ENOMEM) return pfn;
  return withReclaim(mem, () => allocFrame(mem), (m, nr) => shrinkPageCache(m, nr, aopsFor));
}

/**
 * Read the page, fill it and return it locked. Caller holds PG_locked and a
 * reference on a cached page that is not uptodate. On return the page is
 * uptodate and still locked, or it was removed from the cache.
 *
 * @returns 0, or the readpage error
 */
function fillPage(
  mem: Memory,
  pfn: Pfn,
  mapping: number,
  pgoff: number,
  aops: AddressSpaceOps,
): number {
  const err = aops.readpage(mapping, pgoff, pageView(mem, pfn));
  codeWritten(mem, pfn * PAGE_SIZE, PAGE_SIZE);
  if (err < 0) {
    // Linux leaves a !uptodate page behind; dropping it lets the next
    // reader start clean instead of finding a half-filled frame.
    deleteFromPageCache(mem, pfn);
    return err;
  }
  statAdd(mem, VMSTAT.copiedPagecacheFill, PAGE_SIZE);
  setPageFlag(mem, pfn, PG_uptodate);
  return 0;
}

/**
 * Return page (mapping, pgoff), uptodate, with a reference (Linux's
 * read_cache_page / filemap_fault's find-or-read). Call it with no page lock
 * and no lock ranked below PAGE_LOCK held (it may write back dirty pages to
 * make room).
 *
 * On a miss it allocates a frame, inserts it locked, calls `aops.readpage`
 * and sets PG_uptodate before unlocking, so concurrent callers for the same
 * page wait on PG_locked and exactly one fill happens. `info.major` is set
 * when this call did the fill (file_major), cleared when the page was found
 * (file_minor). When no frame is free it shrinks the cache once (dirty
 * pages of other mappings are written back only if `aopsFor` is given).
 *
 * @returns the pfn (drop the reference with putPage), -ENOMEM, or the
 *   readpage error
 */
export function readCachePage(
  mem: Memory,
  mapping: number,
  pgoff: number,
  aops: AddressSpaceOps,
  info?: ReadPageInfo,
  aopsFor: AopsLookup | null = null,
): Pfn | Errno {
  if (info) info.major = false;
  for (;;) {
    const found = findGetPage(mem, mapping, pgoff);
    if (found !== -1) {
      if (testPageFlag(mem, found, PG_uptodate)) return found;
      const ret = waitForFill(mem, found, mapping, pgoff, aops, info);
      if (ret !== EAGAIN_RETRY) return ret;
      continue;
    }
    const pfn = allocCacheFrame(mem, aopsFor);
    if (isErr(pfn)) return pfn;
    lockPage(mem, pfn); // a fresh frame: nobody else can hold it
    if (addToPageCacheLocked(mem, pfn, mapping, pgoff) === -EEXIST) {
      unlockPage(mem, pfn);
      putPage(mem, pfn);
      continue; // lost the race to insert; find the winner's page
    }
    const err = fillPage(mem, pfn, mapping, pgoff, aops);
    unlockPage(mem, pfn);
    if (isErr(err)) {
      putPage(mem, pfn);
      return err;
    }
    if (info) info.major = true;
    return pfn;
  }
}

/**
 * A reader found a cached page that is not uptodate: wait for the fill in
 * progress. Caller holds a reference, which this keeps on success and drops
 * on retry or error.
 */
function waitForFill(
  mem: Memory,
  pfn: Pfn,
  mapping: number,
  pgoff: number,
  aops: AddressSpaceOps,
  info?: ReadPageInfo,
): Pfn | Errno | typeof EAGAIN_RETRY {
  waitOnBit(mem.k32, pageFlagsWord(mem, pfn), PG_locked);
  if (testPageFlag(mem, pfn, PG_uptodate) && pageIs(mem, pfn, mapping, pgoff)) return pfn;
  // The fill failed or the page was truncated. Take the lock and look again
  // (after every wait, re-check the state before acting on it).
  lockPage(mem, pfn);
  if (!pageIs(mem, pfn, mapping, pgoff)) {
    unlockPage(mem, pfn);
    putPage(mem, pfn);
    return EAGAIN_RETRY;
  }
  if (testPageFlag(mem, pfn, PG_uptodate)) {
    unlockPage(mem, pfn);
    return pfn;
  }
  const err = fillPage(mem, pfn, mapping, pgoff, aops);
  unlockPage(mem, pfn);
  if (isErr(err)) {
    putPage(mem, pfn);
    return err;
  }
  if (info) info.major = true;
  return pfn;
}

/**
 * Mark a cached page dirty (Linux's set_page_dirty). The caller holds a
 * reference and the page lock, or is the PTE zap path holding the
 * page-table lock over a PTE that maps the page. A page that truncate has
 * already removed (mapping 0, kept alive by a pin) just carries the bit
 * until it is freed; no writeback will find it, as in Linux.
 *
 * @returns whether the page was dirty already
 */
export function setPageDirty(mem: Memory, pfn: Pfn): boolean {
  return setPageFlag(mem, pfn, PG_dirty);
}

/** A range of page offsets, [from, to). */
export interface PgoffRange {
  from: number;
  to: number;
}

/**
 * Write every dirty page of `mapping` (within `range`, default all) through
 * `aops.writepage` and mark it clean (Linux's filemap_write_and_wait_range,
 * for fsync, msync, close and unmount). Each page is written under its page
 * lock, so a writer that dirties pages under the page lock is never lost.
 * Caller holds no page lock. Pages that a writable PTE maps can be dirtied
 * again through the PTE after this clears PG_dirty; write-protecting them
 * first (Linux's page_mkclean) is the fault layer's job.
 *
 * A page that fails to write stays dirty; the others are still written.
 *
 * @returns the pages written, or the first -errno
 */
export function writebackMapping(
  mem: Memory,
  mapping: number,
  aops: AddressSpaceOps,
  range?: PgoffRange,
): number {
  const from = range?.from ?? 0;
  const to = range?.to ?? Infinity;
  const entries = pcacheCollect(mem, (m, o) => m === mapping && o >= from && o < to);
  let written = 0;
  let firstErr = 0;
  for (const e of entries) {
    if (!testPageFlag(mem, e.pfn, PG_dirty)) continue;
    if (!getPageUnlessZero(mem, e.pfn)) continue;
    if (!pageIs(mem, e.pfn, mapping, e.pgoff)) {
      putPage(mem, e.pfn);
      continue;
    }
    lockPage(mem, e.pfn);
    const err = pageIs(mem, e.pfn, mapping, e.pgoff) ? writeOnePage(mem, e.pfn, aops) : 0;
    unlockPage(mem, e.pfn);
    putPage(mem, e.pfn);
    if (err > 0) written++;
    if (err < 0 && firstErr === 0) firstErr = err;
  }
  return firstErr < 0 ? firstErr : written;
}

/**
 * Drop every cached page of `mapping` at or after `fromPgoff` (Linux's
 * truncate_inode_pages_range). Dirty data in them is discarded.
 *
 * On entry the caller holds the inode's invalidate_lock for write (so no
 * fault can map or insert pages of the range) and has unmapped the range
 * from every process (unmapMappingRange). A page that still shows a
 * mapcount is unmapped again under its page lock (takes the i_mmap and
 * page-table locks; see the comment inside). Holds no page lock on entry.
 * Waits for locked pages (a fill or writeback in progress). A page pinned
 * by another reference leaves the cache now and is freed when its last
 * reference goes.
 *
 * @returns the number of pages removed
 */
export function truncateInodePages(mem: Memory, mapping: number, fromPgoff: number): number {
  const entries = pcacheCollect(mem, (m, o) => m === mapping && o >= fromPgoff);
  let dropped = 0;
  for (const e of entries) {
    // Refcount 0 means eviction froze it and will remove it itself. From
    // the reference to the lock, no kill point (the rule of lockPage).
    const got = withNoKill(() => {
      if (!getPageUnlessZero(mem, e.pfn)) return false;
      if (!pageIs(mem, e.pfn, mapping, e.pgoff)) {
        putPage(mem, e.pfn);
        return false;
      }
      lockPage(mem, e.pfn);
      return true;
    });
    if (!got) continue;
    if (pageIs(mem, e.pfn, mapping, e.pgoff)) {
      if (pageMapcount(mem, e.pfn) > 0) {
        // A munmap or exit that has already cleared its PTE drops the
        // mapcount only after its TLB shootdown (tlbFinishMmu), and
        // truncate waits for neither, so the count can lag. As Linux's
        // truncate_cleanup_folio does, unmap again rather than BUG: a PTE
        // that is really there goes now; a count left over belongs to an
        // unmap in flight, whose reference keeps the frame until it lets go.
        unmapMappingRange(mem, asInodeSlot(mapping), e.pgoff, 1); // an inode's mapping id is its slot
      }
      clearPageFlag(mem, e.pfn, PG_dirty);
      deleteFromPageCache(mem, e.pfn);
      dropped++;
    }
    unlockPage(mem, e.pfn);
    putPage(mem, e.pfn);
  }
  return dropped;
}

/** Frames the page cache holds right now (stats: ram.pagecache_frames). */
export function pagecacheFrames(mem: Memory): number {
  return pcacheNrPages(mem);
}
