/**
 * Sleeping and clock resolution: clock_nanosleep_time64 (musl's nanosleep,
 * usleep, sleep and thrd_sleep all end here; riscv32 has no time32
 * nanosleep), clock_getres_time64, and the killable kernel sleep that
 * ppoll shares.
 *
 * A sleeping task waits in slices on a private word and checks between
 * them for a hard kill (killCheck) and a pending signal (-EINTR), like a
 * futex sleeper (futex.ts). The clocks are the ones clock_gettime64 reads
 * (sys_proc.ts): CLOCK_REALTIME is the host's epoch clock, CLOCK_MONOTONIC
 * and CLOCK_BOOTTIME count from the Machine's boot.
 *
 * @module
 */

import { EFAULT, EINTR, EINVAL, EOPNOTSUPP } from "../abi/errno.ts";
import * as nr from "../abi/syscall_nr.ts";
import { killCheck } from "../sync/mod.ts";
import {
  CLOCK_BOOTTIME,
  CLOCK_MONOTONIC,
  CLOCK_MONOTONIC_COARSE,
  CLOCK_MONOTONIC_RAW,
  CLOCK_PROCESS_CPUTIME_ID,
  CLOCK_REALTIME,
  CLOCK_REALTIME_COARSE,
  CLOCK_THREAD_CPUTIME_ID,
} from "./sys_proc.ts";
import { defineSyscall, type SyscallDef } from "./syscall_def.ts";
import type { Task } from "./task.ts";
import { putU64, userRead, userWrite } from "./uaccess_task.ts";

/** clock_nanosleep flag: the time is an absolute deadline on the clock. */
export const TIMER_ABSTIME = 1;

/** Longest single wait of a sleeping task: bounds how late it sees a kill or a signal. */
const SLEEP_SLICE_MS = 20;
/** A word nobody notifies: Atomics.wait on it is a plain sleep. */
const NAP = new Int32Array(new SharedArrayBuffer(4));

/**
 * Sleep until performance.now() reaches `deadline` (Infinity: until a
 * signal). Entry: kernel mode, no lock held; the caller's syscall is
 * killable. A hard kill stops the task inside.
 *
 * @returns 0 at the deadline, or -EINTR when a signal became pending
 */
export function kernelSleepUntil(t: Task, deadline: number): number {
  for (;;) {
    killCheck(t.mem.k32);
    if (t.pendingSignal() !== 0) return -EINTR;
    const left = deadline - performance.now();
    if (left <= 0) return 0;
    Atomics.wait(NAP, 0, 0, Math.min(SLEEP_SLICE_MS, left));
  }
}

/**
 * A struct __kernel_timespec (two s64) at `va`, in ms.
 *
 * @returns the value, or -EFAULT, -EINVAL (negative, or tv_nsec not below 1e9)
 */
export function readTimespec(t: Task, va: number): number {
  const raw = userRead(t, va, 16);
  if (typeof raw === "number") return raw;
  const dv = new DataView(raw.buffer);
  const sec = dv.getBigInt64(0, true), nsec = dv.getBigInt64(8, true);
  if (sec < 0n || nsec < 0n || nsec >= 1_000_000_000n) return -EINVAL;
  return Number(sec) * 1000 + Number(nsec) / 1e6;
}

/** Write `ms` (>= 0) as a struct __kernel_timespec at `va`. */
export function writeTimespec(t: Task, va: number, ms: number): number {
  const sec = Math.floor(ms / 1000);
  const nsec = Math.min(999_999_999, Math.round((ms - sec * 1000) * 1e6));
  const b = new Uint8Array(16);
  const dv = new DataView(b.buffer);
  putU64(dv, 0, sec);
  putU64(dv, 8, nsec);
  return userWrite(t, va, b);
}

/** Now on `clock`, in ms; null for a clock that cannot be slept on. */
function clockNowMs(t: Task, clock: number): number | null {
  const now = performance.timeOrigin + performance.now();
  switch (clock) {
    case CLOCK_REALTIME:
      return now;
    case CLOCK_MONOTONIC:
    case CLOCK_BOOTTIME:
      return now - t.bootMs;
    default:
      return null;
  }
}

/**
 * clock_nanosleep_time64(clock, flags, request, remain). Relative or
 * (TIMER_ABSTIME) absolute on CLOCK_REALTIME, CLOCK_MONOTONIC or
 * CLOCK_BOOTTIME. Interrupted by a signal, a relative sleep stores the
 * time left in `remain` (when not NULL) and returns -EINTR.
 *
 * @returns 0, -EINTR, -EINVAL (bad clock or timespec), -EOPNOTSUPP (a CPU-time clock), -EFAULT
 */
export function sysClockNanosleepTime64(
  t: Task,
  clock: number,
  flags: number,
  req: number,
  rem: number,
): number {
  const cpuClock = clock === CLOCK_PROCESS_CPUTIME_ID || clock === CLOCK_THREAD_CPUTIME_ID;
  if (cpuClock) return clock === CLOCK_THREAD_CPUTIME_ID ? -EINVAL : -EOPNOTSUPP;
  const now = clockNowMs(t, clock);
  if (now === null) return -EINVAL;
  const ms = readTimespec(t, req);
  if (ms < 0) return ms;
  const abs = (flags & TIMER_ABSTIME) !== 0;
  const deadline = performance.now() + (abs ? ms - now : ms);
  const r = kernelSleepUntil(t, deadline);
  if (r === -EINTR && !abs && rem >>> 0 !== 0) {
    const w = writeTimespec(t, rem, Math.max(0, deadline - performance.now()));
    if (w < 0) return -EFAULT;
  }
  return r;
}

/**
 * clock_getres_time64(clock, res): 1 ns for the fine clocks (hrtimer
 * resolution, as Linux reports), 1 ms for the coarse ones (this host's
 * timer granularity at best). res may be NULL.
 */
export function sysClockGetresTime64(t: Task, clock: number, res: number): number {
  let ns: number;
  switch (clock) {
    case CLOCK_REALTIME:
    case CLOCK_MONOTONIC:
    case CLOCK_MONOTONIC_RAW:
    case CLOCK_BOOTTIME:
    case CLOCK_PROCESS_CPUTIME_ID:
    case CLOCK_THREAD_CPUTIME_ID:
      ns = 1;
      break;
    case CLOCK_REALTIME_COARSE:
    case CLOCK_MONOTONIC_COARSE:
      ns = 1_000_000;
      break;
    default:
      return -EINVAL;
  }
  return res >>> 0 === 0 ? 0 : writeTimespec(t, res, ns / 1e6);
}

/** The sleeping calls. Sleeps are killable (in their wait slices). */
export const TIME_SYSCALLS: readonly SyscallDef[] = [
  defineSyscall(
    nr.SYS_clock_nanosleep_time64,
    "clock_nanosleep_time64",
    ["clockid", "hex", "ptr", "ptr"],
    sysClockNanosleepTime64,
    { killable: true },
  ),
  defineSyscall(
    nr.SYS_clock_getres_time64,
    "clock_getres_time64",
    ["clockid", "ptr"],
    sysClockGetresTime64,
  ),
];
