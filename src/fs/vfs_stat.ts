/**
 * stat for the VFS: an inode's attributes and the guest's struct stat64 (Linux's fs/stat.c).
 *
 * @module
 */

import { STATX_ATTR_DAX } from "../abi/fcntl.ts";
import { PAGE_SIZE } from "../abi/types.ts";
import type { VfsFs, VInode } from "./vfs_fs.ts";
import { type Proc, type VStat, withFile, XIP_DEV } from "./vfs.ts";

/** The stat of referenced inode `ip`. */
export function vfsGetattr(fs: VfsFs, ip: VInode): VStat {
  const a = fs.getattr(ip);
  return {
    dev: XIP_DEV,
    ino: a.ino,
    mode: a.mode,
    nlink: a.links,
    uid: a.uid,
    gid: a.gid,
    rdev: a.rdev ?? 0,
    size: a.size,
    blksize: PAGE_SIZE,
    blocks: a.blocks,
    atime: a.atime,
    mtime: a.mtime,
    ctime: a.ctime,
    attributes: a.dax ? STATX_ATTR_DAX : 0,
    dax: a.dax,
  };
}

/**
 * fstat(2). Entry: no lock held; takes only withFile's fd-table lock
 * (getattr takes none).
 *
 * @returns the stat, or -EBADF
 */
export function vfsFstat(proc: Proc, fd: number): VStat | number {
  let st: VStat | null = null;
  const r = withFile(proc, fd, (_f, ip) => {
    st = vfsGetattr(proc.fs, ip);
    return 0;
  });
  return r < 0 ? r : st!;
}
