/**
 * Process syscalls: exit, exit_group, getpid, getppid, gettid,
 * set_tid_address, clock_gettime64 and futex (kill is in sys_signal.ts).
 *
 * @module
 */

import { EINVAL } from "../abi/errno.ts";
import { doFutex, FUTEX_CLOCK_REALTIME, FUTEX_CMD_MASK, FUTEX_WAIT } from "./futex.ts";
import { FUTEX_LOCK_PI, FUTEX_LOCK_PI2, FUTEX_WAIT_BITSET, sysSetRobustList } from "./futex_ops.ts";
import { groupExit } from "./exit.ts";
import { procGet, procSet } from "./proc.ts";
import * as nr from "../abi/syscall_nr.ts";
import { defineSyscall, type SyscallDef } from "./syscall_def.ts";
import type { Task } from "./task.ts";
import { putU64, userRead, userWrite } from "./uaccess_task.ts";

export const CLOCK_REALTIME = 0;
export const CLOCK_MONOTONIC = 1;
export const CLOCK_PROCESS_CPUTIME_ID = 2;
export const CLOCK_THREAD_CPUTIME_ID = 3;
export const CLOCK_MONOTONIC_RAW = 4;
export const CLOCK_REALTIME_COARSE = 5;
export const CLOCK_MONOTONIC_COARSE = 6;
export const CLOCK_BOOTTIME = 7;

/** exit(status): the calling thread ends; the process goes on while other threads live. */
export function sysExit(t: Task, status: number): number {
  t.exit({ code: status & 0xff, signal: 0 });
  return 0;
}

/**
 * exit_group(status): every thread of the process ends, and the process
 * reports `status` (Linux's do_group_exit: the first group exit's status
 * wins, and the other threads are killed). Entry: no lock held (a syscall);
 * takes and drops the caller's siglock (groupExit). The teardown itself runs
 * after the syscall returns.
 *
 * @returns 0 (the task stops before it sees it)
 */
export function sysExitGroup(t: Task, status: number): number {
  const code = groupExit(t.mem, t.tid, status & 0xff);
  t.exit({ code, signal: 0 });
  return 0;
}

/** The thread group's id: the leader's pid, the same in every thread. */
export const sysGetpid = (t: Task): number => t.tgid;
/** The parent's pid now: 0 once the parent is gone (the Machine, as init, adopted it). */
export const sysGetppid = (t: Task): number => procGet(t.mem, t.slot, "parent");
/** The calling thread's own id (the pid, for a process's first thread). */
export const sysGettid = (t: Task): number => t.pid;
/**
 * set_tid_address(ptr): at exit, the word at ptr is cleared and futex-woken
 * when another process still shares the mm (Linux's clear_child_tid).
 * Returns the tid.
 */
export function sysSetTidAddress(t: Task, ptr: number): number {
  procSet(t.mem, t.slot, "clearTid", ptr >>> 0);
  return t.pid;
}

/** Now in ms on the epoch, with sub-ms precision, the same in every Worker. */
const nowMs = (): number => performance.timeOrigin + performance.now();

/**
 * clock_gettime64(clockid, struct { int64 tv_sec; int64 tv_nsec; } *).
 * Entry: no lock held (a syscall); storing the time takes and drops
 * mmap_lock for reading.
 *
 * @returns 0, or -EINVAL, -EFAULT
 */
export function sysClockGettime64(t: Task, clockid: number, tp: number): number {
  let ms: number;
  switch (clockid) {
    case CLOCK_REALTIME:
    case CLOCK_REALTIME_COARSE:
      ms = nowMs();
      break;
    case CLOCK_MONOTONIC:
    case CLOCK_MONOTONIC_RAW:
    case CLOCK_MONOTONIC_COARSE:
    case CLOCK_BOOTTIME:
      ms = Math.max(0, nowMs() - t.bootMs);
      break;
    case CLOCK_PROCESS_CPUTIME_ID:
    case CLOCK_THREAD_CPUTIME_ID:
      // The Worker runs only this process, so its busy time since start is close; xip
      // does not measure CPU time separately.
      ms = Math.max(0, nowMs() - t.startMs);
      break;
    default:
      return -EINVAL;
  }
  const sec = Math.floor(ms / 1000);
  const nsec = Math.min(999_999_999, Math.floor((ms - sec * 1000) * 1e6));
  const b = new Uint8Array(16);
  const dv = new DataView(b.buffer);
  putU64(dv, 0, sec);
  putU64(dv, 8, nsec);
  return userWrite(t, tp, b);
}

/**
 * A struct timespec64 at `tsp` as ms; -errno for a fault or an invalid time.
 *
 * Entry: no lock held (the user copy may fault the page in).
 */
export function readTimespec(t: Task, tsp: number): number {
  const raw = userRead(t, tsp, 16);
  if (typeof raw === "number") return raw;
  const dv = new DataView(raw.buffer);
  const sec = Number(dv.getBigInt64(0, true)), nsec = Number(dv.getBigInt64(8, true));
  if (sec < 0 || nsec < 0 || nsec >= 1e9) return -EINVAL;
  return sec * 1000 + nsec / 1e6;
}

/**
 * futex(uaddr, op, val, timeout, uaddr2, val3). The timeout argument is a
 * pointer to a 64-bit struct timespec (the time64 layout, the only one
 * riscv32 has): relative for FUTEX_WAIT; absolute for WAIT_BITSET
 * (CLOCK_MONOTONIC, or CLOCK_REALTIME with FUTEX_CLOCK_REALTIME), LOCK_PI
 * (CLOCK_REALTIME) and LOCK_PI2; and for REQUEUE, CMP_REQUEUE and WAKE_OP it
 * is a count (val2) instead. 0 means no timeout.
 *
 * Entry: no lock held (a syscall). Reading the timespec and each futex word
 * takes and drops mmap_lock for reading (copyFromUser, futexPhysWord); a
 * wait sleeps with no lock held.
 *
 * @returns as doFutex, or -EFAULT, -EINVAL for a bad timespec
 */
export function sysFutex(
  t: Task,
  uaddr: number,
  op: number,
  val: number,
  timeout: number,
  uaddr2: number,
  val3: number,
): number {
  const cmd = op & FUTEX_CMD_MASK;
  const tsp = timeout >>> 0;
  let timeoutMs: number | null = null;
  let deadline = Infinity;
  const absolute = cmd === FUTEX_WAIT_BITSET || cmd === FUTEX_LOCK_PI || cmd === FUTEX_LOCK_PI2;
  if ((cmd === FUTEX_WAIT || absolute) && tsp !== 0) {
    const ms = readTimespec(t, tsp);
    if (ms < 0) return ms;
    if (!absolute) timeoutMs = ms;
    else {
      const realtime = cmd === FUTEX_LOCK_PI || (op & FUTEX_CLOCK_REALTIME) !== 0;
      const now = realtime ? nowMs() : Math.max(0, nowMs() - t.bootMs);
      deadline = performance.now() + (ms - now);
    }
  }
  return doFutex(t, uaddr, op, val, timeoutMs, timeout, uaddr2 >>> 0, val3, deadline);
}

/** The process system calls. The futex sleep is killable (in wait slices). */
export const PROC_SYSCALLS: readonly SyscallDef[] = [
  defineSyscall(nr.SYS_exit, "exit", ["int"], sysExit),
  defineSyscall(nr.SYS_exit_group, "exit_group", ["int"], sysExitGroup),
  defineSyscall(nr.SYS_set_tid_address, "set_tid_address", ["ptr"], sysSetTidAddress),
  defineSyscall(
    nr.SYS_futex_time64,
    "futex_time64",
    ["ptr", "int", "int", "ptr", "ptr", "hex"],
    sysFutex,
    { killable: true },
  ),
  defineSyscall(nr.SYS_set_robust_list, "set_robust_list", ["ptr", "size"], sysSetRobustList),
  defineSyscall(nr.SYS_getpid, "getpid", [], sysGetpid),
  defineSyscall(nr.SYS_getppid, "getppid", [], sysGetppid),
  defineSyscall(nr.SYS_gettid, "gettid", [], sysGettid),
  defineSyscall(nr.SYS_clock_gettime64, "clock_gettime64", ["clockid", "ptr"], sysClockGettime64),
];
