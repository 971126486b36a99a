/**
 * mkfs: build an xipfs image, optionally copying a host directory tree
 * into it (as mke2fs -d does).
 *
 * What is copied: directories, regular files and symlinks, with their
 * permission bits (setuid/setgid/sticky included) and modification times.
 * Hard links between host files stay hard links. Sockets, FIFOs and device
 * nodes are skipped with a warning. Owners are not copied: every inode
 * belongs to uid 0 / gid 0, as in a root filesystem image.
 *
 * DAX flag: by default mkfs sets XIP_FL_DAX (FS_DAX_FL) on every regular
 * file and directory, so that a `dax=inode` mount maps every file straight
 * from the device unless the flag is cleared; on a directory the flag is
 * inherited by files created in it later, as in Linux. `dax: false` leaves
 * it clear everywhere (then `dax=inode` behaves like `dax=never`).
 *
 * Sparse files: by default a whole 4 KiB block of zeros in a host file is
 * left as a hole (it reads back as zeros all the same).
 *
 * Large files: a file of 4 MiB or more is laid out in 4 MiB extents, each
 * on a run of blocks starting at a multiple of 1024, with the inode's
 * extent-size hint set (XFS's extsize), so that a DAX mapping of it takes
 * one megapage per 4 MiB (src/fs/dax_pmd.ts) when RAM is a multiple of
 * 4 MiB (device block b is frame RAM frames + b). `pmdAlign: false` turns
 * it off.
 *
 * @module
 */

import {
  computeXipfsLayout,
  XFT_DIR,
  XFT_REG,
  XFT_SYMLINK,
  XIP_FL_DAX,
  XIPFS_BLOCK_SIZE,
  XIPFS_ROOT_INO,
  XIPFS_STATE_CLEAN,
} from "../../abi/layout/mod.ts";
import { errnoName } from "../../abi/errno.ts";
import { asBlock, asIno, type BlockNo, type Ino } from "../../abi/types.ts";
import { bmapInsert } from "./xipfs_bmap.ts";
import { dirAddEntry, dirInitBlock } from "./xipfs_dir.ts";
import { fileWriteOffline, symlinkWriteOffline } from "./xipfs_file.ts";
import {
  allocBlockOffline,
  allocInodeOffline,
  blockInUse,
  blockOff,
  inodeGet,
  inodeSet,
  inodeSetSize,
  isLnkMode,
  openVolume,
  S_IALLUGO,
  S_IFDIR,
  S_IFLNK,
  S_IFREG,
  setBlockInUse,
  superFormat,
  superGet,
  superSet,
  type XipVol,
} from "./xipfs_format.ts";

/** Blocks of one aligned extent of a large file: a 4 MiB megapage. */
const EXTENT_BLOCKS = 1024;
/** Files at least this long are laid out in aligned extents. */
const EXTENT_BYTES = EXTENT_BLOCKS * XIPFS_BLOCK_SIZE;

/** Smallest image mkfs makes: superblock, bitmaps, an inode block and a few data blocks. */
export const MKFS_MIN_BYTES = 16 * XIPFS_BLOCK_SIZE;
/**
 * Largest image: 4 GiB (one wasm32 memory holds RAM and device together)
 * less the 64 MiB of RAM `xip run` gives by default, so every image mkfs
 * makes also runs. A run with more RAM than that checks the sum itself.
 */
export const MKFS_MAX_BYTES = 4 * 1024 * 1024 * 1024 - 64 * 1024 * 1024;

/** Size of an image when mkfs is not told one: 64 MiB, as `xip mkfs` makes. */
export const MKFS_DEFAULT_BYTES = 64 * 1024 * 1024;

/** Options of {@linkcode mkfs}. Every field is optional. */
export interface MkfsOptions {
  /**
   * Size of the image in bytes: a multiple of 4096, from MKFS_MIN_BYTES
   * (64 KiB) to MKFS_MAX_BYTES (4 GiB). Default MKFS_DEFAULT_BYTES (64 MiB).
   */
  readonly sizeBytes?: number;
  /** Host directory whose contents become the root directory. */
  readonly from?: string;
  /** Number of inodes; default one per 16 KiB of image, at least 16. */
  readonly inodes?: number;
  /** Set XIP_FL_DAX on regular files and directories (default true). */
  readonly dax?: boolean;
  /** Leave all-zero host blocks as holes (default true); never inside a 4 MiB extent. */
  readonly sparse?: boolean;
  /**
   * Lay out files of 4 MiB or more in 4 MiB-aligned extents with an
   * extent-size hint, for DAX megapages (default true).
   */
  readonly pmdAlign?: boolean;
  /** Receives one line per host entry that was skipped. */
  readonly warn?: (msg: string) => void;
}

/** mkfs could not build the image; the message is one line for the user. */
export class MkfsError extends Error {
  /** Always "MkfsError". */
  override name = "MkfsError";
}

/**
 * Build a fresh xipfs image of `opts.sizeBytes` bytes (default 64 MiB),
 * holding a copy of the host directory `opts.from` when given. Reading the
 * host tree needs --allow-read for it.
 *
 * @example Make an image of a directory and check it
 * ```ts
 * import { fsck, mkfs } from "@xip/xip";
 *
 * const image = mkfs({ from: "fixtures/rootfs" });
 * console.log(image.length, fsck(image).status); // 67108864 0
 * ```
 *
 * @param opts what to build (every field is optional)
 * @returns the image, a clean filesystem that fsck passes
 * @throws MkfsError on a bad size or inode count, a tree that does not fit,
 *   a host name longer than 255 bytes or a host read error
 */
export function mkfs(opts: MkfsOptions = {}): Uint8Array {
  const sizeBytes = opts.sizeBytes ?? MKFS_DEFAULT_BYTES;
  checkSize(sizeBytes);
  const dev = new Uint8Array(sizeBytes);
  mkfsInto(dev, opts);
  return dev;
}

function checkSize(sizeBytes: number): void {
  if (!Number.isSafeInteger(sizeBytes) || sizeBytes % XIPFS_BLOCK_SIZE !== 0) {
    throw new MkfsError(`size ${sizeBytes} is not a multiple of ${XIPFS_BLOCK_SIZE} bytes`);
  }
  if (sizeBytes < MKFS_MIN_BYTES || sizeBytes > MKFS_MAX_BYTES) {
    throw new MkfsError(`size ${sizeBytes} is outside ${MKFS_MIN_BYTES}..${MKFS_MAX_BYTES} bytes`);
  }
}

/** Default inode count for an image of `totalBlocks` blocks. */
export const defaultInodes = (totalBlocks: number): number =>
  Math.max(16, Math.min(Math.floor(totalBlocks / 4), 1 << 20));

/**
 * Format `dev` in place (for example the device region of the machine's
 * SharedArrayBuffer, before any Worker sees it) and copy `opts.from` into
 * it. `opts.sizeBytes` is ignored: the whole of `dev` is used. Every byte
 * of metadata is rewritten, so `dev` may hold an old image.
 *
 * @returns the volume
 * @throws MkfsError as mkfs() does
 */
export function mkfsInto(dev: Uint8Array, opts: Omit<MkfsOptions, "sizeBytes">): XipVol {
  checkSize(dev.byteLength);
  const totalBlocks = dev.byteLength / XIPFS_BLOCK_SIZE;
  const inodeCount = opts.inodes ?? defaultInodes(totalBlocks);
  if (!Number.isSafeInteger(inodeCount) || inodeCount < 1) {
    throw new MkfsError(`bad inode count ${inodeCount}`);
  }
  const l = computeXipfsLayout(totalBlocks, inodeCount);
  if (l.data.blocks < 8) {
    throw new MkfsError(`${inodeCount} inodes leave no room for data in ${dev.byteLength} bytes`);
  }
  const now = Math.floor(Date.now() / 1000);
  dev.fill(0, 0, l.data.start * XIPFS_BLOCK_SIZE);
  superFormat(dev, {
    totalBlocks,
    inodeCount,
    blockBitmapStart: l.blockBitmap.start,
    blockBitmapBlocks: l.blockBitmap.blocks,
    inodeBitmapStart: l.inodeBitmap.start,
    inodeBitmapBlocks: l.inodeBitmap.blocks,
    inodeTableStart: l.inodeTable.start,
    inodeTableBlocks: l.inodeTable.blocks,
    dataStart: l.data.start,
    rootIno: asIno(XIPFS_ROOT_INO),
    createdAt: now,
  });
  const opened = openVolume(dev);
  if (!opened.ok) throw new MkfsError(`internal: fresh image does not open: ${opened.error}`);
  const vol = opened.vol;
  for (let b = 0; b < l.data.start; b++) setBlockInUse(vol, b, true);
  superSet(vol, "freeBlocks", l.data.blocks);
  superSet(vol, "freeInodes", inodeCount);
  superSet(vol, "state", XIPFS_STATE_CLEAN);
  superSet(vol, "writeTime", now);

  const b = new Builder(vol, opts, now);
  const root = b.newInode(S_IFDIR | 0o755, now);
  if (root !== XIPFS_ROOT_INO) throw new MkfsError(`internal: root got inode ${root}`);
  b.initDir(root, root);
  if (opts.from !== undefined) b.copyTree(opts.from, root);
  return vol;
}

/** The state of one mkfs run: the volume, the options and the allocation hint. */
class Builder {
  private hint = 0;
  /** Host "dev:ino" → image inode, for files with more than one link. */
  private readonly hardLinks = new Map<string, Ino>();
  readonly alloc = (): BlockNo => {
    const blk = allocBlockOffline(this.vol, this.hint);
    if (blk < 0) {
      throw new MkfsError(`no space left on the image (${this.vol.dev.byteLength} bytes)`);
    }
    this.hint = blk + 1;
    return blk;
  };

  constructor(
    readonly vol: XipVol,
    readonly opts: Omit<MkfsOptions, "sizeBytes">,
    readonly now: number,
  ) {}

  newInode(mode: number, mtime: number): Ino {
    const ino = allocInodeOffline(this.vol);
    if (ino < 0) throw new MkfsError(`out of inodes (${this.vol.sb.inodeCount})`);
    const daxable = !isLnkMode(mode) && this.opts.dax !== false;
    inodeSet(this.vol, ino, "mode", mode);
    inodeSet(this.vol, ino, "links", 1);
    inodeSet(this.vol, ino, "atime", mtime);
    inodeSet(this.vol, ino, "mtime", mtime);
    inodeSet(this.vol, ino, "ctime", this.now);
    inodeSet(this.vol, ino, "flags", daxable ? XIP_FL_DAX : 0);
    inodeSet(this.vol, ino, "generation", 1);
    return ino;
  }

  /** Give directory `dir` its first block ("." and ".."), i_size and 2 links. */
  initDir(dir: Ino, parent: Ino): void {
    const blk = this.alloc();
    dirInitBlock(this.vol, blk, dir, parent);
    this.check(bmapInsert(this.vol, dir, 0, blk, this.alloc), "directory block");
    inodeSetSize(this.vol, dir, XIPFS_BLOCK_SIZE);
    inodeSet(this.vol, dir, "links", 2);
  }

  link(dir: Ino, name: string, ino: Ino, type: number, hostPath: string): void {
    this.check(dirAddEntry(this.vol, dir, name, ino, type, this.alloc), hostPath);
  }

  check(rc: number, what: string): void {
    if (rc < 0) throw new MkfsError(`${what}: ${errnoName(rc)}`);
  }

  /** Copy the entries of host directory `hostDir` into image directory `dir`. */
  copyTree(hostDir: string, dir: Ino): void {
    let names: string[];
    try {
      names = [...Deno.readDirSync(hostDir)].map((e) => e.name).sort();
    } catch (e) {
      throw new MkfsError(`cannot read ${hostDir}: ${(e as Error).message}`);
    }
    for (const name of names) {
      // Deno hands over a name that is not UTF-8 with U+FFFD in place of the
      // bad bytes, a name that then reaches no file. xip's file names are
      // UTF-8 end to end (the VFS and the syscall layer), so such an entry
      // cannot be copied or reached: skip it, saying so, as for a device.
      if (name.includes("\ufffd") && !exists(`${hostDir}/${name}`)) {
        this.opts.warn?.(`skipping ${hostDir}/${name}: the name is not UTF-8`);
        continue;
      }
      if (new TextEncoder().encode(name).length > 255) {
        throw new MkfsError(`${hostDir}/${name}: name longer than 255 bytes`);
      }
      this.copyEntry(`${hostDir}/${name}`, name, dir);
    }
  }

  private copyEntry(hostPath: string, name: string, dir: Ino): void {
    let st: Deno.FileInfo;
    try {
      st = Deno.lstatSync(hostPath);
    } catch (e) {
      throw new MkfsError(`cannot stat ${hostPath}: ${(e as Error).message}`);
    }
    const perm = (st.mode ?? 0o644) & S_IALLUGO;
    const mtime = Math.floor((st.mtime?.getTime() ?? this.now * 1000) / 1000);
    if (st.isSymlink) {
      const target = new TextEncoder().encode(
        this.host(() => Deno.readLinkSync(hostPath), hostPath),
      );
      const ino = this.newInode(S_IFLNK | 0o777, mtime);
      this.check(symlinkWriteOffline(this.vol, ino, target, this.alloc), hostPath);
      this.link(dir, name, ino, XFT_SYMLINK, hostPath);
    } else if (st.isDirectory) {
      const ino = this.newInode(S_IFDIR | perm, mtime);
      this.initDir(ino, dir);
      this.link(dir, name, ino, XFT_DIR, hostPath);
      inodeSet(this.vol, dir, "links", inodeGet(this.vol, dir, "links") + 1); // child's ".."
      this.copyTree(hostPath, ino);
    } else if (st.isFile) {
      const key = `${st.dev}:${st.ino}`;
      const seen = (st.nlink ?? 1) > 1 ? this.hardLinks.get(key) : undefined;
      if (seen !== undefined) {
        this.link(dir, name, seen, XFT_REG, hostPath);
        inodeSet(this.vol, seen, "links", inodeGet(this.vol, seen, "links") + 1);
        return;
      }
      const data = this.host(() => Deno.readFileSync(hostPath), hostPath);
      const ino = this.newInode(S_IFREG | perm, mtime);
      const sparse = this.opts.sparse !== false;
      if (this.opts.pmdAlign !== false && data.length >= EXTENT_BYTES) this.writeExtents(ino, data);
      this.check(fileWriteOffline(this.vol, ino, 0, data, this.alloc, sparse), hostPath);
      this.link(dir, name, ino, XFT_REG, hostPath);
      if ((st.nlink ?? 1) > 1) this.hardLinks.set(key, ino);
    } else {
      this.opts.warn?.(`skipping ${hostPath}: not a file, directory or symlink`);
    }
  }

  /**
   * Lay out a large file in aligned 4 MiB extents (XFS's extent-size hint,
   * which the inode keeps): each 1024-block part of the file goes to a run
   * of free blocks starting at a multiple of 1024, all of it allocated
   * (no holes inside an extent), so a DAX mapping can use one megapage per
   * 4 MiB. A part for which no aligned run is free is left to
   * fileWriteOffline (ordinary blocks). Only allocates and links: the
   * bytes are written by the caller's fileWriteOffline, which finds the
   * blocks in place.
   */
  private writeExtents(ino: Ino, data: Uint8Array): void {
    inodeSet(this.vol, ino, "extsize", EXTENT_BLOCKS);
    const blocks = Math.ceil(data.length / XIPFS_BLOCK_SIZE);
    for (let g = 0; g < blocks; g += EXTENT_BLOCKS) {
      const n = Math.min(EXTENT_BLOCKS, blocks - g);
      const run = this.alignedRun(n);
      if (run < 0) return;
      for (let i = 0; i < n; i++) {
        this.check(bmapInsert(this.vol, ino, g + i, asBlock(run + i), this.alloc), "extent");
      }
    }
  }

  /** Claim n free blocks from a multiple of EXTENT_BLOCKS (zeroed), or -1 when none is free. */
  private alignedRun(n: number): number {
    const { dataStart, totalBlocks } = this.vol.sb;
    const first = Math.ceil(dataStart / EXTENT_BLOCKS) * EXTENT_BLOCKS;
    for (let b = first; b + n <= totalBlocks; b += EXTENT_BLOCKS) {
      let free = true;
      for (let i = 0; i < n && free; i++) free = !blockInUse(this.vol, b + i);
      if (!free) continue;
      for (let i = 0; i < n; i++) setBlockInUse(this.vol, b + i, true);
      superSet(this.vol, "freeBlocks", superGet(this.vol, "freeBlocks") - n);
      this.vol.dev.fill(0, blockOff(this.vol, b), blockOff(this.vol, b + n));
      return b;
    }
    return -1;
  }

  private host<T>(f: () => T, hostPath: string): T {
    try {
      return f();
    } catch (e) {
      throw new MkfsError(`cannot read ${hostPath}: ${(e as Error).message}`);
    }
  }
}

/** Whether `path` names something (lstat succeeds). */
function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}
