/**
 * Path and metadata syscalls of the riscv32 ABI: statx (riscv32 has no
 * stat, lstat, fstat or fstatat; musl builds all four on statx),
 * faccessat, faccessat2, readlinkat, getcwd, chdir, fchdir, renameat2
 * (riscv32 has no rename or renameat), symlinkat, truncate64, statfs64
 * and fstatfs64.
 *
 * Relative paths against a console fd are -ENOTDIR, as against any
 * non-directory (the console's reservation in the VFS table must never
 * serve as a directory: files.ts).
 *
 * @module
 */

import { EINVAL, ERANGE } from "../abi/errno.ts";
import { AT_FDCWD, AT_SYMLINK_NOFOLLOW, O_WRONLY, STATX_ATTR_DAX } from "../abi/fcntl.ts";
import * as nr from "../abi/syscall_nr.ts";
import type { VStat } from "../fs/vfs.ts";
import type { VStatfs } from "../fs/vfs_cwd.ts";
import { fdStat } from "./sys_fs.ts";
import { defineSyscall, type SyscallDef } from "./syscall_def.ts";
import { chrdevOwns } from "../fs/chrdev.ts";
import { devfsOwns } from "../fs/devfs.ts";
import type { Task } from "./task.ts";
import { argU64, userPath, userWrite } from "./uaccess_task.ts";

/** *at() flags (linux/fcntl.h). */
export const AT_EACCESS = 0x200;
export const AT_NO_AUTOMOUNT = 0x800;
export const AT_EMPTY_PATH = 0x1000;
export const AT_STATX_SYNC_TYPE = 0x6000;

/** statx mask bits: the basic stats xip fills (STATX_BASIC_STATS). */
export const STATX_BASIC_STATS = 0x7ff;
const STATX_RESERVED = 0x8000_0000;

/**
 * struct statx (linux/stat.h), byte offsets; 256 bytes. Timestamps are
 * { s64 tv_sec; u32 tv_nsec; s32 pad }.
 */
export const STATX = {
  mask: 0,
  blksize: 4,
  attributes: 8, // u64
  nlink: 16,
  uid: 20,
  gid: 24,
  mode: 28, // u16
  ino: 32, // u64
  size: 40, // u64
  blocks: 48, // u64
  attributesMask: 56, // u64
  atime: 64,
  btime: 80,
  ctime: 96,
  mtime: 112,
  rdevMajor: 128,
  rdevMinor: 132,
  devMajor: 136,
  devMinor: 140,
} as const;
export const STATX_BYTES = 256;

/** renameat2 flags. */
const RENAME_NOREPLACE = 1, RENAME_EXCHANGE = 2, RENAME_WHITEOUT = 4;

/** sizeof(struct statfs64) on riscv32 (asm-generic, 8-byte aligned). */
export const STATFS64_BYTES = 88;

/** Linux's dev_t split (new_decode_dev). */
const devMajor = (d: number): number => (d >>> 8) & 0xfff;
const devMinor = (d: number): number => (d & 0xff) | ((d >>> 12) & 0xfff00);

/** Encode `st` as struct statx. */
export function encodeStatx(st: VStat): Uint8Array {
  const b = new Uint8Array(STATX_BYTES);
  const v = new DataView(b.buffer);
  v.setUint32(STATX.mask, STATX_BASIC_STATS, true);
  v.setUint32(STATX.blksize, st.blksize, true);
  v.setBigUint64(STATX.attributes, BigInt(st.attributes), true);
  v.setUint32(STATX.nlink, st.nlink, true);
  v.setUint32(STATX.uid, st.uid, true);
  v.setUint32(STATX.gid, st.gid, true);
  v.setUint16(STATX.mode, st.mode & 0xffff, true);
  v.setBigUint64(STATX.ino, BigInt(st.ino), true);
  v.setBigUint64(STATX.size, BigInt(st.size), true);
  v.setBigUint64(STATX.blocks, BigInt(st.blocks), true);
  v.setBigUint64(STATX.attributesMask, BigInt(STATX_ATTR_DAX), true);
  v.setBigInt64(STATX.atime, BigInt(st.atime), true);
  v.setBigInt64(STATX.ctime, BigInt(st.ctime), true);
  v.setBigInt64(STATX.mtime, BigInt(st.mtime), true);
  v.setUint32(STATX.rdevMajor, devMajor(st.rdev), true);
  v.setUint32(STATX.rdevMinor, devMinor(st.rdev), true);
  v.setUint32(STATX.devMajor, devMajor(st.dev), true);
  v.setUint32(STATX.devMinor, devMinor(st.dev), true);
  return b;
}

/**
 * The path argument of an *at() call, or -errno. A relative path against
 * a dirfd that is no directory is -ENOTDIR in the lookup (files.ts #base).
 * Entry: no lock held; locks as userPath (mmap_lock for reading, nothing
 * held on return).
 *
 * @returns the path, or -EFAULT, -ENAMETOOLONG
 */
export function atPath(t: Task, _dirfd: number, va: number): string | number {
  return userPath(t, va);
}

/**
 * statx(dirfd, path, flags, mask, struct statx *). Entry: no lock held (a
 * syscall); the path is read and the result written under mmap_lock (read) as
 * userPath and userWrite; the walk takes each directory's i_rwsem for read in
 * turn and the inode-cache lock (iget, iput); AT_EMPTY_PATH on a fd takes and
 * drops the fd-table lock (FILE_TABLE) in fdStat. Returns with no lock held.
 *
 * @returns 0, or -EINVAL, -EFAULT, or a lookup errno
 */
export function sysStatx(
  t: Task,
  dirfd: number,
  pathp: number,
  flags: number,
  mask: number,
  buf: number,
): number {
  const known = AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_EMPTY_PATH | AT_STATX_SYNC_TYPE;
  if ((flags & ~known) !== 0) return -EINVAL;
  if ((flags & AT_STATX_SYNC_TYPE) === AT_STATX_SYNC_TYPE) return -EINVAL;
  if ((mask & STATX_RESERVED) !== 0) return -EINVAL;
  const path = atPath(t, dirfd, pathp);
  if (typeof path === "number") return path;
  let st: VStat | number;
  if (path === "" && (flags & AT_EMPTY_PATH) !== 0) {
    st = dirfd === AT_FDCWD ? t.files.statat(AT_FDCWD, ".", true) : fdStat(t, dirfd);
  } else {
    st = t.files.statat(dirfd, path, (flags & AT_SYMLINK_NOFOLLOW) === 0);
  }
  if (typeof st === "number") return st;
  return userWrite(t, buf, encodeStatx(st));
}

/**
 * faccessat2(dirfd, path, mode, flags); faccessat is the same with flags 0.
 * Entry: no lock held (a syscall); the path is read under mmap_lock (read) as
 * userPath; then locks as vfsAccess: the walk takes each directory's i_rwsem
 * for read in turn and the inode-cache lock (iget, iput); AT_EMPTY_PATH on a
 * fd takes and drops the fd-table lock (FILE_TABLE) in fdStat. Returns with
 * no lock held.
 *
 * @returns 0, or -EINVAL, -EFAULT, -EACCES, or a lookup errno
 */
export function sysFaccessat2(
  t: Task,
  dirfd: number,
  pathp: number,
  mode: number,
  flags: number,
): number {
  if ((mode & ~7) !== 0) return -EINVAL;
  if ((flags & ~(AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) !== 0) return -EINVAL;
  const path = atPath(t, dirfd, pathp);
  if (typeof path === "number") return path;
  if (path === "" && (flags & AT_EMPTY_PATH) !== 0) {
    const st = dirfd === AT_FDCWD ? 0 : fdStat(t, dirfd);
    return typeof st === "number" ? st : 0;
  }
  return t.files.accessat(dirfd, path, mode, (flags & AT_SYMLINK_NOFOLLOW) === 0);
}

/** faccessat(dirfd, path, mode): faccessat2 with flags 0. Entry: as sysFaccessat2. */
export const sysFaccessat = (t: Task, dirfd: number, pathp: number, mode: number): number =>
  sysFaccessat2(t, dirfd, pathp, mode, 0);

/**
 * readlinkat(dirfd, path, buf, bufsiz): bytes placed (no NUL), cut at bufsiz.
 * Entry: no lock held (a syscall); the path is read and the target written
 * under mmap_lock (read) as userPath and userWrite; the walk takes each
 * directory's i_rwsem for read in turn and the inode-cache lock (iget, iput).
 * Returns with no lock held.
 *
 * @returns the byte count, or -EINVAL, -EFAULT, or a lookup errno
 */
export function sysReadlinkat(
  t: Task,
  dirfd: number,
  pathp: number,
  buf: number,
  size: number,
): number {
  if ((size | 0) <= 0) return -EINVAL;
  const path = atPath(t, dirfd, pathp);
  if (typeof path === "number") return path;
  const target = t.files.readlinkat(dirfd, path);
  if (typeof target === "number") return target;
  const bytes = new TextEncoder().encode(target).subarray(0, size >>> 0);
  const w = userWrite(t, buf, bytes);
  return w < 0 ? w : bytes.length;
}

/**
 * getcwd(buf, size): the length written, NUL included. Entry: no lock held
 * (a syscall); locks as vfsGetcwd (each step's directory locks inside lookup
 * and readdir, the inode-cache lock for iget and iput), then writes under
 * mmap_lock (read) as userWrite. Returns with no lock held.
 *
 * @returns the length, or -ERANGE, -EFAULT, -ENOENT (the directory was removed)
 */
export function sysGetcwd(t: Task, buf: number, size: number): number {
  const cwd = t.files.getcwd();
  if (typeof cwd === "number") return cwd;
  const bytes = new TextEncoder().encode(cwd + "\0");
  if (bytes.length > size >>> 0) return -ERANGE;
  const w = userWrite(t, buf, bytes);
  return w < 0 ? w : bytes.length;
}

/**
 * chdir(path). Entry: no lock held (a syscall); the path is read under
 * mmap_lock (read) as userPath; the walk takes each directory's i_rwsem
 * for read in turn and the inode-cache lock (iget, iput); the new cwd is
 * stored atomically in the fd table, with no lock. Returns with no lock
 * held.
 *
 * @returns 0, or -EFAULT, -ENOTDIR, or a lookup errno
 */
export function sysChdir(t: Task, pathp: number): number {
  const path = userPath(t, pathp);
  return typeof path === "number" ? path : t.files.chdir(path);
}

/** fchdir(fd): -ENOTDIR for a fd that is no directory (the console's, a file). */
export function sysFchdir(t: Task, fd: number): number {
  return t.files.fchdir(fd);
}

/**
 * renameat2(olddirfd, oldpath, newdirfd, newpath, flags): RENAME_NOREPLACE
 * only. Entry: no lock held (a syscall); both paths are read under
 * mmap_lock (read) as userPath; then locks as vfsRename (both parent walks
 * take directory i_rwsems for read in turn, then the rename lock and the
 * i_rwsems for write). Returns with no lock held.
 *
 * @returns 0, or -EINVAL, -EFAULT, or vfsRename's errno
 */
export function sysRenameat2(
  t: Task,
  olddirfd: number,
  oldp: number,
  newdirfd: number,
  newp: number,
  flags: number,
): number {
  if ((flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT)) !== 0) return -EINVAL;
  // xipfs, like ext2, supports neither exchange nor whiteouts: Linux says EINVAL.
  if ((flags & (RENAME_EXCHANGE | RENAME_WHITEOUT)) !== 0) return -EINVAL;
  const op = atPath(t, olddirfd, oldp);
  if (typeof op === "number") return op;
  const np = atPath(t, newdirfd, newp);
  if (typeof np === "number") return np;
  return t.files.renameat(olddirfd, op, newdirfd, np, (flags & RENAME_NOREPLACE) !== 0);
}

/**
 * symlinkat(target, newdirfd, linkpath). Entry: no lock held (a syscall);
 * both strings are read under mmap_lock (read) as userPath; then locks as
 * vfsSymlink (the parent walk takes directory i_rwsems for read in turn,
 * then the parent's for write). Returns with no lock held.
 *
 * @returns 0, or -EFAULT, -EEXIST, -ENOENT, -ENOSPC, or a lookup errno
 */
export function sysSymlinkat(t: Task, targetp: number, dirfd: number, pathp: number): number {
  const target = userPath(t, targetp);
  if (typeof target === "number") return target;
  const path = atPath(t, dirfd, pathp);
  if (typeof path === "number") return path;
  return t.files.symlinkat(target, dirfd, path);
}

/**
 * truncate64(path, len_lo, len_hi): as ftruncate of the file opened for
 * writing. Entry: no lock held (a syscall); the path is read under
 * mmap_lock (read) as userPath; the open, ftruncate and close each lock as
 * their syscalls do (the open's walk takes directory i_rwsems for read in
 * turn; open and close take and drop FILES.lock and the fd-table lock,
 * FILE_TABLE; the truncate takes i_rwsem and invalidate_lock for write, as
 * vfsFtruncate). Returns with no lock held.
 *
 * @returns 0, or -EINVAL, -EFAULT, or the open's or truncate's errno
 */
export function sysTruncate64(t: Task, pathp: number, lenLo: number, lenHi: number): number {
  const len = argU64(lenLo, lenHi);
  if (len < 0) return -EINVAL;
  const path = userPath(t, pathp);
  if (typeof path === "number") return path;
  const fd = t.files.openat(AT_FDCWD, path, O_WRONLY, 0);
  if (fd < 0) return fd;
  const r = t.files.ftruncate(fd, len);
  t.files.close(fd);
  return r;
}

/** Encode struct statfs64. */
export function encodeStatfs64(s: VStatfs): Uint8Array {
  const b = new Uint8Array(STATFS64_BYTES);
  const v = new DataView(b.buffer);
  v.setUint32(0, s.type, true);
  v.setUint32(4, s.bsize, true);
  v.setBigUint64(8, BigInt(s.blocks), true);
  v.setBigUint64(16, BigInt(s.bfree), true);
  v.setBigUint64(24, BigInt(s.bavail), true);
  v.setBigUint64(32, BigInt(s.files), true);
  v.setBigUint64(40, BigInt(s.ffree), true);
  // f_fsid stays 0 (48..55)
  v.setUint32(56, s.namelen, true);
  v.setUint32(60, s.frsize, true);
  v.setUint32(64, s.flags, true);
  return b;
}

function statfsOut(t: Task, r: VStatfs | number, buf: number): number {
  if (typeof r === "number") return r;
  return userWrite(t, buf, encodeStatfs64(r));
}

/**
 * statfs64(path, size, buf): size must be sizeof(struct statfs64). Entry: no
 * lock held (a syscall); the path is read and the result written under
 * mmap_lock (read) as userPath and userWrite; the walk takes each directory's
 * i_rwsem for read in turn and the inode-cache lock (iget, iput). Returns with
 * no lock held.
 *
 * @returns 0, or -EINVAL, -EFAULT, or a lookup errno
 */
export function sysStatfs64(t: Task, pathp: number, size: number, buf: number): number {
  if (size >>> 0 !== STATFS64_BYTES) return -EINVAL;
  const path = userPath(t, pathp);
  if (typeof path === "number") return path;
  return statfsOut(t, t.files.statfs(path), buf);
}

/**
 * fstatfs64(fd, size, buf). The console is a tty on devpts. Entry: no lock
 * held (a syscall); the fd lookups take and drop the fd-table lock
 * (FILE_TABLE); the result is written under mmap_lock (read) as userWrite.
 * Returns with no lock held.
 *
 * @returns 0, or -EINVAL, -EBADF, -EFAULT
 */
export function sysFstatfs64(t: Task, fd: number, size: number, buf: number): number {
  if (size >>> 0 !== STATFS64_BYTES) return -EINVAL;
  const st = t.files.fstat(fd);
  if (typeof st === "number") return st;
  if (chrdevOwns(st.ino) && !devfsOwns(st.ino)) return consoleStatfs(t, buf);
  return statfsOut(t, t.files.statfs(fd), buf);
}

/** devpts's statfs, for the console (Linux: DEVPTS_SUPER_MAGIC, no blocks). */
function consoleStatfs(t: Task, buf: number): number {
  return userWrite(
    t,
    buf,
    encodeStatfs64({
      type: 0x1cd1,
      bsize: 4096,
      blocks: 0,
      bfree: 0,
      bavail: 0,
      files: 0,
      ffree: 0,
      namelen: 255,
      frsize: 4096,
      flags: 0x2 | 0x8,
    }),
  );
}

/** The path and metadata calls (syscall.ts joins the tables). */
export const STAT_SYSCALLS: readonly SyscallDef[] = [
  defineSyscall(nr.SYS_getcwd, "getcwd", ["ptr", "size"], sysGetcwd),
  defineSyscall(nr.SYS_statfs64, "statfs64", ["path", "size", "ptr"], sysStatfs64),
  defineSyscall(nr.SYS_fstatfs64, "fstatfs64", ["fd", "size", "ptr"], sysFstatfs64),
  // Not killable: it opens a file, which holds references no lock records.
  defineSyscall(nr.SYS_truncate64, "truncate64", ["path", "u64"], sysTruncate64),
  defineSyscall(nr.SYS_faccessat, "faccessat", ["dirfd", "path", "int"], sysFaccessat),
  defineSyscall(nr.SYS_chdir, "chdir", ["path"], sysChdir),
  defineSyscall(nr.SYS_fchdir, "fchdir", ["fd"], sysFchdir),
  defineSyscall(nr.SYS_symlinkat, "symlinkat", ["path", "dirfd", "path"], sysSymlinkat),
  defineSyscall(nr.SYS_readlinkat, "readlinkat", ["dirfd", "path", "ptr", "size"], sysReadlinkat),
  defineSyscall(
    nr.SYS_renameat2,
    "renameat2",
    ["dirfd", "path", "dirfd", "path", "hex"],
    sysRenameat2,
  ),
  defineSyscall(
    nr.SYS_statx,
    "statx",
    ["dirfd", "path", "atflags", "hex", "ptr"],
    sysStatx,
  ),
  defineSyscall(
    nr.SYS_faccessat2,
    "faccessat2",
    ["dirfd", "path", "int", "atflags"],
    sysFaccessat2,
  ),
];
