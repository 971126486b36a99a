/**
 * Sleeping and clock resolution: clock_nanosleep_time64 (musl's nanosleep,
 * usleep, sleep and thrd_sleep all end here; riscv32 has no time32
 * nanosleep), clock_getres_time64, and the killable kernel sleep that
 * ppoll shares.
 *
 * A sleeping task waits on its signal wake word (signal_task.ts
 * signalSleep: killable slices, ended at once by a signal's wake-up).
 * Interrupted, a relative nanosleep stores the time left and returns
 * -ERESTART_RESTARTBLOCK, which restarts it with that time when no
 * handler runs (Linux's hrtimer_nanosleep_restart) and is EINTR when one
 * does; an absolute one returns -ERESTARTNOHAND. The clocks are the ones
 * clock_gettime64 reads (sys_proc.ts): CLOCK_REALTIME is the host's epoch
 * clock, CLOCK_MONOTONIC and CLOCK_BOOTTIME count from the Machine's boot.
 *
 * @module
 */

import { EFAULT, EINVAL, EOPNOTSUPP } from "../abi/errno.ts";
import { ERESTART_RESTARTBLOCK, ERESTARTNOHAND } from "../abi/signal.ts";
import * as nr from "../abi/syscall_nr.ts";
import { signalSleep } from "./signal_task.ts";
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

/**
 * Sleep until performance.now() reaches `deadline` (Infinity: until a
 * signal), on the task's signal wake word. Entry: kernel mode, no lock
 * held; the caller's syscall is killable. A hard kill stops the task inside.
 *
 * @returns "done" at the deadline, "signal" when a signal is pending
 */
export function kernelSleepUntil(t: Task, deadline: number): "done" | "signal" {
  const k = t.mem.k32;
  for (;;) {
    if (t.signalPending()) return "signal";
    const left = deadline - performance.now();
    if (left <= 0) return "done";
    const seen = Atomics.load(k, t.sig.wakeWord);
    if (signalSleep(t.sig, k, t.sig.wakeWord, seen, left === Infinity ? null : left) === "signal") {
      return "signal";
    }
  }
}

/**
 * A struct __kernel_timespec (two s64) at `va`, in ms. Entry: no lock held;
 * locks as userRead (mmap_lock for reading; nothing held on return).
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

/**
 * Write `ms` (>= 0) as a struct __kernel_timespec at `va`. Entry: no lock
 * held; locks as userWrite (mmap_lock for reading; nothing held on return).
 *
 * @returns 0 or -EFAULT
 */
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
 * @returns 0, -ERESTART_RESTARTBLOCK or -ERESTARTNOHAND (a signal: EINTR
 *   if a handler runs), -EINVAL (bad clock or timespec), -EOPNOTSUPP (a
 *   CPU-time clock), -EFAULT
 *
 * Entry: no lock held (a syscall); the timespecs are read and written under
 * mmap_lock (read) as userRead and userWrite, and the sleep holds no lock.
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
  return nanosleepUntil(t, performance.now() + (abs ? ms - now : ms), abs, rem);
}

/** The sleep of clock_nanosleep, and of its restart after a signal without a handler. */
function nanosleepUntil(t: Task, deadline: number, abs: boolean, rem: number): number {
  if (kernelSleepUntil(t, deadline) === "done") return 0;
  if (abs) return -ERESTARTNOHAND;
  if (rem >>> 0 !== 0) {
    const w = writeTimespec(t, rem, Math.max(0, deadline - performance.now()));
    if (w < 0) return -EFAULT;
  }
  t.sig.restartBlock = () => nanosleepUntil(t, deadline, abs, rem);
  return -ERESTART_RESTARTBLOCK;
}

/**
 * clock_getres_time64(clock, res): 1 ns for the fine clocks (hrtimer
 * resolution, as Linux reports), 1 ms for the coarse ones (this host's
 * timer granularity at best). res may be NULL. Entry: no lock held (a
 * syscall); locks as writeTimespec (mmap_lock for reading).
 *
 * @returns 0, or -EINVAL (unknown clock), -EFAULT
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
