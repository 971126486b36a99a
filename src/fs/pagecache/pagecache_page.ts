/**
 * Page-level helpers of the page cache shared by lookup, fill, writeback,
 * truncate and eviction: the ops interface, the page lock, the frame view,
 * removal from the index and the write of one page.
 *
 * @module
 */

import { PAGE_SIZE, type Pfn } from "../../abi/types.ts";
import { KernelPanic } from "../../abi/panic.ts";
import type { Memory } from "../../hw/memory.ts";
import {
  clearPageFlag,
  pageFlagsWord,
  pageIndex,
  pageMapping,
  PG_dirty,
  PG_locked,
  PG_writeback,
  putPage,
  setPageFlag,
  setPageMapping,
} from "../../mm/memmap.ts";
import { bitLock, bitUnlock } from "../../sync/bitlock.ts";
import { LockClass } from "../../sync/lockdep.ts";
import { withNoKill } from "../../sync/current.ts";
import { pcacheDeleteLocked, pcacheLock, pcacheUnlock } from "./pagecache_index.ts";

/**
 * How the cache reaches the storage behind a mapping (Linux's
 * address_space_operations, reduced to the two the cache calls).
 * Both are called with the page locked and must not take a page lock.
 */
export interface AddressSpaceOps {
  /** Fill `frame` (the page's 4 KiB) with file page `pgoff`. Returns >= 0 or -errno. */
  readpage(mapping: number, pgoff: number, frame: Uint8Array): number;
  /** Write `frame` to the storage of file page `pgoff`. Returns >= 0 or -errno. */
  writepage(mapping: number, pgoff: number, frame: Uint8Array): number;
}

/** Finds the ops of any mapping, for eviction; null when it has none (its dirty pages stay). */
export type AopsLookup = (mapping: number) => AddressSpaceOps | null;

/** Filled in by readCachePage: whether this call read the page in (a major fault). */
export interface ReadPageInfo {
  major: boolean;
}

/** The 4 KiB view of RAM frame `pfn`. */
export function pageView(mem: Memory, pfn: Pfn): Uint8Array {
  return mem.u8.subarray(pfn * PAGE_SIZE, (pfn + 1) * PAGE_SIZE);
}

/**
 * Lock page `pfn` (PG_locked), sleeping until it is free.
 *
 * The rule that makes a dead locker recoverable: the caller holds one
 * reference to the page from before it locks it until after it unlocks it,
 * and drops exactly that one afterwards (a PTE or the cache takes its own).
 * Where a task can be killed (src/sync/current.ts), it takes the reference and
 * the lock in one no-kill region; then a task that dies holding PG_locked
 * holds exactly one reference, and the Machine unlocks the page and drops
 * that reference for it.
 */
export function lockPage(mem: Memory, pfn: Pfn): void {
  bitLock(mem.k32, pageFlagsWord(mem, pfn), PG_locked, LockClass.PAGE_LOCK);
}

/** Unlock page `pfn` and wake its waiters. Caller holds the page lock. */
export function unlockPage(mem: Memory, pfn: Pfn): void {
  bitUnlock(mem.k32, pageFlagsWord(mem, pfn), PG_locked);
}

/** True when `pfn` is the cache's page for (mapping, pgoff) right now. */
export function pageIs(mem: Memory, pfn: Pfn, mapping: number, pgoff: number): boolean {
  return pageMapping(mem, pfn) === mapping && pageIndex(mem, pfn) === pgoff;
}

/**
 * Remove page `pfn` from the cache (Linux's delete_from_page_cache). The
 * caller holds its page lock and a reference of its own. On return the page
 * has no mapping and the cache's reference is dropped; the caller's lock and
 * reference remain.
 *
 * @returns true when the page was in the cache
 */
export function deleteFromPageCache(mem: Memory, pfn: Pfn): boolean {
  // No kill point between unindexing the page and dropping the cache's reference.
  return withNoKill(() => deleteFromPageCacheNoKill(mem, pfn));
}

function deleteFromPageCacheNoKill(mem: Memory, pfn: Pfn): boolean {
  const mapping = pageMapping(mem, pfn);
  if (mapping === 0) return false;
  pcacheLock(mem);
  let gone: boolean;
  try {
    gone = pcacheDeleteLocked(mem, mapping, pageIndex(mem, pfn), pfn);
    if (gone) {
      // page->index is left alone, as in Linux: a racing reader that saw
      // the mapping still pairs it with the right index.
      setPageMapping(mem, pfn, 0);
    }
  } finally {
    pcacheUnlock(mem);
  }
  if (!gone) {
    throw new KernelPanic("deleteFromPageCache", `pfn ${pfn} names a mapping but is not indexed`);
  }
  putPage(mem, pfn);
  return true;
}

/**
 * Write one locked page if it is dirty (Linux's clear_page_dirty_for_io plus
 * ->writepage, done synchronously under the page lock). Caller holds the
 * page lock and a reference.
 *
 * @returns 1 when written, 0 when it was clean, or -errno (the page stays dirty)
 */
export function writeOnePage(mem: Memory, pfn: Pfn, aops: AddressSpaceOps): number {
  if (!clearPageFlag(mem, pfn, PG_dirty)) return 0;
  setPageFlag(mem, pfn, PG_writeback);
  const err = aops.writepage(pageMapping(mem, pfn), pageIndex(mem, pfn), pageView(mem, pfn));
  clearPageFlag(mem, pfn, PG_writeback);
  if (err < 0) {
    setPageFlag(mem, pfn, PG_dirty);
    return err;
  }
  return 1;
}
