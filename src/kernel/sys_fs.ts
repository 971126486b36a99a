/**
 * File syscalls: read, write, readv, writev, pread64, pwrite64, sendfile64,
 * openat, close, llseek, ftruncate64, fallocate, fsync, unlinkat, mkdirat,
 * getdents64. (riscv32 has no fstat: statx is in sys_stat.ts.)
 *
 * Every fd goes to the VFS through the task's FileGlue (files.ts); fds 0,
 * 1 and 2 start as the console (src/kernel/console.ts), a character device
 * without a position (pread, pwrite, llseek: -ESPIPE).
 *
 * O_DIRECT on a page-cache file bypasses the bounce buffer: read, write,
 * pread64 and pwrite64 hand the user address to FileGlue.direct, which
 * pins the user pages (get_user_pages) and copies device ↔ user frames.
 *
 * Data moves in chunks of at most IO_CHUNK bytes through a kernel buffer,
 * so a guest-chosen length never sizes an allocation; a transfer that fails
 * after some bytes moved returns the count so far, as Linux does.
 *
 * @module
 */

import { EFAULT, EINVAL, ENOENT } from "../abi/errno.ts";
import { AT_EMPTY_PATH, AT_SYMLINK_FOLLOW, S_IFCHR, S_IFMT } from "../abi/fcntl.ts";
import { PAGE_SIZE } from "../abi/types.ts";
import type { VStat } from "../fs/vfs.ts";
import * as nr from "../abi/syscall_nr.ts";
import { defineSyscall, type SyscallDef } from "./syscall_def.ts";
import type { Task } from "./task.ts";
import { accessOk, argU64, putU64, userPath, userRead, userWrite } from "./uaccess_task.ts";

/** unlinkat flag: remove a directory (asm-generic fcntl.h). */
const AT_REMOVEDIR = 0x200;

/** Largest single transfer (Linux's MAX_RW_COUNT: INT_MAX rounded down to a page). */
export const MAX_RW_COUNT = 0x7fff_f000;
/** Kernel bounce-buffer size for one step of a transfer. */
export const IO_CHUNK = 64 * 1024;
/** Most iovecs one readv/writev takes (UIO_MAXIOV). */
export const UIO_MAXIOV = 1024;
/** Largest getdents64 buffer honoured; a bigger one is filled only this far. */
const DIRENT_CHUNK = 64 * 1024;

const SEEK_SET = 0, SEEK_CUR = 1;

/**
 * One step of a read: fill `dst`, return bytes read (0 at end) or -errno.
 * `giveBack(n)` undoes the last n bytes of position advance, for when the
 * copy to user memory then faults (so a bad buffer does not eat input).
 */
interface ReadStep {
  (dst: Uint8Array): number;
  giveBack?: (n: number) => void;
}
/** One step of a write: consume `src`, return bytes written or -errno. */
type WriteStep = (src: Uint8Array) => number;

/** The read step for `fd` at its position (pos < 0) or at `pos`. */
function readStep(t: Task, fd: number, pos: number): ReadStep | number {
  if (pos < 0) {
    const step: ReadStep = (dst) => t.files.read(fd, dst);
    step.giveBack = (n) => t.files.lseek(fd, -n, SEEK_CUR);
    return step;
  }
  let at = pos;
  return (dst) => {
    const r = t.files.pread(fd, dst, at);
    if (r > 0) at += r;
    return r;
  };
}

function writeStep(t: Task, fd: number, pos: number): WriteStep | number {
  if (pos < 0) return (src) => t.files.write(fd, src);
  let at = pos;
  return (src) => {
    const r = t.files.pwrite(fd, src, at);
    if (r > 0) at += r;
    return r;
  };
}

/** Move up to `n` bytes from `step` to user memory at `va`, chunk by chunk. */
function readToUser(t: Task, step: ReadStep, va: number, n: number): number {
  n = Math.min(n >>> 0, MAX_RW_COUNT);
  va >>>= 0;
  if (!accessOk(va, n)) return -EFAULT;
  let done = 0;
  while (done < n) {
    const buf = new Uint8Array(Math.min(IO_CHUNK, n - done));
    const r = step(buf);
    if (r < 0) return done > 0 ? done : r;
    if (r === 0) break;
    if (userWrite(t, va + done, buf.subarray(0, r)) < 0) {
      step.giveBack?.(r);
      return done > 0 ? done : -EFAULT;
    }
    done += r;
    if (r < buf.length) break;
  }
  return done;
}

/** Move up to `n` bytes from user memory at `va` to `step`, chunk by chunk. */
function writeFromUser(t: Task, step: WriteStep, va: number, n: number): number {
  n = Math.min(n >>> 0, MAX_RW_COUNT);
  va >>>= 0;
  if (!accessOk(va, n)) return -EFAULT;
  let done = 0;
  while (done < n) {
    const want = Math.min(IO_CHUNK, n - done);
    const src = userReadPrefix(t, va + done, want);
    if (src.length === 0) return done > 0 ? done : -EFAULT;
    const r = step(src);
    if (r < 0) return done > 0 ? done : r;
    done += r;
    if (r < src.length || src.length < want) break; // short write, or a bad page next
  }
  return done;
}

/**
 * The longest readable prefix of [va, va + len), page by page when the
 * whole range cannot be read: a write stops at the first bad page, having
 * written what came before it, as Linux's does.
 */
function userReadPrefix(t: Task, va: number, len: number): Uint8Array {
  const all = userRead(t, va, len);
  if (typeof all !== "number") return all;
  const parts: Uint8Array[] = [];
  let got = 0;
  while (got < len) {
    const n = Math.min(len - got, PAGE_SIZE - ((va + got) % PAGE_SIZE));
    const part = userRead(t, va + got, n);
    if (typeof part === "number") break;
    parts.push(part);
    got += n;
  }
  const out = new Uint8Array(got);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * O_DIRECT of `fd` straight to or from user memory, when it applies:
 * the result, or null to take the buffered path.
 */
function directUser(t: Task, fd: number, write: boolean, va: number, n: number, pos: number) {
  n = Math.min(n >>> 0, MAX_RW_COUNT);
  va >>>= 0;
  if (!accessOk(va, n)) return -EFAULT;
  return t.files.direct(fd, write, va, n, pos);
}

/**
 * read(fd, buf, count). Entry: no lock held (a syscall). Each chunk is read
 * into a kernel buffer with the file's locks (as vfsRead, or the console's
 * input lock) and then copied out under mmap_lock (read), never both at
 * once; O_DIRECT pins the user pages first (mmap_lock) and then takes
 * i_rwsem.
 *
 * @returns bytes read, or -errno when none were
 */
export function sysRead(t: Task, fd: number, buf: number, count: number): number {
  const d = directUser(t, fd, false, buf, count, -1);
  if (d !== null) return d;
  const step = readStep(t, fd, -1);
  return typeof step === "number" ? step : readToUser(t, step, buf, count);
}

/**
 * write(fd, buf, count). Entry: no lock held (a syscall). Each chunk is
 * copied in under mmap_lock (read) and then written with the file's locks
 * (as vfsWrite, or the console's output lock), never both at once; O_DIRECT
 * pins the user pages first (mmap_lock) and then takes i_rwsem.
 *
 * @returns bytes written, or -errno when none were
 */
export function sysWrite(t: Task, fd: number, buf: number, count: number): number {
  const d = directUser(t, fd, true, buf, count, -1);
  if (d !== null) return d;
  const step = writeStep(t, fd, -1);
  return typeof step === "number" ? step : writeFromUser(t, step, buf, count);
}

/**
 * pread64(fd, buf, n, off_lo, off_hi). Entry: no lock held (a syscall);
 * locks as sysRead.
 *
 * @returns bytes read, or -errno when none were
 */
export function sysPread64(
  t: Task,
  fd: number,
  buf: number,
  count: number,
  offLo: number,
  offHi: number,
): number {
  const pos = argU64(offLo, offHi);
  if (pos < 0) return -EINVAL;
  const d = directUser(t, fd, false, buf, count, pos);
  if (d !== null) return d;
  const step = readStep(t, fd, pos);
  return typeof step === "number" ? step : readToUser(t, step, buf, count);
}

/**
 * pwrite64(fd, buf, n, off_lo, off_hi). Entry: no lock held (a syscall);
 * locks as sysWrite.
 *
 * @returns bytes written, or -errno when none were
 */
export function sysPwrite64(
  t: Task,
  fd: number,
  buf: number,
  count: number,
  offLo: number,
  offHi: number,
): number {
  const pos = argU64(offLo, offHi);
  if (pos < 0) return -EINVAL;
  const d = directUser(t, fd, true, buf, count, pos);
  if (d !== null) return d;
  const step = writeStep(t, fd, pos);
  return typeof step === "number" ? step : writeFromUser(t, step, buf, count);
}

/**
 * Read and check an iovec array: [base, len] pairs. Entry: no lock held;
 * locks as userRead (mmap_lock for reading; nothing held on return).
 *
 * @returns the pairs, or -EINVAL (count or total too large), -EFAULT
 */
export function readIovec(t: Task, va: number, cnt: number): [number, number][] | number {
  cnt >>>= 0;
  if (cnt > UIO_MAXIOV) return -EINVAL;
  if (cnt === 0) return [];
  const raw = userRead(t, va, cnt * 8);
  if (typeof raw === "number") return raw;
  const dv = new DataView(raw.buffer);
  const out: [number, number][] = [];
  let total = 0;
  for (let i = 0; i < cnt; i++) {
    const base = dv.getUint32(i * 8, true), len = dv.getUint32(i * 8 + 4, true);
    total += len;
    if (len > 0x7fff_ffff || total > 0x7fff_ffff) return -EINVAL; // ssize_t overflow
    out.push([base, len]);
  }
  return out;
}

/** readv(fd, iov, cnt) and writev(fd, iov, cnt). */
function vectored(t: Task, fd: number, iovp: number, cnt: number, write: boolean): number {
  const step = write ? writeStep(t, fd, -1) : readStep(t, fd, -1);
  if (typeof step === "number") return step;
  const iov = readIovec(t, iovp, cnt);
  if (typeof iov === "number") return iov;
  let done = 0;
  for (const [base, len] of iov) {
    if (len === 0) continue;
    const r = write
      ? writeFromUser(t, step as WriteStep, base, len)
      : readToUser(t, step as ReadStep, base, len);
    if (r < 0) return done > 0 ? done : r;
    done += r;
    if (r < len) break;
  }
  return done;
}

/**
 * readv(fd, iov, iovcnt). Entry: no lock held (a syscall); reading the
 * iovecs takes mmap_lock (read), then each segment locks as sysRead.
 *
 * @returns bytes read, or -errno when none were
 */
export const sysReadv = (t: Task, fd: number, iov: number, cnt: number): number =>
  vectored(t, fd, iov, cnt, false);
/**
 * writev(fd, iov, iovcnt). Entry: no lock held (a syscall); reading the
 * iovecs takes mmap_lock (read), then each segment locks as sysWrite.
 *
 * @returns bytes written, or -errno when none were
 */
export const sysWritev = (t: Task, fd: number, iov: number, cnt: number): number =>
  vectored(t, fd, iov, cnt, true);

/**
 * sendfile64(out_fd, in_fd, loff_t *off, n): copies through the kernel,
 * chunk by chunk. Entry: no lock held (a syscall). Each chunk is read with
 * in_fd's locks (as vfsRead) and then written with out_fd's (as vfsWrite),
 * one file at a time; *off is read and written under mmap_lock (read).
 *
 * @returns bytes copied, or -errno when none were
 */
export function sysSendfile64(
  t: Task,
  outFd: number,
  inFd: number,
  offPtr: number,
  count: number,
): number {
  const offp = offPtr >>> 0;
  const n = Math.min(count >>> 0, MAX_RW_COUNT);
  // A character device such as the console has no splice_read here.
  const inSt = t.files.fstat(inFd);
  if (typeof inSt !== "number" && (inSt.mode & S_IFMT) === S_IFCHR) return -EINVAL;
  let pos = -1;
  if (offp !== 0) {
    const raw = userRead(t, offp, 8);
    if (typeof raw === "number") return raw;
    pos = Number(new DataView(raw.buffer).getBigInt64(0, true));
    if (pos < 0) return -EINVAL;
  }
  const rd = readStep(t, inFd, pos);
  if (typeof rd === "number") return rd;
  const wr = writeStep(t, outFd, -1);
  if (typeof wr === "number") return wr;
  let done = 0;
  while (done < n) {
    const buf = new Uint8Array(Math.min(IO_CHUNK, n - done));
    const r = rd(buf);
    if (r < 0) {
      if (done === 0) return r;
      break;
    }
    if (r === 0) break;
    const w = wr(buf.subarray(0, r));
    if (w < 0) {
      if (done === 0) return w;
      break;
    }
    done += w;
    if (w < r) break;
  }
  if (offp !== 0) {
    const b = new Uint8Array(8);
    putU64(new DataView(b.buffer), 0, pos + done);
    if (userWrite(t, offp, b) < 0) return -EFAULT;
  }
  return done;
}

/** The path of an *at() call, or -errno (a relative path against a non-directory dirfd: -ENOTDIR, from the VFS). */
function atPath(t: Task, _dirfd: number, va: number): string | number {
  return userPath(t, va);
}

/**
 * openat(dirfd, path, flags, mode). Entry: no lock held (a syscall); the
 * path is copied in under mmap_lock (read), then locks as vfsOpen.
 *
 * @returns the fd, or -errno
 */
export function sysOpenat(
  t: Task,
  dirfd: number,
  pathp: number,
  flags: number,
  mode: number,
): number {
  const path = atPath(t, dirfd, pathp);
  if (typeof path === "number") return path;
  return t.files.openat(dirfd, path, flags, mode & ~t.umask);
}

/** close(fd). */
export function sysClose(t: Task, fd: number): number {
  return t.files.close(fd);
}

/**
 * llseek(fd, off_hi, off_lo, loff_t *result, whence): 0, the position stored
 * at result. Entry: no lock held (a syscall); locks as vfsLseek, then the
 * result is stored under mmap_lock (read).
 *
 * @returns 0, or -errno
 */
export function sysLlseek(
  t: Task,
  fd: number,
  offHi: number,
  offLo: number,
  result: number,
  whence: number,
): number {
  const off = argU64(offLo, offHi);
  const pos = t.files.lseek(fd, off, whence);
  if (pos < 0) return pos;
  const b = new Uint8Array(8);
  putU64(new DataView(b.buffer), 0, pos);
  return userWrite(t, result, b);
}

/**
 * The stat of `fd` (fstat, and statx with AT_EMPTY_PATH). Entry: no lock
 * held; the fd-table lock for the stat (vfsFstat).
 *
 * @returns the stat, or -EBADF
 */
export const fdStat = (t: Task, fd: number): VStat | number => t.files.fstat(fd);

/** ftruncate64(fd, len_lo, len_hi). */
export function sysFtruncate64(t: Task, fd: number, lenLo: number, lenHi: number): number {
  const len = argU64(lenLo, lenHi);
  if (len < 0) return -EINVAL;
  return t.files.ftruncate(fd, len);
}

/**
 * fallocate(fd, mode, off_lo, off_hi, len_lo, len_hi). On a character
 * device such as the console: -ENODEV once the arguments pass, as on a tty.
 */
export function sysFallocate(
  t: Task,
  fd: number,
  mode: number,
  offLo: number,
  offHi: number,
  lenLo: number,
  lenHi: number,
): number {
  const off = argU64(offLo, offHi), len = argU64(lenLo, lenHi);
  return t.files.fallocate(fd, mode, off, len);
}

/**
 * fsync(fd). Entry: no lock held (a syscall); takes what vfsFsync takes (the
 * fd-table lock for the reference, each dirty page's lock in turn, the
 * image's sync lock).
 *
 * @returns 0, -EBADF, or the first I/O error
 */
export function sysFsync(t: Task, fd: number): number {
  return t.files.fsync(fd);
}

/**
 * unlinkat(dirfd, path, flags): flags may only hold AT_REMOVEDIR. Entry: no
 * lock held (a syscall); the path is copied in under mmap_lock (read), then
 * locks as vfsUnlink or vfsRmdir.
 *
 * @returns 0, or -errno
 */
export function sysUnlinkat(t: Task, dirfd: number, pathp: number, flags: number): number {
  if ((flags & ~AT_REMOVEDIR) !== 0) return -EINVAL;
  const path = atPath(t, dirfd, pathp);
  if (typeof path === "number") return path;
  return t.files.unlinkat(dirfd, path, flags);
}

/**
 * linkat(olddirfd, oldpath, newdirfd, newpath, flags). Entry: no lock held
 * (a syscall); both paths are copied in under mmap_lock (read), then locks
 * as vfsLink.
 *
 * @returns 0, or -errno
 */
export function sysLinkat(
  t: Task,
  olddirfd: number,
  oldp: number,
  newdirfd: number,
  newp: number,
  flags: number,
): number {
  if ((flags & ~(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH)) !== 0) return -EINVAL;
  const op = atPath(t, olddirfd, oldp);
  if (typeof op === "number") return op;
  const np = atPath(t, newdirfd, newp);
  if (typeof np === "number") return np;
  // getname: an empty path is -ENOENT before its dirfd is looked at (AT_EMPTY_PATH aside).
  if ((op === "" && (flags & AT_EMPTY_PATH) === 0) || np === "") return -ENOENT;
  return t.files.linkat(olddirfd, op, newdirfd, np, flags);
}

/**
 * mkdirat(dirfd, path, mode). Entry: no lock held (a syscall); the path is
 * copied in under mmap_lock (read), then locks as vfsMkdir.
 *
 * @returns 0, or -errno
 */
export function sysMkdirat(t: Task, dirfd: number, pathp: number, mode: number): number {
  const path = atPath(t, dirfd, pathp);
  if (typeof path === "number") return path;
  return t.files.mkdirat(dirfd, path, mode & 0o7777 & ~t.umask);
}

/**
 * getdents64(fd, buf, n): bytes of linux_dirent64 records, 0 at the end. As
 * Linux: the whole [buf, buf + n) must lie in user space even though at most
 * DIRENT_CHUNK bytes are filled, and entries that could not be copied out
 * are not consumed (the position goes back), so a retry sees them. Entry: no
 * lock held (a syscall); the records are read as vfsGetdents64 (the
 * directory's i_rwsem for read) and then copied out under mmap_lock (read).
 *
 * @returns bytes filled, 0 at the end, or -errno
 */
export function sysGetdents64(t: Task, fd: number, dirp: number, n: number): number {
  const count = n >>> 0;
  if (!accessOk(dirp >>> 0, count)) return -EFAULT;
  const before = t.files.lseek(fd, 0, SEEK_CUR);
  const r = t.files.getdents64(fd, Math.min(count, DIRENT_CHUNK));
  if (typeof r === "number") return r;
  const w = userWrite(t, dirp, r);
  if (w < 0 && before >= 0) t.files.lseek(fd, before, SEEK_SET);
  return w < 0 ? w : r.length;
}

/** The file system calls (syscall.ts joins the tables). */
export const FS_SYSCALLS: readonly SyscallDef[] = [
  defineSyscall(nr.SYS_mkdirat, "mkdirat", ["dirfd", "path", "mode"], sysMkdirat),
  defineSyscall(nr.SYS_unlinkat, "unlinkat", ["dirfd", "path", "atflags"], sysUnlinkat),
  defineSyscall(
    nr.SYS_linkat,
    "linkat",
    ["dirfd", "path", "dirfd", "path", "atflags"],
    sysLinkat,
  ),
  // ftruncate may sleep in truncate's waits; an unfinished truncate is finished by the Machine.
  defineSyscall(nr.SYS_ftruncate64, "ftruncate64", ["fd", "u64"], sysFtruncate64, {
    killable: true,
  }),
  // A punch-hole cut short leaves a consistent file.
  defineSyscall(nr.SYS_fallocate, "fallocate", ["fd", "hex", "u64", "u64"], sysFallocate, {
    killable: true,
  }),
  defineSyscall(nr.SYS_openat, "openat", ["dirfd", "path", "oflags", "mode"], sysOpenat),
  defineSyscall(nr.SYS_close, "close", ["fd"], sysClose),
  defineSyscall(nr.SYS_getdents64, "getdents64", ["fd", "ptr", "size"], sysGetdents64),
  defineSyscall(nr.SYS_llseek, "_llseek", ["fd", "u64hl", "ptr", "whence"], sysLlseek),
  defineSyscall(nr.SYS_read, "read", ["fd", "outbuf", "size"], sysRead),
  defineSyscall(nr.SYS_write, "write", ["fd", "inbuf", "size"], sysWrite),
  defineSyscall(nr.SYS_readv, "readv", ["fd", "ptr", "int"], sysReadv),
  defineSyscall(nr.SYS_writev, "writev", ["fd", "ptr", "int"], sysWritev),
  defineSyscall(nr.SYS_pread64, "pread64", ["fd", "outbuf", "size", "u64"], sysPread64),
  defineSyscall(nr.SYS_pwrite64, "pwrite64", ["fd", "inbuf", "size", "u64"], sysPwrite64),
  defineSyscall(nr.SYS_sendfile64, "sendfile64", ["fd", "fd", "ptr", "size"], sysSendfile64),
  defineSyscall(nr.SYS_fsync, "fsync", ["fd"], sysFsync),
];
