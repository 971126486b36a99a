/**
 * The `ipc` region of the kernel tables: shared memory and inter-process
 * communication, in shared memory because every process is a Worker.
 * Placed by computeLayout (layout.ts) as one region; its parts:
 *
 * ```
 *  +--------+--------------------+--------------------+
 *  | SHMHDR | SHMI records       | TDIRENT records    |
 *  |        | one per icache slot| tmpfs directory    |
 *  |        | (shmem inodes)     | entries            |
 *  +--------+--------------------+--------------------+
 * ```
 *
 * shmem (src/fs/shmem.ts): a shmem inode is an in-memory inode with no
 * backing store, Linux's mm/shmem.c. It takes an inode-cache slot (ISLOT:
 * i_count, the locks, i_mmap), flagged IFLAG_SHMEM, and its pages are
 * page-cache pages of that slot's mapping. What the icache slot does not
 * hold (size, mode, links, times) is in the SHMI record of the same slot
 * number. One record per icache slot, so the slot number indexes both.
 *
 * tmpfs (src/fs/tmpfs.ts): the directory entries of every tmpfs directory
 * in one table: (parent inode, inode, name). Guarded by SHMHDR.lock.
 *
 * @module
 */

/** The shmem header. */
export const SHMHDR = {
  /**
   * The tmpfs namespace lock (a src/sync mutex, MUTEX_WORDS, class TMPFS):
   * every tmpfs directory entry and every SHMI.nlink/parent change.
   */
  lock: 0,
  /** Last shmem inode number handed out, minus SHMEM_INO_BASE (atomic). */
  lastIno: 2,
  /** Live shmem inodes (atomic). */
  nrInodes: 3,
  /** Pages held by every shmem inode (atomic; stats and checks). */
  nrPages: 4,
  /** Pages held by tmpfs files, checked against the mount's size (atomic). */
  tmpfsPages: 5,
  /** Icache slot of the /dev/shm tmpfs root, 0 before it is mounted. */
  tmpfsRootSlot: 6,
  /** Inode number of the /dev/shm tmpfs root. */
  tmpfsRootIno: 7,
} as const;
export const SHMHDR_WORDS = 16;

/**
 * A shmem inode's attributes, indexed by its icache slot. Written under
 * the inode's i_rwsem (size) or the tmpfs lock (nlink, parent), read with
 * Atomics.
 */
export const SHMI = {
  /** i_size, bytes: a 64-bit word pair (BigInt64 at (base + size) / 2). */
  size: 0,
  /** st_mode: S_IFREG, S_IFDIR or S_IFSOCK plus permission bits. */
  mode: 2,
  /** st_nlink as stat shows it. */
  nlink: 3,
  uid: 4,
  gid: 5,
  /** Seconds since the epoch. */
  atime: 6,
  mtime: 7,
  ctime: 8,
  /** Pages in the page cache (st_blocks / 8). */
  pages: 9,
  /** A tmpfs directory's parent inode ("..") ; 0 for others. */
  parent: 10,
  /** SHMEM_KIND_*. */
  kind: 11,
  /** System V key of a SHMEM_KIND_SYSV segment, for /proc/PID/maps. */
  key: 12,
} as const;
export const SHMI_WORDS = 16;

/** SHMI.kind: MAP_SHARED|MAP_ANONYMOUS memory (Linux's /dev/zero (deleted)). */
export const SHMEM_KIND_ANON = 1;
/** SHMI.kind: a file or directory of the tmpfs on /dev/shm. */
export const SHMEM_KIND_TMPFS = 2;
/** SHMI.kind: a System V shared-memory segment (Linux's /SYSV%08x). */
export const SHMEM_KIND_SYSV = 3;

/** First shmem inode number: below devfs's range (0x3f00_0000), far above any xipfs inode. */
export const SHMEM_INO_BASE = 0x3e00_0000;
/** How many inode numbers the shmem range holds. */
export const SHMEM_INO_RANGE = 0x0100_0000;

/** A tmpfs directory entry; `ino` 0 marks a free record. */
export const TDIRENT = {
  ino: 0,
  /** The directory holding the entry. */
  parent: 1,
  /** Name length in bytes (1..NAME_MAX). */
  nameLen: 2,
  /** The name's bytes, NAME_MAX (255) of them in 64 words. */
  name: 4,
} as const;
export const TDIRENT_WORDS = 68;
/** Directory entries in all tmpfs directories together. */
export const TMPFS_DIRENTS = 256;

/** Offsets of each part, in words from the region's base. */
export interface IpcParts {
  readonly shmi: number;
  readonly tdirent: number;
  readonly words: number;
}

const align16 = (n: number): number => Math.ceil(n / 16) * 16;

/**
 * Where each part of the region lies. `icacheSlots` is ICACHE_SLOTS
 * (passed in: layout.ts imports this module).
 */
export function ipcParts(icacheSlots: number): IpcParts {
  const shmi = SHMHDR_WORDS;
  const tdirent = align16(shmi + icacheSlots * SHMI_WORDS);
  return { shmi, tdirent, words: tdirent + TMPFS_DIRENTS * TDIRENT_WORDS };
}

/** Word index of slot `slot`'s SHMI record in an ipc region at `base`. */
export const shmiBase = (base: number, slot: number): number =>
  base + SHMHDR_WORDS + slot * SHMI_WORDS;
