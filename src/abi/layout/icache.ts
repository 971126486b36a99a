/**
 * The inode cache of the live xipfs.
 * See mod.ts for the map of every region.
 *
 * @module
 */

// ---------------------------------------------------------------------------
// icache: the inode cache of the live xipfs (src/fs/xipfs/icache.ts), Linux's
// inode hash plus the struct inodes themselves. One record (a slot) per
// inode in memory; the slot number is also the inode's page-cache mapping id,
// so slot 0 is never used (mapping 0 means "empty" in the page-cache index).
//
// ```
//  +---------------------------+--------+--------+-----+---------------------+
//  | header: lock, counters    | slot 1 | slot 2 | ... | slot ICACHE_SLOTS-1 |
//  +---------------------------+--------+--------+-----+---------------------+
//  slot: [ ino | count | state | flags | (pad) | i_mmap head | (pad) (pad) |
//          i_rwsem (4) | invalidate_lock (4) | block-map lock (2) |
//          i_mmap lock (2) | (pad to 32 words) ]
// ```
//
// There is no nrpages word: the page-cache index is one table for every
// mapping and is the only authority on which pages an inode has (the inode
// cache asks it when it evicts). ino, count and state change only under the
// header lock (INODE_CACHE);
// the locks inside a slot are src/sync primitives (all-zero = unlocked), so
// a zeroed region is an empty cache with no set-up.

export const ICACHE = {
  /** Mutex (INODE_CACHE class) guarding slot ino/count/state. */
  lock: 0,
  /** Slots in use (ACTIVE or FREEING; CACHED slots are counted too). */
  nrInodes: 4,
  /** Slots reclaimed from cached inodes (icache eviction), for tests. */
  reclaims: 5,
  /** First slot record (slot 0's place; slot 0 itself is never handed out). */
  slots: 16,
} as const;
/** Slots in the inode cache, slot 0 included (unused). */
export const ICACHE_SLOTS = 512;

/** Word offsets of an inode-cache slot (struct inode, reduced). */
export const ISLOT = {
  /** Inode number, 0 when the slot is free. */
  ino: 0,
  /** i_count: references (open files, mappings, calls in flight). */
  count: 1,
  /** ISTATE_*. */
  state: 2,
  /** IFLAG_* bits (S_DAX ...), fixed while the slot holds the inode. */
  flags: 3,
  /** Head of the VMAs mapping the inode (Linux i_mmap). Owned by src/mm; 0 = empty. */
  iMmap: 5,
  /** i_rwsem: write(), truncate, directory changes (I_RWSEM class). */
  iRwsem: 8,
  /** invalidate_lock: read in faults, write in truncate/punch-hole (INVALIDATE_LOCK). */
  invalidateLock: 12,
  /** The block-map lock: getBlock(create) and block freeing (BLOCK_MAP). */
  bmapLock: 16,
  /** Lock of the i_mmap list (I_MMAP). */
  iMmapLock: 18,
  /**
   * i_writecount: > 0 the opens for writing, < 0 the denials of exec
   * (src/fs/write_access.ts); 0 when neither.
   */
  writecount: 20,
} as const;
export const ISLOT_WORDS = 32;
export const ISTATE_FREE = 0;
/** In use: count > 0. */
export const ISTATE_ACTIVE = 1;
/** count 0, still linked and possibly with cached pages: reusable by iget or reclaim. */
export const ISTATE_CACHED = 2;
/** Being torn down (last iput of an unlinked inode, or reclaim): iget waits. */
export const ISTATE_FREEING = 3;
/** The inode is S_DAX: read/write/fault go straight to the device. */
export const IFLAG_DAX = 1 << 0;
/** A shmem inode (src/fs/shmem.ts): no blocks, never written back or evicted. */
export const IFLAG_SHMEM = 1 << 1;
