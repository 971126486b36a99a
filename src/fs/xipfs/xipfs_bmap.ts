/**
 * xipfs block maps: file block (iblock) → device block, through 12 direct
 * pointers, one single-indirect block and one double-indirect block, as
 * ext2's ext2_block_to_path/ext2_get_branch do (triple indirect left out:
 * 12 + 1024 + 1024² blocks is about 4 GiB, past the 32-bit guest's reach).
 *
 * ```
 *  iblock 0..11            inode.block[iblock]
 *  iblock 12..1035         indirect[iblock - 12]
 *  iblock 1036..1049611    dindirect[(iblock - 1036) >> 10][(iblock - 1036) & 1023]
 * ```
 *
 * A pointer of 0 is a hole. A fast symlink (target of at most
 * XIPFS_SYMLINK_INLINE_MAX bytes) keeps its target in the pointer area and
 * has no block map: bmapWalk and bmapTruncate leave it alone, and callers
 * must not bmapLookup it (see inodeHasBlockMap). These functions take no lock: the live
 * filesystem holds the inode's block-map lock around bmapInsert and
 * bmapTruncate; readers may call bmapLookup under it or, where the caller
 * tolerates a racing insert, without it (a pointer is one aligned word).
 *
 * @module
 */

import {
  XIPFS_NDIR,
  XIPFS_PTRS_PER_BLOCK,
  XIPFS_SYMLINK_INLINE_MAX,
} from "../../abi/layout/mod.ts";
import { EFBIG, EUCLEAN } from "../../abi/errno.ts";
import { asBlock, type BlockNo, type Ino } from "../../abi/types.ts";
import {
  blockOff,
  blockPtrValid,
  inodeGet,
  inodeGetSize,
  inodePtrOff,
  inodeSet,
  isLnkMode,
  type XipVol,
} from "./xipfs_format.ts";

const NIND = XIPFS_PTRS_PER_BLOCK;
/** First iblock reached through the single-indirect block. */
export const BMAP_IND_FIRST = XIPFS_NDIR;
/** First iblock reached through the double-indirect block. */
export const BMAP_DIND_FIRST = XIPFS_NDIR + NIND;
/** One past the last mappable iblock. */
export const BMAP_MAX_BLOCKS = BMAP_DIND_FIRST + NIND * NIND;
/** Inode pointer slots of the two indirect roots. */
export const SLOT_IND = XIPFS_NDIR;
export const SLOT_DIND = XIPFS_NDIR + 1;

/**
 * Where iblock's pointer lives: the inode slot to start from, then up to two
 * indices into indirect blocks. `idx.length` is the number of indirections.
 */
export interface BmapPath {
  readonly slot: number;
  readonly idx: readonly number[];
}

/** The path to `iblock`, or null when it is negative or past BMAP_MAX_BLOCKS. */
export function bmapPath(iblock: number): BmapPath | null {
  if (!Number.isInteger(iblock) || iblock < 0) return null;
  if (iblock < BMAP_IND_FIRST) return { slot: iblock, idx: [] };
  if (iblock < BMAP_DIND_FIRST) return { slot: SLOT_IND, idx: [iblock - BMAP_IND_FIRST] };
  if (iblock < BMAP_MAX_BLOCKS) {
    const r = iblock - BMAP_DIND_FIRST;
    return { slot: SLOT_DIND, idx: [Math.floor(r / NIND), r % NIND] };
  }
  return null;
}

/**
 * Whether inode `ino`'s pointer area is a block map: true for everything
 * but fast symlinks, whose target lives there instead.
 */
export function inodeHasBlockMap(vol: XipVol, ino: Ino): boolean {
  return !(isLnkMode(inodeGet(vol, ino, "mode")) &&
    inodeGetSize(vol, ino) <= XIPFS_SYMLINK_INLINE_MAX);
}

/** Byte offset on the device of entry `i` of indirect block `b`. */
const indEntryOffset = (vol: XipVol, b: number, i: number): number => blockOff(vol, b) + i * 4;

const readPtr = (vol: XipVol, off: number): number => vol.view.getUint32(off, true);

/**
 * Map file block `iblock` of inode `ino` (in use) to a device block.
 * Caller holds whatever keeps the map stable (block-map lock, or nothing
 * offline).
 *
 * @returns the block, 0 for a hole, -EFBIG when iblock is past the largest
 *   file, -EUCLEAN when a pointer on the way is out of range (corruption)
 */
export function bmapLookup(vol: XipVol, ino: Ino, iblock: number): BlockNo {
  const path = bmapPath(iblock);
  if (!path) return asBlock(-EFBIG);
  let b = readPtr(vol, inodePtrOff(vol, ino, path.slot));
  for (const i of path.idx) {
    if (!blockPtrValid(vol.sb, b)) return asBlock(-EUCLEAN);
    if (b === 0) return asBlock(0);
    b = readPtr(vol, indEntryOffset(vol, b, i));
  }
  return blockPtrValid(vol.sb, b) ? asBlock(b) : asBlock(-EUCLEAN);
}

/**
 * Point file block `iblock` of inode `ino` at device block `block`, which
 * the caller has allocated (and zeroed if it must read as zeros). Missing
 * indirect blocks come from `allocMeta`, which must return a zeroed block
 * or a negative errno. Adds 1 to i_blocks for each block it links in.
 * Caller holds the inode's block-map lock (nothing offline).
 *
 * @returns 0, -EFBIG past the largest file, -EUCLEAN for a corrupt
 *   pointer, or allocMeta's errno (indirect blocks already linked stay linked)
 */
export function bmapInsert(
  vol: XipVol,
  ino: Ino,
  iblock: number,
  block: BlockNo,
  allocMeta: () => BlockNo,
): number {
  const path = bmapPath(iblock);
  if (!path) return -EFBIG;
  let ptrOff = inodePtrOff(vol, ino, path.slot);
  let linked = 0;
  for (const i of path.idx) {
    let b = readPtr(vol, ptrOff);
    if (!blockPtrValid(vol.sb, b)) return -EUCLEAN;
    if (b === 0) {
      b = allocMeta();
      if (b < 0) {
        inodeSet(vol, ino, "blocks", inodeGet(vol, ino, "blocks") + linked);
        return b;
      }
      vol.view.setUint32(ptrOff, b, true);
      linked++;
    }
    ptrOff = indEntryOffset(vol, b, i);
  }
  if (readPtr(vol, ptrOff) === 0) linked++;
  vol.view.setUint32(ptrOff, block, true);
  inodeSet(vol, ino, "blocks", inodeGet(vol, ino, "blocks") + linked);
  return 0;
}

/** What a block found by bmapWalk is used for. */
export type BmapKind = "data" | "indirect" | "dindirect";

/**
 * Visit every non-zero pointer of inode `ino`'s block map: data blocks with
 * their iblock, indirect blocks with the first iblock they cover. Pointers
 * are reported even when out of range (kind tells where they were found) but
 * an out-of-range indirect block is not descended into, so the walk never
 * reads outside the device. A fast symlink has no map: nothing is visited.
 * Caller holds the block-map lock (nothing offline).
 *
 * @param visit called once per pointer; `valid` is blockPtrValid(b)
 */
export function bmapWalk(
  vol: XipVol,
  ino: Ino,
  visit: (b: number, iblock: number, kind: BmapKind, valid: boolean) => void,
): void {
  if (!inodeHasBlockMap(vol, ino)) return;
  const at = (slot: number) => readPtr(vol, inodePtrOff(vol, ino, slot));
  for (let s = 0; s < XIPFS_NDIR; s++) {
    const b = at(s);
    if (b !== 0) visit(b, s, "data", blockPtrValid(vol.sb, b));
  }
  const walkInd = (ind: number, first: number) => {
    for (let i = 0; i < NIND; i++) {
      const b = readPtr(vol, indEntryOffset(vol, ind, i));
      if (b !== 0) visit(b, first + i, "data", blockPtrValid(vol.sb, b));
    }
  };
  const ind = at(SLOT_IND);
  if (ind !== 0) {
    const ok = blockPtrValid(vol.sb, ind);
    visit(ind, BMAP_IND_FIRST, "indirect", ok);
    if (ok) walkInd(ind, BMAP_IND_FIRST);
  }
  const dind = at(SLOT_DIND);
  if (dind !== 0) {
    const ok = blockPtrValid(vol.sb, dind);
    visit(dind, BMAP_DIND_FIRST, "dindirect", ok);
    if (!ok) return;
    for (let j = 0; j < NIND; j++) {
      const b = readPtr(vol, indEntryOffset(vol, dind, j));
      if (b === 0) continue;
      const first = BMAP_DIND_FIRST + j * NIND;
      const okj = blockPtrValid(vol.sb, b);
      visit(b, first, "indirect", okj);
      if (okj) walkInd(b, first);
    }
  }
}

/**
 * Unmap every file block at or past `firstIblock` and hand each freed block
 * (data and indirect blocks that become empty) to `free`. i_blocks drops by
 * the count freed; i_size is the caller's. Caller holds the inode's
 * block-map lock and has made sure nobody maps those blocks any more
 * (truncate: invalidate_lock held for write, mappings unmapped). A fast
 * symlink has no map: nothing is freed.
 *
 * @returns 0, or -EUCLEAN when the map holds an out-of-range pointer (the
 *   blocks before it are freed, it and what hangs below it are left alone)
 */
export function bmapTruncate(
  vol: XipVol,
  ino: Ino,
  firstIblock: number,
  free: (b: BlockNo) => void,
): number {
  if (!inodeHasBlockMap(vol, ino)) return 0;
  let freed = 0;
  let corrupt = false;
  const release = (b: number) => {
    free(asBlock(b));
    freed++;
  };
  // Frees entries [from, NIND) of indirect block `ind`; returns whether it is now empty.
  const cutInd = (ind: number, from: number): boolean => {
    let empty = true;
    for (let i = 0; i < NIND; i++) {
      const off = indEntryOffset(vol, ind, i);
      const b = readPtr(vol, off);
      if (b === 0) continue;
      if (i < from) empty = false;
      else if (!blockPtrValid(vol.sb, b)) {
        corrupt = true;
        empty = false;
      } else {
        release(b);
        vol.view.setUint32(off, 0, true);
      }
    }
    return empty;
  };
  const first = Math.max(0, firstIblock);
  for (let s = Math.min(first, XIPFS_NDIR); s < XIPFS_NDIR; s++) {
    const off = inodePtrOff(vol, ino, s);
    const b = readPtr(vol, off);
    if (b === 0) continue;
    if (!blockPtrValid(vol.sb, b)) corrupt = true;
    else {
      release(b);
      vol.view.setUint32(off, 0, true);
    }
  }
  const indOff = inodePtrOff(vol, ino, SLOT_IND);
  const ind = readPtr(vol, indOff);
  if (ind !== 0 && first < BMAP_DIND_FIRST) {
    if (!blockPtrValid(vol.sb, ind)) corrupt = true;
    else if (cutInd(ind, Math.max(0, first - BMAP_IND_FIRST))) {
      release(ind);
      vol.view.setUint32(indOff, 0, true);
    }
  }
  const dindOff = inodePtrOff(vol, ino, SLOT_DIND);
  const dind = readPtr(vol, dindOff);
  if (dind !== 0) {
    if (!blockPtrValid(vol.sb, dind)) corrupt = true;
    else {
      const rel = Math.max(0, first - BMAP_DIND_FIRST);
      let empty = true;
      for (let j = 0; j < NIND; j++) {
        const off = indEntryOffset(vol, dind, j);
        const b = readPtr(vol, off);
        if (b === 0) continue;
        const from = rel - j * NIND; // entries of this block to keep
        if (from >= NIND) empty = false;
        else if (!blockPtrValid(vol.sb, b)) {
          corrupt = true;
          empty = false;
        } else if (cutInd(b, Math.max(0, from))) {
          release(b);
          vol.view.setUint32(off, 0, true);
        } else empty = false;
      }
      if (empty) {
        release(dind);
        vol.view.setUint32(dindOff, 0, true);
      }
    }
  }
  inodeSet(vol, ino, "blocks", Math.max(0, inodeGet(vol, ino, "blocks") - freed));
  return corrupt ? -EUCLEAN : 0;
}

/**
 * Close the holes among file blocks [0, nblocks) of inode `ino`: its data
 * blocks move down to consecutive file blocks, in order, keeping their
 * contents (fsck's directory compression, as e2fsck -D). The index blocks
 * are rebuilt: new ones come from `allocMeta` (never more than there were),
 * and each old one the rebuild does not reuse goes to `freeMeta`. i_size is
 * the caller's. Caller holds the block-map lock (nothing offline).
 *
 * @returns the number of data blocks, now file blocks [0, n); or a
 *   negative errno (-EUCLEAN for a corrupt map, or allocMeta's)
 */
export function bmapCompact(
  vol: XipVol,
  ino: Ino,
  nblocks: number,
  allocMeta: () => BlockNo,
  freeMeta: (b: BlockNo) => void,
): number {
  const data: BlockNo[] = [];
  for (let ib = 0; ib < nblocks; ib++) {
    const b = bmapLookup(vol, ino, ib);
    if (b < 0) return b;
    if (b > 0) data.push(b);
  }
  const keep = new Set<number>(data);
  const cut = bmapTruncate(vol, ino, 0, (b) => {
    if (!keep.has(b)) freeMeta(b);
  });
  if (cut < 0) return cut;
  for (const [i, b] of data.entries()) {
    const r = bmapInsert(vol, ino, i, b, allocMeta);
    if (r < 0) return r;
  }
  return data.length;
}
