/**
 * Path lookup on an offline xipfs image, for `xip ls` and `xip cat`.
 * Follows Linux path_lookupat() in outline: walk component by component
 * from the root, "." and ".." through the directory entries (the root's ".."
 * is itself), symlinks expanded in place with at most XIPFS_MAX_SYMLINKS
 * expansions per lookup, then -ELOOP. There is no current directory
 * offline: a relative path starts at the root.
 *
 * @module
 */

import { ELOOP, ENAMETOOLONG, ENOTDIR, EUCLEAN } from "../../abi/errno.ts";
import { type Ino } from "../../abi/types.ts";
import { dirLookup } from "./xipfs_dir.ts";
import { symlinkRead } from "./xipfs_file.ts";
import { inodeGet, inodeInUse, isDirMode, isLnkMode, type XipVol } from "./xipfs_format.ts";

/** Symlink expansions allowed in one lookup (Linux MAXSYMLINKS). */
export const XIPFS_MAX_SYMLINKS = 40;
const PATH_MAX = 4096;

/**
 * Resolve `path` to an inode. The last component is followed when it is a
 * symlink only if `followLast` (stat vs lstat). Offline use: no locks.
 *
 * @returns the inode, or -ENOENT, -ENOTDIR, -ELOOP, -ENAMETOOLONG, or
 *   -EUCLEAN when the walk meets a corrupt directory or a free inode
 */
export function namei(vol: XipVol, path: string, followLast = true): Ino {
  if (path.length >= PATH_MAX) return -ENAMETOOLONG as Ino;
  const root = vol.sb.rootIno;
  let cur: Ino = root;
  let rest = path.split("/").filter((c) => c !== "");
  let links = 0;
  while (rest.length > 0) {
    const [name, ...tail] = rest as [string, ...string[]];
    rest = tail;
    if (!isDirMode(inodeGet(vol, cur, "mode"))) return -ENOTDIR as Ino;
    const next = dirLookup(vol, cur, name);
    if (next < 0) return next;
    if (!inodeInUse(vol, next) || inodeGet(vol, next, "mode") === 0) return -EUCLEAN as Ino;
    const mode = inodeGet(vol, next, "mode");
    if (isLnkMode(mode) && (rest.length > 0 || followLast)) {
      if (++links > XIPFS_MAX_SYMLINKS) return -ELOOP as Ino;
      const target = symlinkRead(vol, next);
      if (typeof target === "number") return target as Ino;
      if (target.startsWith("/")) cur = root;
      rest = [...target.split("/").filter((c) => c !== ""), ...rest];
      continue;
    }
    cur = next;
  }
  return cur;
}
