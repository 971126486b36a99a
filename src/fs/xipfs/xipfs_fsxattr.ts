/**
 * The FS_IOC_FSGETXATTR / FS_IOC_FSSETXATTR attributes of xipfs inodes
 * (Linux's struct fsxattr, as xfs_fileattr_get/set serve it): the
 * extent-size hint (fsx_extsize, FS_XFLAG_EXTSIZE) that makes getBlock
 * allocate aligned extents (getblock.ts extentFill), and the DAX flag
 * (FS_XFLAG_DAX, read only here).
 *
 * Rules, as XFS's xfs_ioctl_setattr_check_extsize, reduced: the hint is a
 * byte count, a power-of-two number of blocks from 1 to 1024 (4 MiB, one
 * megapage), or 0 for none; it can change only while the file has no
 * blocks; only regular files take one.
 *
 * @module
 */

import { inodeLock, inodeUnlock } from "./xipfs_locks.ts";
import { XIP_FL_DAX, XIPFS_BLOCK_SIZE } from "../../abi/layout/mod.ts";
import { EINVAL } from "../../abi/errno.ts";
import { markInodeDirty } from "./balloc.ts";
import { inodeGet, inodeSet, isRegMode } from "./xipfs_format.ts";
import { type InodeRef, type XipCtx } from "./xipfs_ctx.ts";

/** fsx_xflags: the extent-size hint is set (linux/fs.h FS_XFLAG_EXTSIZE). */
export const FS_XFLAG_EXTSIZE = 0x0000_0800;
/** fsx_xflags: the file is DAX (FS_XFLAG_DAX). */
export const FS_XFLAG_DAX = 0x0000_8000;

/** The fields of struct fsxattr xipfs has. */
export interface FsxAttr {
  /** FS_XFLAG_* bits. */
  readonly xflags: number;
  /** Extent-size hint in bytes (0: none). */
  readonly extsize: number;
}

/** Largest hint, in blocks: one 4 MiB megapage. */
const EXTSIZE_MAX_BLOCKS = 1024;

/** The attributes of `ip`. Entry: a reference to `ip`. */
export function getFsxattr(c: XipCtx, ip: InodeRef): FsxAttr {
  const e = inodeGet(c.vol, ip.ino, "extsize");
  const dax = (inodeGet(c.vol, ip.ino, "flags") & XIP_FL_DAX) !== 0;
  return {
    xflags: (e !== 0 ? FS_XFLAG_EXTSIZE : 0) | (dax ? FS_XFLAG_DAX : 0),
    extsize: e * XIPFS_BLOCK_SIZE,
  };
}

/**
 * Set the extent-size hint of `ip` from `a` (FS_XFLAG_EXTSIZE with
 * fsx_extsize; without the flag the hint is cleared). Other flags are
 * ignored. Entry: a reference to `ip`, none of its locks; takes i_rwsem.
 *
 * @returns 0, or -EINVAL (not a regular file, a hint that is not a power of
 *   two blocks up to 4 MiB, or a change while the file has blocks)
 */
export function setFsxattr(c: XipCtx, ip: InodeRef, a: FsxAttr): number {
  const bytes = (a.xflags & FS_XFLAG_EXTSIZE) !== 0 ? a.extsize : 0;
  const blocks = bytes / XIPFS_BLOCK_SIZE;
  if (!Number.isInteger(blocks) || blocks < 0 || blocks > EXTSIZE_MAX_BLOCKS) return -EINVAL;
  if (blocks !== 0 && (blocks & (blocks - 1)) !== 0) return -EINVAL;
  inodeLock(c, ip);
  try {
    if (!isRegMode(inodeGet(c.vol, ip.ino, "mode"))) return -EINVAL;
    const cur = inodeGet(c.vol, ip.ino, "extsize");
    if (cur === blocks) return 0;
    if (inodeGet(c.vol, ip.ino, "blocks") !== 0) return -EINVAL;
    inodeSet(c.vol, ip.ino, "extsize", blocks);
    markInodeDirty(c, ip.ino);
    return 0;
  } finally {
    inodeUnlock(c, ip);
  }
}
