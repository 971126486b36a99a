/**
 * Barrier: `parties` threads wait until all have arrived, then all go on.
 * Reusable: the generation advances each time it opens.
 *
 * ```
 *  word w + BARRIER.state:   31 | 30 ...... 16 | 15 ...... 0
 *                             0 | generation   | arrived
 *  word w + BARRIER.parties: how many threads open it
 *  word w + BARRIER.opened:  how many times it has opened (wraps)
 * ```
 *
 * Arrival and opening change the state word by compare-and-swap, so a
 * waiter that times out can withdraw its arrival exactly when the barrier
 * has not opened, and never after.
 *
 * @module
 */

import { KILL_POLL_MS, killCheck, noteWaitSleep } from "./current.ts";

import { KernelPanic } from "../abi/panic.ts";

export const BARRIER = {
  state: 0,
  parties: 1,
  opened: 2,
} as const;
/** Words a barrier occupies (set up with initBarrier). */
export const BARRIER_WORDS = 3;

const ARRIVED_MASK = 0xffff;
const GEN_SHIFT = 16;
const GEN_MASK = 0x7fff;

/**
 * Initialise the barrier at `w` for `parties` threads (1..65535). Must not
 * race with barrierWait on the same barrier.
 */
export function initBarrier(k: Int32Array, w: number, parties: number): void {
  if (!Number.isInteger(parties) || parties < 1 || parties > ARRIVED_MASK) {
    throw new KernelPanic("initBarrier", `parties ${parties} outside 1..${ARRIVED_MASK}`);
  }
  Atomics.store(k, w + BARRIER.parties, parties);
  Atomics.store(k, w + BARRIER.opened, 0);
  Atomics.store(k, w + BARRIER.state, 0);
}

/**
 * Arrive at the barrier and wait until all parties have arrived.
 *
 * @param timeoutMs give up after this long (default: never); the arrival is
 *   then withdrawn, so the barrier stays usable
 * @returns true when the barrier opened, false on timeout
 */
export function barrierWait(k: Int32Array, w: number, timeoutMs = Infinity): boolean {
  const sw = w + BARRIER.state;
  const parties = Atomics.load(k, w + BARRIER.parties);
  if (parties < 1) throw new KernelPanic("barrierWait", `barrier ${w} not initialised`);
  let gen: number;
  for (;;) {
    const v = Atomics.load(k, sw);
    gen = (v >>> GEN_SHIFT) & GEN_MASK;
    if ((v & ARRIVED_MASK) + 1 >= parties) {
      const next = ((gen + 1) & GEN_MASK) << GEN_SHIFT;
      if (Atomics.compareExchange(k, sw, v, next) !== v) continue;
      Atomics.add(k, w + BARRIER.opened, 1);
      Atomics.notify(k, sw);
      return true;
    }
    if (Atomics.compareExchange(k, sw, v, v + 1) === v) break;
  }
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const v = Atomics.load(k, sw);
    if (((v >>> GEN_SHIFT) & GEN_MASK) !== gen) return true;
    const left = deadline - performance.now();
    if (left <= 0) {
      if (Atomics.compareExchange(k, sw, v, v - 1) === v) return false;
      continue;
    }
    noteWaitSleep();
    Atomics.wait(k, sw, v, Math.min(left, KILL_POLL_MS));
    killCheck(k);
  }
}

/** How many times the barrier at `w` has opened since initBarrier. */
export function barrierOpened(k: Int32Array, w: number): number {
  return Atomics.load(k, w + BARRIER.opened);
}
