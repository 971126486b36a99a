/**
 * What the VFS needs from a mounted filesystem: the contract between
 * src/fs/vfs*.ts and the live xipfs (Linux's inode_operations,
 * file_operations and super_operations, reduced to what xip calls).
 *
 * The VFS never touches on-disk structures. It names an inode by a
 * `VInode`: its number plus its inode-cache slot, which is also the inode's
 * page-cache mapping id (an `Ino` and an `InodeSlot`, src/abi/types.ts).
 * Both are plain integers at run time, so an open-file record in shared
 * memory can hold them and any thread can rebuild the handle (`handle`) to
 * release it.
 *
 * Locking split (the live xipfs's, src/fs/xipfs/xipfs_live.ts):
 * - directory operations (lookup, create, mkdir, unlink, rmdir, rename,
 *   symlink, readdir), daxRead/daxWrite and truncate take the inode locks
 *   they need themselves (i_rwsem, invalidate_lock): the VFS calls them
 *   holding no inode lock;
 * - the page-cache path is the VFS's (filemap.ts): it takes i_rwsem through
 *   `iRwsem` and calls setSize and getBlock under it.
 *
 * @module
 */

import type { BlockDevice } from "../hw/device.ts";
import type { Memory } from "../hw/memory.ts";
import type { Ino, InodeSlot } from "../abi/types.ts";
import type { AddressSpaceOps, AopsLookup } from "./pagecache/pagecache.ts";

/** A referenced in-memory inode. */
export interface VInode {
  readonly ino: Ino;
  /**
   * Inode-cache slot, > 0; the page-cache mapping id of the inode. The
   * stacked filesystems that own their inodes (pipes, character devices,
   * procfs, anon files) put their own object id here, through asInodeSlot
   * where they make the handle; it never reaches the inode or page cache.
   */
  readonly slot: InodeSlot;
}

/** An inode's attributes, as stat reports them. */
export interface VAttr {
  ino: Ino;
  mode: number;
  links: number;
  uid: number;
  gid: number;
  size: number;
  /** 512-byte units allocated. */
  blocks: number;
  atime: number;
  mtime: number;
  ctime: number;
  /** The inode is accessed DAX (S_DAX). */
  dax: boolean;
  /** st_rdev of a device inode (src/fs/chrdev.ts); absent: 0. */
  rdev?: number;
}

/** One directory entry, as readdir reports it. */
export interface VDirent {
  ino: Ino;
  name: string;
  /** DT_* type of the entry (src/abi/fcntl.ts). */
  dtype: number;
  /** The cookie that resumes the listing right after this entry (d_off). */
  next: number;
}

/** The mounted filesystem, as the VFS calls it. Every method returns -errno on failure. */
export interface VfsFs {
  readonly mem: Memory;
  readonly dev: BlockDevice;
  readonly rootIno: Ino;

  /** Take a reference on inode `ino` (Linux's iget). */
  iget(ino: Ino): VInode | number;
  /** Drop a reference taken by iget or iref. */
  iput(ip: VInode): void;
  /**
   * Rebuild the handle of a reference the caller already owns, from the two
   * numbers an open-file record keeps (no reference is taken).
   */
  handle(ino: Ino, slot: InodeSlot): VInode;
  /** Largest file size the filesystem supports (s_maxbytes). */
  readonly maxBytes: number;
  isDax(ip: VInode): boolean;
  /**
   * The inode is a stream without a file position (a tty, a pipe): pread,
   * pwrite and lseek on it are -ESPIPE (Linux's FMODE_STREAM). Absent: never.
   * (daxRead/daxWrite/daxAppend get the open file's O_* `flags`, which a
   * stream needs for O_NONBLOCK; files ignore them.)
   */
  stream?(ip: VInode): boolean;
  /**
   * poll(2)'s events of an open file of `ip` (open flags `flags`), for
   * filesystems whose files are not always ready (pipes, devices). Never
   * sleeps; a change of readiness bumps the poll word (sys_poll.ts
   * pollWake). Absent: DEFAULT_POLLMASK.
   */
  poll?(ip: VInode, flags: number): number;
  getattr(ip: VInode): VAttr;
  /** i_size. No lock needed (a racing writer may change it right after). */
  size(ip: VInode): number;
  /** Word index of the inode's i_rwsem in mem.k32. */
  iRwsem(ip: VInode): number;
  /**
   * Called by open before the file is installed (a driver's ->open): 0 to
   * go on, or -errno to fail the open. Absent: every open goes on.
   */
  open?(ip: VInode, flags: number): number;

  /** Map file block `iblock` to a device block; 0 for a hole when !create. */
  getBlock(ip: VInode, iblock: number, create: boolean): number;
  /**
   * Copy [pos, pos+dst.length) clamped to i_size into dst, device to buffer
   * (S_DAX inodes). Takes i_rwsem for read; counts VMSTAT.copiedRead.
   */
  daxRead(ip: VInode, pos: number, dst: Uint8Array, flags?: number): number;
  /** Write src at pos, allocating, extending i_size. Takes i_rwsem for write; counts VMSTAT.copiedWrite. */
  daxWrite(ip: VInode, pos: number, src: Uint8Array, flags?: number): number;
  /**
   * daxWrite at i_size, read under the same i_rwsem hold (O_APPEND).
   * @returns [bytes written or -errno, the position they start at]
   */
  daxAppend(ip: VInode, src: Uint8Array, flags?: number): [number, number];
  /** Set i_size after the page-cache path put data below it. Caller holds i_rwsem for write. */
  setSize(ip: VInode, size: number): void;
  /**
   * Shrink or grow to `size`: zero the partial tail block, drop cached pages
   * and free blocks past it (DAX and page-cache inodes alike). Takes i_rwsem
   * and invalidate_lock for write.
   */
  truncate(ip: VInode, size: number): number;
  /**
   * Deallocate [off, off + len) keeping i_size (fallocate PUNCH_HOLE |
   * KEEP_SIZE): unmap and drop the range, zero the partial edge blocks,
   * free the whole ones. Takes i_rwsem and invalidate_lock for write.
   */
  punchHole(ip: VInode, off: number, len: number): number;
  /**
   * fallocate(2)'s other modes: allocate (0, KEEP_SIZE), ZERO_RANGE,
   * COLLAPSE_RANGE, INSERT_RANGE (vfsFallocate checked the argument rules).
   * Takes i_rwsem and invalidate_lock for write. -EOPNOTSUPP when the
   * filesystem has no such mode.
   */
  fallocate(ip: VInode, mode: number, off: number, len: number): number;
  /** Write back the inode's dirty cached pages, then make its data and metadata durable. */
  fsync(ip: VInode): number;
  /**
   * i_writecount (src/fs/write_access.ts): "get" before an open for
   * writing, "put" at its release, "deny"/"allow" around exec. Absent, or
   * for inodes without one (procfs, devices): always 0.
   *
   * @returns 0, or -ETXTBSY
   */
  writeAccess?(ip: VInode, op: "get" | "put" | "deny" | "allow"): number;

  lookup(dir: VInode, name: string): Ino | number;
  create(dir: VInode, name: string, mode: number): Ino | number;
  mkdir(dir: VInode, name: string, mode: number): Ino | number;
  /**
   * Make a special node `name` of `mode` (type bits included): S_IFSOCK,
   * for bind(2) on a path. -EPERM for a type the filesystem cannot hold.
   */
  mknod(dir: VInode, name: string, mode: number): Ino | number;
  /**
   * Give `ip` (not a directory) the further name `name` in `dir`: link(2).
   * Checked in Linux's order: -EXDEV when they are on different
   * filesystems, -EPERM for a directory or a filesystem without hard
   * links, -EEXIST, -ENOENT when `ip` has no name left, -EMLINK.
   */
  link(ip: VInode, dir: VInode, name: string): number;
  unlink(dir: VInode, name: string): number;
  rmdir(dir: VInode, name: string): number;
  /** `noReplace`: -EEXIST rather than replacing an existing target (RENAME_NOREPLACE). */
  rename(odir: VInode, oname: string, ndir: VInode, nname: string, noReplace?: boolean): number;
  symlink(dir: VInode, name: string, target: string): Ino | number;
  readlink(ip: VInode): string | number;
  /**
   * Report entries from `cookie` on ("." and ".." included) until `emit`
   * returns false. 0 starts at the beginning.
   *
   * @returns 0, or -errno
   */
  readdir(dir: VInode, cookie: number, emit: (e: VDirent) => boolean): number;
  /** Page-cache ops of the filesystem's regular files (mapping id = inode slot). */
  readonly aops: AddressSpaceOps;
  /** Finds the page-cache ops of any mapping, for eviction of other inodes' dirty pages. */
  readonly aopsLookup: AopsLookup;
}
