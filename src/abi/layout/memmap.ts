/**
 * struct page records and the frame allocator's bitmap.
 * See mod.ts for the map of every region.
 *
 * @module
 */

import { type LayoutConfig } from "./config.ts";

// ---------------------------------------------------------------------------
// memmap: struct page, one per frame that has one (`pfnValid`).
// RAM frames always do; device frames only with deviceMemmap. The record for
// pfn p is at `memmap.base + memmapIndex(p) * PAGE_WORDS`.

export const PAGE = {
  /** PG_* bits (src/mm/memmap.ts). PG_locked is a bit lock. */
  flags: 0,
  /** References: mappings that are refcounted, pins, the page cache. */
  refcount: 1,
  /** PTEs that map the frame. */
  mapcount: 2,
  /** Owning inode number for page-cache pages; 0 for anonymous or free. */
  mapping: 3,
  /** Page offset in the file (page-cache pages). */
  index: 4,
  /** Free-list or LRU link (a pfn, -1 for none). */
  next: 5,
  prev: 6,
  private: 7,
} as const;
export const PAGE_WORDS = 8;

// ---------------------------------------------------------------------------
// frame allocator: a bitmap of RAM frames, one bit per frame (1 = in use),
// plus counters. Words are allocated with Atomics, so no lock is needed
// (src/mm/frame_alloc.ts). Frame p is bit p % 32 of bitmap word p / 32; the
// bits past the last RAM frame are set at boot so they are never handed out.

export const FALLOC = {
  /** Frames currently free (reserved first by allocFrame, so it never goes below 0). */
  freeFrames: 0,
  /** High-water mark of frames in use. */
  peakUsed: 1,
  /** First bitmap word; the counters above sit alone on their cache line. */
  bitmap: 16,
} as const;

/** Bitmap words for `cfg`'s RAM frames. */
export const fallocBitmapWords = (cfg: LayoutConfig): number => Math.ceil(cfg.ramFrames / 32);
