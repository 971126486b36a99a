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
 * ChrdevMount is a StackedFs (stacked_fs.ts) that puts these inodes in
 * front of another VfsFs (the root filesystem with /proc): calls on a
 * character-device inode go to its driver; everything else passes through. As the VFS dispatches:
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

import { ENODEV } from "../abi/errno.ts";
import { S_IFCHR } from "../abi/fcntl.ts";
import { KernelPanic } from "../abi/panic.ts";
import { asIno, asInodeSlot, type Ino } from "../abi/types.ts";
import { PROC_INO_BASE } from "./procfs/procfs.ts";
import { specialAttr, StackedFs } from "./stacked_fs.ts";
import type { VAttr, VInode } from "./vfs_fs.ts";

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

/** A filesystem with character devices in front of it. */
export class ChrdevMount extends StackedFs {
  protected override owns(ino: number): boolean {
    return chrdevOwns(ino);
  }
  protected override ownGetattr(ip: VInode): VAttr {
    const a = driverOf(ip.ino).getattr(chrdevMinor(ip.ino), ip.slot);
    const mode = S_IFCHR | (a.perm & 0o7777);
    return specialAttr(ip.ino, mode, Math.floor(Date.now() / 1000), a.rdev);
  }
  /** Whether the device has no position (pread/pwrite/lseek: -ESPIPE). */
  protected override ownStream(ip: VInode): boolean {
    return driverOf(ip.ino).stream;
  }
  protected override ownIget(ino: Ino): VInode | number {
    return chrdevOpen(ino, 0);
  }
  protected override ownIput(ip: VInode): void {
    driverOf(ip.ino).put(chrdevMinor(ip.ino), ip.slot);
  }
  // The drivers have no poll operation yet: a device reads as always ready (the default).
  protected override ownDaxRead(ip: VInode, _pos: number, dst: Uint8Array): number {
    return driverOf(ip.ino).read(chrdevMinor(ip.ino), ip.slot, dst);
  }
  protected override ownDaxWrite(ip: VInode, _pos: number, src: Uint8Array): number {
    return driverOf(ip.ino).write(chrdevMinor(ip.ino), ip.slot, src);
  }
}
