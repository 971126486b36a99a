/**
 * The VFS operations that take a path: open, stat, unlink, mkdir, rmdir,
 * rename, symlink, readlink, chdir, and getdents64 on an open directory.
 * Relative paths start at the process's current directory.
 *
 * The filesystem takes the directories' locks inside each operation; the
 * checks here are the ones Linux's namei makes before calling it (".",
 * "..", "/" and trailing slashes), so every result is a Linux errno.
 *
 * @module
 */

import {
  EBUSY,
  EEXIST,
  EINVAL,
  EISDIR,
  ELOOP,
  ENOENT,
  ENOTDIR,
  ENOTEMPTY,
  ENXIO,
} from "../abi/errno.ts";
import { ECONNREFUSED } from "../abi/errno.ts";
import {
  accMode,
  DIRENT64,
  dirent64Size,
  O_ACCMODE,
  O_CLOEXEC,
  O_CREAT,
  O_DIRECTORY,
  O_EXCL,
  O_NOFOLLOW,
  O_OPEN_ONLY,
  O_PATH,
  O_RDONLY,
  O_TRUNC,
  S_IFDIR,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
  S_IFSOCK,
} from "../abi/fcntl.ts";
import { asIno, type Ino } from "../abi/types.ts";
import { fdtCwd, fdtSetCwd, filePos, fileSetPos } from "./file_table.ts";
import { type NameiParent, pathLookup, pathParent } from "./namei.ts";
import {
  type Proc,
  vfsGetattr,
  vfsInstallFile,
  vfsTruncateInode,
  type VStat,
  withFile,
} from "./vfs.ts";
import type { VfsFs, VInode } from "./vfs_fs.ts";

const enc = new TextEncoder();

const cwdOf = (proc: Proc): Ino => asIno(fdtCwd(proc.fs.mem, proc.fdt));
const ifmt = (fs: VfsFs, ip: VInode): number => fs.getattr(ip).mode & S_IFMT;

/**
 * Run `fn` on the parent of `path` (relative paths start at directory
 * `base`, the current directory by default), dropping the parent's
 * reference after.
 */
function withParent(
  proc: Proc,
  path: string,
  fn: (p: NameiParent) => number,
  base: Ino = cwdOf(proc),
): number {
  const p = pathParent(proc.fs, base, path);
  if (typeof p === "number") return p;
  try {
    return fn(p);
  } finally {
    proc.fs.iput(p.dir);
  }
}

/** A name that is not a real last component: "", "." or "..". */
const isDotName = (name: string): boolean => name === "" || name === "." || name === "..";

/**
 * Find or create the last component for open(O_CREAT) (Linux's
 * open_last_lookups). A symlink there is followed unless O_EXCL or
 * O_NOFOLLOW; a dangling one gives -ENOENT (Linux would create its target).
 *
 * @returns the referenced inode, or -errno
 */
function openCreate(proc: Proc, path: string, flags: number, mode: number): VInode | number {
  const { fs } = proc;
  let result: VInode | number = -ENOENT;
  const r = withParent(proc, path, (p) => {
    if (isDotName(p.name) || p.trailingSlash) return -EISDIR;
    for (let tries = 0; tries < 2; tries++) {
      const found = fs.lookup(p.dir, p.name);
      if (found === -ENOENT) {
        const ino = fs.create(p.dir, p.name, S_IFREG | (mode & 0o7777));
        if (ino === -EEXIST && (flags & O_EXCL) === 0) continue; // lost a race: open it
        if (ino < 0) return ino;
        result = fs.iget(asIno(ino));
        return 0;
      }
      if (found < 0) return found;
      if ((flags & O_EXCL) !== 0) return -EEXIST;
      const ip = fs.iget(asIno(found));
      if (typeof ip === "number") return ip;
      if (ifmt(fs, ip) === S_IFLNK) {
        fs.iput(ip);
        if ((flags & O_NOFOLLOW) !== 0) return -ELOOP;
        result = pathLookup(fs, cwdOf(proc), path, true);
        return 0;
      }
      result = ip;
      return 0;
    }
    return -EEXIST;
  });
  return r < 0 ? r : result;
}

/**
 * openat(AT_FDCWD, path, flags, mode). Accepts O_RDONLY, O_WRONLY, O_RDWR,
 * O_CREAT, O_EXCL, O_TRUNC, O_APPEND, O_DIRECT, O_DIRECTORY, O_NOFOLLOW,
 * O_CLOEXEC (and ignores O_LARGEFILE, O_NOCTTY, O_NONBLOCK, O_NOATIME,
 * O_SYNC: there is no tty, nothing blocks, and atime and sync writes are not
 * modelled).
 *
 * Entry: no lock held (a syscall). The path walk takes each directory's
 * i_rwsem for read in turn (O_CREAT: the parent's for write), iget and iput
 * the inode-cache lock; O_TRUNC truncates under i_rwsem and invalidate_lock
 * (write) as vfsFtruncate; the new file and fd take and drop FILES.lock and
 * the fd-table lock (FILE_TABLE). Returns with no lock held.
 *
 * @returns the lowest free fd, or -ENOENT, -EEXIST, -EISDIR (a directory
 *   opened for writing or with O_CREAT), -ENOTDIR (O_DIRECTORY on a
 *   non-directory, or a non-directory path component), -ELOOP (O_NOFOLLOW on
 *   a symlink, or too many links), -ENAMETOOLONG, -EINVAL (access mode 3,
 *   O_PATH), -ENFILE, -EMFILE, -ENOSPC
 */
export function vfsOpen(proc: Proc, path: string, flags: number, mode = 0o644): number {
  const { fs } = proc;
  if (accMode(flags) === O_ACCMODE || (flags & O_PATH) !== 0) return -EINVAL;
  const ip = (flags & O_CREAT) !== 0
    ? openCreate(proc, path, flags, mode)
    : pathLookup(fs, cwdOf(proc), path, (flags & O_NOFOLLOW) === 0);
  if (typeof ip === "number") return ip;
  const type = ifmt(fs, ip);
  let err = 0;
  if (type === S_IFLNK) err = -ELOOP; // only reachable with O_NOFOLLOW
  else if (type === S_IFSOCK) err = -ENXIO; // a socket's name is for connect(2), not open(2)
  else if ((flags & O_DIRECTORY) !== 0 && type !== S_IFDIR) err = -ENOTDIR;
  else if (type === S_IFDIR && (accMode(flags) !== O_RDONLY || (flags & O_TRUNC) !== 0)) {
    err = -EISDIR;
  }
  // A writable open of a running program's text is -ETXTBSY, before any
  // truncate (Linux's get_write_access in do_dentry_open); the file's
  // release puts it back (vfs.ts fileRelease).
  const writer = err === 0 && type === S_IFREG && accMode(flags) !== O_RDONLY;
  if (writer) err = fs.writeAccess?.(ip, "get") ?? 0;
  if (err === 0 && (flags & O_TRUNC) !== 0 && type === S_IFREG && fs.size(ip) > 0) {
    err = vfsTruncateInode(fs, ip, 0);
    if (err < 0 && writer) fs.writeAccess?.(ip, "put");
  }
  if (err === 0 && fs.open !== undefined) err = fs.open(ip, flags); // a driver's ->open
  if (err < 0) {
    fs.iput(ip);
    return err;
  }
  return vfsInstallFile(proc, ip, flags & ~O_OPEN_ONLY, (flags & O_CLOEXEC) !== 0);
}

/**
 * stat(2) / lstat(2) by path. Entry: no lock held (a syscall); the walk
 * takes each directory's i_rwsem for read in turn and the inode-cache lock
 * (iget, iput); getattr takes none. Returns with no lock held.
 *
 * @returns the stat, or a lookup errno
 */
export function vfsStat(proc: Proc, path: string, follow = true): VStat | number {
  const ip = pathLookup(proc.fs, cwdOf(proc), path, follow);
  if (typeof ip === "number") return ip;
  const st = vfsGetattr(proc.fs, ip);
  proc.fs.iput(ip);
  return st;
}

/**
 * The type of `name` in `dir` for the trailing-slash rules of unlink and
 * rename: 0 when it is a directory, -ENOTDIR when it is something else.
 */
function mustBeDir(fs: VfsFs, dir: VInode, name: string): number {
  const ino = fs.lookup(dir, name);
  if (ino < 0) return ino;
  const ip = fs.iget(asIno(ino));
  if (typeof ip === "number") return ip;
  const t = ifmt(fs, ip);
  fs.iput(ip);
  return t === S_IFDIR ? 0 : -ENOTDIR;
}

/**
 * unlink(2). An open file stays readable through its fds until the last
 * close (the filesystem keeps the orphan inode). Entry: no lock held (a
 * syscall); the parent walk takes directory i_rwsems for read in turn, then
 * fs.unlink the parent's and the victim's i_rwsem for write.
 *
 * @returns 0, -ENOENT, -EISDIR (a directory, "/", "." or ".."), -ENOTDIR
 */
export function vfsUnlink(proc: Proc, path: string): number {
  return withParent(proc, path, (p) => {
    if (isDotName(p.name)) return -EISDIR;
    if (p.trailingSlash) {
      const d = mustBeDir(proc.fs, p.dir, p.name);
      return d < 0 ? d : -EISDIR;
    }
    return proc.fs.unlink(p.dir, p.name);
  });
}

/**
 * mkdir(2) with permission bits `mode`. Entry: no lock held (a syscall); the
 * parent walk takes directory i_rwsems for read in turn, then fs.mkdir the
 * parent's for write.
 *
 * @returns 0, -EEXIST (also for "/", "." and ".."), -ENOENT, -ENOTDIR,
 *   -ENOSPC
 */
export function vfsMkdir(proc: Proc, path: string, mode = 0o755): number {
  return withParent(proc, path, (p) => {
    if (isDotName(p.name)) return -EEXIST;
    const ino = proc.fs.mkdir(p.dir, p.name, S_IFDIR | (mode & 0o7777));
    return ino < 0 ? ino : 0;
  });
}

/**
 * mknod(2) of a socket node at `path` (what bind(2) on a path does),
 * permission bits from `mode`. Entry: no lock held; the parent walk takes
 * directory i_rwsems for read in turn, then fs.mknod the parent's for write
 * (or the TMPFS lock).
 *
 * @returns the new node's inode number, or -EEXIST (also for "/", "." and
 *   ".."), -ENOENT, -ENOTDIR, -ENOSPC, -EPERM (not S_IFSOCK)
 */
export function vfsMknod(proc: Proc, path: string, mode: number): number {
  return withParent(proc, path, (p) => {
    if (isDotName(p.name) || p.trailingSlash) return -EEXIST;
    return proc.fs.mknod(p.dir, p.name, mode);
  });
}

/**
 * The socket node at `path` that connect(2) or sendto(2) names (the last
 * component followed if a symlink). Entry: no lock held; the walk takes each
 * directory's i_rwsem for read in turn, and iget and iput the inode-cache
 * lock.
 *
 * @returns its inode number, or a lookup errno, or -ECONNREFUSED when the
 *   path names something that is not a socket (Linux's answer)
 */
export function vfsSocketLookup(proc: Proc, path: string): number {
  const ip = pathLookup(proc.fs, cwdOf(proc), path, true);
  if (typeof ip === "number") return ip;
  const sock = ifmt(proc.fs, ip) === S_IFSOCK;
  proc.fs.iput(ip);
  return sock ? ip.ino : -ECONNREFUSED;
}

/**
 * rmdir(2). Entry: no lock held (a syscall); the parent walk takes directory
 * i_rwsems for read in turn, then fs.rmdir the parent's and the victim's
 * i_rwsem for write.
 *
 * @returns 0, -ENOENT, -ENOTDIR, -ENOTEMPTY (also for ".."), -EINVAL (for
 *   "."), -EBUSY (for "/")
 */
export function vfsRmdir(proc: Proc, path: string): number {
  return withParent(proc, path, (p) => {
    if (p.name === "") return -EBUSY;
    if (p.name === ".") return -EINVAL;
    if (p.name === "..") return -ENOTEMPTY;
    return proc.fs.rmdir(p.dir, p.name);
  });
}

/** Where renameat2 resolves each relative path, and its RENAME_NOREPLACE. */
export interface RenameAt {
  oldBase?: Ino;
  newBase?: Ino;
  noReplace?: boolean;
}

/**
 * rename(2) and renameat2(2): atomic replace of `newPath` by `oldPath`
 * (or -EEXIST with `at.noReplace`). Relative paths start at `at.oldBase`
 * and `at.newBase` (default: the current directory). The filesystem checks
 * the type rules (-EISDIR, -ENOTDIR, -ENOTEMPTY, -EINVAL for a directory
 * moved under itself).
 *
 * Entry: no lock held (a syscall). Both parent walks take directory i_rwsems
 * for read in turn, with nothing held between; the filesystem's rename then
 * takes the rename lock and four i_rwsems for write (see xipfs rename).
 * Returns with no lock held.
 *
 * @returns 0 or -errno; -EBUSY when either last component is "/", "." or
 *   ".."
 */
export function vfsRename(proc: Proc, oldPath: string, newPath: string, at: RenameAt = {}): number {
  const { fs } = proc;
  const cwd = cwdOf(proc);
  return withParent(proc, oldPath, (op) => {
    return withParent(proc, newPath, (np) => {
      if (isDotName(op.name) || isDotName(np.name)) return -EBUSY;
      if (op.trailingSlash || np.trailingSlash) {
        const d = mustBeDir(fs, op.dir, op.name);
        if (d < 0) return d;
      }
      return fs.rename(op.dir, op.name, np.dir, np.name, at.noReplace ?? false);
    }, at.newBase ?? cwd);
  }, at.oldBase ?? cwd);
}

/** Where linkat's paths start, and how it finds the old file. */
export interface LinkAt {
  /** Directory relative old paths start at (default: the current directory). */
  oldBase?: Ino;
  /** Directory relative new paths start at (default: the current directory). */
  newBase?: Ino;
  /** Follow a symlink at the old path (AT_SYMLINK_FOLLOW). */
  follow?: boolean;
  /** The old file itself when `oldPath` is empty (AT_EMPTY_PATH with a dirfd's file). */
  empty?: VInode;
}

/**
 * link(2) and linkat(2): `newPath` becomes another name of the file
 * `oldPath` names (not followed unless `at.follow`). The filesystem checks
 * -EXDEV, -EPERM (a directory), -ENOENT (no name left) and -EMLINK. Entry:
 * no lock held; both walks take directory i_rwsems for read in turn, then
 * fs.link takes the new parent's i_rwsem and the inode's (subclass 1), both
 * for write (tmpfs: the TMPFS lock).
 *
 * @returns 0, or a lookup errno; -EEXIST when `newPath` exists or ends in
 *   "/", "." or ".."; -ENOENT for a missing one with a trailing slash
 */
export function vfsLink(proc: Proc, oldPath: string, newPath: string, at: LinkAt = {}): number {
  const { fs } = proc;
  const cwd = cwdOf(proc);
  const ip = oldPath === "" && at.empty !== undefined
    ? at.empty
    : pathLookup(fs, at.oldBase ?? cwd, oldPath, at.follow ?? false);
  if (typeof ip === "number") return ip;
  try {
    return withParent(proc, newPath, (np) => {
      if (isDotName(np.name)) return -EEXIST;
      // filename_create: an existing name is -EEXIST before anything else.
      const there = fs.lookup(np.dir, np.name);
      if (there >= 0) return -EEXIST;
      if (there !== -ENOENT) return there;
      if (np.trailingSlash) return -ENOENT;
      return fs.link(ip, np.dir, np.name);
    }, at.newBase ?? cwd);
  } finally {
    if (ip !== at.empty) fs.iput(ip);
  }
}

/**
 * symlink(2): a link at `path` whose target is `target` (not resolved).
 * Entry: no lock held (a syscall); the parent walk takes directory i_rwsems
 * for read in turn, then fs.symlink the parent's for write.
 *
 * @returns 0, -EEXIST, -ENOENT (also for an empty target), -ENOSPC
 */
export function vfsSymlink(proc: Proc, target: string, path: string): number {
  if (target.length === 0) return -ENOENT;
  return withParent(proc, path, (p) => {
    if (isDotName(p.name) || p.trailingSlash) return -EEXIST;
    const ino = proc.fs.symlink(p.dir, p.name, target);
    return ino < 0 ? ino : 0;
  });
}

/**
 * readlink(2). Entry: no lock held (a syscall); the walk takes each
 * directory's i_rwsem for read in turn and the inode-cache lock (iget,
 * iput); reading the target takes none (a symlink never changes).
 *
 * @returns the target, or -EINVAL when `path` is not a symlink, or a lookup
 *   errno
 */
export function vfsReadlink(proc: Proc, path: string): string | number {
  const ip = pathLookup(proc.fs, cwdOf(proc), path, false);
  if (typeof ip === "number") return ip;
  try {
    return ifmt(proc.fs, ip) === S_IFLNK ? proc.fs.readlink(ip) : -EINVAL;
  } finally {
    proc.fs.iput(ip);
  }
}

/**
 * chdir(2). The current directory is kept as an inode number in the fd
 * table (no reference is held on it: see the report).
 *
 * @returns 0, -ENOTDIR, or a lookup errno
 */
export function vfsChdir(proc: Proc, path: string): number {
  const ip = pathLookup(proc.fs, cwdOf(proc), path, true);
  if (typeof ip === "number") return ip;
  const dir = ifmt(proc.fs, ip) === S_IFDIR;
  if (dir) fdtSetCwd(proc.fs.mem, proc.fdt, ip.ino);
  proc.fs.iput(ip);
  return dir ? 0 : -ENOTDIR;
}

/**
 * getdents64(2): fill `buf` with linux_dirent64 records from the directory
 * position on, and advance the position (a filesystem cookie, d_off).
 *
 * Entry: no lock held (a syscall). Takes and drops the fd-table lock
 * (FILE_TABLE) for the file reference; fs.readdir takes the directory's
 * i_rwsem for read. No lock covers the position (Linux's f_pos_lock does): two
 * getdents64 calls racing on one open file may read from the same position.
 *
 * @returns bytes filled (0 at the end), -EBADF, -ENOTDIR, or -EINVAL when
 *   the buffer cannot hold the next record
 */
export function vfsGetdents64(proc: Proc, fd: number, buf: Uint8Array): number {
  const { fs } = proc;
  return withFile(proc, fd, (f, dir) => {
    if (ifmt(fs, dir) !== S_IFDIR) return -ENOTDIR;
    const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    let used = 0;
    let next = filePos(fs.mem, f.idx);
    let full = false;
    const err = fs.readdir(dir, next, (e) => {
      const name = enc.encode(e.name);
      const rec = dirent64Size(name.length);
      if (used + rec > buf.length) {
        full = true;
        return false;
      }
      view.setBigUint64(used + DIRENT64.ino, BigInt(e.ino), true);
      view.setBigInt64(used + DIRENT64.off, BigInt(e.next), true);
      view.setUint16(used + DIRENT64.reclen, rec, true);
      buf[used + DIRENT64.type] = e.dtype;
      buf.set(name, used + DIRENT64.name);
      buf.fill(0, used + DIRENT64.name + name.length, used + rec);
      used += rec;
      next = e.next;
      return true;
    });
    if (err < 0 && used === 0) return err;
    if (used === 0 && full) return -EINVAL;
    fileSetPos(fs.mem, f.idx, next);
    return used;
  });
}
