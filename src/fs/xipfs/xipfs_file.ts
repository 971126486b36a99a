/**
 * xipfs file contents: reading through the block map (holes read as zeros),
 * the offline write used by mkfs, and symlink targets.
 *
 * These copy; they are the offline tools' path (ls, cat, mkfs, tests). The
 * live DAX path (the project's dax_iomap_rw) goes through getBlock and
 * directAccess instead and does not use them.
 *
 * @module
 */

import { XINODE, XIPFS_BLOCK_SIZE, XIPFS_SYMLINK_INLINE_MAX } from "../../abi/layout/mod.ts";
import { EINVAL, EISDIR, ENAMETOOLONG, EUCLEAN } from "../../abi/errno.ts";
import { type BlockNo, type Ino } from "../../abi/types.ts";
import { bmapInsert, bmapLookup, inodeHasBlockMap } from "./xipfs_bmap.ts";
import {
  blockOff,
  inodeGet,
  inodeGetSize,
  inodeOff,
  inodeSetSize,
  isDirMode,
  isLnkMode,
  type XipVol,
} from "./xipfs_format.ts";

const dec = new TextDecoder();

/**
 * Copy up to `len` bytes of inode `ino` from byte `pos` (clamped to i_size).
 * Holes read as zeros; a fast symlink reads as its target. Offline use: no locks.
 *
 * @returns the bytes (shorter at end of file), or -EISDIR, -EINVAL (bad
 *   pos/len), -EUCLEAN (corrupt block map)
 */
export function fileRead(vol: XipVol, ino: Ino, pos: number, len: number): Uint8Array | number {
  if (isDirMode(inodeGet(vol, ino, "mode"))) return -EISDIR;
  if (!Number.isSafeInteger(pos) || !Number.isSafeInteger(len) || pos < 0 || len < 0) {
    return -EINVAL;
  }
  const end = Math.min(inodeGetSize(vol, ino), pos + len);
  const out = new Uint8Array(Math.max(0, end - pos));
  if (!inodeHasBlockMap(vol, ino)) { // a fast symlink: the bytes are in the inode
    const at = inodeOff(vol, ino) + XINODE.block;
    out.set(vol.dev.subarray(at + Math.min(pos, end), at + end));
    return out;
  }
  for (let p = pos; p < end;) {
    const iblock = Math.floor(p / XIPFS_BLOCK_SIZE);
    const inBlock = p % XIPFS_BLOCK_SIZE;
    const n = Math.min(XIPFS_BLOCK_SIZE - inBlock, end - p);
    const b = bmapLookup(vol, ino, iblock);
    if (b < 0) return b;
    if (b !== 0) {
      const src = blockOff(vol, b) + inBlock;
      out.set(vol.dev.subarray(src, src + n), p - pos);
    }
    p += n;
  }
  return out;
}

const isZero = (a: Uint8Array): boolean => a.every((x) => x === 0);

/**
 * Write `data` at byte `pos` of inode `ino`, allocating blocks with
 * `allocBlock` (zeroed blocks, or a negative errno). With `sparse`, a whole
 * block of zeros that falls on a hole is left a hole. i_size grows to cover
 * the write. Offline use (mkfs): no locks, no times updated.
 *
 * @returns 0, or allocBlock's / bmapInsert's errno
 */
export function fileWriteOffline(
  vol: XipVol,
  ino: Ino,
  pos: number,
  data: Uint8Array,
  allocBlock: () => BlockNo,
  sparse = false,
): number {
  for (let p = pos; p < pos + data.length;) {
    const iblock = Math.floor(p / XIPFS_BLOCK_SIZE);
    const inBlock = p % XIPFS_BLOCK_SIZE;
    const n = Math.min(XIPFS_BLOCK_SIZE - inBlock, pos + data.length - p);
    const chunk = data.subarray(p - pos, p - pos + n);
    let b = bmapLookup(vol, ino, iblock);
    if (b < 0) return b;
    if (b === 0 && !(sparse && isZero(chunk))) {
      b = allocBlock();
      if (b < 0) return b;
      const rc = bmapInsert(vol, ino, iblock, b, allocBlock);
      if (rc < 0) return rc;
    }
    if (b !== 0) vol.dev.set(chunk, blockOff(vol, b) + inBlock);
    p += n;
  }
  if (pos + data.length > inodeGetSize(vol, ino)) inodeSetSize(vol, ino, pos + data.length);
  return 0;
}

/** Whether a symlink of `size` bytes keeps its target inline in the inode. */
export const symlinkIsInline = (size: number): boolean => size <= XIPFS_SYMLINK_INLINE_MAX;

/**
 * Store `target` as the contents of symlink inode `ino` (freshly allocated,
 * zeroed): inline when it fits in XIPFS_SYMLINK_INLINE_MAX bytes, else in
 * one block from `allocBlock`. Sets i_size. Offline use.
 *
 * @returns 0, -EINVAL for an empty target, -ENAMETOOLONG past one block,
 *   or allocBlock's errno
 */
export function symlinkWriteOffline(
  vol: XipVol,
  ino: Ino,
  target: Uint8Array,
  allocBlock: () => BlockNo,
): number {
  if (target.length === 0) return -EINVAL;
  if (target.length >= XIPFS_BLOCK_SIZE) return -ENAMETOOLONG; // PATH_MAX counts the NUL
  if (symlinkIsInline(target.length)) {
    vol.dev.set(target, inodeOff(vol, ino) + XINODE.block);
    inodeSetSize(vol, ino, target.length);
    return 0;
  }
  return fileWriteOffline(vol, ino, 0, target, allocBlock);
}

/**
 * The target of symlink `ino`.
 *
 * @returns the target, or -EINVAL when `ino` is not a symlink, -EUCLEAN
 *   when its size or block pointer is corrupt
 */
export function symlinkRead(vol: XipVol, ino: Ino): string | number {
  if (!isLnkMode(inodeGet(vol, ino, "mode"))) return -EINVAL;
  const size = inodeGetSize(vol, ino);
  if (size === 0 || size >= XIPFS_BLOCK_SIZE) return -EUCLEAN;
  if (symlinkIsInline(size)) {
    const at = inodeOff(vol, ino) + XINODE.block;
    return dec.decode(vol.dev.subarray(at, at + size));
  }
  const bytes = fileRead(vol, ino, 0, size);
  return typeof bytes === "number" ? bytes : dec.decode(bytes);
}
