/**
 * The mount of procfs at /proc: a StackedFs (../stacked_fs.ts) that is the
 * root filesystem with procfs grafted on (Linux's mount table, reduced to
 * its one entry). The
 * VFS needs no change: path walks cross into procfs because `lookup` of
 * "proc" in the root directory answers with procfs's root, and every other
 * call is routed by inode number (procfsOwns), since the open-file records
 * and handles carry nothing but (ino, slot).
 *
 * How procfs inodes meet the VFS's dispatch (src/fs/vfs.ts):
 * - isDax is true: the VFS then reads through `daxRead` (no page cache),
 *   which serves the seq_file-like snapshot, and never writes back on close;
 * - daxWrite, truncate, create, mkdir, symlink, unlink, rmdir: -EACCES
 *   (procfs is read-only; Linux's proc files without a write op);
 * - rename in or out of /proc: -EXDEV; of /proc itself: -EBUSY (a mount point);
 * - fsync: -EINVAL (no ->fsync, as Linux); getBlock: -EINVAL (nothing to map);
 * - iRwsem: one shared rwsem (FILES.procfsRwsem) stands in for i_rwsem, which
 *   only SEEK_DATA/SEEK_HOLE take on a procfs file (size 0: -ENXIO).
 *
 * "proc" is listed in the root directory after the root's own entries
 * unless the image has a real "proc" entry there (a mount point, which
 * readdir shows with its own inode number, as Linux's does).
 *
 * Every thread that touches a process's files must use a ProcfsMount
 * (the Machine too, when it closes a dead process's files): a bare root
 * VfsFs would hand a procfs record to the root filesystem's iput.
 *
 * @module
 */

import { EACCES, ENOENT, EOPNOTSUPP, EPERM, EXDEV } from "../../abi/errno.ts";
import { DT_DIR } from "../../abi/fcntl.ts";
import type { Ino } from "../../abi/types.ts";
import { PROC_ROOT_INO, ProcFs, procfsOwns, type ProcInfo } from "./procfs.ts";
import { type Cover, StackedFs } from "../stacked_fs.ts";
import type { VAttr, VDirent, VfsFs, VInode } from "../vfs_fs.ts";

/** The name procfs is mounted under, in the root directory. */
export const PROC_MOUNT_NAME = "proc";

/**
 * The readdir cookie after the injected "proc" entry of the root directory:
 * past any position the root filesystem uses (xipfs cookies are byte
 * offsets in a directory).
 */
export const ROOT_PROC_COOKIE_END = 0x7fff_ffff;

/** The mount point's entry in the root directory, after the root's own. */
const PROC_DIRENT: VDirent = {
  ino: PROC_ROOT_INO,
  name: PROC_MOUNT_NAME,
  dtype: DT_DIR,
  next: ROOT_PROC_COOKIE_END,
};

/** The root filesystem with procfs mounted on /proc. */
export class ProcfsMount extends StackedFs {
  readonly proc: ProcFs;

  constructor(root: VfsFs, info: ProcInfo) {
    super(root);
    this.proc = new ProcFs(root, info);
  }

  protected override owns(ino: number): boolean {
    return procfsOwns(ino);
  }
  /** "proc" in the root directory is the mount point. */
  protected override cover(dir: VInode, name: string): Cover | null {
    return dir.ino === this.rootIno && name === PROC_MOUNT_NAME
      ? { ino: PROC_ROOT_INO, dir: true }
      : null;
  }
  protected override ownGetattr(ip: VInode): VAttr {
    return this.proc.getattr(ip);
  }
  protected override ownIget(ino: Ino): VInode | number {
    return this.proc.iget(ino);
  }
  protected override ownIput(ip: VInode): void {
    this.proc.iput(ip);
  }
  protected override ownDaxRead(ip: VInode, pos: number, dst: Uint8Array): number {
    return this.proc.read(ip, pos, dst);
  }
  protected override ownReadlink(ip: VInode): string | number {
    return this.proc.readlink(ip);
  }
  protected override ownLookup(dir: VInode, name: string): Ino | number {
    return this.proc.lookup(dir, name);
  }
  protected override ownReaddir(
    dir: VInode,
    cookie: number,
    emit: (e: VDirent) => boolean,
  ): number {
    return this.proc.readdir(dir, cookie, emit);
  }
  // procfs is read-only: Linux's proc files without a write op.
  protected override ownDaxWrite(): number {
    return -EACCES;
  }
  protected override ownTruncate(): number {
    return -EACCES;
  }
  protected override ownCreate(): Ino | number {
    return -EACCES;
  }
  protected override ownUnlink(): number {
    return -EACCES;
  }
  /** procfs files have no ->fallocate (Linux: EOPNOTSUPP). */
  protected override ownFallocate(): number {
    return -EOPNOTSUPP;
  }
  /** Across the mount point: -EXDEV; inside /proc: proc has no ->link, -EPERM. */
  protected override ownLink(ip: VInode, dir: VInode): number {
    return this.owns(ip.ino) !== this.owns(dir.ino) ? -EXDEV : -EPERM;
  }
  /** Within /proc: -EACCES (read-only); in or out of it: -EXDEV. */
  protected override ownRename(odir: VInode, _oname: string, ndir: VInode): number {
    return this.owns(odir.ino) && this.owns(ndir.ino) ? -EACCES : -EXDEV;
  }

  /** The root directory lists its own entries, then the mount point unless it is on disk. */
  override readdir(dir: VInode, cookie: number, emit: (e: VDirent) => boolean): number {
    if (dir.ino !== this.rootIno) return super.readdir(dir, cookie, emit);
    // A real "proc" entry on disk is the mount point and is listed as it is.
    const onDisk = this.lower.lookup(dir, PROC_MOUNT_NAME) !== -ENOENT;
    const over = onDisk ? [] : [PROC_DIRENT];
    return this.readdirOver(dir, cookie, emit, over, ROOT_PROC_COOKIE_END);
  }
}

/**
 * Mount procfs at /proc over `root`, showing the processes `info` knows.
 * Build one per thread (like the root VfsFs it wraps); use it wherever the
 * root VfsFs was used (vfsProcCreate, vfsProcExit, Proc.fs).
 */
export function mountProcfs(root: VfsFs, info: ProcInfo): ProcfsMount {
  return new ProcfsMount(root, info);
}
