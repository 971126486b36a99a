/**
 * The mount of procfs at /proc: a VfsFs that is the root filesystem with
 * procfs grafted on (Linux's mount table, reduced to its one entry). The
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

import {
  EACCES,
  EBUSY,
  EEXIST,
  EINVAL,
  EISDIR,
  ENOENT,
  EOPNOTSUPP,
  EPERM,
  EXDEV,
} from "../../abi/errno.ts";
import { DT_DIR } from "../../abi/fcntl.ts";
import { FILES } from "../../abi/layout/mod.ts";
import { DEFAULT_POLLMASK } from "../../abi/poll.ts";
import { KernelPanic } from "../../abi/panic.ts";
import type { Ino, InodeSlot } from "../../abi/types.ts";
import type { BlockDevice } from "../../hw/device.ts";
import { RWSEM_WORDS } from "../../sync/mod.ts";
import type { Memory } from "../../hw/memory.ts";
import type { AddressSpaceOps, AopsLookup } from "../pagecache/pagecache.ts";
import { PROC_ROOT_INO, ProcFs, procfsOwns, type ProcInfo } from "./procfs.ts";
import type { VAttr, VDirent, VfsFs, VInode } from "../vfs_fs.ts";

if (FILES.records - FILES.procfsRwsem < RWSEM_WORDS) {
  throw new KernelPanic("procfs", "FILES header leaves too few words for procfsRwsem");
}

/** The name procfs is mounted under, in the root directory. */
export const PROC_MOUNT_NAME = "proc";

/**
 * The readdir cookie after the injected "proc" entry of the root directory:
 * past any position the root filesystem uses (xipfs cookies are byte
 * offsets in a directory).
 */
export const ROOT_PROC_COOKIE_END = 0x7fff_ffff;

const own = (ip: VInode): boolean => procfsOwns(ip.ino);

/** The root filesystem with procfs mounted on /proc. */
export class ProcfsMount implements VfsFs {
  readonly mem: Memory;
  readonly dev: BlockDevice;
  readonly rootIno: Ino;
  readonly maxBytes: number;
  readonly aops: AddressSpaceOps;
  readonly aopsLookup: AopsLookup;
  readonly proc: ProcFs;

  constructor(readonly root: VfsFs, info: ProcInfo) {
    this.mem = root.mem;
    this.dev = root.dev;
    this.rootIno = root.rootIno;
    this.maxBytes = root.maxBytes;
    this.aops = root.aops;
    this.aopsLookup = root.aopsLookup;
    this.proc = new ProcFs(root, info);
  }

  /** `name` in `dir` is the mount point. */
  private isMountPoint(dir: VInode, name: string): boolean {
    return !own(dir) && dir.ino === this.rootIno && name === PROC_MOUNT_NAME;
  }

  iget(ino: Ino): VInode | number {
    return procfsOwns(ino) ? this.proc.iget(ino) : this.root.iget(ino);
  }
  iput(ip: VInode): void {
    if (own(ip)) this.proc.iput(ip);
    else this.root.iput(ip);
  }
  handle(ino: Ino, slot: InodeSlot): VInode {
    return procfsOwns(ino) ? { ino, slot } : this.root.handle(ino, slot);
  }
  isDax(ip: VInode): boolean {
    return own(ip) || this.root.isDax(ip);
  }
  getattr(ip: VInode): VAttr {
    return own(ip) ? this.proc.getattr(ip) : this.root.getattr(ip);
  }
  size(ip: VInode): number {
    return own(ip) ? 0 : this.root.size(ip);
  }
  iRwsem(ip: VInode): number {
    return own(ip) ? this.mem.layout.files.base + FILES.procfsRwsem : this.root.iRwsem(ip);
  }
  getBlock(ip: VInode, iblock: number, create: boolean): number {
    return own(ip) ? -EINVAL : this.root.getBlock(ip, iblock, create);
  }
  daxRead(ip: VInode, pos: number, dst: Uint8Array): number {
    return own(ip) ? this.proc.read(ip, pos, dst) : this.root.daxRead(ip, pos, dst);
  }
  daxWrite(ip: VInode, pos: number, src: Uint8Array): number {
    return own(ip) ? -EACCES : this.root.daxWrite(ip, pos, src);
  }
  daxAppend(ip: VInode, src: Uint8Array): [number, number] {
    return own(ip) ? [-EACCES, 0] : this.root.daxAppend(ip, src);
  }
  setSize(ip: VInode, size: number): void {
    // Only the page-cache write path calls it, and procfs inodes never take that path.
    if (own(ip)) throw new KernelPanic("ProcfsMount.setSize", `procfs inode ${ip.ino}`);
    this.root.setSize(ip, size);
  }
  truncate(ip: VInode, size: number): number {
    return own(ip) ? -EACCES : this.root.truncate(ip, size);
  }
  punchHole(ip: VInode, off: number, len: number): number {
    // procfs files have no ->fallocate (Linux: EOPNOTSUPP).
    return own(ip) ? -EOPNOTSUPP : this.root.punchHole(ip, off, len);
  }
  fallocate(ip: VInode, mode: number, off: number, len: number): number {
    return own(ip) ? -EOPNOTSUPP : this.root.fallocate(ip, mode, off, len);
  }
  fsync(ip: VInode): number {
    return own(ip) ? -EINVAL : this.root.fsync(ip);
  }
  poll(ip: VInode, flags: number): number {
    return own(ip) ? DEFAULT_POLLMASK : (this.root.poll?.(ip, flags) ?? DEFAULT_POLLMASK);
  }
  writeAccess(ip: VInode, op: "get" | "put" | "deny" | "allow"): number {
    return own(ip) ? 0 : (this.root.writeAccess?.(ip, op) ?? 0);
  }

  lookup(dir: VInode, name: string): Ino | number {
    if (own(dir)) return this.proc.lookup(dir, name);
    return this.isMountPoint(dir, name) ? PROC_ROOT_INO : this.root.lookup(dir, name);
  }
  create(dir: VInode, name: string, mode: number): Ino | number {
    if (own(dir)) return -EACCES;
    return this.isMountPoint(dir, name) ? -EEXIST : this.root.create(dir, name, mode);
  }
  mkdir(dir: VInode, name: string, mode: number): Ino | number {
    if (own(dir)) return -EACCES;
    return this.isMountPoint(dir, name) ? -EEXIST : this.root.mkdir(dir, name, mode);
  }
  mknod(dir: VInode, name: string, mode: number): Ino | number {
    if (own(dir)) return -EACCES;
    return this.isMountPoint(dir, name) ? -EEXIST : this.root.mknod(dir, name, mode);
  }
  symlink(dir: VInode, name: string, target: string): Ino | number {
    if (own(dir)) return -EACCES;
    return this.isMountPoint(dir, name) ? -EEXIST : this.root.symlink(dir, name, target);
  }
  link(ip: VInode, dir: VInode, name: string): number {
    // Across the mount point: -EXDEV; inside /proc: proc has no ->link, -EPERM.
    if (own(ip) !== own(dir)) return -EXDEV;
    if (own(ip)) return -EPERM;
    return this.isMountPoint(dir, name) ? -EEXIST : this.root.link(ip, dir, name);
  }
  unlink(dir: VInode, name: string): number {
    if (own(dir)) return -EACCES;
    return this.isMountPoint(dir, name) ? -EISDIR : this.root.unlink(dir, name);
  }
  rmdir(dir: VInode, name: string): number {
    if (own(dir)) return -EACCES;
    return this.isMountPoint(dir, name) ? -EBUSY : this.root.rmdir(dir, name);
  }
  rename(odir: VInode, oname: string, ndir: VInode, nname: string, noReplace = false): number {
    if (own(odir) || own(ndir)) return own(odir) && own(ndir) ? -EACCES : -EXDEV;
    if (this.isMountPoint(odir, oname) || this.isMountPoint(ndir, nname)) return -EBUSY;
    return this.root.rename(odir, oname, ndir, nname, noReplace);
  }
  readlink(ip: VInode): string | number {
    return own(ip) ? this.proc.readlink(ip) : this.root.readlink(ip);
  }

  readdir(dir: VInode, cookie: number, emit: (e: VDirent) => boolean): number {
    if (own(dir)) return this.proc.readdir(dir, cookie, emit);
    if (dir.ino !== this.rootIno) return this.root.readdir(dir, cookie, emit);
    if (cookie >= ROOT_PROC_COOKIE_END) return 0;
    let stopped = false;
    const r = this.root.readdir(dir, cookie, (e) => {
      stopped = !emit(e);
      return !stopped;
    });
    if (r < 0 || stopped) return r;
    // The root's own entries are all out: add the mount point unless it is on disk.
    if (this.root.lookup(dir, PROC_MOUNT_NAME) !== -ENOENT) return 0;
    emit({ ino: PROC_ROOT_INO, name: PROC_MOUNT_NAME, dtype: DT_DIR, next: ROOT_PROC_COOKIE_END });
    return 0;
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
