/**
 * Futex-style sleeping mutex (Linux struct mutex, in the spirit of
 * Drepper's "Futexes Are Tricky" mutex), with its owner in the lock word.
 *
 * ```
 *  word w + MUTEX.lock:   31  30  29 ........................ 0
 *                         [0 | W | owner tid                   ]
 *  0                 unlocked
 *  tid               locked by tid, nobody sleeping
 *  tid | W           locked by tid, someone may sleep on the word
 *  word w + MUTEX.spare:  reserved, 0
 * ```
 *
 * The owner is written by the same compare-and-swap that takes the lock,
 * as Linux robust futexes store the TID in the futex word, so a dead
 * owner can be recognised from the word alone (src/sync/recover.ts).
 *
 * An all-zero word is an unlocked mutex: no init is needed.
 *
 * @module
 */

import { HELD } from "../abi/layout/mod.ts";
import { KernelPanic } from "../abi/panic.ts";
import { asTaskSlot, type TaskSlot } from "../abi/types.ts";
import { perturb } from "./debug.ts";
import {
  HELD_HELD,
  HELD_NONE,
  heldAbort,
  heldDesc,
  heldFind,
  heldPop,
  heldPush,
  KIND_MUTEX,
  MODE_EXCL,
} from "./held.ts";
import type { LockClass } from "./lockdep.ts";
import { currentTid, KILL_POLL_MS, killCheck, noteLockSleep } from "./current.ts";

/** Word offsets of a mutex. */
export const MUTEX = {
  lock: 0,
  spare: 1,
} as const;
/** Words a mutex occupies (all zero: unlocked): the layouts' constant (src/abi/layout/lock_words.ts). */
export { MUTEX_WORDS } from "../abi/layout/lock_words.ts";

/** "Someone may be sleeping": the unlocker must notify. */
export const MUTEX_WAITERS = 1 << 30;
export const MUTEX_OWNER_MASK = MUTEX_WAITERS - 1;

/**
 * Load-only spins before sleeping. A wait/notify round trip costs tens of
 * microseconds (docs/ARCHITECTURE.md §14) and critical sections here are mostly far
 * shorter, so a short spin usually sees the unlock. Measured with
 * bench/sync_bench.ts, 2 Workers x 20000 contended pairs, on the 2-core
 * test machine under load (avg per batch): spin 0: 33 ms, 50: 35 ms,
 * 200: 22 ms, 1000: 74 ms (spinning against a descheduled holder).
 */
export const MUTEX_SPIN = 200;

/**
 * Take the mutex at `w`, sleeping while another task holds it.
 * Entry: the calling task does not hold it (recursion panics). Exit: held.
 *
 * @param cls lockdep class; `subclass` orders two locks of one class
 * @throws KernelPanic on recursion, with no current task, or (lockdep) on
 *   an order violation
 */
export function mutexLock(k: Int32Array, w: number, cls: LockClass, subclass = 0): void {
  const tid = currentTid();
  const e = heldPush(k, w, heldDesc(cls, KIND_MUTEX, MODE_EXCL, subclass), -1, true);
  perturb(k);
  // The CAS and the HELD mark must stay adjacent statements (held.ts).
  if (Atomics.compareExchange(k, w + MUTEX.lock, 0, tid) === 0) {
    k[e + HELD.state] = HELD_HELD;
    return;
  }
  mutexLockSlow(k, w + MUTEX.lock, tid, e);
}

function mutexLockSlow(k: Int32Array, lw: number, tid: TaskSlot, e: number): void {
  let spins = MUTEX_SPIN;
  // After sleeping we take the lock with W set: other sleepers may remain
  // and their W was consumed by the unlock that woke us.
  let take: number = tid;
  for (;;) {
    let v = Atomics.load(k, lw);
    if (v === 0) {
      if (Atomics.compareExchange(k, lw, 0, take) === 0) {
        k[e + HELD.state] = HELD_HELD;
        return;
      }
      continue;
    }
    if ((v & MUTEX_OWNER_MASK) === tid) {
      throw new KernelPanic("mutexLock", `task ${tid} already holds the mutex at ${lw}`);
    }
    if (spins > 0) {
      spins--;
      continue;
    }
    if ((v & MUTEX_WAITERS) === 0) {
      if (Atomics.compareExchange(k, lw, v, v | MUTEX_WAITERS) !== v) continue;
      v |= MUTEX_WAITERS;
    }
    take = tid | MUTEX_WAITERS;
    noteLockSleep();
    Atomics.wait(k, lw, v, KILL_POLL_MS);
    killCheck(k);
  }
}

/**
 * Try once to take the mutex at `w`. Not order-checked (it cannot
 * deadlock), but recorded, so later acquisitions are checked against it.
 *
 * @returns true if taken (held on return), false if another task holds it
 */
export function mutexTryLock(k: Int32Array, w: number, cls: LockClass): boolean {
  const tid = currentTid();
  const e = heldPush(k, w, heldDesc(cls, KIND_MUTEX, MODE_EXCL, 0), -1, false);
  if (Atomics.compareExchange(k, w + MUTEX.lock, 0, tid) === 0) {
    k[e + HELD.state] = HELD_HELD;
    return true;
  }
  heldAbort(k, e);
  return false;
}

/**
 * Release the mutex at `w` and wake one sleeper, if any.
 * Entry: held by the calling task. Exit: not held.
 *
 * @throws KernelPanic if the calling task does not own it
 */
export function mutexUnlock(k: Int32Array, w: number): void {
  const tid = currentTid();
  const lw = w + MUTEX.lock;
  const e = heldFind(k, w, -1, "mutexUnlock");
  const owner = Atomics.load(k, lw) & MUTEX_OWNER_MASK;
  if (owner !== tid) {
    throw new KernelPanic("mutexUnlock", `task ${tid} unlocks mutex ${w} owned by ${owner}`);
  }
  perturb(k);
  // Exchange, NONE mark and notify stay adjacent: a task stopped after
  // them has fully released, before them has fully kept the lock.
  const old = Atomics.exchange(k, lw, 0);
  k[e + HELD.state] = HELD_NONE;
  if ((old & MUTEX_WAITERS) !== 0) Atomics.notify(k, lw, 1);
  heldPop(k, e);
}

/** The task holding the mutex at `w`, 0 when unlocked. */
export function mutexOwner(k: Int32Array, w: number): TaskSlot {
  return asTaskSlot(Atomics.load(k, w + MUTEX.lock) & MUTEX_OWNER_MASK);
}

/**
 * Force-release the mutex at `w` if `tid` owns it, waking every sleeper.
 * Only for recoverTask, on behalf of a dead task.
 *
 * @returns true if it was owned by `tid`
 */
export function mutexForceUnlock(k: Int32Array, w: number, tid: TaskSlot): boolean {
  const lw = w + MUTEX.lock;
  for (;;) {
    const v = Atomics.load(k, lw);
    if ((v & MUTEX_OWNER_MASK) !== tid) return false;
    if (Atomics.compareExchange(k, lw, v, 0) === v) {
      Atomics.notify(k, lw);
      return true;
    }
  }
}
