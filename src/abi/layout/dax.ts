/**
 * DAX entry locks, PMD-range locks and the device-frame map bitmap.
 * See mod.ts for the map of every region.
 *
 * @module
 */

import { type LayoutConfig } from "./config.ts";
import { RWSEM_WORDS } from "./lock_words.ts";

// ---------------------------------------------------------------------------
// daxent: DAX entry locks (src/fs/dax_fault.ts), Linux's locked DAX entries
// in i_pages reduced to their lock. One word per hash bucket of (inode slot,
// pgoff); bit 0 is a src/sync bit lock (LockClass.DAX_ENTRY). Two entries
// that hash alike share a lock: that only over-serialises, it cannot
// deadlock, because a task never holds two DAX entries at once.

/** Entry-lock words (a power of two). */
export const DAXENT_WORDS = 1024;
/** The lock bit in an entry word. */
export const DAXENT_LOCK_BIT = 0;

// ---------------------------------------------------------------------------
// daxpmd: the locks that make a DAX entry cover a 4 MiB range, as Linux's
// xarray holds either one PMD entry or PTE entries for it
// (src/fs/dax_pmd.ts). One rwsem (RWSEM_WORDS words) per hash bucket
// of (inode slot, pgoff >> 10), LockClass.DAX_PMD: a 4 KiB fault holds its
// range's lock for reading around its DAX entry, a megapage fault holds it
// for writing, so the two never work on one range at once. Two ranges that
// hash alike only serialise each other; a task holds at most one.

/** PMD-range locks (a power of two). */
export const DAXPMD_LOCKS = 256;
/** Words per PMD-range lock: one src/sync rwsem. */
export const DAXPMD_LOCK_WORDS = RWSEM_WORDS;

// ---------------------------------------------------------------------------
// devmap: one bit per device frame, set (Atomics.or, never cleared) when a
// PTE first maps that frame into a process: the device frames a run ever
// mapped (stats `device.mapped_frames`, docs/stats.schema.json), whoever unmapped or
// tore them down later. Frame ramFrames + d is bit d & 31 of word d >> 5.

/** Words of the devmap bitmap: one bit per device frame. */
export const devmapWords = (cfg: LayoutConfig): number => Math.ceil(cfg.deviceFrames / 32);
