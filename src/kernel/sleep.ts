/**
 * Sleeping on one word of the kernel tables until it changes, in slices,
 * so that the sleeper stays killable and sees its signals (Linux's
 * wait_event_interruptible, for a single condition word). wait4, vfork
 * and pipes sleep here.
 *
 * The sleeper publishes the word (PROC.waitWord) so that kill notifies it
 * at once; between slices it checks for a hard kill and for a pending
 * signal. A hard kill either stops the task right there (killCheck, in a
 * killable system call) or, inside a no-kill region, ends the sleep with
 * -EINTR so the call unwinds and the task dies at its next kill point.
 * Every waker changes the word before it notifies, so a wake that falls
 * between two slices is seen by the next slice's value check.
 *
 * @module
 */

import { EINTR, ETIMEDOUT } from "../abi/errno.ts";
import type { Memory } from "../hw/memory.ts";
import { killCheck, TASK_DEAD, taskState } from "../sync/task.ts";
import { asTid } from "../abi/types.ts";
import { procGet, procSet } from "./proc.ts";
import { firstPending } from "./signal.ts";

/** Longest single Atomics.wait: bounds how late a sleeper notices a kill that missed it. */
export const SLEEP_SLICE_MS = 20;

/** Whether the process in `slot` has a signal pending or its task was killed. */
export function sleepInterrupted(mem: Memory, slot: number): boolean {
  if (firstPending(procGet(mem, slot, "sigPending")) !== 0) return true;
  return slot >= 2 && taskState(mem.k32, asTid(slot)) === TASK_DEAD;
}

/**
 * Sleep while `mem.k32[w]` holds `expect`, as the process in slot `slot`
 * (the calling thread's task). Entry: no lock held; the task is in kernel
 * mode (TLB shootdowns do not wait for it).
 *
 * @param deadline performance.now() value to give up at (Infinity: never)
 * @returns 0 when the word no longer holds `expect` (or a spurious wake),
 *   -EINTR (a signal is pending, or the task was killed), or -ETIMEDOUT
 */
export function sleepOnWord(
  mem: Memory,
  slot: number,
  w: number,
  expect: number,
  deadline = Infinity,
): number {
  const k32 = mem.k32;
  procSet(mem, slot, "waitWord", w + 1);
  try {
    for (;;) {
      killCheck(k32);
      if (sleepInterrupted(mem, slot)) return -EINTR;
      if (Atomics.load(k32, w) !== expect) return 0;
      const left = deadline - performance.now();
      if (left <= 0) return -ETIMEDOUT;
      if (Atomics.wait(k32, w, expect, Math.min(SLEEP_SLICE_MS, left)) !== "timed-out") return 0;
    }
  } finally {
    procSet(mem, slot, "waitWord", 0);
  }
}
