/**
 * xipfs directories: ext2-style variable-length entries (XDIRENT in
 * src/abi/layout/mod.ts) packed into whole blocks. A directory's size is a
 * multiple of the block size and it has no holes. The first block starts
 * with "." and "..".
 *
 * No locks are taken here: the live filesystem holds the directory's
 * i_rwsem (write for add/remove, read for lookup/iterate) around these
 * calls. Names are compared as bytes (UTF-8 of the JS string).
 *
 * @module
 */

import {
  XDIRENT,
  XFT_DIR,
  XFT_REG,
  XFT_SOCK,
  XFT_SYMLINK,
  XFT_UNKNOWN,
  XIPFS_BLOCK_SIZE,
  XIPFS_NAME_MAX,
} from "../../abi/layout/mod.ts";
import { EEXIST, EINVAL, ENAMETOOLONG, ENOENT, ENOTDIR, EUCLEAN } from "../../abi/errno.ts";
import { asIno, type BlockNo, type Ino } from "../../abi/types.ts";
import { bmapInsert, bmapLookup } from "./xipfs_bmap.ts";
import {
  blockOff,
  inodeGet,
  inodeGetSize,
  inodeSetSize,
  inoValid,
  isDirMode,
  isLnkMode,
  isRegMode,
  isSockMode,
  type XipVol,
} from "./xipfs_format.ts";

/** One live entry, as dirIterate reports it. */
export interface DirEntry {
  readonly ino: Ino;
  /** XFT_* */
  readonly type: number;
  readonly name: string;
  readonly nameBytes: Uint8Array;
  /** Byte position of the entry in the directory (a getdents cookie). */
  readonly pos: number;
  readonly recLen: number;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Bytes an entry with a `nameLen`-byte name needs: header plus name, 4-byte aligned. */
export const direntSize = (nameLen: number): number => (XDIRENT.name + nameLen + 3) & ~3;

/** The XFT_* type for an st_mode. */
export function modeToFileType(mode: number): number {
  if (isRegMode(mode)) return XFT_REG;
  if (isDirMode(mode)) return XFT_DIR;
  if (isLnkMode(mode)) return XFT_SYMLINK;
  if (isSockMode(mode)) return XFT_SOCK;
  return XFT_UNKNOWN;
}

/**
 * Whether `name` may be stored as a directory entry: 1..255 bytes, no "/"
 * and no NUL. "." and ".." pass (mkdir writes them); callers that create
 * user names refuse those separately.
 *
 * @returns 0, -ENAMETOOLONG or -EINVAL
 */
export function nameCheck(name: Uint8Array): number {
  if (name.length > XIPFS_NAME_MAX) return -ENAMETOOLONG;
  if (name.length === 0 || name.includes(0x2f) || name.includes(0)) return -EINVAL;
  return 0;
}

/**
 * Check the entry at byte `off` of the directory block starting at device
 * byte `blockBase`: recLen a multiple of 4, large enough for its name, not
 * past the block; name valid when the entry is live.
 *
 * @returns null when it is sound, else a description of the problem
 */
export function direntCheck(vol: XipVol, blockBase: number, off: number): string | null {
  if (off + XDIRENT.name > XIPFS_BLOCK_SIZE) {
    return `entry header at offset ${off} crosses the block end`;
  }
  const at = blockBase + off;
  const recLen = vol.view.getUint16(at + XDIRENT.recLen, true);
  const nameLen = vol.dev[at + XDIRENT.nameLen]!;
  const ino = vol.view.getUint32(at + XDIRENT.ino, true);
  if (recLen < XDIRENT.name || recLen % 4 !== 0) return `bad rec_len ${recLen} at offset ${off}`;
  if (off + recLen > XIPFS_BLOCK_SIZE) {
    return `rec_len ${recLen} at offset ${off} runs past the block`;
  }
  if (ino !== 0 && direntSize(nameLen) > recLen) {
    return `rec_len ${recLen} at offset ${off} is too short for a ${nameLen}-byte name`;
  }
  if (ino !== 0) {
    const rc = nameCheck(vol.dev.subarray(at + XDIRENT.name, at + XDIRENT.name + nameLen));
    if (rc !== 0) return `invalid name at offset ${off}`;
  }
  return null;
}

function entryAt(vol: XipVol, base: number, off: number, pos: number): DirEntry {
  const at = base + off;
  const nameLen = vol.dev[at + XDIRENT.nameLen]!;
  const nameBytes = vol.dev.slice(at + XDIRENT.name, at + XDIRENT.name + nameLen);
  return {
    ino: asIno(vol.view.getUint32(at + XDIRENT.ino, true)),
    type: vol.dev[at + XDIRENT.type]!,
    name: dec.decode(nameBytes),
    nameBytes,
    pos,
    recLen: vol.view.getUint16(at + XDIRENT.recLen, true),
  };
}

/** Device byte offset of directory block `iblock`, or a negative errno (hole = corruption). */
function dirBlockBase(vol: XipVol, dir: Ino, iblock: number): number {
  const b = bmapLookup(vol, dir, iblock);
  if (b < 0) return b;
  if (b === 0) return -EUCLEAN; // directories have no holes
  return blockOff(vol, b);
}

/**
 * Call `visit` for each live entry of directory `dir`, in on-disk order,
 * "." and ".." included, until it returns true. Caller holds the
 * directory's i_rwsem (nothing offline).
 *
 * @returns 0, -ENOTDIR when `dir` is not a directory, -EUCLEAN on a
 *   malformed entry, a hole or a bad pointer (entries before it were visited)
 */
export function dirIterate(vol: XipVol, dir: Ino, visit: (e: DirEntry) => boolean | void): number {
  if (!isDirMode(inodeGet(vol, dir, "mode"))) return -ENOTDIR;
  const nblocks = Math.floor(inodeGetSize(vol, dir) / XIPFS_BLOCK_SIZE);
  for (let ib = 0; ib < nblocks; ib++) {
    const base = dirBlockBase(vol, dir, ib);
    if (base < 0) return base;
    for (let off = 0; off < XIPFS_BLOCK_SIZE;) {
      if (direntCheck(vol, base, off) !== null) return -EUCLEAN;
      const e = entryAt(vol, base, off, ib * XIPFS_BLOCK_SIZE + off);
      if (e.ino !== 0 && visit(e) === true) return 0;
      off += e.recLen;
    }
  }
  return 0;
}

const bytesEqual = (a: Uint8Array, b: Uint8Array): boolean =>
  a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * Find `name` in directory `dir`. Caller holds the directory's i_rwsem.
 *
 * @returns the inode number, -ENOENT, -ENOTDIR, or -EUCLEAN (corrupt
 *   directory or an entry pointing outside the inode table)
 */
export function dirLookup(vol: XipVol, dir: Ino, name: string): Ino {
  const want = enc.encode(name);
  let found = -ENOENT;
  const rc = dirIterate(vol, dir, (e) => {
    if (!bytesEqual(e.nameBytes, want)) return false;
    found = inoValid(vol.sb, e.ino) ? e.ino : -EUCLEAN;
    return true;
  });
  return asIno(rc < 0 ? rc : found);
}

function writeEntry(
  vol: XipVol,
  at: number,
  ino: number,
  recLen: number,
  type: number,
  name: Uint8Array,
): void {
  vol.view.setUint32(at + XDIRENT.ino, ino, true);
  vol.view.setUint16(at + XDIRENT.recLen, recLen, true);
  vol.dev[at + XDIRENT.nameLen] = name.length;
  vol.dev[at + XDIRENT.type] = type;
  vol.dev.set(name, at + XDIRENT.name);
  vol.dev.fill(0, at + XDIRENT.name + name.length, at + direntSize(name.length));
}

/**
 * Write the first block of a new directory `self` into device block `block`
 * (zeroed by its allocator): "." then ".." (to `parent`) filling the block.
 * The caller links the block (bmapInsert at iblock 0), sets i_size to one
 * block and the link counts.
 */
export function dirInitBlock(vol: XipVol, block: BlockNo, self: Ino, parent: Ino): void {
  const base = blockOff(vol, block);
  const dot = direntSize(1);
  writeEntry(vol, base, self, dot, XFT_DIR, enc.encode("."));
  writeEntry(vol, base + dot, parent, XIPFS_BLOCK_SIZE - dot, XFT_DIR, enc.encode(".."));
}

/**
 * Add entry `name` → `ino` (type XFT_*) to directory `dir`. Uses the first
 * gap large enough (a free first entry, or the slack after a live one);
 * otherwise appends a block from `allocBlock` (which returns a zeroed block
 * or a negative errno) and grows i_size. Link counts are the caller's.
 * Caller holds the directory's i_rwsem for write and has checked `ino`.
 *
 * @returns 0, -EEXIST, -ENAMETOOLONG, -EINVAL (bad name), -ENOTDIR,
 *   -EUCLEAN, or allocBlock's errno
 */
export function dirAddEntry(
  vol: XipVol,
  dir: Ino,
  name: string,
  ino: Ino,
  type: number,
  allocBlock: () => BlockNo,
): number {
  const nb = enc.encode(name);
  const bad = nameCheck(nb);
  if (bad < 0) return bad;
  const existing = dirLookup(vol, dir, name);
  if (existing >= 0) return -EEXIST;
  if (existing !== -ENOENT) return existing; // -ENOTDIR, -EUCLEAN
  const need = direntSize(nb.length);
  const nblocks = Math.floor(inodeGetSize(vol, dir) / XIPFS_BLOCK_SIZE);
  for (let ib = 0; ib < nblocks; ib++) {
    const base = dirBlockBase(vol, dir, ib);
    if (base < 0) return base;
    for (let off = 0; off < XIPFS_BLOCK_SIZE;) {
      if (direntCheck(vol, base, off) !== null) return -EUCLEAN;
      const at = base + off;
      const recLen = vol.view.getUint16(at + XDIRENT.recLen, true);
      const live = vol.view.getUint32(at + XDIRENT.ino, true) !== 0;
      const used = live ? direntSize(vol.dev[at + XDIRENT.nameLen]!) : 0;
      if (recLen - used >= need) {
        if (live) {
          vol.view.setUint16(at + XDIRENT.recLen, used, true);
          writeEntry(vol, at + used, ino, recLen - used, type, nb);
        } else {
          writeEntry(vol, at, ino, recLen, type, nb);
        }
        return 0;
      }
      off += recLen;
    }
  }
  const b = allocBlock();
  if (b < 0) return b;
  const rc = bmapInsert(vol, dir, nblocks, b, allocBlock);
  if (rc < 0) return rc;
  writeEntry(vol, blockOff(vol, b), ino, XIPFS_BLOCK_SIZE, type, nb);
  inodeSetSize(vol, dir, (nblocks + 1) * XIPFS_BLOCK_SIZE);
  return 0;
}

/**
 * Remove entry `name` from directory `dir`: merge it into the previous
 * entry of its block, or mark it free (ino 0) when it is first. Blocks are
 * never given back (ext2 does the same). Link counts are the caller's.
 * Caller holds the directory's i_rwsem for write.
 *
 * @returns 0, -ENOENT, -ENOTDIR, or -EUCLEAN
 */
export function dirRemoveEntry(vol: XipVol, dir: Ino, name: string): number {
  if (!isDirMode(inodeGet(vol, dir, "mode"))) return -ENOTDIR;
  const want = enc.encode(name);
  const nblocks = Math.floor(inodeGetSize(vol, dir) / XIPFS_BLOCK_SIZE);
  for (let ib = 0; ib < nblocks; ib++) {
    const base = dirBlockBase(vol, dir, ib);
    if (base < 0) return base;
    let prev = -1;
    for (let off = 0; off < XIPFS_BLOCK_SIZE;) {
      if (direntCheck(vol, base, off) !== null) return -EUCLEAN;
      const e = entryAt(vol, base, off, 0);
      if (e.ino !== 0 && bytesEqual(e.nameBytes, want)) {
        if (prev < 0) vol.view.setUint32(base + off + XDIRENT.ino, 0, true);
        else {
          const p = base + prev + XDIRENT.recLen;
          vol.view.setUint16(p, vol.view.getUint16(p, true) + e.recLen, true);
        }
        return 0;
      }
      prev = off;
      off += e.recLen;
    }
  }
  return -ENOENT;
}

/**
 * Count the live entries of directory `dir` other than "." and ".." (rmdir
 * needs 0). Caller holds the directory's i_rwsem.
 *
 * @returns the count, or -ENOTDIR / -EUCLEAN
 */
export function dirCountChildren(vol: XipVol, dir: Ino): number {
  let n = 0;
  const rc = dirIterate(vol, dir, (e) => {
    if (e.name !== "." && e.name !== "..") n++;
  });
  return rc < 0 ? rc : n;
}
