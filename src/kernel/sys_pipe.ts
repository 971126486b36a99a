/**
 * The calls that make and copy descriptors: pipe2(2) (riscv32 has no pipe):
 * a new pipe's two ends as the lowest two free fds, stored at `fds` as two
 * ints, read end first; dup, dup3 and fcntl64's descriptor commands (C
 * libraries build dup2 from dup3 or fcntl).
 *
 * @module
 */

import { EFAULT, EINVAL } from "../abi/errno.ts";
import { O_CLOEXEC, O_NONBLOCK } from "../abi/fcntl.ts";
import * as nr from "../abi/syscall_nr.ts";
import { defineSyscall, type SyscallDef } from "./syscall_def.ts";
import type { Task } from "./task.ts";
import { userWrite } from "./uaccess_task.ts";

/**
 * pipe2(int fds[2], flags): O_CLOEXEC and O_NONBLOCK are honoured. O_DIRECT
 * (packet mode) is not implemented and, like any other flag, is -EINVAL.
 *
 * @returns 0, or -EINVAL, -EFAULT (nothing is left open), -ENFILE, -EMFILE
 */
export function sysPipe2(t: Task, fdsp: number, flags: number): number {
  if ((flags & ~(O_CLOEXEC | O_NONBLOCK)) !== 0) return -EINVAL;
  const r = t.files.pipe((flags & O_NONBLOCK) !== 0, (flags & O_CLOEXEC) !== 0);
  if (typeof r === "number") return r;
  const b = new Uint8Array(8);
  const dv = new DataView(b.buffer);
  dv.setInt32(0, r[0], true);
  dv.setInt32(4, r[1], true);
  if (userWrite(t, fdsp, b) < 0) {
    t.files.close(r[0]);
    t.files.close(r[1]);
    return -EFAULT;
  }
  return 0;
}

/** dup(oldfd): the lowest free fd on the same open file, or -EBADF, -EMFILE. */
export const sysDup = (t: Task, fd: number): number => t.files.dup(fd);

/**
 * dup3(oldfd, newfd, flags): newfd names oldfd's open file, closing what it
 * named. As Linux: only O_CLOEXEC, and oldfd == newfd, are -EINVAL.
 *
 * @returns newfd, or -EINVAL, -EBADF
 */
export function sysDup3(t: Task, oldFd: number, newFd: number, flags: number): number {
  if ((flags & ~O_CLOEXEC) !== 0 || oldFd === newFd) return -EINVAL;
  return t.files.dup3(oldFd, newFd, (flags & O_CLOEXEC) !== 0);
}

/**
 * fcntl64(fd, cmd, arg): F_DUPFD, F_DUPFD_CLOEXEC, F_GETFD, F_SETFD,
 * F_GETFL and F_SETFL (O_APPEND, O_NONBLOCK: a pipe's reads and writes
 * follow it); other commands (record locks among them) are -EINVAL.
 */
export const sysFcntl64 = (t: Task, fd: number, cmd: number, arg: number): number =>
  t.files.fcntl(fd, cmd, arg);

/** The pipe and descriptor calls. */
export const PIPE_SYSCALLS: readonly SyscallDef[] = [
  defineSyscall(nr.SYS_pipe2, "pipe2", ["ptr", "oflags"], sysPipe2),
  defineSyscall(nr.SYS_dup, "dup", ["fd"], sysDup),
  defineSyscall(nr.SYS_dup3, "dup3", ["fd", "fd", "oflags"], sysDup3),
  defineSyscall(nr.SYS_fcntl64, "fcntl64", ["fd", "int", "int"], sysFcntl64),
];
