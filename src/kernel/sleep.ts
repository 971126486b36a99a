/**
 * Sleeping on one word of the kernel tables until it changes, in slices,
 * so that the sleeper stays killable and sees its signals (Linux's
 * wait_event_interruptible, for a single condition word). wait4, vfork
 * and pipes sleep here.
 *
 * The sleeper publishes the word (PROC.waitWord) so that kill notifies it
 * at once; between slices it checks for a hard kill (killCheck) and, when
 * interruptible, for a pending signal. Every waker changes the word before
 * it notifies, so a wake that falls between two slices is seen by the next
 * slice's value check.
 *
 * @module
 */

import { EINTR, ETIMEDOUT } from "../abi/errno.ts";
import { killCheck } from "../sync/task.ts";
import { procSet } from "./proc.ts";
import type { Task } from "./task.ts";

/** Longest single Atomics.wait: bounds how late a sleeper notices a kill that missed it. */
export const SLEEP_SLICE_MS = 20;

/**
 * Sleep while `mem.k32[w]` holds `expect`. Entry: no lock held; the task is
 * in kernel mode (TLB shootdowns do not wait for it).
 *
 * @param deadline performance.now() value to give up at (Infinity: never)
 * @returns 0 when the word no longer holds `expect` (or a spurious wake),
 *   -EINTR, or -ETIMEDOUT
 */
export function sleepOnWord(
  t: Task,
  w: number,
  expect: number,
  deadline = Infinity,
): number {
  const k32 = t.mem.k32;
  procSet(t.mem, t.slot, "waitWord", w + 1);
  try {
    for (;;) {
      killCheck(k32);
      if (t.pendingSignal() !== 0) return -EINTR;
      if (Atomics.load(k32, w) !== expect) return 0;
      const left = deadline - performance.now();
      if (left <= 0) return -ETIMEDOUT;
      if (Atomics.wait(k32, w, expect, Math.min(SLEEP_SLICE_MS, left)) !== "timed-out") return 0;
    }
  } finally {
    procSet(t.mem, t.slot, "waitWord", 0);
  }
}
