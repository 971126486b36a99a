/**
 * Path lookup for the live VFS (Linux's fs/namei.c, reduced): absolute and
 * relative paths, ".", "..", symlinks expanded in place with at most
 * MAXSYMLINKS expansions per lookup (then -ELOOP), and the trailing-slash
 * rule (a path ending in "/" names a directory, so a final symlink is then
 * followed and a non-directory gives -ENOTDIR).
 *
 * The walk holds one inode reference at a time, the directory it is in,
 * and the filesystem takes each directory's i_rwsem inside `lookup`, so no
 * lock is held between components (Linux's ref-walk without RCU).
 *
 * @module
 */

import { ELOOP, ENAMETOOLONG, ENOENT, ENOTDIR } from "../abi/errno.ts";
import { MAXSYMLINKS, NAME_MAX, PATH_MAX, S_IFDIR, S_IFLNK, S_IFMT } from "../abi/fcntl.ts";
import { asIno, type Ino } from "../abi/types.ts";
import type { VfsFs, VInode } from "./vfs_fs.ts";

const enc = new TextEncoder();

/** Where a parent lookup ended: the directory and the last component. */
export interface NameiParent {
  /** Referenced directory; the caller iputs it. */
  dir: VInode;
  /** Last component; "" when the path is "/" (or only slashes and dots resolving to a root). */
  name: string;
  /** The path ended in "/". */
  trailingSlash: boolean;
}

const modeOf = (fs: VfsFs, ip: VInode): number => fs.getattr(ip).mode & S_IFMT;

/** Components of `path`, or -errno for an empty or too-long path or name. */
function splitPath(path: string): string[] | number {
  if (path.length === 0) return -ENOENT;
  const bytes = enc.encode(path).length;
  if (bytes >= PATH_MAX) return -ENAMETOOLONG;
  const comps = path.split("/").filter((c) => c !== "");
  for (const c of comps) if (enc.encode(c).length > NAME_MAX) return -ENAMETOOLONG;
  return comps;
}

/** Walk state shared by one lookup: symlinks expanded so far. */
interface WalkCtx {
  links: number;
}

/**
 * Start inode of a walk: the root for an absolute path, `cwd` otherwise.
 *
 * @returns a referenced inode, or -errno
 */
function startAt(fs: VfsFs, cwd: Ino, path: string): VInode | number {
  return fs.iget(path.startsWith("/") ? fs.rootIno : cwd);
}

/**
 * Walk `comps` from referenced directory `cur` (consumed), following
 * every symlink, the last one only if `followLast`.
 *
 * @returns the referenced final inode, or -errno (no reference left)
 */
function walk(
  fs: VfsFs,
  cur: VInode,
  comps: string[],
  followLast: boolean,
  ctx: WalkCtx,
): VInode | number {
  let rest = comps;
  while (rest.length > 0) {
    const name = rest[0]!;
    rest = rest.slice(1);
    if (modeOf(fs, cur) !== S_IFDIR) {
      fs.iput(cur);
      return -ENOTDIR;
    }
    if (name === ".") continue;
    const ino = fs.lookup(cur, name);
    if (ino < 0) {
      fs.iput(cur);
      return ino;
    }
    const next = fs.iget(asIno(ino));
    if (typeof next === "number") {
      fs.iput(cur);
      return next;
    }
    if (modeOf(fs, next) === S_IFLNK && (rest.length > 0 || followLast)) {
      const target = fs.readlink(next);
      fs.iput(next);
      if (typeof target === "number") {
        fs.iput(cur);
        return target;
      }
      if (++ctx.links > MAXSYMLINKS) {
        fs.iput(cur);
        return -ELOOP;
      }
      const tcomps = splitPath(target);
      if (typeof tcomps === "number") {
        fs.iput(cur);
        return tcomps;
      }
      if (target.startsWith("/")) {
        const root = fs.iget(fs.rootIno);
        fs.iput(cur);
        if (typeof root === "number") return root;
        cur = root;
      }
      rest = [...tcomps, ...rest];
      continue;
    }
    fs.iput(cur);
    cur = next;
  }
  return cur;
}

/**
 * Resolve `path` (relative to directory `cwd` unless absolute) to a
 * referenced inode (Linux's path_lookupat). The last component is followed
 * when it is a symlink only if `followLast` (stat versus lstat, or
 * O_NOFOLLOW) or the path ends in "/". No lock held on entry or exit.
 *
 * @returns the inode (the caller iputs it), or -ENOENT, -ENOTDIR, -ELOOP,
 *   -ENAMETOOLONG or a filesystem error
 */
export function pathLookup(
  fs: VfsFs,
  cwd: Ino,
  path: string,
  followLast: boolean,
): VInode | number {
  const comps = splitPath(path);
  if (typeof comps === "number") return comps;
  const start = startAt(fs, cwd, path);
  if (typeof start === "number") return start;
  const trailingSlash = path.endsWith("/");
  const ip = walk(fs, start, comps, followLast || trailingSlash, { links: 0 });
  if (typeof ip === "number") return ip;
  if (trailingSlash && modeOf(fs, ip) !== S_IFDIR) {
    fs.iput(ip);
    return -ENOTDIR;
  }
  return ip;
}

/**
 * Resolve every component of `path` but the last (Linux's
 * filename_parentat), following symlinks on the way. The last component is
 * returned by name, not looked up, for create, mkdir, unlink, rmdir and
 * rename. "." and ".." come back as they are; the caller decides.
 *
 * Entry: no inode lock held (the walk holds none between components). Each
 * lookup takes and drops the directory's i_rwsem for read, and iget and iput
 * take the inode-cache lock. Returns holding a reference to `dir` and no
 * lock.
 *
 * @returns the parent (the caller iputs `dir`), or -ENOENT, -ENOTDIR,
 *   -ELOOP, -ENAMETOOLONG
 */
export function pathParent(fs: VfsFs, cwd: Ino, path: string): NameiParent | number {
  const comps = splitPath(path);
  if (typeof comps === "number") return comps;
  const start = startAt(fs, cwd, path);
  if (typeof start === "number") return start;
  const trailingSlash = path.endsWith("/");
  const name = comps.length > 0 ? comps[comps.length - 1]! : "";
  const dir = walk(fs, start, comps.slice(0, -1), true, { links: 0 });
  if (typeof dir === "number") return dir;
  if (modeOf(fs, dir) !== S_IFDIR) {
    fs.iput(dir);
    return -ENOTDIR;
  }
  return { dir, name, trailingSlash };
}
