/**
 * The xipfs on-device format: super block, inodes, directory entries.
 * See mod.ts for the map of every region.
 *
 * @module
 */

// ===========================================================================
// xipfs: the on-device format of the memory device (ext2-like).
//
// Unlike the kernel tables above, the device is addressed in bytes and in
// 4 KiB blocks (block size = PAGE_SIZE, as DAX requires: a block is a frame,
// so a file block can be mapped into a process as it is). Every multi-byte
// field is little-endian; every field offset below is a multiple of 4 so that
// an Int32Array over the device may index `byteOffset / 4` as well.
//
// ```
//  block 0     1                 b+1               i+1              t+1                 N
//  +-------+-----------------+------------------+-----------------+--------------------+
//  | super | block bitmap    | inode bitmap     | inode table     | data blocks        |
//  | block | b blocks, 1 bit | i blocks, 1 bit  | t blocks,       | files, directories,|
//  |       | per block,      | per inode,       | 32 inodes of    | symlink targets,   |
//  |       | 1 = in use      | 1 = in use       | 128 B per block | indirect blocks    |
//  +-------+-----------------+------------------+-----------------+--------------------+
//  block number 0 is the superblock, so a block pointer of 0 means "hole"
// ```
//
// Inode numbers start at 1 (XIPFS_ROOT_INO is the root directory); inode n
// lives in slot n-1 of the table and owns bit n-1 of the inode bitmap, so an
// inode number of 0 can mean "no inode" in directory entries.

/** "XIPF", little-endian in the first four bytes of block 0. */
export const XIPFS_MAGIC = 0x4650_4958;
export const XIPFS_VERSION = 1;
export const XIPFS_BLOCK_SIZE = 4096; // bytes, = PAGE_SIZE
export const XIPFS_ROOT_INO = 1;

/**
 * Superblock fields, byte offsets into block 0. The fields before `checksum`
 * describe the geometry and never change after mkfs; `checksum` is a CRC-32
 * over bytes [0, checksum). The fields after it change while the filesystem
 * is mounted (counters, state) and are not covered, so that a Worker killed
 * between an allocation and a sync cannot leave an image that fails to mount;
 * fsck recounts them instead (ext2 treats its free counts as hints too).
 */
export const XSUPER = {
  magic: 0,
  version: 4,
  /** Bytes per block: XIPFS_BLOCK_SIZE. */
  blockSize: 8,
  /** Blocks in the filesystem, metadata included. */
  totalBlocks: 12,
  /** Inodes in the table (numbers 1..inodeCount). */
  inodeCount: 16,
  /** Bytes per inode record: XIPFS_INODE_SIZE. */
  inodeSize: 20,
  blockBitmapStart: 24, // block number
  blockBitmapBlocks: 28,
  inodeBitmapStart: 32, // block number
  inodeBitmapBlocks: 36,
  inodeTableStart: 40, // block number
  inodeTableBlocks: 44,
  /** First block that may hold file data. */
  dataStart: 48,
  rootIno: 52,
  /** Seconds since the epoch at mkfs. */
  createdAt: 56,
  /** CRC-32 (IEEE) of bytes [0, checksum). */
  checksum: 60,
  // --- dynamic fields, not covered by the checksum ---
  freeBlocks: 64,
  freeInodes: 68,
  /** XIPFS_STATE_CLEAN or XIPFS_STATE_DIRTY (set at mount, cleared at unmount). */
  state: 72,
  mountCount: 76,
  /** Seconds since the epoch of the last write of the superblock. */
  writeTime: 80,
} as const;
/** Bytes of block 0 the superblock uses; the rest of the block is zero. */
export const XSUPER_BYTES = 128;

/**
 * The device's poison list, kept in block 0 past the superblock so that it
 * persists with the image (src/fs/xipfs/xipfs_poison.ts): a magic (0 when there
 * is no poison), the number of runs, then XPOISON_MAX_RUNS runs of
 * (first block u32, blocks u32). Not covered by the superblock checksum.
 */
export const XPOISON = {
  magic: 2048,
  count: 2052,
  runs: 2056,
} as const;
/** "XPSN", little-endian. */
export const XPOISON_MAGIC = 0x4e53_5058;
/** Runs that fit between XPOISON.runs and the end of block 0. */
export const XPOISON_MAX_RUNS = 255;
export const XIPFS_STATE_CLEAN = 1;
export const XIPFS_STATE_DIRTY = 2;

/**
 * Inode record fields, byte offsets into a XIPFS_INODE_SIZE record.
 * `block` holds XIPFS_NDIR direct pointers, then `indirect` (a block of 1024
 * pointers) and `dindirect` (a block of 1024 indirect blocks): 12 + 1024 +
 * 1024² blocks, about 4 GiB. A symlink whose target fits in the 56 bytes
 * from `block` to `dindirect` inclusive stores it there (a "fast symlink",
 * as ext2 does); a longer target lives in one data block at `block[0]`.
 */
export const XINODE = {
  /** S_IFMT type bits and permission bits, as Linux's st_mode. 0 = free. */
  mode: 0,
  uid: 4,
  gid: 8,
  /** Hard links: directory entries naming the inode (for directories, + "." + each child's ".."). */
  links: 12,
  /** File size in bytes, low and high 32 bits. */
  sizeLo: 16,
  sizeHi: 20,
  atime: 24, // seconds
  mtime: 28,
  ctime: 32,
  /** XIP_FL_* bits. */
  flags: 36,
  /** Blocks allocated to the inode, indirect blocks included (st_blocks / 8). */
  blocks: 40,
  generation: 44,
  /** XIPFS_NDIR direct block pointers, 4 bytes each. */
  block: 48,
  indirect: 96,
  dindirect: 100,
  /**
   * Extent-size hint, in blocks (XFS's di_extsize, FS_IOC_FSSETXATTR's
   * fsx_extsize / 4096): 0 for none, else a power of two up to 1024. A
   * hole in a wholly unallocated extent is filled by allocating the whole
   * extent at once, aligned so that its first frame is a multiple of the
   * extent size (src/fs/xipfs/getblock.ts): 1024 gives 4 MiB megapages.
   */
  extsize: 104,
} as const;
export const XIPFS_INODE_SIZE = 128; // bytes
export const XIPFS_NDIR = 12;
/** Block pointers per indirect block. */
export const XIPFS_PTRS_PER_BLOCK = XIPFS_BLOCK_SIZE / 4;
/** Longest symlink target stored inline in the inode. */
export const XIPFS_SYMLINK_INLINE_MAX = XINODE.dindirect + 4 - XINODE.block; // 56 bytes
/** The inode is DAX-capable: mapped straight from the device under dax=inode (FS_DAX_FL). */
export const XIP_FL_DAX = 0x0200_0000;
/**
 * The inode may own blocks past i_size (fallocate KEEP_SIZE, extent
 * preallocation), as ext4's EXT4_EOFBLOCKS_FL: fsck accepts them.
 */
export const XIP_FL_EOFBLOCKS = 0x0040_0000;

/**
 * Directory entry, at any 4-byte-aligned offset of a directory block.
 * Entries never cross a block; the last entry of a block extends its recLen
 * to the end of the block. A removed entry is merged into the previous one's
 * recLen, or, when it is first in its block, keeps its recLen with ino = 0.
 *
 * ```
 *  0        4         6         7        8
 * +--------+---------+---------+--------+------------------------+
 * |  ino   | recLen  | nameLen |  type  | name (nameLen bytes)   |
 * |  u32   |  u16    |   u8    |   u8   | padded to 4 bytes      |
 * +--------+---------+---------+--------+------------------------+
 * ```
 */
export const XDIRENT = {
  ino: 0,
  recLen: 4,
  nameLen: 6,
  type: 7,
  name: 8,
} as const;
export const XIPFS_NAME_MAX = 255;
/** Directory entry types (ext2's EXT2_FT_*). */
export const XFT_UNKNOWN = 0;
export const XFT_REG = 1;
export const XFT_DIR = 2;
/** A socket's name (bind on a path). */
export const XFT_SOCK = 6;
export const XFT_SYMLINK = 7;

/** A run of blocks on the device. */
export interface BlockRegion {
  readonly name: string;
  /** First block. */
  readonly start: number;
  /** Length in blocks. */
  readonly blocks: number;
}

/** Where mkfs puts each region of an xipfs image. */
export interface XipfsLayout {
  readonly totalBlocks: number;
  readonly inodeCount: number;
  readonly superblock: BlockRegion;
  readonly blockBitmap: BlockRegion;
  readonly inodeBitmap: BlockRegion;
  readonly inodeTable: BlockRegion;
  readonly data: BlockRegion;
  /** All regions in block order. */
  readonly regions: readonly BlockRegion[];
}

const XIPFS_BITS_PER_BLOCK = XIPFS_BLOCK_SIZE * 8;

/**
 * Place the regions of an image of `totalBlocks` blocks with `inodeCount`
 * inodes. Pure. The data region may be empty (or "negative": blocks < 1)
 * when the device is too small; mkfs refuses such a layout.
 */
export function computeXipfsLayout(totalBlocks: number, inodeCount: number): XipfsLayout {
  const bbBlocks = Math.ceil(totalBlocks / XIPFS_BITS_PER_BLOCK);
  const ibBlocks = Math.ceil(inodeCount / XIPFS_BITS_PER_BLOCK);
  const itBlocks = Math.ceil((inodeCount * XIPFS_INODE_SIZE) / XIPFS_BLOCK_SIZE);
  const superblock = { name: "superblock", start: 0, blocks: 1 };
  const blockBitmap = { name: "block bitmap", start: 1, blocks: bbBlocks };
  const inodeBitmap = { name: "inode bitmap", start: 1 + bbBlocks, blocks: ibBlocks };
  const inodeTable = { name: "inode table", start: inodeBitmap.start + ibBlocks, blocks: itBlocks };
  const dataStart = inodeTable.start + itBlocks;
  const data = { name: "data", start: dataStart, blocks: totalBlocks - dataStart };
  return {
    totalBlocks,
    inodeCount,
    superblock,
    blockBitmap,
    inodeBitmap,
    inodeTable,
    data,
    regions: [superblock, blockBitmap, inodeBitmap, inodeTable, data],
  };
}
