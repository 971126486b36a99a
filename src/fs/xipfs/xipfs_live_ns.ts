/**
 * Namespace operations of the live xipfs (Linux's inode_operations for
 * directories, reduced): lookup, create, mkdir, link, unlink, rmdir,
 * rename, symlink, readlink, readdir. The VFS resolves paths and calls these with a
 * referenced directory inode and one name.
 *
 * Locking (docs/ARCHITECTURE.md §3, i_rwsem outermost):
 * - lookup, readdir: the directory's i_rwsem for read.
 * - create, mkdir, symlink: the directory's i_rwsem for write.
 * - unlink, rmdir: the directory's i_rwsem (subclass 0), then the victim's
 *   (subclass 1), as vfs_unlink/vfs_rmdir do; link the same, with the
 *   inode that gains a name as the second (vfs_link).
 * - rename: cross-directory renames first take SB_INFO.renameLock (Linux's
 *   s_vfs_rename_mutex), which freezes the shape of the directory tree;
 *   then both parents, ancestor first, else lower inode number first
 *   (subclasses 0 and 1); then the source (2) and an existing target (3).
 *   Every other operation locks a parent before its child, so this order
 *   never closes a cycle.
 * Directory block maps are changed only under the directory's i_rwsem for
 * write (directories are never DAX-mapped nor truncated while linked), so
 * they do not take the block-map lock. Inode-cache references are taken
 * inside i_rwsem and dropped after every lock is released (iput may free).
 *
 * @module
 */

import { inodeLock, inodeLockShared, inodeUnlock, inodeUnlockShared } from "./xipfs_locks.ts";
import {
  XDIRENT,
  XFT_DIR,
  XIP_FL_DAX,
  XIPFS_BLOCK_SIZE,
  XIPFS_NAME_MAX,
} from "../../abi/layout/mod.ts";
import {
  EBUSY,
  EEXIST,
  EINVAL,
  EISDIR,
  EMLINK,
  ENAMETOOLONG,
  ENOENT,
  ENOTDIR,
  ENOTEMPTY,
  EPERM,
  EUCLEAN,
} from "../../abi/errno.ts";
import { type Ino } from "../../abi/types.ts";
import { mutexLock, mutexUnlock } from "../../sync/mutex.ts";
import { LockClass } from "../../sync/lockdep.ts";
import { allocInode, freeInode, markBlockDirty, markInodeDirty } from "./balloc.ts";
import { allocMetaBlock } from "./getblock.ts";
import { iget, iput } from "./icache.ts";
import { nowSecs } from "../dax.ts";
import { bmapInsert, bmapLookup, bmapWalk } from "./xipfs_bmap.ts";
import {
  dirAddEntry,
  dirCountChildren,
  direntSize,
  dirInitBlock,
  dirIterate,
  dirLookup,
  dirRemoveEntry,
  modeToFileType,
  nameCheck,
} from "./xipfs_dir.ts";
import { symlinkRead, symlinkWriteOffline } from "./xipfs_file.ts";
import {
  blockOff,
  inodeGet,
  inodeSet,
  inodeSetSize,
  isDirMode,
  S_IALLUGO,
  S_IFDIR,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
  S_IFSOCK,
} from "./xipfs_format.ts";
import { type InodeRef, sbInfoWord, type XipCtx } from "./xipfs_ctx.ts";

const enc = new TextEncoder();

/** Mark every block of `ino`'s map dirty (small: directories, symlink targets). */
function markMapDirty(c: XipCtx, ino: Ino): void {
  bmapWalk(c.vol, ino, (b, _ib, _kind, valid) => {
    if (valid) markBlockDirty(c, b);
  });
  markInodeDirty(c, ino);
}

/** Stamp mtime and ctime of `ino` (a directory that changed) and mark it dirty. */
function touch(c: XipCtx, ino: Ino): void {
  const t = nowSecs();
  inodeSet(c.vol, ino, "mtime", t);
  inodeSet(c.vol, ino, "ctime", t);
  markMapDirty(c, ino);
}

/** -ENAMETOOLONG / -EINVAL for a name no directory may hold, else 0. */
function userNameCheck(name: string): number {
  const bytes = enc.encode(name);
  if (bytes.length > XIPFS_NAME_MAX) return -ENAMETOOLONG;
  return nameCheck(bytes);
}

/** Checks shared by every op that adds a name to a locked directory. */
function dirWritable(c: XipCtx, dir: Ino): number {
  if (!isDirMode(inodeGet(c.vol, dir, "mode"))) return -ENOTDIR;
  if (inodeGet(c.vol, dir, "links") === 0) return -ENOENT; // removed while we held it
  return 0;
}

/** In locked directory `dir`: 0 when `name` may be added, else -EEXIST or dirWritable's or the lookup's error. */
function nameFree(c: XipCtx, dir: Ino, name: string): number {
  const w = dirWritable(c, dir);
  if (w < 0) return w;
  const existing = dirLookup(c.vol, dir, name);
  if (existing >= 0) return -EEXIST;
  return existing === -ENOENT ? 0 : existing;
}

/**
 * Look `name` up in directory `dir`. Entry: a reference to `dir`, no lock
 * of it held. Takes its i_rwsem for read.
 *
 * @returns the inode number, or -ENOENT, -ENOTDIR, -ENAMETOOLONG, -EUCLEAN
 */
export function lookup(c: XipCtx, dir: InodeRef, name: string): Ino | number {
  const bad = userNameCheck(name);
  if (bad < 0) return bad;
  inodeLockShared(c, dir);
  try {
    if (!isDirMode(inodeGet(c.vol, dir.ino, "mode"))) return -ENOTDIR;
    return dirLookup(c.vol, dir.ino, name);
  } finally {
    inodeUnlockShared(c, dir);
  }
}

/**
 * Allocate and link a new inode of `mode` (type bits included) under `name`
 * in locked directory `dir`. `init` fills in the new inode's contents.
 */
function makeNode(
  c: XipCtx,
  dir: InodeRef,
  name: string,
  mode: number,
  flags: number,
  init: (ino: Ino) => number,
  onLinked?: (ino: Ino) => void,
): Ino | number {
  const bad = userNameCheck(name);
  if (bad < 0) return bad;
  if (name === "." || name === "..") return -EEXIST;
  inodeLock(c, dir);
  try {
    const free = nameFree(c, dir.ino, name);
    if (free < 0) return free;
    const ino = allocInode(c);
    if (ino < 0) return ino;
    const t = nowSecs();
    inodeSet(c.vol, ino, "mode", mode);
    inodeSet(c.vol, ino, "links", 1);
    inodeSet(c.vol, ino, "atime", t);
    inodeSet(c.vol, ino, "mtime", t);
    inodeSet(c.vol, ino, "ctime", t);
    inodeSet(c.vol, ino, "flags", flags);
    let rc = init(ino);
    const type = modeToFileType(mode);
    if (rc >= 0) rc = dirAddEntry(c.vol, dir.ino, name, ino, type, () => allocMetaBlock(c));
    if (rc < 0) {
      inodeSet(c.vol, ino, "links", 0);
      const tmp = iget(c, ino); // last iput frees what init allocated, then the inode
      if (typeof tmp === "number") freeInode(c, ino);
      else iput(c, tmp);
      return rc;
    }
    onLinked?.(ino);
    markMapDirty(c, ino);
    touch(c, dir.ino);
    return ino;
  } finally {
    inodeUnlock(c, dir);
  }
}

/** The DAX flag a new inode in `dir` gets: inherited, as FS_XFLAG_DAX is in Linux. */
const inheritFlags = (c: XipCtx, dir: InodeRef): number =>
  inodeGet(c.vol, dir.ino, "flags") & XIP_FL_DAX;

/**
 * Create an empty regular file `name` in `dir` with permission bits `mode`.
 * The new inode inherits XIP_FL_DAX from `dir` unless `flags` is given.
 * Entry: a reference to `dir`, no lock held; takes its i_rwsem for write.
 *
 * @returns the new inode number (not referenced: iget it), or -EEXIST,
 *   -ENOENT (dir removed), -ENOTDIR, -ENAMETOOLONG, -EINVAL, -ENOSPC
 */
export function create(
  c: XipCtx,
  dir: InodeRef,
  name: string,
  mode: number,
  flags?: number,
): Ino | number {
  const fl = flags ?? inheritFlags(c, dir);
  return makeNode(c, dir, name, S_IFREG | (mode & S_IALLUGO), fl, () => 0);
}

/**
 * Make a socket node `name` in `dir` with permission bits from `mode` (mknod
 * S_IFSOCK, as bind(2) on a path does); only sockets may be made this way
 * (-EPERM otherwise: xip has no device or FIFO nodes on disk). Errors as
 * create. Entry: a reference to `dir`, no i_rwsem held; takes and drops
 * dir's i_rwsem for write.
 *
 * @returns the new inode number
 */
export function mknod(c: XipCtx, dir: InodeRef, name: string, mode: number): Ino | number {
  if ((mode & S_IFMT) !== S_IFSOCK) return -EPERM;
  return makeNode(c, dir, name, S_IFSOCK | (mode & S_IALLUGO), 0, () => 0);
}

/**
 * Make directory `name` in `dir` (with "." and ".."); the parent gains a
 * link. Errors as create. Entry: a reference to `dir`, no i_rwsem held;
 * takes and drops dir's i_rwsem for write, and the block allocator under it.
 *
 * @returns the new inode number
 */
export function mkdir(c: XipCtx, dir: InodeRef, name: string, mode: number): Ino | number {
  const ino = makeNode(
    c,
    dir,
    name,
    S_IFDIR | (mode & S_IALLUGO),
    inheritFlags(c, dir),
    (ino) => {
      const b = allocMetaBlock(c);
      if (b < 0) return b;
      dirInitBlock(c.vol, b, ino, dir.ino);
      const rc = bmapInsert(c.vol, ino, 0, b, () => allocMetaBlock(c));
      if (rc < 0) return rc;
      inodeSetSize(c.vol, ino, XIPFS_BLOCK_SIZE);
      return 0;
    },
    // Linked: "." makes 2, and the parent gains one for "..".
    (ino) => {
      inodeSet(c.vol, ino, "links", 2);
      inodeSet(c.vol, dir.ino, "links", inodeGet(c.vol, dir.ino, "links") + 1);
    },
  );
  return ino;
}

/**
 * Make symlink `name` in `dir` pointing at `target`. Same locking as create.
 *
 * @returns the new inode number, or create's errors, -ENAMETOOLONG for a
 *   target of a block or more, -EINVAL for an empty one
 */
export function symlink(c: XipCtx, dir: InodeRef, name: string, target: string): Ino | number {
  const t = enc.encode(target);
  return makeNode(
    c,
    dir,
    name,
    S_IFLNK | 0o777,
    0,
    (ino) => symlinkWriteOffline(c.vol, ino, t, () => allocMetaBlock(c)),
  );
}

/**
 * The target of symlink `ip`. No lock needed: a symlink never changes.
 *
 * @returns the target, or -EINVAL (not a symlink), -EUCLEAN
 */
export function readlink(c: XipCtx, ip: InodeRef): string | number {
  return symlinkRead(c.vol, ip.ino);
}

/**
 * Most names one inode may have (ext4's EXT4_LINK_MAX): past it link(2)
 * is -EMLINK.
 */
export const XIPFS_LINK_MAX = 65000;

/**
 * Give inode `ip`, which is not a directory, the further name `name` in
 * `dir` (Linux's vfs_link and ext2_link). Entry: references to both, no
 * lock held. Locks: dir's i_rwsem, then ip's (subclass 1), both for
 * write, as filename_create and vfs_link take them (the same order as
 * unlink's parent and victim).
 *
 * @returns 0, or -EPERM (a directory), -EEXIST, -ENOENT (dir removed, or
 *   ip unlinked meanwhile), -EMLINK, -ENOTDIR, -ENAMETOOLONG, -EINVAL,
 *   -ENOSPC (no block for the entry)
 */
export function link(c: XipCtx, ip: InodeRef, dir: InodeRef, name: string): number {
  const bad = userNameCheck(name);
  if (bad < 0) return bad;
  if (name === "." || name === "..") return -EEXIST;
  const mode = inodeGet(c.vol, ip.ino, "mode");
  if (isDirMode(mode)) return -EPERM;
  inodeLock(c, dir);
  try {
    const free = nameFree(c, dir.ino, name);
    if (free < 0) return free;
    inodeLock(c, ip, 1);
    try {
      const links = inodeGet(c.vol, ip.ino, "links");
      if (links === 0) return -ENOENT; // its last name went while we looked (orphan)
      if (links >= XIPFS_LINK_MAX) return -EMLINK;
      const rc = dirAddEntry(
        c.vol,
        dir.ino,
        name,
        ip.ino,
        modeToFileType(mode),
        () => allocMetaBlock(c),
      );
      if (rc < 0) return rc;
      inodeSet(c.vol, ip.ino, "links", links + 1);
      inodeSet(c.vol, ip.ino, "ctime", nowSecs());
      markInodeDirty(c, ip.ino);
      touch(c, dir.ino);
      return 0;
    } finally {
      inodeUnlock(c, ip);
    }
  } finally {
    inodeUnlock(c, dir);
  }
}

/**
 * Remove `name`, which is not a directory, from `dir`. The inode is freed
 * when its last reference goes (now, or at the last close: orphan
 * semantics). Entry: a reference to `dir`, no i_rwsem held. Takes dir's
 * i_rwsem, then the victim's (subclass 1), both for write; the victim's
 * reference is dropped after both are released (iput may free it).
 *
 * @returns 0, or -ENOENT, -EISDIR, -ENOTDIR, -EINVAL ("." or "..")
 */
export function unlink(c: XipCtx, dir: InodeRef, name: string): number {
  return removeName(c, dir, name, false);
}

/**
 * Remove empty directory `name` from `dir`. Same locking as unlink.
 *
 * @returns 0, or -ENOENT, -ENOTDIR, -ENOTEMPTY, -EINVAL ("."), -EBUSY
 */
export function rmdir(c: XipCtx, dir: InodeRef, name: string): number {
  return removeName(c, dir, name, true);
}

function removeName(c: XipCtx, dir: InodeRef, name: string, wantDir: boolean): number {
  const bad = userNameCheck(name);
  if (bad < 0) return bad;
  if (name === ".") return -EINVAL;
  if (name === "..") return wantDir ? -ENOTEMPTY : -EISDIR;
  let victim: InodeRef | null = null;
  inodeLock(c, dir);
  try {
    if (!isDirMode(inodeGet(c.vol, dir.ino, "mode"))) return -ENOTDIR;
    const ino = dirLookup(c.vol, dir.ino, name);
    if (ino < 0) return ino;
    const isDir = isDirMode(inodeGet(c.vol, ino, "mode"));
    if (wantDir && !isDir) return -ENOTDIR;
    if (!wantDir && isDir) return -EISDIR;
    const ref = iget(c, ino);
    if (typeof ref === "number") return ref;
    victim = ref;
    inodeLock(c, victim, 1);
    try {
      if (isDir) {
        const n = dirCountChildren(c.vol, ino);
        if (n !== 0) return n > 0 ? -ENOTEMPTY : n;
      }
      const rc = dirRemoveEntry(c.vol, dir.ino, name);
      if (rc < 0) return rc;
      if (isDir) {
        inodeSet(c.vol, ino, "links", 0);
        inodeSet(c.vol, dir.ino, "links", inodeGet(c.vol, dir.ino, "links") - 1);
      } else {
        inodeSet(c.vol, ino, "links", inodeGet(c.vol, ino, "links") - 1);
      }
      inodeSet(c.vol, ino, "ctime", nowSecs());
      markInodeDirty(c, ino);
      touch(c, dir.ino);
      return 0;
    } finally {
      inodeUnlock(c, victim);
    }
  } finally {
    inodeUnlock(c, dir);
    if (victim !== null) iput(c, victim);
  }
}

/** Inode named by the ".." entry of directory `dir` (always at the same place: dirInitBlock). */
function dotdotWord(c: XipCtx, dir: Ino): number {
  const b0 = bmapLookup(c.vol, dir, 0);
  if (b0 <= 0) return -EUCLEAN;
  return blockOff(c.vol, b0) + direntSize(1) + XDIRENT.ino;
}

/** Whether directory `anc` is `d` or one of its ancestors. Caller holds renameLock. */
function isAncestor(c: XipCtx, anc: Ino, d: Ino): boolean {
  const root = c.vol.sb.rootIno;
  for (let cur = d, steps = 0; steps < c.vol.sb.inodeCount; steps++) {
    if (cur === anc) return true;
    if (cur === root) return false;
    const at = dotdotWord(c, cur);
    if (at < 0) return false;
    cur = c.vol.view.getUint32(at, true) as Ino;
  }
  return false;
}

/**
 * Rename `oldName` in `oldDir` to `newName` in `newDir`, replacing an
 * existing target (a file by a file, an empty directory by a directory),
 * unless `noReplace` (renameat2's RENAME_NOREPLACE: decided under the same
 * locks as the rename, so it is atomic).
 *
 * Entry: references to both directories, no i_rwsem held. A cross-directory
 * rename takes SB_INFO.renameLock first (unchecked: it has no LockClass); then,
 * all for write, the parents' i_rwsems (ancestor first, else lower inode
 * first: subclasses 0 and 1), the source's (2) and an existing target's (3);
 * iget takes the inode-cache lock under them. Everything is released, and
 * the references dropped (iput), before it returns.
 *
 * @returns 0, or -ENOENT, -EEXIST (only with noReplace), -EISDIR,
 *   -ENOTDIR, -ENOTEMPTY, -EINVAL (a directory into its own subtree), -EBUSY
 *   ("." or ".."), -ENAMETOOLONG, -ENOSPC
 */
export function rename(
  c: XipCtx,
  oldDir: InodeRef,
  oldName: string,
  newDir: InodeRef,
  newName: string,
  noReplace = false,
): number {
  for (const n of [oldName, newName]) {
    const bad = userNameCheck(n);
    if (bad < 0) return bad;
    if (n === "." || n === "..") return -EBUSY;
  }
  const cross = oldDir.ino !== newDir.ino;
  const renameLock = sbInfoWord(c, "renameLock");
  // Linux's s_vfs_rename_mutex sits outside every i_rwsem; it has no class
  // of its own in LOCK_ORDER, so it is taken unchecked, before any of them.
  if (cross) mutexLock(c.k32, renameLock, LockClass.NONE);
  const held: InodeRef[] = [];
  const refs: InodeRef[] = [];
  try {
    for (const d of [oldDir, newDir]) {
      if (!isDirMode(inodeGet(c.vol, d.ino, "mode"))) return -ENOTDIR;
    }
    let first = oldDir;
    let second = newDir;
    if (cross) {
      const newFirst = isAncestor(c, newDir.ino, oldDir.ino) ||
        (!isAncestor(c, oldDir.ino, newDir.ino) && newDir.ino < oldDir.ino);
      if (newFirst) [first, second] = [newDir, oldDir];
    }
    inodeLock(c, first, 0);
    held.push(first);
    if (cross) {
      inodeLock(c, second, 1);
      held.push(second);
    }
    const src = dirLookup(c.vol, oldDir.ino, oldName);
    if (src < 0) return src;
    if (dirWritable(c, newDir.ino) < 0) return dirWritable(c, newDir.ino);
    const srcIsDir = isDirMode(inodeGet(c.vol, src, "mode"));
    if (srcIsDir && cross && isAncestor(c, src, newDir.ino)) return -EINVAL;
    const tgt = dirLookup(c.vol, newDir.ino, newName);
    if (tgt < 0 && tgt !== -ENOENT) return tgt;
    if (tgt >= 0 && noReplace) return -EEXIST;
    if (tgt === src) return 0; // two names of one inode: nothing to do (POSIX)
    let tgtIsDir = false;
    if (tgt >= 0) {
      tgtIsDir = isDirMode(inodeGet(c.vol, tgt, "mode"));
      if (srcIsDir && !tgtIsDir) return -ENOTDIR;
      if (!srcIsDir && tgtIsDir) return -EISDIR;
      // A target that holds the source (lock_rename's trap) is never empty.
      if (tgtIsDir && cross && isAncestor(c, tgt, oldDir.ino)) return -ENOTEMPTY;
    }
    const srcRef = iget(c, src);
    if (typeof srcRef === "number") return srcRef;
    refs.push(srcRef);
    inodeLock(c, srcRef, 2);
    held.push(srcRef);
    let tgtRef: InodeRef | null = null;
    if (tgt >= 0) {
      const r = iget(c, tgt);
      if (typeof r === "number") return r;
      tgtRef = r;
      refs.push(r);
      inodeLock(c, r, 3);
      held.push(r);
      if (tgtIsDir) {
        const n = dirCountChildren(c.vol, tgt);
        if (n !== 0) return n > 0 ? -ENOTEMPTY : n;
      }
    }
    return renameLocked(c, oldDir, oldName, newDir, newName, srcRef, tgtRef, srcIsDir);
  } finally {
    for (const h of held.reverse()) inodeUnlock(c, h);
    if (cross) mutexUnlock(c.k32, renameLock);
    for (const r of refs) iput(c, r);
  }
}

/** The directory-entry surgery of rename, every lock held. */
function renameLocked(
  c: XipCtx,
  oldDir: InodeRef,
  oldName: string,
  newDir: InodeRef,
  newName: string,
  src: InodeRef,
  tgt: InodeRef | null,
  srcIsDir: boolean,
): number {
  const v = c.vol;
  const type = srcIsDir ? XFT_DIR : modeToFileType(inodeGet(v, src.ino, "mode"));
  const alloc = () => allocMetaBlock(c);
  if (tgt !== null) {
    const rc = dirRemoveEntry(v, newDir.ino, newName);
    if (rc < 0) return rc;
  }
  const add = dirAddEntry(v, newDir.ino, newName, src.ino, type, alloc);
  if (add < 0) {
    if (tgt !== null) {
      const tt = modeToFileType(inodeGet(v, tgt.ino, "mode"));
      dirAddEntry(v, newDir.ino, newName, tgt.ino, tt, alloc); // the slot just freed fits it
    }
    return add;
  }
  const rm = dirRemoveEntry(v, oldDir.ino, oldName);
  if (rm < 0) return rm;
  if (tgt !== null) {
    if (isDirMode(inodeGet(v, tgt.ino, "mode"))) {
      inodeSet(v, tgt.ino, "links", 0);
      inodeSet(v, newDir.ino, "links", inodeGet(v, newDir.ino, "links") - 1);
    } else {
      inodeSet(v, tgt.ino, "links", inodeGet(v, tgt.ino, "links") - 1);
    }
    inodeSet(v, tgt.ino, "ctime", nowSecs());
    markInodeDirty(c, tgt.ino);
  }
  if (srcIsDir && oldDir.ino !== newDir.ino) {
    const at = dotdotWord(c, src.ino);
    if (at < 0) return at;
    v.view.setUint32(at, newDir.ino, true);
    markMapDirty(c, src.ino);
    inodeSet(v, oldDir.ino, "links", inodeGet(v, oldDir.ino, "links") - 1);
    inodeSet(v, newDir.ino, "links", inodeGet(v, newDir.ino, "links") + 1);
  }
  inodeSet(v, src.ino, "ctime", nowSecs());
  markInodeDirty(c, src.ino);
  touch(c, oldDir.ino);
  if (oldDir.ino !== newDir.ino) touch(c, newDir.ino);
  return 0;
}

/** One directory entry as readdir reports it. */
export interface ReaddirEntry {
  ino: Ino;
  /** XFT_* (DT_* for getdents: REG 8, DIR 4, LNK 10 — the VFS maps them). */
  type: number;
  name: string;
  /** Cookie of the entry after this one (getdents' d_off). */
  next: number;
}

/**
 * The entries of `dir` at or after byte position `cookie` (0 to start),
 * "." and ".." included, at most `max`. Entry: a reference to `dir`; takes
 * its i_rwsem for read. A cookie is a byte position in the directory, so
 * it stays valid across other calls (entries added or removed meanwhile may
 * or may not be seen, as POSIX allows).
 *
 * @returns the entries (empty at the end), or -ENOTDIR, -EUCLEAN
 */
export function readdir(
  c: XipCtx,
  dir: InodeRef,
  cookie: number,
  max = Infinity,
): ReaddirEntry[] | number {
  inodeLockShared(c, dir);
  try {
    const out: ReaddirEntry[] = [];
    const rc = dirIterate(c.vol, dir.ino, (e) => {
      if (e.pos < cookie) return false;
      out.push({ ino: e.ino, type: e.type, name: e.name, next: e.pos + e.recLen });
      return out.length >= max;
    });
    return rc < 0 ? rc : out;
  } finally {
    inodeUnlockShared(c, dir);
  }
}
