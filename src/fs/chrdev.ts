/**
 * Character devices: inodes that no filesystem stores, whose reads and
 * writes go to a driver (Linux's cdev and chrdev_open, reduced). The
 * console behind fds 0, 1 and 2 is one (src/kernel/console.ts); /dev
 * entries can name more.
 *
 * A character-device inode is a number in [CHRDEV_INO_BASE, PROC_INO_BASE):
 * the driver's major and the minor packed as `chrdevIno(major, minor)`. The
 * VInode's `slot`, which an open-file record keeps, is the driver's cookie
 * for the device instance (the console's id), so any thread can rebuild the
 * handle from the record and release it with the same driver.
 *
 * Drivers are registered per thread (functions cannot live in shared
 * memory), as VmOperations are: every thread that touches open files must
 * register the same ones (fs_mount.ts wire does it for the kernel's).
 *
 * ChrdevMount is a VfsFs that puts these inodes in front of another one
 * (the root filesystem with /proc): calls on a character-device inode go
 * to its driver; everything else passes through. As the VFS dispatches:
 * - isDax is true, so read and write go to `daxRead`/`daxWrite` (no page
 *   cache, no writeback on close) and so to the driver; the file position
 *   is ignored;
 * - `stream` says whether the device has no position at all (a tty or a
 *   pipe): then pread, pwrite and lseek are -ESPIPE (Linux's FMODE_STREAM);
 * - truncate is a no-op (O_TRUNC on a device is ignored, as Linux does);
 *   ftruncate, fallocate and mmap are refused by the VFS's S_IFREG checks;
 *   fsync is -EINVAL; directory operations on one are -ENOTDIR.
 *
 * @module
 */

import { EINVAL, ENODEV, ENOTDIR, EXDEV } from "../abi/errno.ts";
import { S_IFCHR } from "../abi/fcntl.ts";
import { FILES } from "../abi/layout/mod.ts";
import { DEFAULT_POLLMASK } from "../abi/poll.ts";
import { KernelPanic } from "../abi/panic.ts";
import { asIno, asInodeSlot, type Ino, type InodeSlot } from "../abi/types.ts";
import type { BlockDevice } from "../hw/device.ts";
import type { Memory } from "../hw/memory.ts";
import type { AddressSpaceOps, AopsLookup } from "./pagecache/pagecache.ts";
import { PROC_INO_BASE } from "./procfs/procfs.ts";
import type { VAttr, VDirent, VfsFs, VInode } from "./vfs_fs.ts";

/** First character-device inode number (below procfs's range, above any xipfs inode). */
export const CHRDEV_INO_BASE = 0x3f00_0000;
/** Minors per major in the inode numbering. */
export const CHRDEV_MINORS = 4096;
/** Majors the numbering leaves room for. */
const CHRDEV_MAJORS = Math.floor((PROC_INO_BASE - CHRDEV_INO_BASE) / CHRDEV_MINORS);

/** The inode number of device (major, minor). */
export function chrdevIno(major: number, minor: number): Ino {
  if (major < 0 || major >= CHRDEV_MAJORS || minor < 0 || minor >= CHRDEV_MINORS) {
    throw new KernelPanic("chrdevIno", `device ${major}:${minor} out of range`);
  }
  return asIno(CHRDEV_INO_BASE + major * CHRDEV_MINORS + minor);
}

/** Whether `ino` is a character-device inode. */
export const chrdevOwns = (ino: number): boolean => ino >= CHRDEV_INO_BASE && ino < PROC_INO_BASE;
/** The major of a character-device inode. */
export const chrdevMajor = (ino: number): number =>
  Math.floor((ino - CHRDEV_INO_BASE) / CHRDEV_MINORS);
/** The minor of a character-device inode. */
export const chrdevMinor = (ino: number): number => (ino - CHRDEV_INO_BASE) % CHRDEV_MINORS;

/** What a driver says about a device for stat. */
export interface ChrdevAttr {
  /** Permission bits (S_IFCHR is added). */
  perm: number;
  /** st_rdev, encoded as Linux's new_encode_dev. */
  rdev: number;
}

/**
 * A character-device driver (Linux's file_operations of a cdev, reduced).
 * Every method gets the minor and the instance cookie, runs in any thread
 * and returns -errno on failure; none throws for bad input.
 */
export interface ChrdevOps {
  readonly name: string;
  /** No position: pread, pwrite and lseek are -ESPIPE (a tty, a pipe). */
  readonly stream: boolean;
  /**
   * Take a reference on instance `cookie` for a new open (0: the driver
   * picks the instance, as /dev/tty picks the caller's terminal).
   *
   * @returns the cookie the open file keeps, or -errno (-ENXIO: no such instance)
   */
  get(minor: number, cookie: number): number;
  /** Drop a reference taken by `get`. */
  put(minor: number, cookie: number): void;
  /** Read into dst: bytes read, 0 at end of input, or -errno. May block. */
  read(minor: number, cookie: number, dst: Uint8Array): number;
  /** Write src: bytes written or -errno. May block. */
  write(minor: number, cookie: number, src: Uint8Array): number;
  getattr(minor: number, cookie: number): ChrdevAttr;
}

const drivers = new Map<number, ChrdevOps>();

/** Register `ops` as the driver of `major` in this thread. */
export function registerChrdev(major: number, ops: ChrdevOps): void {
  if (major < 0 || major >= CHRDEV_MAJORS) {
    throw new KernelPanic("registerChrdev", `major ${major} out of range`);
  }
  drivers.set(major, ops);
}

/** The driver of a character-device inode in this thread. */
function driverOf(ino: number): ChrdevOps {
  const d = drivers.get(chrdevMajor(ino));
  if (d === undefined) {
    throw new KernelPanic("chrdev", `no driver for major ${chrdevMajor(ino)} in this thread`);
  }
  return d;
}

/**
 * Open device `ino` instance `cookie` (see ChrdevOps.get): a referenced
 * VInode for vfsInstallFile, or -errno (-ENODEV: no driver registered).
 */
export function chrdevOpen(ino: Ino, cookie: number): VInode | number {
  const d = drivers.get(chrdevMajor(ino));
  if (d === undefined) return -ENODEV;
  const c = d.get(chrdevMinor(ino), cookie);
  return c < 0 ? c : { ino, slot: asInodeSlot(c) }; // the device instance stands in the slot
}

const own = (ip: VInode): boolean => chrdevOwns(ip.ino);

/** A filesystem with character devices in front of it. */
export class ChrdevMount implements VfsFs {
  readonly mem: Memory;
  readonly dev: BlockDevice;
  readonly rootIno: Ino;
  readonly maxBytes: number;
  readonly aops: AddressSpaceOps;
  readonly aopsLookup: AopsLookup;

  constructor(readonly inner: VfsFs) {
    this.mem = inner.mem;
    this.dev = inner.dev;
    this.rootIno = inner.rootIno;
    this.maxBytes = inner.maxBytes;
    this.aops = inner.aops;
    this.aopsLookup = inner.aopsLookup;
  }

  /** Whether `ip` is a device without a position (pread/pwrite/lseek: -ESPIPE). */
  stream(ip: VInode): boolean {
    return own(ip) ? driverOf(ip.ino).stream : (this.inner.stream?.(ip) ?? false);
  }

  iget(ino: Ino): VInode | number {
    return chrdevOwns(ino) ? chrdevOpen(ino, 0) : this.inner.iget(ino);
  }
  iput(ip: VInode): void {
    if (own(ip)) driverOf(ip.ino).put(chrdevMinor(ip.ino), ip.slot);
    else this.inner.iput(ip);
  }
  handle(ino: Ino, slot: InodeSlot): VInode {
    return chrdevOwns(ino) ? { ino, slot } : this.inner.handle(ino, slot);
  }
  isDax(ip: VInode): boolean {
    return own(ip) || this.inner.isDax(ip);
  }
  getattr(ip: VInode): VAttr {
    if (!own(ip)) return this.inner.getattr(ip);
    const a = driverOf(ip.ino).getattr(chrdevMinor(ip.ino), ip.slot);
    const now = Math.floor(Date.now() / 1000);
    return {
      ino: ip.ino,
      mode: S_IFCHR | (a.perm & 0o7777),
      links: 1,
      uid: 0,
      gid: 0,
      size: 0,
      blocks: 0,
      atime: now,
      mtime: now,
      ctime: now,
      dax: false,
      rdev: a.rdev,
    };
  }
  size(ip: VInode): number {
    return own(ip) ? 0 : this.inner.size(ip);
  }
  iRwsem(ip: VInode): number {
    // Only SEEK_DATA/SEEK_HOLE take it on a device; procfs's shared stand-in serves.
    return own(ip) ? this.mem.layout.files.base + FILES.procfsRwsem : this.inner.iRwsem(ip);
  }
  getBlock(ip: VInode, iblock: number, create: boolean): number {
    return own(ip) ? -EINVAL : this.inner.getBlock(ip, iblock, create);
  }
  daxRead(ip: VInode, pos: number, dst: Uint8Array): number {
    if (!own(ip)) return this.inner.daxRead(ip, pos, dst);
    return driverOf(ip.ino).read(chrdevMinor(ip.ino), ip.slot, dst);
  }
  daxWrite(ip: VInode, pos: number, src: Uint8Array): number {
    if (!own(ip)) return this.inner.daxWrite(ip, pos, src);
    return driverOf(ip.ino).write(chrdevMinor(ip.ino), ip.slot, src);
  }
  daxAppend(ip: VInode, src: Uint8Array): [number, number] {
    if (!own(ip)) return this.inner.daxAppend(ip, src);
    return [driverOf(ip.ino).write(chrdevMinor(ip.ino), ip.slot, src), 0];
  }
  setSize(ip: VInode, size: number): void {
    // Only the page-cache write path calls it, and devices never take that path.
    if (own(ip)) throw new KernelPanic("ChrdevMount.setSize", `device inode ${ip.ino}`);
    this.inner.setSize(ip, size);
  }
  truncate(ip: VInode, size: number): number {
    return own(ip) ? 0 : this.inner.truncate(ip, size);
  }
  punchHole(ip: VInode, off: number, len: number): number {
    return own(ip) ? -ENODEV : this.inner.punchHole(ip, off, len);
  }
  fallocate(ip: VInode, mode: number, off: number, len: number): number {
    return own(ip) ? -ENODEV : this.inner.fallocate(ip, mode, off, len);
  }
  fsync(ip: VInode): number {
    return own(ip) ? -EINVAL : this.inner.fsync(ip);
  }
  poll(ip: VInode, flags: number): number {
    // The drivers have no poll operation yet: a device reads as always ready.
    return own(ip) ? DEFAULT_POLLMASK : (this.inner.poll?.(ip, flags) ?? DEFAULT_POLLMASK);
  }
  writeAccess(ip: VInode, op: "get" | "put" | "deny" | "allow"): number {
    return own(ip) ? 0 : (this.inner.writeAccess?.(ip, op) ?? 0);
  }

  lookup(dir: VInode, name: string): Ino | number {
    return own(dir) ? -ENOTDIR : this.inner.lookup(dir, name);
  }
  create(dir: VInode, name: string, mode: number): Ino | number {
    return own(dir) ? -ENOTDIR : this.inner.create(dir, name, mode);
  }
  mkdir(dir: VInode, name: string, mode: number): Ino | number {
    return own(dir) ? -ENOTDIR : this.inner.mkdir(dir, name, mode);
  }
  mknod(dir: VInode, name: string, mode: number): Ino | number {
    return own(dir) ? -ENOTDIR : this.inner.mknod(dir, name, mode);
  }
  symlink(dir: VInode, name: string, target: string): Ino | number {
    return own(dir) ? -ENOTDIR : this.inner.symlink(dir, name, target);
  }
  link(ip: VInode, dir: VInode, name: string): number {
    if (own(dir)) return -ENOTDIR;
    // A device inode here is named by no filesystem (the console): no mount to link it into.
    return own(ip) ? -EXDEV : this.inner.link(ip, dir, name);
  }
  unlink(dir: VInode, name: string): number {
    return own(dir) ? -ENOTDIR : this.inner.unlink(dir, name);
  }
  rmdir(dir: VInode, name: string): number {
    return own(dir) ? -ENOTDIR : this.inner.rmdir(dir, name);
  }
  rename(odir: VInode, oname: string, ndir: VInode, nname: string, noReplace = false): number {
    if (own(odir) || own(ndir)) return -ENOTDIR;
    return this.inner.rename(odir, oname, ndir, nname, noReplace);
  }
  readlink(ip: VInode): string | number {
    return own(ip) ? -EINVAL : this.inner.readlink(ip);
  }
  readdir(dir: VInode, cookie: number, emit: (e: VDirent) => boolean): number {
    return own(dir) ? -ENOTDIR : this.inner.readdir(dir, cookie, emit);
  }
}
