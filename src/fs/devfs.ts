/**
 * Device nodes in /dev (Linux's drivers/char/mem.c and tty, as devtmpfs
 * shows them): null, zero, full, random, urandom and tty, character
 * devices with Linux's numbers and read/write rules.
 *
 * Mounting. DevMount is a StackedFs (stacked_fs.ts) over the filesystem
 * below it (the root xipfs with procfs on /proc). /dev itself is a real directory
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

import { EACCES, EEXIST, EINVAL, ENOENT, ENOSPC, ENXIO } from "../abi/errno.ts";
import { DT_CHR, S_IFCHR } from "../abi/fcntl.ts";
import { vfsProcCreate, vfsProcExit } from "./vfs.ts";
import { vfsMkdir } from "./vfs_path.ts";
import { asIno, asInodeSlot, type Ino } from "../abi/types.ts";
import { type Cover, specialAttr, StackedFs } from "./stacked_fs.ts";
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
/** The device nodes as readdir of /dev lists them, after the directory's own entries. */
const DEV_DIRENTS: readonly VDirent[] = DEVICES.map((d, i) => ({
  ino: asIno(DEVFS_INO_BASE + i),
  name: d.name,
  dtype: DT_CHR,
  next: DEV_COOKIE_BASE + i + 1,
}));

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
export class DevMount extends StackedFs {
  /** When the devices were made (their timestamps), seconds. */
  readonly #born = Math.floor(Date.now() / 1000);

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

  protected override owns(ino: number): boolean {
    return devfsOwns(ino);
  }
  /**
   * A device name in /dev: its node hides the on-disk entry, and the name
   * cannot be created, removed or renamed over (-EEXIST, -EBUSY, as for a
   * mount point).
   */
  protected override cover(dir: VInode, name: string): Cover | null {
    const i = byName.get(name);
    return i !== undefined && this.#isDevDir(dir)
      ? { ino: asIno(DEVFS_INO_BASE + i), dir: false }
      : null;
  }
  protected override ownGetattr(ip: VInode): VAttr {
    const d = deviceOf(ip.ino);
    return specialAttr(ip.ino, d.mode, this.#born, d.rdev);
  }
  protected override ownIget(ino: Ino): VInode | number {
    // A device node's own index stands in the inode slot (VInode.slot).
    return { ino, slot: asInodeSlot(1 + ino - DEVFS_INO_BASE) };
  }
  // Device nodes keep a position (Linux's mem devices are not streams) and are
  // always ready (null, zero, random: no poll, DEFAULT_POLLMASK): the defaults.

  /** Open hook: the controlling terminal does not exist (ENXIO). */
  protected override ownOpen(ip: VInode): number {
    return deviceOf(ip.ino).kind === "tty" ? -ENXIO : 0;
  }
  protected override ownDaxRead(ip: VInode, _pos: number, dst: Uint8Array): number {
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
  protected override ownDaxWrite(ip: VInode, _pos: number, src: Uint8Array): number {
    switch (deviceOf(ip.ino).kind) {
      case "full":
        return -ENOSPC;
      case "tty":
        return -ENXIO;
      default:
        return src.length;
    }
  }
  protected override ownTruncate(): number {
    return -EINVAL;
  }
  protected override ownPunchHole(): number {
    return -EINVAL;
  }
  protected override ownLookup(): Ino | number {
    return -ENOENT;
  }
  protected override ownReaddir(): number {
    return -EACCES;
  }

  /** /dev lists its own entries, then the device nodes (hiding on-disk entries of their names). */
  override readdir(dir: VInode, cookie: number, emit: (e: VDirent) => boolean): number {
    if (!this.#isDevDir(dir)) return super.readdir(dir, cookie, emit);
    return this.readdirOver(dir, cookie, emit, DEV_DIRENTS, DEV_COOKIE_BASE, (n) => byName.has(n));
  }
}
