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
 * A number with no definition returns -ENOSYS, and the Machine is told
 * (KernelLog.enosys) so that it can report the first use of each number
 * once. With `--strace` every call is also printed (strace.ts).
 *
 * @module
 */

import { ENOSYS } from "../abi/errno.ts";
import { REG_A0, REG_A1, REG_A2, REG_A3, REG_A4, REG_A5, REG_A7 } from "../abi/regs.ts";
import { SIGSYS } from "./signal.ts";
import { CRED_SYSCALLS } from "./sys_cred.ts";
import { FD_SYSCALLS } from "./sys_fd.ts";
import { FORK_SYSCALLS } from "./sys_fork.ts";
import { PIPE_SYSCALLS } from "./sys_pipe.ts";
import { FS_SYSCALLS } from "./sys_fs.ts";
import { INFO_SYSCALLS } from "./sys_info.ts";
import { IOCTL_SYSCALLS } from "./sys_ioctl.ts";
import { PRCTL_SYSCALLS } from "./sys_prctl.ts";
import { IPC_SYSCALLS } from "./sys_ipc.ts";
import { SOCKET_SYSCALLS } from "./sys_socket.ts";
import { POLL_SYSCALLS } from "./sys_poll.ts";
import { MM_SYSCALLS } from "./sys_mm.ts";
import { PROC_SYSCALLS } from "./sys_proc.ts";
import { STAT_SYSCALLS } from "./sys_stat.ts";
import { TIME_SYSCALLS } from "./sys_time.ts";
import { argRegisters, straceLine } from "./strace.ts";
import { SIGNAL_SYSCALLS } from "./sys_signal.ts";
import type { SyscallDef } from "./syscall_def.ts";
import type { Task } from "./task.ts";

export type { ArgKind, SyscallDef, SyscallFn } from "./syscall_def.ts";

/**
 * Number → definition: Linux's sys_call_table. Each group of calls declares
 * its own table next to its handlers (sys_fs.ts, sys_mm.ts, ...); a new
 * group adds one line here. Sparse; a hole is -ENOSYS.
 */
export const SYSCALLS: ReadonlyMap<number, SyscallDef> = buildTable([
  FS_SYSCALLS,
  IOCTL_SYSCALLS,
  MM_SYSCALLS,
  PRCTL_SYSCALLS,
  PROC_SYSCALLS,
  STAT_SYSCALLS,
  FD_SYSCALLS,
  TIME_SYSCALLS,
  INFO_SYSCALLS,
  CRED_SYSCALLS,
  FORK_SYSCALLS,
  PIPE_SYSCALLS,
  SIGNAL_SYSCALLS,
  IPC_SYSCALLS,
  SOCKET_SYSCALLS,
  POLL_SYSCALLS,
]);

function buildTable(groups: readonly (readonly SyscallDef[])[]): Map<number, SyscallDef> {
  const table = new Map<number, SyscallDef>();
  for (const g of groups) {
    for (const d of g) {
      if (table.has(d.nr)) throw new Error(`syscall table: ${d.nr} (${d.name}) declared twice`);
      table.set(d.nr, d);
    }
  }
  return table;
}

/**
 * Run the system call in `regs` for task `t` and write its result to a0.
 * Entry: the task is in kernel mode and holds no lock. Never throws.
 *
 * Pending signals are the caller's to deliver on the way back to user
 * mode (signal_deliver.ts doSignal), which also settles a call that
 * returned -ERESTART*.
 *
 * @returns true to return to user mode; false when the process must stop
 *   (exit, or a kernel bug), with `t.exiting` set, or when execve
 *   replaced the image (`t.execPending`)
 */
export function syscallDispatch(t: Task, regs: Int32Array): boolean {
  const nr = regs[REG_A7]!;
  const def = SYSCALLS.get(nr);
  const traced = t.klog.strace ? argRegisters(regs) : null;
  let ret = -ENOSYS;
  if (def === undefined) t.klog.enosys(nr);
  else {
    try {
      ret = def.fn(
        t,
        regs[REG_A0]!,
        regs[REG_A1]!,
        regs[REG_A2]!,
        regs[REG_A3]!,
        regs[REG_A4]!,
        regs[REG_A5]!,
      );
    } catch (e) {
      t.panic = e;
      t.exit({ code: 0, signal: SIGSYS, message: `kernel bug in syscall ${def.name}` });
      return false;
    }
  }
  if (traced !== null) {
    t.klog.trace(straceLine(t, nr, def, traced, t.exiting !== null ? null : ret | 0));
  }
  if (t.exiting !== null || t.execPending !== null) return false;
  regs[REG_A0] = ret | 0;
  return true;
}

/** Whether a hard kill may stop the task inside system call `nr` (SyscallDef.killable). */
export const syscallKillable = (nr: number): boolean => SYSCALLS.get(nr)?.killable ?? false;
