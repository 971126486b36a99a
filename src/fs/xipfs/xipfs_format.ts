/**
 * xipfs on-device structures: the superblock, inode records and bitmaps.
 *
 * The map and every field offset are in src/abi/layout/mod.ts (XSUPER, XINODE,
 * XDIRENT). This module gives each structure small pure accessors over a
 * plain `Uint8Array` image (at run time, a view of the device region of a
 * SharedArrayBuffer). Nothing here locks or keeps global state: the live
 * filesystem adds its locks around these calls; mkfs and fsck use them as
 * they are. Block maps are in xipfs_bmap.ts, directories in xipfs_dir.ts.
 *
 * @module
 */

import {
  computeXipfsLayout,
  XINODE,
  XIPFS_BLOCK_SIZE,
  XIPFS_INODE_SIZE,
  XIPFS_MAGIC,
  XIPFS_ROOT_INO,
  XIPFS_VERSION,
  XSUPER,
  XSUPER_BYTES,
} from "../../abi/layout/mod.ts";
import { ENOSPC } from "../../abi/errno.ts";
import { asBlock, asIno, type BlockNo, type Ino } from "../../abi/types.ts";
import { KernelPanic } from "../../abi/panic.ts";

// Linux st_mode type bits (include/uapi/linux/stat.h); xipfs stores them as they are.
export const S_IFMT = 0o170000;
export const S_IFREG = 0o100000;
export const S_IFDIR = 0o040000;
export const S_IFLNK = 0o120000;
export const S_IFSOCK = 0o140000;
export const S_IALLUGO = 0o7777; // permission, setuid/setgid and sticky bits

export const isDirMode = (mode: number): boolean => (mode & S_IFMT) === S_IFDIR;
export const isRegMode = (mode: number): boolean => (mode & S_IFMT) === S_IFREG;
export const isLnkMode = (mode: number): boolean => (mode & S_IFMT) === S_IFLNK;
export const isSockMode = (mode: number): boolean => (mode & S_IFMT) === S_IFSOCK;

/** The geometry of a mounted image: the checksummed, never-changing part of the superblock. */
export interface XipSuper {
  readonly totalBlocks: number;
  readonly inodeCount: number;
  readonly blockBitmapStart: number;
  readonly blockBitmapBlocks: number;
  readonly inodeBitmapStart: number;
  readonly inodeBitmapBlocks: number;
  readonly inodeTableStart: number;
  readonly inodeTableBlocks: number;
  readonly dataStart: number;
  readonly rootIno: Ino;
  readonly createdAt: number;
}

/** An image and its validated geometry: what every accessor works on. */
export interface XipVol {
  readonly dev: Uint8Array;
  /** Little-endian view of `dev`, same bytes. */
  readonly view: DataView;
  readonly sb: XipSuper;
  /**
   * Where block `b`'s bytes start in `dev`. Absent for a flat image (block b
   * at b * XIPFS_BLOCK_SIZE: mkfs, fsck, the memory device). The live
   * filesystem on a bio-only device sets it: `dev` is then all of physical
   * memory and a metadata block lives in a pinned page-cache frame (Linux's
   * buffer heads on the block device's own page cache). Every accessor
   * addresses blocks through blockOff(), never by multiplying.
   */
  readonly blockBase?: (b: number) => number;
}

/** Byte offset in `vol.dev` of block `b` (see XipVol.blockBase). */
export const blockOff = (vol: XipVol, b: number): number =>
  vol.blockBase === undefined ? b * XIPFS_BLOCK_SIZE : vol.blockBase(b);

/** The outcome of opening an image: the volume, or one line saying why not. */
export type OpenResult = { ok: true; vol: XipVol } | { ok: false; error: string };

// ---------------------------------------------------------------------------
// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), for the superblock.

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb8_8320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 of `bytes`. */
export function crc32(bytes: Uint8Array): number {
  let c = 0xffff_ffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffff_ffff) >>> 0;
}

const viewOf = (dev: Uint8Array): DataView =>
  new DataView(dev.buffer, dev.byteOffset, dev.byteLength);

// ---------------------------------------------------------------------------
// superblock

/** Checksum the superblock should carry: CRC-32 of bytes [0, XSUPER.checksum). */
export function superComputeChecksum(dev: Uint8Array): number {
  return crc32(dev.subarray(0, XSUPER.checksum));
}

/**
 * Read and validate the superblock of `dev`. Never throws. `deviceBytes`
 * is the size of the device behind it, when `dev` holds only its first
 * block(s) (a bio-only device's superblock read into a buffer).
 *
 * @returns the volume, or `{ ok: false, error }` with one line naming the
 *   first problem: image too small, bad magic, wrong version, checksum
 *   mismatch, geometry that is not the one mkfs computes, or an image
 *   shorter than the geometry says (truncated).
 */
export function openVolume(dev: Uint8Array, deviceBytes: number = dev.byteLength): OpenResult {
  const fail = (error: string): OpenResult => ({ ok: false, error });
  if (dev.byteLength < XSUPER_BYTES) {
    return fail(`image is ${dev.byteLength} bytes, too small to hold a superblock`);
  }
  const view = viewOf(dev);
  const u32 = (off: number): number => view.getUint32(off, true);
  const magic = u32(XSUPER.magic);
  if (magic !== XIPFS_MAGIC) {
    return fail(`bad magic 0x${magic.toString(16).padStart(8, "0")}: not an xipfs image`);
  }
  const version = u32(XSUPER.version);
  if (version !== XIPFS_VERSION) {
    return fail(`unsupported xipfs version ${version} (this build reads ${XIPFS_VERSION})`);
  }
  const stored = u32(XSUPER.checksum);
  const computed = superComputeChecksum(dev);
  if (stored !== computed) {
    return fail(
      `superblock checksum mismatch (stored 0x${stored.toString(16)}, computed 0x${
        computed.toString(16)
      })`,
    );
  }
  if (u32(XSUPER.blockSize) !== XIPFS_BLOCK_SIZE) {
    return fail(`unsupported block size ${u32(XSUPER.blockSize)} (must be ${XIPFS_BLOCK_SIZE})`);
  }
  if (u32(XSUPER.inodeSize) !== XIPFS_INODE_SIZE) {
    return fail(`unsupported inode size ${u32(XSUPER.inodeSize)} (must be ${XIPFS_INODE_SIZE})`);
  }
  const totalBlocks = u32(XSUPER.totalBlocks);
  const inodeCount = u32(XSUPER.inodeCount);
  if (inodeCount < 1 || inodeCount > totalBlocks * 32) {
    return fail(`bad geometry: ${inodeCount} inodes for ${totalBlocks} blocks`);
  }
  const l = computeXipfsLayout(totalBlocks, inodeCount);
  const sb: XipSuper = {
    totalBlocks,
    inodeCount,
    blockBitmapStart: u32(XSUPER.blockBitmapStart),
    blockBitmapBlocks: u32(XSUPER.blockBitmapBlocks),
    inodeBitmapStart: u32(XSUPER.inodeBitmapStart),
    inodeBitmapBlocks: u32(XSUPER.inodeBitmapBlocks),
    inodeTableStart: u32(XSUPER.inodeTableStart),
    inodeTableBlocks: u32(XSUPER.inodeTableBlocks),
    dataStart: u32(XSUPER.dataStart),
    rootIno: asIno(u32(XSUPER.rootIno)),
    createdAt: u32(XSUPER.createdAt),
  };
  if (
    l.data.blocks < 1 ||
    sb.blockBitmapStart !== l.blockBitmap.start || sb.blockBitmapBlocks !== l.blockBitmap.blocks ||
    sb.inodeBitmapStart !== l.inodeBitmap.start || sb.inodeBitmapBlocks !== l.inodeBitmap.blocks ||
    sb.inodeTableStart !== l.inodeTable.start || sb.inodeTableBlocks !== l.inodeTable.blocks ||
    sb.dataStart !== l.data.start
  ) {
    return fail(
      `bad geometry: regions do not match ${totalBlocks} blocks and ${inodeCount} inodes`,
    );
  }
  if (sb.rootIno !== XIPFS_ROOT_INO) return fail(`bad root inode number ${sb.rootIno}`);
  const need = totalBlocks * XIPFS_BLOCK_SIZE;
  if (deviceBytes < need) {
    return fail(
      `image truncated: the superblock says ${totalBlocks} blocks (${need} bytes), the image has ${deviceBytes} bytes`,
    );
  }
  return { ok: true, vol: { dev, view, sb } };
}

/** A dynamic superblock field (freeBlocks, freeInodes, state, mountCount, writeTime). */
export type SuperDynamicField = "freeBlocks" | "freeInodes" | "state" | "mountCount" | "writeTime";

/** Read a dynamic superblock field. */
export const superGet = (vol: XipVol, f: SuperDynamicField): number =>
  vol.view.getUint32(blockOff(vol, 0) + XSUPER[f], true);

/** Write a dynamic superblock field. These are not checksummed, so no checksum update. */
export function superSet(vol: XipVol, f: SuperDynamicField, value: number): void {
  vol.view.setUint32(blockOff(vol, 0) + XSUPER[f], value >>> 0, true);
}

/**
 * Write a fresh superblock into block 0 of `dev` for geometry `sb` (mkfs).
 * Zeroes the rest of block 0 and seals the checksum.
 */
export function superFormat(dev: Uint8Array, sb: XipSuper): void {
  dev.fill(0, 0, XIPFS_BLOCK_SIZE);
  const v = viewOf(dev);
  const put = (off: number, x: number) => v.setUint32(off, x >>> 0, true);
  put(XSUPER.magic, XIPFS_MAGIC);
  put(XSUPER.version, XIPFS_VERSION);
  put(XSUPER.blockSize, XIPFS_BLOCK_SIZE);
  put(XSUPER.totalBlocks, sb.totalBlocks);
  put(XSUPER.inodeCount, sb.inodeCount);
  put(XSUPER.inodeSize, XIPFS_INODE_SIZE);
  put(XSUPER.blockBitmapStart, sb.blockBitmapStart);
  put(XSUPER.blockBitmapBlocks, sb.blockBitmapBlocks);
  put(XSUPER.inodeBitmapStart, sb.inodeBitmapStart);
  put(XSUPER.inodeBitmapBlocks, sb.inodeBitmapBlocks);
  put(XSUPER.inodeTableStart, sb.inodeTableStart);
  put(XSUPER.inodeTableBlocks, sb.inodeTableBlocks);
  put(XSUPER.dataStart, sb.dataStart);
  put(XSUPER.rootIno, sb.rootIno);
  put(XSUPER.createdAt, sb.createdAt);
  put(XSUPER.checksum, superComputeChecksum(dev));
}

// ---------------------------------------------------------------------------
// block pointers and inode numbers

/** Byte offset of block `b` on the device. */
export const blockOffset = (b: BlockNo): number => b * XIPFS_BLOCK_SIZE;

/** True when `b` may appear in a block pointer: 0 (a hole) or a data block. */
export const blockPtrValid = (sb: XipSuper, b: number): boolean =>
  b === 0 || (b >= sb.dataStart && b < sb.totalBlocks);

/** True when `ino` names a slot of the inode table. */
export const inoValid = (sb: XipSuper, ino: number): boolean =>
  Number.isInteger(ino) && ino >= 1 && ino <= sb.inodeCount;

/**
 * Byte offset on the device of inode `ino`'s record.
 * Panics when `ino` is out of range: callers validate numbers read from disk
 * with inoValid() first.
 */
export function inodeOffset(sb: XipSuper, ino: Ino): number {
  if (!inoValid(sb, ino)) throw new KernelPanic("inodeOffset", `inode ${ino} out of range`);
  return sb.inodeTableStart * XIPFS_BLOCK_SIZE + (ino - 1) * XIPFS_INODE_SIZE;
}

/** Inode records per inode-table block. */
const INODES_PER_BLOCK = XIPFS_BLOCK_SIZE / XIPFS_INODE_SIZE;

/**
 * Byte offset in `vol.dev` of inode `ino`'s record, through blockOff (so it
 * works on a flat image and on a metadata cache alike). Panics when `ino`
 * is out of range.
 */
export function inodeOff(vol: XipVol, ino: Ino): number {
  if (vol.blockBase === undefined) return inodeOffset(vol.sb, ino);
  if (!inoValid(vol.sb, ino)) throw new KernelPanic("inodeOff", `inode ${ino} out of range`);
  const i = ino - 1;
  return blockOff(vol, vol.sb.inodeTableStart + Math.floor(i / INODES_PER_BLOCK)) +
    (i % INODES_PER_BLOCK) * XIPFS_INODE_SIZE;
}

/** Device block that holds inode `ino`'s record (for dirty tracking). */
export const inodeBlock = (sb: XipSuper, ino: Ino): number =>
  sb.inodeTableStart + Math.floor((ino - 1) / INODES_PER_BLOCK);

/** Byte offset in `vol.dev` of pointer slot `slot` of inode `ino` (see inodePtrOffset). */
export const inodePtrOff = (vol: XipVol, ino: Ino, slot: number): number =>
  inodeOff(vol, ino) + XINODE.block + slot * 4;

// ---------------------------------------------------------------------------
// inode fields: one-line accessors over the record in place.

/** A 32-bit inode field (an XINODE offset). */
export type InodeField = Exclude<keyof typeof XINODE, "sizeLo" | "sizeHi" | "block">;

/** Read 32-bit field `f` of inode `ino` (in range). */
export const inodeGet = (vol: XipVol, ino: Ino, f: InodeField): number =>
  vol.view.getUint32(inodeOff(vol, ino) + XINODE[f], true);

/** Write 32-bit field `f` of inode `ino` (in range). */
export function inodeSet(vol: XipVol, ino: Ino, f: InodeField, value: number): void {
  vol.view.setUint32(inodeOff(vol, ino) + XINODE[f], value >>> 0, true);
}

/** i_size in bytes (up to 2^53). */
export function inodeGetSize(vol: XipVol, ino: Ino): number {
  const off = inodeOff(vol, ino);
  return vol.view.getUint32(off + XINODE.sizeLo, true) +
    vol.view.getUint32(off + XINODE.sizeHi, true) * 0x1_0000_0000;
}

/** Set i_size in bytes. */
export function inodeSetSize(vol: XipVol, ino: Ino, size: number): void {
  const off = inodeOff(vol, ino);
  vol.view.setUint32(off + XINODE.sizeLo, size >>> 0, true);
  vol.view.setUint32(off + XINODE.sizeHi, Math.floor(size / 0x1_0000_0000), true);
}

/**
 * Byte offset on the device of pointer slot `slot` of inode `ino`:
 * 0..11 direct, 12 single indirect, 13 double indirect.
 */
export const inodePtrOffset = (sb: XipSuper, ino: Ino, slot: number): number =>
  inodeOffset(sb, ino) + XINODE.block + slot * 4;

/** A copy of an inode record, for code that reads it whole (ls, fsck, tests). */
export interface DiskInode {
  mode: number;
  uid: number;
  gid: number;
  links: number;
  size: number;
  atime: number;
  mtime: number;
  ctime: number;
  flags: number;
  blocks: number;
  generation: number;
  /** 12 direct pointers, then single indirect, then double indirect. */
  ptrs: number[];
}

/** Copy inode `ino` (in range) out of the table. */
export function readInode(vol: XipVol, ino: Ino): DiskInode {
  const ptrs: number[] = [];
  for (let s = 0; s < 14; s++) ptrs.push(vol.view.getUint32(inodePtrOff(vol, ino, s), true));
  return {
    mode: inodeGet(vol, ino, "mode"),
    uid: inodeGet(vol, ino, "uid"),
    gid: inodeGet(vol, ino, "gid"),
    links: inodeGet(vol, ino, "links"),
    size: inodeGetSize(vol, ino),
    atime: inodeGet(vol, ino, "atime"),
    mtime: inodeGet(vol, ino, "mtime"),
    ctime: inodeGet(vol, ino, "ctime"),
    flags: inodeGet(vol, ino, "flags"),
    blocks: inodeGet(vol, ino, "blocks"),
    generation: inodeGet(vol, ino, "generation"),
    ptrs,
  };
}

/** Write every field of `inode` into slot `ino` (in range). */
export function writeInode(vol: XipVol, ino: Ino, inode: DiskInode): void {
  vol.dev.fill(0, inodeOff(vol, ino), inodeOff(vol, ino) + XIPFS_INODE_SIZE);
  inodeSet(vol, ino, "mode", inode.mode);
  inodeSet(vol, ino, "uid", inode.uid);
  inodeSet(vol, ino, "gid", inode.gid);
  inodeSet(vol, ino, "links", inode.links);
  inodeSetSize(vol, ino, inode.size);
  inodeSet(vol, ino, "atime", inode.atime);
  inodeSet(vol, ino, "mtime", inode.mtime);
  inodeSet(vol, ino, "ctime", inode.ctime);
  inodeSet(vol, ino, "flags", inode.flags);
  inodeSet(vol, ino, "blocks", inode.blocks);
  inodeSet(vol, ino, "generation", inode.generation);
  for (let s = 0; s < 14; s++) {
    vol.view.setUint32(inodePtrOff(vol, ino, s), (inode.ptrs[s] ?? 0) >>> 0, true);
  }
}

// ---------------------------------------------------------------------------
// bitmaps. Bit n of a bitmap is bit (n & 7) of byte (n >> 3); on a
// little-endian host that is also bit (n & 31) of 32-bit word (n >> 5), so
// the live allocator may flip bits with Atomics on an Int32Array.

const BITS_PER_BLOCK = XIPFS_BLOCK_SIZE * 8;

/** Byte offset in `vol.dev` of the byte holding bit `n` of the bitmap starting at block `start`. */
export const bitmapByteOff = (vol: XipVol, start: number, n: number): number =>
  blockOff(vol, start + Math.floor(n / BITS_PER_BLOCK)) + ((n % BITS_PER_BLOCK) >>> 3);

function bitTest(vol: XipVol, start: number, n: number): boolean {
  return (vol.dev[bitmapByteOff(vol, start, n)]! & (1 << (n & 7))) !== 0;
}

function bitPut(vol: XipVol, start: number, n: number, on: boolean): void {
  const i = bitmapByteOff(vol, start, n);
  vol.dev[i] = on ? vol.dev[i]! | (1 << (n & 7)) : vol.dev[i]! & ~(1 << (n & 7));
}

/** Whether the block bitmap marks block `b` (< totalBlocks) in use. */
export const blockInUse = (vol: XipVol, b: number): boolean =>
  bitTest(vol, vol.sb.blockBitmapStart, b);

/** Mark block `b` (< totalBlocks) in use or free in the bitmap. Counters are the caller's. */
export const setBlockInUse = (vol: XipVol, b: number, used: boolean): void =>
  bitPut(vol, vol.sb.blockBitmapStart, b, used);

/** Whether the inode bitmap marks inode `ino` (in range) in use. */
export const inodeInUse = (vol: XipVol, ino: number): boolean =>
  bitTest(vol, vol.sb.inodeBitmapStart, ino - 1);

/** Mark inode `ino` (in range) in use or free in the bitmap. Counters are the caller's. */
export const setInodeInUse = (vol: XipVol, ino: number, used: boolean): void =>
  bitPut(vol, vol.sb.inodeBitmapStart, ino - 1, used);

// ---------------------------------------------------------------------------
// offline allocator: single-threaded, for mkfs and tests. The live
// filesystem has its own, lock-free (balloc.ts).

/**
 * Allocate a data block: mark it in use, decrement freeBlocks and zero it.
 * Single-threaded use only (no lock). Searches from `hint` (a block number)
 * and wraps around.
 *
 * @returns the block, or -ENOSPC when every data block is in use
 */
export function allocBlockOffline(vol: XipVol, hint = 0): BlockNo {
  const { dataStart, totalBlocks } = vol.sb;
  const n = totalBlocks - dataStart;
  const from = hint >= dataStart && hint < totalBlocks ? hint - dataStart : 0;
  for (let i = 0; i < n; i++) {
    const b = dataStart + ((from + i) % n);
    if (!blockInUse(vol, b)) {
      setBlockInUse(vol, b, true);
      superSet(vol, "freeBlocks", superGet(vol, "freeBlocks") - 1);
      vol.dev.fill(0, blockOff(vol, b), blockOff(vol, b) + XIPFS_BLOCK_SIZE);
      return asBlock(b);
    }
  }
  return asBlock(-ENOSPC);
}

/** Free data block `b`, which must be in use. Single-threaded use only. */
export function freeBlockOffline(vol: XipVol, b: BlockNo): void {
  if (b < vol.sb.dataStart || b >= vol.sb.totalBlocks || !blockInUse(vol, b)) {
    throw new KernelPanic("freeBlockOffline", `block ${b} is not an allocated data block`);
  }
  setBlockInUse(vol, b, false);
  superSet(vol, "freeBlocks", superGet(vol, "freeBlocks") + 1);
}

/**
 * Allocate an inode: mark it in use, decrement freeInodes and zero its record.
 * Single-threaded use only.
 *
 * @returns the inode number, or -ENOSPC when all are in use
 */
export function allocInodeOffline(vol: XipVol): Ino {
  for (let ino = 1; ino <= vol.sb.inodeCount; ino++) {
    if (!inodeInUse(vol, ino)) {
      setInodeInUse(vol, ino, true);
      superSet(vol, "freeInodes", superGet(vol, "freeInodes") - 1);
      const off = inodeOff(vol, asIno(ino));
      vol.dev.fill(0, off, off + XIPFS_INODE_SIZE);
      return asIno(ino);
    }
  }
  return asIno(-ENOSPC);
}

/** Free inode `ino` (in use) and zero its record. Single-threaded use only. */
export function freeInodeOffline(vol: XipVol, ino: Ino): void {
  if (!inoValid(vol.sb, ino) || !inodeInUse(vol, ino)) {
    throw new KernelPanic("freeInodeOffline", `inode ${ino} is not allocated`);
  }
  setInodeInUse(vol, ino, false);
  superSet(vol, "freeInodes", superGet(vol, "freeInodes") + 1);
  const off = inodeOff(vol, ino);
  vol.dev.fill(0, off, off + XIPFS_INODE_SIZE);
}
