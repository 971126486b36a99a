/**
 * The mounted xipfs's shared state (Linux's ext2_sb_info) and its dirty-block bitmap.
 * See mod.ts for the map of every region.
 *
 * @module
 */

import { type LayoutConfig } from "./config.ts";

// ---------------------------------------------------------------------------
// xipfs: the mounted filesystem's shared state (src/fs/xipfs/xipfs_live.ts),
// Linux's struct super_block reduced, plus one dirty bit per device block.
//
// ```
//  +------------------------------------------------+--------------------------+
//  | header: mount state, dax mode, counters, rename | dirty bitmap: 1 bit per  |
//  | lock, metadata-cache generation                 | device frame (memdev)    |
//  +------------------------------------------------+--------------------------+
// ```
//
// A block's dirty bit is set whenever the block changes through the live
// filesystem (DAX writes, new blocks, metadata); fsync writes dirty blocks
// into the host image file and clears them. Bit b is bit b & 31 of word b >> 5.

export const SB_INFO = {
  /** SB_INFO_UNMOUNTED or SB_INFO_MOUNTED. */
  state: 0,
  /** XFS_DAX_* mount option. */
  daxMode: 1,
  /** Blocks allocated since mount (getBlock, directories, indirect blocks). */
  allocs: 2,
  /** Blocks freed since mount. */
  frees: 3,
  /** Next-fit hint of the block allocator (a block number). */
  rotor: 4,
  /** Next-fit hint of the inode allocator (an inode number). */
  inoRotor: 5,
  /** 0 for a memory device, 1 for a bio-only device (metadata in the page cache). */
  bio: 6,
  /** Inodes freed since mount (last iput of unlinked inodes). */
  inodeFrees: 7,
  /** Mutex serialising cross-directory renames (Linux s_vfs_rename_mutex). */
  renameLock: 8,
  /** Mutex serialising fsync's write of dirty blocks into the host image. */
  syncLock: 10,
  /** Bumped whenever a metadata block leaves the metadata cache (bio devices). */
  metaGen: 12,
  /** First word of the dirty bitmap. */
  dirty: 16,
} as const;
export const SB_INFO_UNMOUNTED = 0;
export const SB_INFO_MOUNTED = 1;
export const SB_INFO_DAX_NEVER = 0;
export const SB_INFO_DAX_ALWAYS = 1;
export const SB_INFO_DAX_INODE = 2;

/** Words of the dirty bitmap: one bit per device frame. */
export const sbInfoDirtyWords = (cfg: LayoutConfig): number => Math.ceil(cfg.deviceFrames / 32);
