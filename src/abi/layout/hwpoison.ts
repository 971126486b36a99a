/**
 * The memory-failure list: one bit per poisoned device block (Linux's badblocks).
 * See mod.ts for the map of every region.
 *
 * @module
 */

// ---------------------------------------------------------------------------
// hwpoison: the memory device's poisoned blocks (src/hw/badblocks.ts),
// Linux's badblocks of a pmem namespace: one bit per device block, set by
// memory failure (machine.poison, madvise(MADV_HWPOISON), a list loaded at
// mount) and cleared by a write of the whole block. The bits change under
// `lock` (a src/sync mutex, a leaf), which also guards the copy of the list
// xipfs keeps in its image (XPOISON); tests read them with Atomics.
//
// ```
//  +--------------------------------+-----------------------------------+
//  | lock (2) | count | (pad)        | bitmap: 1 bit per device frame    |
//  +--------------------------------+-----------------------------------+
// ```

export const HWPOISON = {
  /** Mutex guarding the bitmap and the image's list. */
  lock: 0,
  /** Poisoned blocks (the bitmap's population count). */
  count: 4,
  /** First bitmap word: block b is bit b & 31 of word b >> 5. */
  bitmap: 16,
} as const;

// ---------------------------------------------------------------------------
