/**
 * The page-cache index: (mapping, pgoff) -> RAM pfn.
 * See mod.ts for the map of every region.
 *
 * @module
 */

import { type LayoutConfig } from "./config.ts";

// ---------------------------------------------------------------------------
// pcache: the page-cache index (src/fs/pagecache/pagecache_index.ts). An open-addressing
// hash table keyed by (mapping, pgoff), linear probing, one slot per
// PCACHE_SLOT_WORDS words after a header. Lookups read it with Atomics and no
// lock; inserts, deletes and rebuilds take the mutex at PCACHE.lock.
//
// ```
//  +------------------------------+---------+---------+-----+---------------+
//  | header: lock, counters, seq  | slot 0  | slot 1  | ... | slot S-1      |
//  +------------------------------+---------+---------+-----+---------------+
//  slot: [ mapping | pgoff | pfn | (pad) ]   mapping 0 = empty, -1 = deleted
// ```
//
// S is a power of two, at least twice the RAM frames, so the live load factor
// never passes 1/2 (a page-cache page is a RAM frame). A zeroed region is an
// empty index with its lock free, so the region needs no boot-time setup.

export const PCACHE = {
  /** The index's writer lock, a src/sync mutex of up to PCACHE_LOCK_WORDS words. */
  lock: 0,
  /** Live entries (pages in the cache). */
  nrPages: 8,
  /** Slots holding a deletion marker. */
  tombstones: 9,
  /** Rebuild sequence: odd while the table is being rebuilt in place. */
  seq: 10,
  /** Next slot the eviction clock looks at. */
  clockHand: 11,
  /** Rebuilds done, for tests and stats. */
  rebuilds: 13,
  /** First slot. */
  slots: 16,
} as const;
export const PCACHE_LOCK_WORDS = 8;

export const PCACHE_SLOT = {
  /** Mapping id (> 0), PCACHE_EMPTY or PCACHE_TOMBSTONE. */
  mapping: 0,
  /** Page offset in the file. */
  pgoff: 1,
  /** RAM frame holding the page. */
  pfn: 2,
} as const;
export const PCACHE_SLOT_WORDS = 4;
export const PCACHE_EMPTY = 0;
export const PCACHE_TOMBSTONE = -1;

/** Slots of the page-cache index for `cfg`: a power of two >= 2 * RAM frames, at least 64. */
export function pcacheSlots(cfg: LayoutConfig): number {
  let n = 64;
  while (n < 2 * cfg.ramFrames) n *= 2;
  return n;
}
