/**
 * Eviction of page-cache pages under RAM pressure (Linux's shrink_page_list
 * reduced to one clock over the index, with no LRU lists and no second
 * chance: the project has no accessed bits to consult yet).
 *
 * A page is evicted only when nothing but the cache holds it: not mapped
 * (mapcount 0), not locked, and no reference besides the cache's own. A dirty
 * page is written back first, under its page lock. The last step is Linux's
 * page_ref_freeze: with the index lock held, the refcount goes from 2 (the
 * cache's and ours) to 0 in one compare-and-swap, so a lock-free lookup that
 * races with eviction either took its reference first (and the freeze
 * fails, the page stays) or finds 0 and retries until the slot is gone.
 *
 * @module
 */

import { PAGE } from "../../abi/layout/mod.ts";
import { KernelPanic } from "../../abi/panic.ts";
import type { Pfn } from "../../abi/types.ts";
import type { Memory } from "../../hw/memory.ts";
import { freeFrame } from "../../mm/frame_alloc.ts";
import {
  getPageUnlessZero,
  pageBase,
  pageFlagsWord,
  pageMapcount,
  pageRefcount,
  PG_dirty,
  PG_locked,
  putPage,
  setPageMapping,
  testPageFlag,
} from "../../mm/memmap.ts";
import { bitTryLock } from "../../sync/bitlock.ts";
import { LockClass } from "../../sync/lockdep.ts";
import {
  pcacheClockTick,
  pcacheDeleteLocked,
  pcacheLock,
  pcacheNrSlots,
  pcacheSlotPeek,
  pcacheUnlock,
} from "./pagecache_index.ts";
import { type AopsLookup, pageIs, unlockPage, writeOnePage } from "./pagecache_page.ts";

/** References an evictable page has while we inspect it: the cache's and ours. */
const EVICT_REFS = 2;

/**
 * Free up to `nrToFree` page-cache frames. Clean pages are dropped; dirty
 * pages are written through `aopsFor(mapping)` first (with `aopsFor` null,
 * or when it returns null, dirty pages are kept). Mapped, locked and pinned
 * pages are skipped. One pass looks at each slot of the index at most twice.
 *
 * Call it holding no page lock and no lock ranked below PAGE_LOCK: it takes
 * page locks (trylock only) and writeback may take filesystem locks.
 *
 * @returns the number of frames freed (0..nrToFree)
 */
export function shrinkPageCache(mem: Memory, nrToFree: number, aopsFor: AopsLookup | null): number {
  const budget = 2 * pcacheNrSlots(mem);
  let freed = 0;
  for (let i = 0; i < budget && freed < nrToFree; i++) {
    const e = pcacheSlotPeek(mem, pcacheClockTick(mem));
    if (e === null) continue;
    // Cheap filters without a reference: most pinned or mapped pages stop here.
    if (pageMapcount(mem, e.pfn) > 0 || pageRefcount(mem, e.pfn) !== 1) continue;
    if (testPageFlag(mem, e.pfn, PG_locked)) continue;
    if (evictOne(mem, e.pfn, e.mapping, e.pgoff, aopsFor)) freed++;
  }
  return freed;
}

/**
 * Try to evict one candidate. Takes a reference, the page lock (trylock),
 * and for the final step the index lock.
 *
 * @returns true when the frame was freed
 */
function evictOne(
  mem: Memory,
  pfn: Pfn,
  mapping: number,
  pgoff: number,
  aopsFor: AopsLookup | null,
): boolean {
  if (!getPageUnlessZero(mem, pfn)) return false;
  if (!pageIs(mem, pfn, mapping, pgoff)) {
    putPage(mem, pfn);
    return false;
  }
  if (!bitTryLock(mem.k32, pageFlagsWord(mem, pfn), PG_locked, LockClass.PAGE_LOCK)) {
    putPage(mem, pfn);
    return false;
  }
  let freed = false;
  try {
    freed = pageIs(mem, pfn, mapping, pgoff) && evictLocked(mem, pfn, mapping, pgoff, aopsFor);
  } finally {
    if (!freed) {
      unlockPage(mem, pfn);
      putPage(mem, pfn);
    }
  }
  return freed;
}

/** Whether only the cache and we hold the page and nothing maps it. */
const evictable = (mem: Memory, pfn: Pfn): boolean =>
  pageMapcount(mem, pfn) === 0 && pageRefcount(mem, pfn) === EVICT_REFS;

/**
 * The locked part of eviction. Caller holds the page lock and a reference
 * on a page that is in the cache at (mapping, pgoff). On true the frame is
 * free (lock and both references gone); on false nothing changed but a
 * possible writeback, and the caller still holds its lock and reference.
 */
function evictLocked(
  mem: Memory,
  pfn: Pfn,
  mapping: number,
  pgoff: number,
  aopsFor: AopsLookup | null,
): boolean {
  if (!evictable(mem, pfn)) return false;
  if (testPageFlag(mem, pfn, PG_dirty)) {
    const aops = aopsFor?.(mapping) ?? null;
    if (aops === null) return false;
    if (writeOnePage(mem, pfn, aops) < 0) return false;
    // A reference or a mapping may have appeared during the write.
    if (!evictable(mem, pfn) || testPageFlag(mem, pfn, PG_dirty)) return false;
  }
  const refWord = pageBase(mem, pfn) + PAGE.refcount;
  pcacheLock(mem);
  try {
    if (Atomics.compareExchange(mem.k32, refWord, EVICT_REFS, 0) !== EVICT_REFS) return false;
    // Frozen: no lookup can take a reference now, so the slot can go.
    // PTEs are set only by holders of a reference, so mapcount stays 0.
    if (!pcacheDeleteLocked(mem, mapping, pgoff, pfn)) {
      throw new KernelPanic("shrinkPageCache", `locked page pfn ${pfn} is not indexed`);
    }
    setPageMapping(mem, pfn, 0);
  } finally {
    pcacheUnlock(mem);
  }
  // Nobody else holds a reference, so nobody waits on this lock.
  unlockPage(mem, pfn);
  freeFrame(mem, pfn);
  return true;
}
