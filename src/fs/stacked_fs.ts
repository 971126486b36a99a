/**
 * A filesystem layer stacked over another (StackedFs): the one place that
 * forwards every VfsFs call to the layer below, so that pipefs, the anon
 * files, the character devices, /dev, tmpfs and procfs (the mounts built in
 * src/kernel/fs_mount.ts) each write only what their own inodes do.
 *
 * Why stacking. Linux finds an inode's operations through inode->i_op and
 * file->f_op. xip names an inode by (ino, slot) alone, the two numbers an
 * open-file record in shared memory can hold, so the operations are found
 * by inode number instead: each layer owns a range of numbers (`owns`) and
 * passes every other inode down, as overlayfs and ecryptfs hand a call to
 * the lower inode. The dispatch is written once, here:
 *
 *   call on inode ip ──owns(ip.ino)?──yes──> this layer's ownXxx(...)
 *                          └──────────no──> lower.xxx(...), every argument
 *
 * - Calls on one inode dispatch on it; directory calls on the directory;
 *   link and rename go to ownLink/ownRename when either side is this
 *   layer's (the default refuses: -ENOTDIR for a directory of this layer,
 *   -EXDEV for a cross-layer link).
 * - A layer that lays inodes over names of the lower tree (a mount point,
 *   /dev's nodes) says which in `cover`: lookup answers with the covering
 *   inode, and the name cannot be created (-EEXIST), removed (-EISDIR for
 *   a directory, -EBUSY otherwise; rmdir -EBUSY) or renamed (-EBUSY), as
 *   Linux treats a mount point.
 * - The ownXxx defaults describe a special inode with no name, no blocks
 *   and no directory entries (a pipe, a socket, a device): directory calls
 *   -ENOTDIR, reads and writes -EINVAL, fsync -EINVAL, size 0, always
 *   ready for poll, procfs's shared rwsem standing in for i_rwsem.
 *
 * Every public method is the base's: a layer changes what its inodes do by
 * overriding a protected ownXxx hook (`override` is required, so a
 * misspelt hook fails the type check), and it overrides a public method
 * only to look at lower inodes too (procfs's and /dev's readdir). A method
 * VfsFs gains must be added here (the class implements Required<VfsFs>),
 * and the forward passes every argument, so no layer can drop one.
 *
 * Locking: the base takes no lock; each call holds what the layer that
 * serves it documents.
 *
 * @module
 */

import { EBUSY, EEXIST, EINVAL, EISDIR, ENODEV, ENOENT, ENOTDIR, EXDEV } from "../abi/errno.ts";
import { FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE } from "../abi/fcntl.ts";
import { FILES } from "../abi/layout/mod.ts";
import { DEFAULT_POLLMASK } from "../abi/poll.ts";
import { KernelPanic } from "../abi/panic.ts";
import type { Ino, InodeSlot } from "../abi/types.ts";
import type { BlockDevice } from "../hw/device.ts";
import type { Memory } from "../hw/memory.ts";
import type { AddressSpaceOps, AopsLookup } from "./pagecache/pagecache.ts";
import type { VAttr, VDirent, VfsFs, VInode } from "./vfs_fs.ts";
import type { WriteAccessOp } from "./write_access.ts";

/** An inode of this layer laid over a name of a lower directory (see StackedFs.cover). */
export interface Cover {
  readonly ino: Ino;
  /** The covering inode is a directory (a mount point): unlink says -EISDIR, not -EBUSY. */
  readonly dir: boolean;
}

/**
 * The attributes of a special inode: one link, owned by root, no size or
 * blocks, every time `t` (seconds), not DAX; `rdev` for a device.
 */
export function specialAttr(ino: Ino, mode: number, t: number, rdev?: number): VAttr {
  const a: VAttr = {
    ino,
    mode,
    links: 1,
    uid: 0,
    gid: 0,
    size: 0,
    blocks: 0,
    atime: t,
    mtime: t,
    ctime: t,
    dax: false,
  };
  if (rdev !== undefined) a.rdev = rdev;
  return a;
}

/** A VfsFs layer over `lower`: owns some inode numbers, passes the rest down. */
export abstract class StackedFs implements Required<VfsFs> {
  readonly mem: Memory;
  readonly dev: BlockDevice;
  readonly rootIno: Ino;
  readonly maxBytes: number;
  readonly aops: AddressSpaceOps;
  readonly aopsLookup: AopsLookup;

  constructor(readonly lower: VfsFs) {
    this.mem = lower.mem;
    this.dev = lower.dev;
    this.rootIno = lower.rootIno;
    this.maxBytes = lower.maxBytes;
    this.aops = lower.aops;
    this.aopsLookup = lower.aopsLookup;
  }

  /** Whether inode number `ino` is this layer's. */
  protected abstract owns(ino: number): boolean;
  /** stat of one of this layer's inodes. */
  protected abstract ownGetattr(ip: VInode): VAttr;

  /** The inode of this layer that covers `name` in lower directory `dir`, if any. */
  protected cover(_dir: VInode, _name: string): Cover | null {
    return null;
  }

  /**
   * readdir of lower directory `dir` with this layer's entries `over` laid
   * on it: the lower entries first, leaving out the names `hidden` covers,
   * then those of `over` whose cookie (`next`) is past `cookie`. The lower
   * layer is listed only while `cookie` < `base`: cookies from `base` on
   * are the layer's (no lower cookie reaches it; each `next` is >= base).
   *
   * @returns 0, or the lower readdir's -errno
   */
  protected readdirOver(
    dir: VInode,
    cookie: number,
    emit: (e: VDirent) => boolean,
    over: readonly VDirent[],
    base: number,
    hidden: (name: string) => boolean = () => false,
  ): number {
    if (cookie < base) {
      let stopped = false;
      const r = this.lower.readdir(dir, cookie, (e) => {
        if (hidden(e.name)) return true;
        stopped = !emit(e);
        return !stopped;
      });
      if (r < 0 || stopped) return r;
    }
    for (const e of over) if (e.next > cookie && !emit(e)) return 0;
    return 0;
  }

  // ---- the layer's own inodes: defaults for a special inode ----

  /** iget of an inode of this layer: reached only through its open file by default. */
  protected ownIget(_ino: Ino): VInode | number {
    return -ENOENT;
  }
  protected ownIput(_ip: VInode): void {}
  protected ownStream(_ip: VInode): boolean {
    return false;
  }
  protected ownPoll(_ip: VInode, _flags: number): number {
    return DEFAULT_POLLMASK;
  }
  protected ownSize(_ip: VInode): number {
    return 0;
  }
  /** Only SEEK_DATA/SEEK_HOLE would take it on a special inode: procfs's shared stand-in. */
  protected ownIRwsem(_ip: VInode): number {
    return this.mem.layout.files.base + FILES.procfsRwsem;
  }
  protected ownOpen(_ip: VInode, _flags: number): number {
    return 0;
  }
  protected ownDaxRead(_ip: VInode, _pos: number, _dst: Uint8Array, _flags?: number): number {
    return -EINVAL;
  }
  protected ownDaxWrite(_ip: VInode, _pos: number, _src: Uint8Array, _flags?: number): number {
    return -EINVAL;
  }
  /** O_APPEND on a special inode is a plain write; it has no position to report. */
  protected ownDaxAppend(ip: VInode, src: Uint8Array, flags?: number): [number, number] {
    return [this.ownDaxWrite(ip, 0, src, flags), 0];
  }
  /** O_TRUNC on a device or a FIFO is ignored (Linux's do_truncate is for regular files). */
  protected ownTruncate(_ip: VInode, _size: number): number {
    return 0;
  }
  protected ownPunchHole(ip: VInode, off: number, len: number): number {
    return this.ownFallocate(ip, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len);
  }
  /** vfs_fallocate's answer for what is not a regular file. */
  protected ownFallocate(_ip: VInode, _mode: number, _off: number, _len: number): number {
    return -ENODEV;
  }
  protected ownFsync(_ip: VInode): number {
    return -EINVAL;
  }
  /** No i_writecount: ETXTBSY is not enforced. */
  protected ownWriteAccess(_ip: VInode, _op: WriteAccessOp): number {
    return 0;
  }
  protected ownReadlink(_ip: VInode): string | number {
    return -EINVAL;
  }
  protected ownLookup(_dir: VInode, _name: string): Ino | number {
    return -ENOTDIR;
  }
  /** create, mkdir, mknod and symlink in a directory of this layer. */
  protected ownCreate(_dir: VInode, _name: string, _mode: number): Ino | number {
    return -ENOTDIR;
  }
  protected ownMkdir(dir: VInode, name: string, mode: number): Ino | number {
    return this.ownCreate(dir, name, mode);
  }
  protected ownMknod(dir: VInode, name: string, mode: number): Ino | number {
    return this.ownCreate(dir, name, mode);
  }
  protected ownSymlink(dir: VInode, name: string, _target: string): Ino | number {
    return this.ownCreate(dir, name, 0);
  }
  /** unlink and rmdir in a directory of this layer. */
  protected ownUnlink(_dir: VInode, _name: string): number {
    return -ENOTDIR;
  }
  protected ownRmdir(dir: VInode, name: string): number {
    return this.ownUnlink(dir, name);
  }
  protected ownReaddir(_dir: VInode, _cookie: number, _emit: (e: VDirent) => boolean): number {
    return -ENOTDIR;
  }
  /** link where `ip` or `dir` is this layer's: no directory here, and no mount to link into. */
  protected ownLink(_ip: VInode, dir: VInode, _name: string): number {
    return this.owns(dir.ino) ? -ENOTDIR : -EXDEV;
  }
  /** rename where either directory is this layer's. */
  protected ownRename(
    _odir: VInode,
    _oname: string,
    _ndir: VInode,
    _nname: string,
    _noReplace: boolean,
  ): number {
    return -ENOTDIR;
  }

  // ---- VfsFs: dispatch by inode number ----

  iget(ino: Ino): VInode | number {
    return this.owns(ino) ? this.ownIget(ino) : this.lower.iget(ino);
  }
  iput(ip: VInode): void {
    if (this.owns(ip.ino)) this.ownIput(ip);
    else this.lower.iput(ip);
  }
  handle(ino: Ino, slot: InodeSlot): VInode {
    return this.owns(ino) ? { ino, slot } : this.lower.handle(ino, slot);
  }
  /** True for every inode of a layer: reads and writes go to daxRead/daxWrite, never a page cache. */
  isDax(ip: VInode): boolean {
    return this.owns(ip.ino) || this.lower.isDax(ip);
  }
  stream(ip: VInode): boolean {
    return this.owns(ip.ino) ? this.ownStream(ip) : (this.lower.stream?.(ip) ?? false);
  }
  poll(ip: VInode, flags: number): number {
    if (this.owns(ip.ino)) return this.ownPoll(ip, flags);
    return this.lower.poll?.(ip, flags) ?? DEFAULT_POLLMASK;
  }
  getattr(ip: VInode): VAttr {
    return this.owns(ip.ino) ? this.ownGetattr(ip) : this.lower.getattr(ip);
  }
  size(ip: VInode): number {
    return this.owns(ip.ino) ? this.ownSize(ip) : this.lower.size(ip);
  }
  iRwsem(ip: VInode): number {
    return this.owns(ip.ino) ? this.ownIRwsem(ip) : this.lower.iRwsem(ip);
  }
  open(ip: VInode, flags: number): number {
    return this.owns(ip.ino) ? this.ownOpen(ip, flags) : (this.lower.open?.(ip, flags) ?? 0);
  }
  /** A layer's inodes have no blocks to map. */
  getBlock(ip: VInode, iblock: number, create: boolean): number {
    return this.owns(ip.ino) ? -EINVAL : this.lower.getBlock(ip, iblock, create);
  }
  daxRead(ip: VInode, pos: number, dst: Uint8Array, flags?: number): number {
    if (this.owns(ip.ino)) return this.ownDaxRead(ip, pos, dst, flags);
    return this.lower.daxRead(ip, pos, dst, flags);
  }
  daxWrite(ip: VInode, pos: number, src: Uint8Array, flags?: number): number {
    if (this.owns(ip.ino)) return this.ownDaxWrite(ip, pos, src, flags);
    return this.lower.daxWrite(ip, pos, src, flags);
  }
  daxAppend(ip: VInode, src: Uint8Array, flags?: number): [number, number] {
    if (this.owns(ip.ino)) return this.ownDaxAppend(ip, src, flags);
    return this.lower.daxAppend(ip, src, flags);
  }
  /** Only the page-cache write path calls it, and a layer's inodes never take that path (isDax). */
  setSize(ip: VInode, size: number): void {
    if (this.owns(ip.ino)) {
      throw new KernelPanic(`${this.constructor.name}.setSize`, `own inode ${ip.ino}`);
    }
    this.lower.setSize(ip, size);
  }
  truncate(ip: VInode, size: number): number {
    return this.owns(ip.ino) ? this.ownTruncate(ip, size) : this.lower.truncate(ip, size);
  }
  punchHole(ip: VInode, off: number, len: number): number {
    if (this.owns(ip.ino)) return this.ownPunchHole(ip, off, len);
    return this.lower.punchHole(ip, off, len);
  }
  fallocate(ip: VInode, mode: number, off: number, len: number): number {
    if (this.owns(ip.ino)) return this.ownFallocate(ip, mode, off, len);
    return this.lower.fallocate(ip, mode, off, len);
  }
  fsync(ip: VInode): number {
    return this.owns(ip.ino) ? this.ownFsync(ip) : this.lower.fsync(ip);
  }
  writeAccess(ip: VInode, op: WriteAccessOp): number {
    if (this.owns(ip.ino)) return this.ownWriteAccess(ip, op);
    return this.lower.writeAccess?.(ip, op) ?? 0;
  }
  readlink(ip: VInode): string | number {
    return this.owns(ip.ino) ? this.ownReadlink(ip) : this.lower.readlink(ip);
  }

  lookup(dir: VInode, name: string): Ino | number {
    if (this.owns(dir.ino)) return this.ownLookup(dir, name);
    return this.cover(dir, name)?.ino ?? this.lower.lookup(dir, name);
  }
  create(dir: VInode, name: string, mode: number): Ino | number {
    if (this.owns(dir.ino)) return this.ownCreate(dir, name, mode);
    return this.cover(dir, name) !== null ? -EEXIST : this.lower.create(dir, name, mode);
  }
  mkdir(dir: VInode, name: string, mode: number): Ino | number {
    if (this.owns(dir.ino)) return this.ownMkdir(dir, name, mode);
    return this.cover(dir, name) !== null ? -EEXIST : this.lower.mkdir(dir, name, mode);
  }
  mknod(dir: VInode, name: string, mode: number): Ino | number {
    if (this.owns(dir.ino)) return this.ownMknod(dir, name, mode);
    return this.cover(dir, name) !== null ? -EEXIST : this.lower.mknod(dir, name, mode);
  }
  symlink(dir: VInode, name: string, target: string): Ino | number {
    if (this.owns(dir.ino)) return this.ownSymlink(dir, name, target);
    return this.cover(dir, name) !== null ? -EEXIST : this.lower.symlink(dir, name, target);
  }
  link(ip: VInode, dir: VInode, name: string): number {
    if (this.owns(ip.ino) || this.owns(dir.ino)) return this.ownLink(ip, dir, name);
    return this.cover(dir, name) !== null ? -EEXIST : this.lower.link(ip, dir, name);
  }
  unlink(dir: VInode, name: string): number {
    if (this.owns(dir.ino)) return this.ownUnlink(dir, name);
    const c = this.cover(dir, name);
    if (c !== null) return c.dir ? -EISDIR : -EBUSY;
    return this.lower.unlink(dir, name);
  }
  rmdir(dir: VInode, name: string): number {
    if (this.owns(dir.ino)) return this.ownRmdir(dir, name);
    return this.cover(dir, name) !== null ? -EBUSY : this.lower.rmdir(dir, name);
  }
  rename(odir: VInode, oname: string, ndir: VInode, nname: string, noReplace = false): number {
    if (this.owns(odir.ino) || this.owns(ndir.ino)) {
      return this.ownRename(odir, oname, ndir, nname, noReplace);
    }
    if (this.cover(odir, oname) !== null || this.cover(ndir, nname) !== null) return -EBUSY;
    return this.lower.rename(odir, oname, ndir, nname, noReplace);
  }
  readdir(dir: VInode, cookie: number, emit: (e: VDirent) => boolean): number {
    if (this.owns(dir.ino)) return this.ownReaddir(dir, cookie, emit);
    return this.lower.readdir(dir, cookie, emit);
  }
}
