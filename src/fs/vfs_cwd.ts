/**
 * Path-side VFS calls the musl work added: getcwd (by walking ".." up to
 * the root, as Unix did before the dcache), access, and the statfs of the
 * filesystem an inode lives on.
 *
 * The current directory is an inode number in the fd table with no
 * reference held (vfs_path.ts vfsChdir), so getcwd re-checks what it finds:
 * a directory that was removed (or whose number now names something else)
 * gives -ENOENT, as Linux's getcwd does for an unlinked cwd.
 *
 * @module
 */

import { EACCES, ENOENT, ENOTDIR } from "../abi/errno.ts";
import { NAME_MAX, S_IFDIR, S_IFMT } from "../abi/fcntl.ts";
import { asIno, type Ino, PAGE_SIZE } from "../abi/types.ts";
import { fdtCwd } from "./file_table.ts";
import { pathLookup } from "./namei.ts";
import type { Proc } from "./vfs.ts";
import type { VfsFs, VInode } from "./vfs_fs.ts";

/** Deepest directory getcwd walks up from (a cycle guard; xipfs has no cycles). */
const GETCWD_MAX_DEPTH = 4096;

const isDir = (fs: VfsFs, ip: VInode): boolean => (fs.getattr(ip).mode & S_IFMT) === S_IFDIR;

/** The name of `child` in directory `dir`, or null. */
function nameIn(fs: VfsFs, dir: VInode, child: Ino): string | null {
  let name: string | null = null;
  fs.readdir(dir, 0, (e) => {
    if (e.ino !== child || e.name === "." || e.name === "..") return true;
    name = e.name;
    return false;
  });
  return name;
}

/**
 * getcwd(2): the absolute path of the process's current directory.
 * No lock held on entry or exit; each step takes the directory's locks
 * inside lookup and readdir.
 *
 * @returns the path, or -ENOENT when the directory has been removed
 */
export function vfsGetcwd(proc: Proc): string | number {
  const { fs } = proc;
  const first = fs.iget(asIno(fdtCwd(fs.mem, proc.fdt)));
  if (typeof first === "number") return -ENOENT;
  let cur: VInode = first;
  const parts: string[] = [];
  try {
    if (!isDir(fs, cur)) return -ENOENT;
    for (let depth = 0; cur.ino !== fs.rootIno; depth++) {
      if (depth >= GETCWD_MAX_DEPTH) return -ENOENT;
      const up = fs.lookup(cur, "..");
      if (up < 0) return -ENOENT;
      const parent = fs.iget(asIno(up));
      if (typeof parent === "number") return -ENOENT;
      const name = nameIn(fs, parent, cur.ino);
      fs.iput(cur);
      cur = parent;
      if (name === null) return -ENOENT; // removed from its parent meanwhile
      parts.unshift(name);
    }
    return "/" + parts.join("/");
  } finally {
    fs.iput(cur);
  }
}

/** access(2) mode bits. */
export const R_OK = 4, W_OK = 2, X_OK = 1;

/**
 * faccessat(2) for the only user xip has, root (uid 0): existence, and
 * for X_OK an execute bit on a non-directory (root's DAC override reads
 * and writes anything, Linux's generic_permission). Entry: no lock held;
 * the walk takes each directory's i_rwsem for read in turn and the
 * inode-cache lock (iget, iput); getattr takes none. Returns with no lock
 * held.
 *
 * @returns 0, -EACCES, or a lookup errno
 */
export function vfsAccess(proc: Proc, base: Ino, path: string, mode: number, follow: boolean) {
  const { fs } = proc;
  const ip = pathLookup(fs, base, path, follow);
  if (typeof ip === "number") return ip;
  try {
    if ((mode & X_OK) === 0) return 0;
    const m = fs.getattr(ip).mode;
    return (m & S_IFMT) === S_IFDIR || (m & 0o111) !== 0 ? 0 : -EACCES;
  } finally {
    fs.iput(ip);
  }
}

/** What statfs reports (Linux's struct kstatfs, reduced to its fields). */
export interface VStatfs {
  type: number;
  bsize: number;
  blocks: number;
  bfree: number;
  bavail: number;
  files: number;
  ffree: number;
  namelen: number;
  frsize: number;
  flags: number;
}

/** f_type of the filesystems xip mounts (linux/magic.h). */
export const XIPFS_STATFS_MAGIC = 0x58495046; // "XIPF"
export const PROC_SUPER_MAGIC = 0x9fa0;
export const TMPFS_MAGIC = 0x01021994;

/** ST_* mount flags statfs reports in f_flags. */
export const ST_NOSUID = 0x2, ST_NODEV = 0x4, ST_NOEXEC = 0x8, ST_RDONLY = 0x1;

/** A synthetic filesystem's statfs: no blocks, names up to NAME_MAX. */
export function emptyStatfs(type: number, flags: number): VStatfs {
  return {
    type,
    bsize: PAGE_SIZE,
    blocks: 0,
    bfree: 0,
    bavail: 0,
    files: 0,
    ffree: 0,
    namelen: NAME_MAX,
    frsize: PAGE_SIZE,
    flags,
  };
}

/** -ENOTDIR unless `ip` is a directory (fchdir). */
export const mustBeDir = (fs: VfsFs, ip: VInode): number => isDir(fs, ip) ? 0 : -ENOTDIR;
