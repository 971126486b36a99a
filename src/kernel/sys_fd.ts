/**
 * Descriptor syscalls: dup, dup3, fcntl64, ppoll_time64, preadv, pwritev,
 * preadv2, pwritev2 and fdatasync, and the descriptor ioctls (FIONREAD,
 * FIONBIO, FIOCLEX, FIONCLEX) in sys_ioctl.ts's table.
 *
 * The positioned vectored calls are preadv64/pwritev64 run iovec by iovec
 * (each through sys_fs.ts's pread64/pwrite64, so the console, O_DIRECT and
 * chunking rules are theirs), stopping at the first short transfer, as
 * Linux's do_loop_readv_writev does. The v2 forms take offset -1 to mean
 * the file position and accept RWF_HIPRI/DSYNC/SYNC (no effect: writes are
 * already as durable as fsync would make them afterwards) and RWF_APPEND.
 *
 * Console fds (0..2 while open) are character devices without a tty:
 * ioctl says -ENOTTY, poll says ready, F_GETFL says O_RDONLY (stdin) or
 * O_WRONLY (stdout, stderr).
 *
 * @module
 */

import { EBADF, EINVAL, ENOTTY, EOPNOTSUPP } from "../abi/errno.ts";
import { F_GETFL, F_SETFD, FD_CLOEXEC, O_APPEND, O_CLOEXEC, SEEK_CUR } from "../abi/fcntl.ts";
import * as nr from "../abi/syscall_nr.ts";
import { fcntlLock, isLockCmd } from "./posix_lock.ts";
import { readIovec, sysPread64, sysPwrite64, sysReadv, sysWritev } from "./sys_fs.ts";
import { IOCTLS } from "./sys_ioctl.ts";
import { withNoKill } from "../sync/current.ts";
import { defineSyscall, type SyscallDef } from "./syscall_def.ts";
import type { Task } from "./task.ts";
import { argU64, userRead, userWrite } from "./uaccess_task.ts";

/** ioctl numbers xip answers (asm-generic/ioctls.h). */
export const TCGETS = 0x5401;
export const TIOCGWINSZ = 0x5413;
export const FIONREAD = 0x541b;
export const FIONBIO = 0x5421;
export const FIONCLEX = 0x5450;
export const FIOCLEX = 0x5451;

/** poll(2) event bits. */
export const POLLIN = 0x1, POLLOUT = 0x4, POLLNVAL = 0x20;

/** preadv2/pwritev2 flags (linux/fs.h). */
const RWF_HIPRI = 1, RWF_DSYNC = 2, RWF_SYNC = 4, RWF_NOWAIT = 8, RWF_APPEND = 16;

/** dup(oldfd). */
export const sysDup = (t: Task, fd: number): number => t.files.dup(fd);

/** dup3(oldfd, newfd, flags). */
export function sysDup3(t: Task, oldFd: number, newFd: number, flags: number): number {
  if ((flags & ~O_CLOEXEC) !== 0 || oldFd === newFd) return -EINVAL;
  return t.files.dup3(oldFd, newFd, (flags & O_CLOEXEC) !== 0);
}

/**
 * fcntl64(fd, cmd, arg). The call is killable for F_SETLKW's sleep; the
 * record-lock code keeps its own references recorded (posix_lock.ts), and
 * every other command runs as a no-kill region. Entry: no lock held (a
 * syscall); the lock commands lock as fcntlLock, the others as vfsFcntl
 * (the fd-table lock, FILE_TABLE, taken and dropped). Returns with no lock
 * held.
 *
 * @returns the command's result, or -EBADF, -EINVAL, or fcntlLock's errno
 */
export function sysFcntl64(t: Task, fd: number, cmd: number, arg: number): number {
  if (isLockCmd(cmd)) return fcntlLock(t, fd, cmd, arg >>> 0);
  return withNoKill(() => fcntlOther(t, fd, cmd, arg));
}

function fcntlOther(t: Task, fd: number, cmd: number, arg: number): number {
  return t.files.fcntl(fd, cmd, arg);
}

/**
 * The descriptor ioctls, added to sys_ioctl.ts's table. No fd is a
 * terminal: TCGETS and TIOCGWINSZ fall through to the table's -ENOTTY (so
 * isatty is 0 and stdio buffers fully, as for a pipe). FIONREAD on a
 * regular file gives the bytes left before EOF; FIONBIO, FIOCLEX and
 * FIONCLEX work on any fd.
 */
function ioctlFionread(t: Task, fd: number, arg: number): number {
  const st = t.files.fstat(fd);
  if (typeof st === "number") return st;
  if ((st.mode & 0o170000) !== 0o100000) return -ENOTTY;
  const pos = t.files.lseek(fd, 0, SEEK_CUR);
  if (pos < 0) return pos;
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, Math.max(0, Math.min(0x7fff_ffff, st.size - pos)), true);
  return userWrite(t, arg, b);
}
function ioctlFionbio(t: Task, _fd: number, arg: number): number {
  const on = userRead(t, arg, 4);
  return typeof on === "number" ? on : 0; // nothing in xip blocks on file I/O
}
const ioctlCloexec = (on: boolean) => (t: Task, fd: number): number =>
  t.files.fcntl(fd, F_SETFD, on ? FD_CLOEXEC : 0);
IOCTLS.set(FIONREAD, ioctlFionread);
IOCTLS.set(FIONBIO, ioctlFionbio);
IOCTLS.set(FIOCLEX, ioctlCloexec(true));
IOCTLS.set(FIONCLEX, ioctlCloexec(false));

/**
 * The positioned vectored transfer: each iovec through pread64/pwrite64
 * at the running offset, or through readv/writev at the file position
 * when pos is -1 (the v2 forms).
 */
function vectoredAt(
  t: Task,
  fd: number,
  iovp: number,
  cnt: number,
  pos: number,
  write: boolean,
): number {
  if (pos === -1) return write ? sysWritev(t, fd, iovp, cnt) : sysReadv(t, fd, iovp, cnt);
  if (pos < 0) return -EINVAL;
  const iov = readIovec(t, iovp, cnt);
  if (typeof iov === "number") return iov;
  if (iov.length === 0) {
    const st = t.files.fstat(fd);
    return typeof st === "number" ? st : 0;
  }
  let done = 0;
  for (const [base, len] of iov) {
    const at = pos + done;
    const lo = at % 0x1_0000_0000, hi = Math.floor(at / 0x1_0000_0000);
    const r = write
      ? sysPwrite64(t, fd, base, len, lo | 0, hi | 0)
      : sysPread64(t, fd, base, len, lo | 0, hi | 0);
    if (r < 0) return done > 0 ? done : r;
    done += r;
    if (r < len) break;
  }
  return done;
}

/**
 * preadv(fd, iov, cnt, pos_lo, pos_hi).
 * Entry: no lock held (a syscall); the iovec array is read under mmap_lock
 * (read) as readIovec, then each iovec locks as pread64. Returns with
 * no lock held.
 *
 * @returns bytes moved, or -errno
 */
export const sysPreadv = (t: Task, fd: number, iov: number, cnt: number, lo: number, hi: number) =>
  vectoredAt(t, fd, iov, cnt, argU64(lo, hi), false);
/**
 * pwritev(fd, iov, cnt, pos_lo, pos_hi).
 * Entry: no lock held (a syscall); the iovec array is read under mmap_lock
 * (read) as readIovec, then each iovec locks as pwrite64. Returns with
 * no lock held.
 *
 * @returns bytes moved, or -errno
 */
export const sysPwritev = (t: Task, fd: number, iov: number, cnt: number, lo: number, hi: number) =>
  vectoredAt(t, fd, iov, cnt, argU64(lo, hi), true);

/** The flag check of the v2 forms: -EOPNOTSUPP for unknown or unsupported flags. */
function rwfCheck(flags: number, write: boolean): number {
  const known = RWF_HIPRI | RWF_DSYNC | RWF_SYNC | RWF_NOWAIT | RWF_APPEND;
  if ((flags & ~known) !== 0) return -EOPNOTSUPP;
  if (!write && (flags & RWF_APPEND) !== 0) return -EOPNOTSUPP; // ignored by Linux on reads
  return 0;
}

/**
 * preadv2(fd, iov, cnt, pos_lo, pos_hi, flags).
 * Entry: no lock held (a syscall); the iovec array is read under mmap_lock
 * (read) as readIovec, then each iovec locks as pread64 (offset -1:
 * the whole call as readv). Returns with no lock held.
 *
 * @returns bytes moved, or -errno
 */
export function sysPreadv2(
  t: Task,
  fd: number,
  iov: number,
  cnt: number,
  lo: number,
  hi: number,
  flags: number,
): number {
  const bad = rwfCheck(flags & ~RWF_APPEND, false);
  if (bad < 0) return bad;
  return vectoredAt(t, fd, iov, cnt, argU64(lo, hi), false);
}

/**
 * pwritev2(fd, iov, cnt, pos_lo, pos_hi, flags). RWF_APPEND writes at the
 * end of the file whatever the offset, like O_APPEND for this call.
 * Entry: no lock held (a syscall); the iovec array is read under mmap_lock
 * (read) as readIovec, then each iovec locks as pwrite64 (offset -1: the
 * whole call as writev). RWF_APPEND first takes and drops the fd-table
 * lock (FILE_TABLE) for the fstat and the flags. Returns with no lock held.
 *
 * @returns bytes moved, or -errno
 */
export function sysPwritev2(
  t: Task,
  fd: number,
  iov: number,
  cnt: number,
  lo: number,
  hi: number,
  flags: number,
): number {
  const bad = rwfCheck(flags, true);
  if (bad < 0) return bad;
  let pos = argU64(lo, hi);
  if ((flags & RWF_APPEND) !== 0) {
    const st = t.files.fstat(fd);
    if (typeof st === "number") return st;
    const fl = t.files.fcntl(fd, F_GETFL, 0);
    if (fl < 0) return fl;
    if ((fl & O_APPEND) === 0) pos = st.size;
  }
  return vectoredAt(t, fd, iov, cnt, pos, true);
}

/**
 * fdatasync(fd): fsync (xipfs makes data and metadata durable together).
 * Entry: no lock held (a syscall); locks as vfsFsync (the fd-table lock,
 * FILE_TABLE, for the file reference; each dirty page's lock in turn, the
 * block-map lock to fill holes, and the image's sync lock). Returns with
 * no lock held.
 *
 * @returns 0, or -EBADF, -EIO
 */
export function sysFdatasync(t: Task, fd: number): number {
  return t.files.fsync(fd);
}

/** -EBADF for a fd that is not open (exported for the lock module's checks). */
export const fdOpen = (t: Task, fd: number): number =>
  typeof t.files.fstat(fd) === "number" ? -EBADF : 0;

/** The descriptor calls (syscall.ts joins the tables). */
export const FD_SYSCALLS: readonly SyscallDef[] = [
  defineSyscall(nr.SYS_dup, "dup", ["fd"], sysDup),
  defineSyscall(nr.SYS_dup3, "dup3", ["fd", "fd", "oflags"], sysDup3),
  // F_SETLKW sleeps in wait slices: killable there.
  defineSyscall(nr.SYS_fcntl64, "fcntl64", ["fd", "fcntlcmd", "hex"], sysFcntl64, {
    killable: true,
  }),
  defineSyscall(nr.SYS_preadv, "preadv", ["fd", "ptr", "int", "u64"], sysPreadv),
  defineSyscall(nr.SYS_pwritev, "pwritev", ["fd", "ptr", "int", "u64"], sysPwritev),
  defineSyscall(nr.SYS_preadv2, "preadv2", ["fd", "ptr", "int", "u64", "hex"], sysPreadv2),
  defineSyscall(nr.SYS_pwritev2, "pwritev2", ["fd", "ptr", "int", "u64", "hex"], sysPwritev2),
  defineSyscall(nr.SYS_fdatasync, "fdatasync", ["fd"], sysFdatasync),
];
