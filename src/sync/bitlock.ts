/**
 * Bit locks: one bit of a flags word used as a sleeping lock, as Linux's
 * lock_page (PG_locked) and the DAX entry lock are. The other bits of the
 * word belong to someone else and are preserved: the lock is taken with
 * Atomics.or and released with Atomics.and.
 *
 * A bit lock has no owner field; the holder is recorded only on its
 * held-lock stack (src/sync/held.ts), which is enough for recovery and for
 * lockHolders().
 *
 * Waiting: sleepers wait on the flags word itself. Since any change to the
 * word (another bit, another lock) ends the wait, every waiter re-checks
 * its bit and sleeps again. Instead of a PG_waiters bit in somebody else's
 * word, one machine-wide count (HEADER.bitWaiters) says whether anybody
 * sleeps on any bit lock; the unlocker notifies only when it is non-zero.
 * Both the count and the bit are seq-cst: a waiter increments then re-reads
 * the word before sleeping, the unlocker clears the bit then reads the
 * count, so one of them sees the other.
 *
 * @module
 */

import { HEADER, HELD, TASK } from "../abi/layout/mod.ts";
import { KernelPanic } from "../abi/panic.ts";
import { perturb } from "./debug.ts";
import {
  HELD_HELD,
  HELD_NONE,
  heldAbort,
  heldDesc,
  heldFind,
  heldPop,
  heldPush,
  KIND_BIT,
  MODE_EXCL,
} from "./held.ts";
import type { LockClass } from "./lockdep.ts";
import { currentTid, KILL_POLL_MS, killCheck, noteLockSleep, taskRecord } from "./current.ts";

/** Spins before sleeping; see MUTEX_SPIN. */
export const BIT_SPIN = 200;

function checkBit(bit: number, where: string): number {
  if (!Number.isInteger(bit) || bit < 0 || bit > 31) {
    throw new KernelPanic(where, `bit ${bit} outside 0..31`);
  }
  return 1 << bit;
}

/**
 * Take bit `bit` of the flags word at `w` as a lock, sleeping while it is set.
 * Exit: the bit is set by us and recorded on our held-lock stack.
 *
 * @throws KernelPanic for a bad bit number or (lockdep) an order violation
 */
export function bitLock(k: Int32Array, w: number, bit: number, cls: LockClass): void {
  const m = checkBit(bit, "bitLock");
  const e = heldPush(k, w, heldDesc(cls, KIND_BIT, MODE_EXCL, 0), bit, true);
  perturb(k);
  if ((Atomics.or(k, w, m) & m) === 0) {
    k[e + HELD.state] = HELD_HELD; // adjacent to the or (held.ts)
    return;
  }
  let spins = BIT_SPIN;
  for (;;) {
    const v = Atomics.load(k, w);
    if ((v & m) === 0) {
      if ((Atomics.or(k, w, m) & m) === 0) {
        k[e + HELD.state] = HELD_HELD;
        return;
      }
      continue;
    }
    if (spins > 0) {
      spins--;
      continue;
    }
    bitSleep(k, w, m, KILL_POLL_MS);
    killCheck(k);
  }
}

/**
 * Try once to take bit `bit` of the word at `w`. Not order-checked, but
 * recorded.
 *
 * @returns true if taken (held on return)
 */
export function bitTryLock(k: Int32Array, w: number, bit: number, cls: LockClass): boolean {
  const m = checkBit(bit, "bitTryLock");
  const e = heldPush(k, w, heldDesc(cls, KIND_BIT, MODE_EXCL, 0), bit, false);
  if ((Atomics.or(k, w, m) & m) === 0) {
    k[e + HELD.state] = HELD_HELD;
    return true;
  }
  heldAbort(k, e);
  return false;
}

/**
 * Release bit `bit` of the word at `w` and wake whoever sleeps on the word.
 * Entry: the calling task holds that bit lock.
 *
 * @throws KernelPanic if it does not, or if the bit is already clear
 */
export function bitUnlock(k: Int32Array, w: number, bit: number): void {
  const m = checkBit(bit, "bitUnlock");
  const e = heldFind(k, w, bit, "bitUnlock");
  perturb(k);
  const old = Atomics.and(k, w, ~m);
  k[e + HELD.state] = HELD_NONE;
  if (Atomics.load(k, HEADER.bitWaiters) !== 0) Atomics.notify(k, w);
  heldPop(k, e);
  if ((old & m) === 0) throw new KernelPanic("bitUnlock", `bit ${bit} of word ${w} was clear`);
}

/**
 * Wait until bit `bit` of the word at `w` is clear, without taking it
 * (Linux wait_on_bit / wait_on_page_locked). The bit may be set again by
 * the time the caller looks: re-check under the proper lock.
 *
 * @param timeoutMs give up after this long (default: never)
 * @returns true once the bit was seen clear, false on timeout
 */
export function waitOnBit(k: Int32Array, w: number, bit: number, timeoutMs = Infinity): boolean {
  const m = checkBit(bit, "waitOnBit");
  const deadline = performance.now() + timeoutMs;
  for (let spins = BIT_SPIN;; spins--) {
    if ((Atomics.load(k, w) & m) === 0) return true;
    if (spins > 0) continue;
    const left = deadline - performance.now();
    if (left <= 0) return false;
    bitSleep(k, w, m, Math.min(left, KILL_POLL_MS));
    killCheck(k);
  }
}

/**
 * Wake every thread sleeping on the word at `w` (Linux wake_up_bit). For
 * code that clears a bit by hand and has waiters in waitOnBit; bitUnlock
 * already wakes.
 */
export function wakeUpBit(k: Int32Array, w: number, bit: number): void {
  checkBit(bit, "wakeUpBit");
  if (Atomics.load(k, HEADER.bitWaiters) !== 0) Atomics.notify(k, w);
}

/** Whether bit `bit` of the word at `w` is set (locked). */
export function bitIsLocked(k: Int32Array, w: number, bit: number): boolean {
  return (Atomics.load(k, w) & checkBit(bit, "bitIsLocked")) !== 0;
}

/**
 * Sleep on the word at `w` while mask `m` is set in it, at most `ms`.
 * The task's TASK.bitWait mark lets recovery undo the count if the thread
 * dies asleep.
 */
function bitSleep(k: Int32Array, w: number, m: number, ms: number): void {
  const bw = taskRecord(k, currentTid()) + TASK.bitWait;
  Atomics.add(k, HEADER.bitWaiters, 1);
  k[bw] = 1; // adjacent to the add (held.ts)
  const v = Atomics.load(k, w);
  if ((v & m) !== 0) {
    noteLockSleep();
    Atomics.wait(k, w, v, ms);
  }
  Atomics.sub(k, HEADER.bitWaiters, 1);
  k[bw] = 0;
}

/**
 * Clear bit `bit` of the word at `w` on behalf of a dead task and wake
 * everyone on the word (recoverTask only).
 *
 * @returns true if the bit was set
 */
export function bitForceUnlock(k: Int32Array, w: number, bit: number): boolean {
  const m = checkBit(bit, "bitForceUnlock");
  const old = Atomics.and(k, w, ~m);
  Atomics.notify(k, w);
  return (old & m) !== 0;
}
