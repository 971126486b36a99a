/**
 * Sleeping on one word of the kernel tables until it changes, for code
 * that knows the sleeping task only by its id (the pipe driver, wait4 and
 * vfork): the counterpart of signal_task.ts's signalSleep, over the same
 * shared signal state, so a sender's signal_wake_up (which notifies the
 * word a task publishes in SIGTASK.waitWord) ends the sleep at once.
 *
 * Between slices the sleeper checks for a hard kill and for a signal: any
 * pending signal (Linux's TASK_INTERRUPTIBLE), or only a fatal one
 * (TASK_KILLABLE: vfork). A hard kill either stops the task right there
 * (killCheck, in a killable system call) or, inside a no-kill region, ends
 * the sleep so the call unwinds and the task dies at its next kill point.
 * Every waker changes the word before it notifies, so a wake that falls
 * between two slices is seen by the next slice's value check.
 *
 * @module
 */

import { ETIMEDOUT } from "../abi/errno.ts";
import { ERESTARTSYS } from "../abi/signal.ts";
import { SIGTASK, TIF_SIGPENDING } from "../abi/layout/signal.ts";
import type { TaskSlot } from "../abi/types.ts";
import type { Memory } from "../hw/memory.ts";
import { killCheck, noteWaitSleep, TASK_DEAD, taskState } from "../sync/current.ts";
import { fatalSignalPending } from "./signal_send.ts";
import { sigTask } from "./signal_state.ts";

/** Longest single Atomics.wait: bounds how late a sleeper notices a kill that missed it. */
export const SLEEP_SLICE_MS = 20;

/**
 * Whether task `tid`'s sleep must end: a signal is pending (only a fatal
 * one when `killable`), or the task was killed the hard way.
 */
export function sleepInterrupted(mem: Memory, tid: TaskSlot, killable = false): boolean {
  const pending = killable
    ? fatalSignalPending(mem, tid)
    : (Atomics.load(mem.k32, sigTask(mem, tid) + SIGTASK.flags) & TIF_SIGPENDING) !== 0;
  return pending || (tid >= 2 && taskState(mem.k32, tid) === TASK_DEAD);
}

/**
 * Sleep while `mem.k32[w]` holds `expect`, as task `tid` (the calling
 * thread's). Entry: no lock held; the task is in kernel mode (TLB
 * shootdowns do not wait for it).
 *
 * @param deadline performance.now() value to give up at (Infinity: never)
 * @param killable sleep through signals that are not fatal (vfork's wait)
 * @returns 0 when the word no longer holds `expect` (or a spurious wake),
 *   -ERESTARTSYS (interrupted: the return to user mode turns it into
 *   EINTR or a restart), or -ETIMEDOUT
 */
export function sleepOnWord(
  mem: Memory,
  tid: TaskSlot,
  w: number,
  expect: number,
  deadline = Infinity,
  killable = false,
): number {
  const k32 = mem.k32;
  const reg = sigTask(mem, tid) + SIGTASK.waitWord;
  Atomics.store(k32, reg, w + 1);
  try {
    for (;;) {
      killCheck(k32);
      if (sleepInterrupted(mem, tid, killable)) return -ERESTARTSYS;
      if (Atomics.load(k32, w) !== expect) return 0;
      const left = deadline - performance.now();
      if (left <= 0) return -ETIMEDOUT;
      noteWaitSleep();
      if (Atomics.wait(k32, w, expect, Math.min(SLEEP_SLICE_MS, left)) !== "timed-out") return 0;
    }
  } finally {
    Atomics.store(k32, reg, 0);
  }
}
