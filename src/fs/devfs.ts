/**
 * Device nodes in /dev (Linux's drivers/char/mem.c and tty, as devtmpfs
 * shows them): null, zero, full, random, urandom and tty, character
 * devices with Linux's numbers and read/write rules.
 *
 * Mounting. DevMount is a VfsFs wrapped around the filesystem below it
 * (the root xipfs with procfs on /proc). /dev itself is a real directory
 * of the root filesystem (the Machine creates it at boot when the image
 * has none), and the device nodes are laid over it: looking one of their
 * names up in /dev answers with the device's inode, readdir of /dev lists
 * them after the directory's own entries (an on-disk entry of the same
 * name is hidden, as a mount hides what is under it), and they cannot be
 * created, removed or renamed over. Everything else in /dev is ordinary
 * xipfs: /dev/shm, which the Machine also creates (mode 1777), is a plain
 * writable directory whose files can be mapped MAP_SHARED, so the POSIX
 * shared-memory calls work there (unlike Linux's tmpfs, its files are
 * kept in the image until removed). Other code that wants a device node
 * adds it to DEVICES.
 *
 * Device inodes: numbers DEVFS_INO_BASE + index, below procfs's range and
 * far above any xipfs inode. isDax is true, so the VFS reads and writes
 * them through daxRead/daxWrite (no page cache) and never writes them
 * back; they have no blocks, no size and no i_rwsem of their own.
 *
 * Semantics (Linux's):
 * - null: reads see EOF, writes succeed and vanish;
 * - zero: reads fill with zeros, writes succeed and vanish;
 * - full: reads fill with zeros, writes fail with ENOSPC;
 * - random, urandom: reads return bytes from the host's CSPRNG (never
 *   blocking, as both do since Linux 5.6), writes are accepted (mixed
 *   into nothing: xip's pool is the host's);
 * - tty: the controlling terminal. xip processes have none, so open is
 *   ENXIO, as for a Linux process without one; stat still shows the node.
 *
 * @module
 */

import {
  EACCES,
  EBUSY,
  EEXIST,
  EINVAL,
  ENODEV,
  ENOENT,
  ENOSPC,
  ENXIO,
  EXDEV,
} from "../abi/errno.ts";
import { DT_CHR, S_IFCHR } from "../abi/fcntl.ts";
import { vfsProcCreate, vfsProcExit } from "./vfs.ts";
import { vfsMkdir } from "./vfs_path.ts";
import { FILES } from "../abi/layout/mod.ts";
import { DEFAULT_POLLMASK } from "../abi/poll.ts";
import { asIno, asInodeSlot, type Ino, type InodeSlot } from "../abi/types.ts";
import type { BlockDevice } from "../hw/device.ts";
import type { Memory } from "../hw/memory.ts";
import type { AddressSpaceOps, AopsLookup } from "./pagecache/pagecache.ts";
import type { VAttr, VDirent, VfsFs, VInode } from "./vfs_fs.ts";

/** The directory the device nodes appear in, under the root. */
export const DEV_DIR_NAME = "dev";

/**
 * First device inode number; procfs starts at 0x4000_0000. It lies in
 * chrdev.ts's range (major 0, which no driver there has): DevMount is
 * mounted outside ChrdevMount and answers for these inodes itself.
 */
export const DEVFS_INO_BASE = 0x3f00_0000;

/**
 * readdir cookies of the device entries of /dev: past any xipfs cookie (a
 * byte offset in a directory) and below procfs's injected root entry.
 */
const DEV_COOKIE_BASE = 0x7fff_0000;

/** What a device does with reads and writes. */
type DevKind = "null" | "zero" | "full" | "random" | "tty";

interface Device {
  name: string;
  kind: DevKind;
  /** Linux's device number (major << 8 | minor, old_encode_dev). */
  rdev: number;
  mode: number;
}

/** The nodes of /dev, in readdir order. */
export const DEVICES: readonly Device[] = [
  { name: "null", kind: "null", rdev: (1 << 8) | 3, mode: S_IFCHR | 0o666 },
  { name: "zero", kind: "zero", rdev: (1 << 8) | 5, mode: S_IFCHR | 0o666 },
  { name: "full", kind: "full", rdev: (1 << 8) | 7, mode: S_IFCHR | 0o666 },
  { name: "random", kind: "random", rdev: (1 << 8) | 8, mode: S_IFCHR | 0o666 },
  { name: "urandom", kind: "random", rdev: (1 << 8) | 9, mode: S_IFCHR | 0o666 },
  { name: "tty", kind: "tty", rdev: (5 << 8) | 0, mode: S_IFCHR | 0o666 },
];

/** Whether inode number `ino` is a device node. */
export const devfsOwns = (ino: number): boolean =>
  ino >= DEVFS_INO_BASE && ino < DEVFS_INO_BASE + DEVICES.length;

const deviceOf = (ino: number): Device => DEVICES[ino - DEVFS_INO_BASE]!;
const byName = new Map(DEVICES.map((d, i) => [d.name, i]));

/**
 * Directories every booted machine has, created when the image lacks them
 * (as an init system's tmpfiles would): /dev for the device nodes,
 * /dev/shm for POSIX shared memory, /tmp for temporary files (1777:
 * sticky, world-writable).
 */
export const SYSTEM_DIRS: readonly [string, number][] = [
  ["/dev", 0o755],
  ["/dev/shm", 0o1777],
  ["/tmp", 0o1777],
];

/**
 * Create the SYSTEM_DIRS missing from the mounted filesystem `vfs`. Main
 * thread at boot, before any process runs; uses a temporary fd table.
 * Entry: no lock held; each vfsMkdir walks the parent (directory i_rwsems
 * for read in turn, the inode-cache lock) and takes the parent's i_rwsem
 * for write; the temporary fd table is claimed lock-free (fdtAlloc) and
 * freed as vfsProcExit. Returns with no lock held.
 *
 * @returns 0, or the first error other than EEXIST
 */
export function makeSystemDirs(vfs: VfsFs): number {
  const proc = vfsProcCreate(vfs);
  if (typeof proc === "number") return proc;
  try {
    for (const [path, mode] of SYSTEM_DIRS) {
      const r = vfsMkdir(proc, path, mode);
      if (r < 0 && r !== -EEXIST) return r;
    }
    return 0;
  } finally {
    vfsProcExit(vfs, proc.fdt);
  }
}

/** Bytes per getRandomValues call (its limit). */
const RANDOM_CHUNK = 65536;

/** The root filesystem with the device nodes laid over /dev. */
export class DevMount implements VfsFs {
  readonly mem: Memory;
  readonly dev: BlockDevice;
  readonly rootIno: Ino;
  readonly maxBytes: number;
  readonly aops: AddressSpaceOps;
  readonly aopsLookup: AopsLookup;
  /** When the devices were made (their timestamps), seconds. */
  readonly #born = Math.floor(Date.now() / 1000);

  constructor(readonly lower: VfsFs) {
    this.mem = lower.mem;
    this.dev = lower.dev;
    this.rootIno = lower.rootIno;
    this.maxBytes = lower.maxBytes;
    this.aops = lower.aops;
    this.aopsLookup = lower.aopsLookup;
  }

  /**
   * Whether `dir` is /dev right now: the root's "dev" entry names it (a
   * lookup in the root, so a renamed or replaced /dev is followed).
   */
  #isDevDir(dir: VInode): boolean {
    if (devfsOwns(dir.ino)) return false;
    const root = this.lower.iget(this.rootIno);
    if (typeof root === "number") return false;
    try {
      return this.lower.lookup(root, DEV_DIR_NAME) === dir.ino;
    } finally {
      this.lower.iput(root);
    }
  }

  /** -EEXIST-style refusal for a device name in /dev, or null to pass the call down. */
  #devName(dir: VInode, name: string, err: number): number | null {
    return byName.has(name) && this.#isDevDir(dir) ? err : null;
  }

  iget(ino: Ino): VInode | number {
    // A device node's own index stands in the inode slot (VInode.slot).
    return devfsOwns(ino)
      ? { ino, slot: asInodeSlot(1 + ino - DEVFS_INO_BASE) }
      : this.lower.iget(ino);
  }
  iput(ip: VInode): void {
    if (!devfsOwns(ip.ino)) this.lower.iput(ip);
  }
  handle(ino: Ino, slot: InodeSlot): VInode {
    return devfsOwns(ino) ? { ino, slot } : this.lower.handle(ino, slot);
  }
  isDax(ip: VInode): boolean {
    return devfsOwns(ip.ino) || this.lower.isDax(ip);
  }
  /** Device nodes keep a position (Linux's mem devices are not streams); the rest pass down. */
  stream(ip: VInode): boolean {
    return devfsOwns(ip.ino) ? false : (this.lower.stream?.(ip) ?? false);
  }
  writeAccess(ip: VInode, op: "get" | "put" | "deny" | "allow"): number {
    return devfsOwns(ip.ino) ? 0 : (this.lower.writeAccess?.(ip, op) ?? 0);
  }
  /** The mem devices are always ready (Linux's null, zero, random: no poll, DEFAULT_POLLMASK). */
  poll(ip: VInode, flags: number): number {
    return devfsOwns(ip.ino)
      ? DEFAULT_POLLMASK
      : (this.lower.poll?.(ip, flags) ?? DEFAULT_POLLMASK);
  }
  getattr(ip: VInode): VAttr {
    if (!devfsOwns(ip.ino)) return this.lower.getattr(ip);
    const d = deviceOf(ip.ino);
    return {
      ino: ip.ino,
      mode: d.mode,
      links: 1,
      uid: 0,
      gid: 0,
      size: 0,
      blocks: 0,
      atime: this.#born,
      mtime: this.#born,
      ctime: this.#born,
      dax: false,
      rdev: d.rdev,
    };
  }
  size(ip: VInode): number {
    return devfsOwns(ip.ino) ? 0 : this.lower.size(ip);
  }
  iRwsem(ip: VInode): number {
    // Only SEEK_DATA/SEEK_HOLE would take it on a device: share procfs's stand-in.
    return devfsOwns(ip.ino)
      ? this.mem.layout.files.base + FILES.procfsRwsem
      : this.lower.iRwsem(ip);
  }
  getBlock(ip: VInode, iblock: number, create: boolean): number {
    return devfsOwns(ip.ino) ? -EINVAL : this.lower.getBlock(ip, iblock, create);
  }

  /** Open hook: the controlling terminal does not exist (ENXIO). */
  open(ip: VInode, flags: number): number {
    if (!devfsOwns(ip.ino)) return this.lower.open?.(ip, flags) ?? 0;
    return deviceOf(ip.ino).kind === "tty" ? -ENXIO : 0;
  }

  daxRead(ip: VInode, pos: number, dst: Uint8Array, flags?: number): number {
    if (!devfsOwns(ip.ino)) return this.lower.daxRead(ip, pos, dst, flags);
    switch (deviceOf(ip.ino).kind) {
      case "null":
        return 0;
      case "zero":
      case "full":
        dst.fill(0);
        return dst.length;
      case "random":
        for (let at = 0; at < dst.length; at += RANDOM_CHUNK) {
          crypto.getRandomValues(dst.subarray(at, Math.min(dst.length, at + RANDOM_CHUNK)));
        }
        return dst.length;
      case "tty":
        return -ENXIO;
    }
  }
  daxWrite(ip: VInode, pos: number, src: Uint8Array, flags?: number): number {
    if (!devfsOwns(ip.ino)) return this.lower.daxWrite(ip, pos, src, flags);
    switch (deviceOf(ip.ino).kind) {
      case "full":
        return -ENOSPC;
      case "tty":
        return -ENXIO;
      default:
        return src.length;
    }
  }
  daxAppend(ip: VInode, src: Uint8Array, flags?: number): [number, number] {
    if (devfsOwns(ip.ino)) return [this.daxWrite(ip, 0, src), 0];
    return this.lower.daxAppend(ip, src, flags);
  }
  setSize(ip: VInode, size: number): void {
    if (!devfsOwns(ip.ino)) this.lower.setSize(ip, size);
  }
  truncate(ip: VInode, size: number): number {
    // O_TRUNC on a character device is ignored (the VFS only truncates regular files).
    return devfsOwns(ip.ino) ? -EINVAL : this.lower.truncate(ip, size);
  }
  punchHole(ip: VInode, off: number, len: number): number {
    return devfsOwns(ip.ino) ? -EINVAL : this.lower.punchHole(ip, off, len);
  }
  fallocate(ip: VInode, mode: number, off: number, len: number): number {
    return devfsOwns(ip.ino) ? -ENODEV : this.lower.fallocate(ip, mode, off, len);
  }
  fsync(ip: VInode): number {
    return devfsOwns(ip.ino) ? -EINVAL : this.lower.fsync(ip);
  }

  lookup(dir: VInode, name: string): Ino | number {
    if (devfsOwns(dir.ino)) return -ENOENT;
    const i = byName.get(name);
    if (i !== undefined && this.#isDevDir(dir)) return asIno(DEVFS_INO_BASE + i);
    return this.lower.lookup(dir, name);
  }
  create(dir: VInode, name: string, mode: number): Ino | number {
    return this.#devName(dir, name, -EEXIST) ?? this.lower.create(dir, name, mode);
  }
  mkdir(dir: VInode, name: string, mode: number): Ino | number {
    return this.#devName(dir, name, -EEXIST) ?? this.lower.mkdir(dir, name, mode);
  }
  symlink(dir: VInode, name: string, target: string): Ino | number {
    return this.#devName(dir, name, -EEXIST) ?? this.lower.symlink(dir, name, target);
  }
  mknod(dir: VInode, name: string, mode: number): Ino | number {
    return this.#devName(dir, name, -EEXIST) ?? this.lower.mknod(dir, name, mode);
  }
  link(ip: VInode, dir: VInode, name: string): number {
    // A device node lives on no filesystem below: no mount to link it into.
    if (devfsOwns(ip.ino)) return -EXDEV;
    return this.#devName(dir, name, -EEXIST) ?? this.lower.link(ip, dir, name);
  }
  unlink(dir: VInode, name: string): number {
    // Removing a node of a mount that owns it: Linux says EBUSY for a mount point.
    return this.#devName(dir, name, -EBUSY) ?? this.lower.unlink(dir, name);
  }
  rmdir(dir: VInode, name: string): number {
    return this.#devName(dir, name, -EBUSY) ?? this.lower.rmdir(dir, name);
  }
  rename(odir: VInode, oname: string, ndir: VInode, nname: string, noReplace = false): number {
    const busy = this.#devName(odir, oname, -EBUSY) ?? this.#devName(ndir, nname, -EBUSY);
    return busy ?? this.lower.rename(odir, oname, ndir, nname, noReplace);
  }
  readlink(ip: VInode): string | number {
    return devfsOwns(ip.ino) ? -EINVAL : this.lower.readlink(ip);
  }

  readdir(dir: VInode, cookie: number, emit: (e: VDirent) => boolean): number {
    if (devfsOwns(dir.ino)) return -EACCES;
    if (!this.#isDevDir(dir)) return this.lower.readdir(dir, cookie, emit);
    let stopped = false;
    if (cookie < DEV_COOKIE_BASE) {
      const r = this.lower.readdir(dir, cookie, (e) => {
        if (byName.has(e.name)) return true; // hidden by the device node
        stopped = !emit(e);
        return !stopped;
      });
      if (r < 0 || stopped) return r;
    }
    for (let i = Math.max(0, cookie - DEV_COOKIE_BASE); i < DEVICES.length; i++) {
      const e = { ino: asIno(DEVFS_INO_BASE + i), name: DEVICES[i]!.name, dtype: DT_CHR };
      if (!emit({ ...e, next: DEV_COOKIE_BASE + i + 1 })) return 0;
    }
    return 0;
  }
}
