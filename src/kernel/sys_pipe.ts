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
 * Entry: no lock held (a syscall); locks as pipeCreate (FILES.lock and the
 * fd-table lock, FILE_TABLE, each taken and dropped), then writes the fds
 * under mmap_lock (read) as userWrite.
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

/** The pipe calls (dup, dup3 and fcntl64 are sys_fd.ts's). */
export const PIPE_SYSCALLS: readonly SyscallDef[] = [
  defineSyscall(nr.SYS_pipe2, "pipe2", ["ptr", "oflags"], sysPipe2),
];
