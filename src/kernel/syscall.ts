/**
 * The system-call table and dispatcher (Linux's sys_call_table and
 * do_syscall for riscv32): a7 holds the number, a0..a5 the arguments, a0
 * the result (-4095..-1 is -errno). docs/ARCHITECTURE.md §6 and guest/README.md give
 * the ABI.
 *
 * Nothing a guest passes may throw: handlers return -errno for every bad
 * argument. An exception that still escapes a handler is a kernel bug,
 * never the guest's fault; the dispatcher catches it, records it on the
 * task (`t.panic`) and kills the process, so the Worker can report it
 * loudly and the other processes keep running.
 *
 * @module
 */

import { ENOSYS } from "../abi/errno.ts";
import * as nr from "../abi/syscall_nr.ts";
import { SIGSYS } from "./signal.ts";
import * as fs from "./sys_fs.ts";
import * as mm from "./sys_mm.ts";
import * as proc from "./sys_proc.ts";
import type { Task } from "./task.ts";

/** A handler: the task and the register file (x0..x31); returns a0. */
export type SyscallHandler = (t: Task, regs: Int32Array) => number;

const A0 = 10, A7 = 17;

/** Number → handler. Sparse; a hole is -ENOSYS. */
export const SYSCALLS: ReadonlyMap<number, SyscallHandler> = new Map<number, SyscallHandler>([
  [nr.SYS_mkdirat, fs.sysMkdirat],
  [nr.SYS_unlinkat, fs.sysUnlinkat],
  [nr.SYS_ftruncate64, fs.sysFtruncate64],
  [nr.SYS_fallocate, fs.sysFallocate],
  [nr.SYS_openat, fs.sysOpenat],
  [nr.SYS_close, fs.sysClose],
  [nr.SYS_getdents64, fs.sysGetdents64],
  [nr.SYS_llseek, fs.sysLlseek],
  [nr.SYS_read, fs.sysRead],
  [nr.SYS_write, fs.sysWrite],
  [nr.SYS_readv, fs.sysReadv],
  [nr.SYS_writev, fs.sysWritev],
  [nr.SYS_pread64, fs.sysPread64],
  [nr.SYS_pwrite64, fs.sysPwrite64],
  [nr.SYS_sendfile64, fs.sysSendfile64],
  [nr.SYS_fstat64, fs.sysFstat],
  [nr.SYS_fsync, fs.sysFsync],
  [nr.SYS_exit, proc.sysExitGroup],
  [nr.SYS_exit_group, proc.sysExitGroup],
  [nr.SYS_set_tid_address, proc.sysSetTidAddress],
  [nr.SYS_futex, proc.sysFutex],
  [nr.SYS_futex_time64, proc.sysFutex],
  [nr.SYS_kill, proc.sysKill],
  [nr.SYS_getpid, proc.sysGetpid],
  [nr.SYS_getppid, proc.sysGetppid],
  [nr.SYS_gettid, proc.sysGettid],
  [nr.SYS_brk, mm.sysBrk],
  [nr.SYS_munmap, mm.sysMunmap],
  [nr.SYS_mmap2, mm.sysMmap2],
  [nr.SYS_mprotect, mm.sysMprotect],
  [nr.SYS_msync, mm.sysMsync],
  [nr.SYS_madvise, mm.sysMadvise],
  [nr.SYS_clock_gettime64, proc.sysClockGettime64],
]);

/**
 * Run the system call in `regs` for task `t` and write its result to a0.
 * Entry: the task is in kernel mode and holds no lock. Never throws.
 *
 * @returns true to return to user mode; false when the process must stop
 *   (exit, a fatal signal became pending, or a kernel bug), with
 *   `t.exiting` set
 */
export function syscallDispatch(t: Task, regs: Int32Array): boolean {
  const handler = SYSCALLS.get(regs[A7]!);
  let ret = -ENOSYS;
  if (handler !== undefined) {
    try {
      ret = handler(t, regs);
    } catch (e) {
      t.panic = e;
      t.exit({ code: 0, signal: SIGSYS, message: `kernel bug in syscall ${regs[A7]}` });
      return false;
    }
  }
  if (t.exiting !== null) return false;
  regs[A0] = ret | 0;
  const sig = t.pendingSignal();
  if (sig !== 0) {
    t.exit({ code: 0, signal: sig });
    return false;
  }
  return true;
}
