/**
 * Completion (Linux struct completion): one thread waits until others say
 * "done". The word counts completions not yet consumed; each wait consumes
 * one, so complete() releases exactly one waiter, earlier or later.
 * completeAll() sets it to COMPLETION_ALL, which waits never consume.
 *
 * A zero word is a fresh completion with nothing done.
 *
 * @module
 */

import { KILL_POLL_MS, killCheck, noteWaitSleep } from "./current.ts";

/** Words a completion occupies (zero, or initCompletion: not done). */
export const COMPLETION_WORDS = 1;

/** The count after completeAll (Linux: UINT_MAX). */
export const COMPLETION_ALL = 0x7fffffff;

/** Reset the completion at `w` to "not done" (init_completion / reinit_completion). */
export function initCompletion(k: Int32Array, w: number): void {
  Atomics.store(k, w, 0);
}

/** Signal one completion: one current or future waiter proceeds. */
export function complete(k: Int32Array, w: number): void {
  for (;;) {
    const v = Atomics.load(k, w);
    if (v === COMPLETION_ALL) return;
    if (Atomics.compareExchange(k, w, v, v + 1) === v) break;
  }
  Atomics.notify(k, w, 1);
}

/** Signal that every current and future wait succeeds, until initCompletion. */
export function completeAll(k: Int32Array, w: number): void {
  Atomics.store(k, w, COMPLETION_ALL);
  Atomics.notify(k, w);
}

/**
 * Wait for a completion and consume it (unless completeAll was called).
 *
 * @param timeoutMs give up after this long (default: never)
 * @returns true when completed, false on timeout
 */
export function waitForCompletion(k: Int32Array, w: number, timeoutMs = Infinity): boolean {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const v = Atomics.load(k, w);
    if (v === COMPLETION_ALL) return true;
    if (v > 0) {
      if (Atomics.compareExchange(k, w, v, v - 1) === v) return true;
      continue;
    }
    const left = deadline - performance.now();
    if (left <= 0) return false;
    noteWaitSleep();
    Atomics.wait(k, w, v, Math.min(left, KILL_POLL_MS));
    killCheck(k);
  }
}

/** Consume a completion if one is available, without waiting (try_wait_for_completion). */
export function tryWaitForCompletion(k: Int32Array, w: number): boolean {
  return waitForCompletion(k, w, 0);
}
