/**
 * Process syscalls: exit, exit_group, getpid, getppid, gettid,
 * set_tid_address, clock_gettime64 and futex (kill is in sys_signal.ts).
 *
 * @module
 */

import { EINVAL } from "../abi/errno.ts";
import { doFutex, FUTEX_CMD_MASK, FUTEX_WAIT } from "./futex.ts";
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

/**
 * exit(status) and exit_group(status): xip processes have one thread, so
 * both end the process. The dispatcher sees `t.exiting` and stops the hart.
 */
export function sysExitGroup(t: Task, status: number): number {
  t.exit({ code: status & 0xff, signal: 0 });
  return 0;
}

export const sysGetpid = (t: Task): number => t.pid;
/** The parent's pid now: 0 once the parent is gone (the Machine, as init, adopted it). */
export const sysGetppid = (t: Task): number => procGet(t.mem, t.slot, "parent");
/** One thread per process: its tid is its pid. */
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

/** clock_gettime64(clockid, struct { int64 tv_sec; int64 tv_nsec; } *). */
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
 * futex(uaddr, op, val, timeout): the timeout of FUTEX_WAIT is relative
 * and points at a 64-bit struct timespec (the time64 layout, which is the
 * only one riscv32 has; 0 means wait forever).
 */
export function sysFutex(
  t: Task,
  uaddr: number,
  op: number,
  val: number,
  timeout: number,
): number {
  const tsp = timeout >>> 0;
  let timeoutMs: number | null = null;
  if ((op & FUTEX_CMD_MASK) === FUTEX_WAIT && tsp !== 0) {
    const raw = userRead(t, tsp, 16);
    if (typeof raw === "number") return raw;
    const dv = new DataView(raw.buffer);
    const sec = Number(dv.getBigInt64(0, true)), nsec = Number(dv.getBigInt64(8, true));
    if (sec < 0 || nsec < 0 || nsec >= 1e9) return -EINVAL;
    timeoutMs = sec * 1000 + nsec / 1e6;
  }
  return doFutex(t, uaddr, op, val, timeoutMs);
}

/** The process system calls. The futex sleep is killable (in wait slices). */
export const PROC_SYSCALLS: readonly SyscallDef[] = [
  defineSyscall(nr.SYS_exit, "exit", ["int"], sysExitGroup),
  defineSyscall(nr.SYS_exit_group, "exit_group", ["int"], sysExitGroup),
  defineSyscall(nr.SYS_set_tid_address, "set_tid_address", ["ptr"], sysSetTidAddress),
  defineSyscall(nr.SYS_futex_time64, "futex_time64", ["ptr", "int", "int", "ptr"], sysFutex, {
    killable: true,
  }),
  defineSyscall(nr.SYS_getpid, "getpid", [], sysGetpid),
  defineSyscall(nr.SYS_getppid, "getppid", [], sysGetppid),
  defineSyscall(nr.SYS_gettid, "gettid", [], sysGettid),
  defineSyscall(nr.SYS_clock_gettime64, "clock_gettime64", ["clockid", "ptr"], sysClockGettime64),
];
