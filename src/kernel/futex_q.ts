/**
 * The futex wait queue (Linux's kernel/futex/core.c and waitwake.c: the
 * futex_q, the hash buckets and their locks), shared by every Worker.
 *
 * A futex is keyed by its physical word (futex.ts: key = word index + 1).
 * A sleeper queues itself in its own process-table record (PROC.futexKey,
 * futexBitset, futexOrder, futexWake, futexFlags: one entry a task, as a
 * task sleeps on one futex at a time) and sleeps on its own PROC.futexWake
 * word, not on the futex word: so a wake can count exactly whom it woke,
 * and a requeue can move a sleeper to another futex by rewriting its key,
 * after which only a wake of the new futex wakes it (Linux's
 * requeue_futex).
 *
 * ```
 *  PROCS_HDR.futexHash: FUTEX_HASH bucket mutexes (LockClass.FUTEX)
 *  PROC[slot]:  futexKey | futexBitset | futexOrder | futexWake | futexFlags
 *               key+1 or 0  wake mask     queue order  0 waiting   FUTEXQ_PI
 *                                                      1 woken
 *                                                      2 owner (PI hand-over)
 * ```
 *
 * A bucket is a lock and nothing more: the entries of a key are found by
 * scanning the slots for it (at most maxTasks, 1026) and ordered by
 * futexOrder, FIFO as Linux's plist is among equal priorities. A key's
 * entries change only under its bucket's lock, so a waker holding it sees
 * a stable set. Each change is a single store, so a task that dies while
 * holding a bucket (the Machine releases the lock, src/sync/recover.ts)
 * leaves every entry whole: woken (futexWake set first, then the key
 * cleared), moved, or untouched.
 *
 * The waiter's side is Linux's: check the futex word under the bucket
 * lock, queue, unlock, sleep; on the way out take the lock of the bucket
 * its entry is on *now* (a requeue may have moved it: futex_unqueue's
 * lock_ptr recheck) and leave, unless a waker already took it off, in
 * which case the wake-up stands even if a signal or the timeout came at the
 * same time.
 *
 * @module
 */

import { EINVAL } from "../abi/errno.ts";
import {
  FUTEX_HASH,
  FUTEXQ_PI,
  FUTEXQ_WAITING,
  FUTEXQ_WOKEN,
  PROCS_HDR,
} from "../abi/layout/proc.ts";
import type { Memory } from "../hw/memory.ts";
import { LockClass } from "../sync/lockdep.ts";
import { MUTEX_WORDS, mutexLock, mutexUnlock } from "../sync/mutex.ts";
import { procGet, procSet, procWord } from "./proc.ts";
import { sleepOnWord } from "./sleep.ts";
import { asTaskSlot, type TaskSlot } from "../abi/types.ts";

/** A wait's bitset when it has none (FUTEX_BITSET_MATCH_ANY). */
export const FUTEX_BITSET_MATCH_ANY = -1;

/** The bucket of futex `key` (a physical word index + 1). */
const bucketOf = (key: number): number => Math.imul(key, 0x9e37_79b1) >>> 30;

/** Word index of bucket `b`'s lock. */
const bucketWord = (mem: Memory, b: number): number =>
  mem.layout.procs.base + PROCS_HDR.futexHash + b * MUTEX_WORDS;

// That the buckets fit before PROCS_HDR.futexSeq is checked with every
// other lock field at layout time (src/abi/layout/lock_fields.ts).
if (FUTEX_HASH !== 1 << 2) throw new Error("futex_q: FUTEX_HASH must be 4 (bucketOf)");

/**
 * Lock the bucket of `key`. Entry: no lock held (FUTEX is a leaf taken
 * with nothing else held). Exit: held.
 */
export function futexLockBucket(mem: Memory, key: number): void {
  mutexLock(mem.k32, bucketWord(mem, bucketOf(key)), LockClass.FUTEX);
}

/** Unlock the bucket of `key`. Entry: held by the caller. */
export function futexUnlockBucket(mem: Memory, key: number): void {
  mutexUnlock(mem.k32, bucketWord(mem, bucketOf(key)));
}

/**
 * Lock the buckets of two keys, the lower-numbered bucket first (Linux's
 * double_lock_hb); one lock when they share a bucket. Entry: no lock held.
 *
 * @returns the function that unlocks both
 */
export function futexLockTwo(mem: Memory, k1: number, k2: number): () => void {
  const b1 = bucketOf(k1), b2 = bucketOf(k2);
  if (b1 === b2) {
    mutexLock(mem.k32, bucketWord(mem, b1), LockClass.FUTEX);
    return () => mutexUnlock(mem.k32, bucketWord(mem, b1));
  }
  const lo = Math.min(b1, b2), hi = Math.max(b1, b2);
  mutexLock(mem.k32, bucketWord(mem, lo), LockClass.FUTEX, 0);
  mutexLock(mem.k32, bucketWord(mem, hi), LockClass.FUTEX, 1);
  return () => {
    mutexUnlock(mem.k32, bucketWord(mem, hi));
    mutexUnlock(mem.k32, bucketWord(mem, lo));
  };
}

/** The next queue position: later entries (and requeued ones) go behind earlier ones. */
function nextOrder(mem: Memory): number {
  return Atomics.add(mem.k32, mem.layout.procs.base + PROCS_HDR.futexSeq, 1) + 1;
}

/**
 * The slots queued on `key`, oldest first. Entry: the key's bucket lock
 * held, so the set cannot change meanwhile.
 */
export function futexQueued(mem: Memory, key: number): TaskSlot[] {
  const found: TaskSlot[] = [];
  const n = mem.layout.config.maxTasks;
  for (let i = 2; i < n; i++) {
    const s = asTaskSlot(i);
    if (procGet(mem, s, "futexKey") === key && procGet(mem, s, "futexWake") === FUTEXQ_WAITING) {
      found.push(s);
    }
  }
  if (found.length > 1) {
    found.sort((a, b) => (procGet(mem, a, "futexOrder") - procGet(mem, b, "futexOrder")) | 0);
  }
  return found;
}

/** Whether the entry of `slot` is a FUTEX_LOCK_PI waiter. */
export const futexIsPi = (mem: Memory, slot: TaskSlot): boolean =>
  (procGet(mem, slot, "futexFlags") & FUTEXQ_PI) !== 0;

/**
 * Queue task `slot` on `key` (Linux's futex_queue). Entry: the key's
 * bucket lock held, and the caller checked the futex word under it.
 */
export function futexEnqueue(
  mem: Memory,
  slot: TaskSlot,
  key: number,
  bitset: number,
  flags: number,
): void {
  procSet(mem, slot, "futexWake", FUTEXQ_WAITING);
  procSet(mem, slot, "futexBitset", bitset);
  procSet(mem, slot, "futexFlags", flags);
  procSet(mem, slot, "futexOrder", nextOrder(mem));
  procSet(mem, slot, "futexKey", key); // last: the entry is complete once a scan can match it
}

/**
 * Take queued `slot` off its queue and wake it with `how` (FUTEXQ_WOKEN,
 * or FUTEXQ_OWNER for a PI hand-over): the wake word first, so an entry
 * half-woken by a dying waker is a woken one. Entry: its bucket lock held.
 */
export function futexWakeEntry(mem: Memory, slot: TaskSlot, how: number): void {
  const w = procWord(mem, slot, "futexWake");
  Atomics.store(mem.k32, w, how);
  procSet(mem, slot, "futexKey", 0);
  Atomics.notify(mem.k32, w);
}

/**
 * Wake up to `n` waiters of `key` whose bitset meets `bitset`, oldest
 * first (Linux's futex_wake). As Linux counts, at least one is woken when
 * any waits, whatever `n` is. Entry: the key's bucket lock held.
 *
 * @returns how many were woken, or -EINVAL when a PI waiter is queued on
 *   the key (the ones before it stay woken, as in Linux)
 */
export function futexWakeLocked(mem: Memory, key: number, n: number, bitset: number): number {
  let woken = 0;
  for (const s of futexQueued(mem, key)) {
    if (futexIsPi(mem, s)) return -EINVAL;
    if ((procGet(mem, s, "futexBitset") & bitset) === 0) continue;
    futexWakeEntry(mem, s, FUTEXQ_WOKEN);
    if (++woken >= n) break;
  }
  return woken;
}

/**
 * futexWakeLocked with the bucket lock taken and dropped here. Entry: no
 * lock held.
 */
export function futexWakeKey(
  mem: Memory,
  key: number,
  n: number,
  bitset = FUTEX_BITSET_MATCH_ANY,
): number {
  futexLockBucket(mem, key);
  try {
    return futexWakeLocked(mem, key, n, bitset);
  } finally {
    futexUnlockBucket(mem, key);
  }
}

/**
 * Wake `nrWake` waiters of `k1` and move up to `nrRequeue` more to the end
 * of `k2`'s queue (Linux's futex_requeue without PI): a moved waiter sleeps
 * on, and only a wake of `k2` (or a signal, a timeout, a kill) ends its
 * sleep. Entry: both keys' bucket locks held (futexLockTwo).
 *
 * @returns waiters woken plus waiters moved, or -EINVAL when a PI waiter
 *   is queued on `k1`
 */
export function futexRequeueLocked(
  mem: Memory,
  k1: number,
  k2: number,
  nrWake: number,
  nrRequeue: number,
): number {
  let count = 0;
  for (const s of futexQueued(mem, k1)) {
    if (count - nrWake >= nrRequeue) break;
    if (futexIsPi(mem, s)) return -EINVAL;
    if (++count <= nrWake) futexWakeEntry(mem, s, FUTEXQ_WOKEN);
    else {
      procSet(mem, s, "futexOrder", nextOrder(mem));
      procSet(mem, s, "futexKey", k2);
    }
  }
  return count;
}

/**
 * Sleep as queued task `slot` until a waker takes it off the queue,
 * `deadline` (performance.now() time) passes or a signal is pending.
 * The caller leaves the queue with futexUnqueue whatever this returns.
 * Entry: no lock held; kernel mode. A hard kill stops the task here,
 * queued: the Machine's teardown unqueues it (futexUnqueue).
 *
 * @returns 0 (the wake word changed), -ETIMEDOUT or -ERESTARTSYS
 */
export function futexSleep(mem: Memory, slot: TaskSlot, deadline: number): number {
  const w = procWord(mem, slot, "futexWake");
  for (;;) {
    const r = sleepOnWord(mem, slot, w, FUTEXQ_WAITING, deadline);
    // sleepOnWord also returns 0 for any notify, a signal's among them: it looks for the signal next.
    if (r !== 0 || Atomics.load(mem.k32, w) !== FUTEXQ_WAITING) return r;
  }
}

/**
 * Take task `slot` off whatever futex queue it is on now (Linux's
 * futex_unqueue): its key may change under a requeue until its current
 * bucket is locked, so lock, look again, and retry if it moved. Entry: no
 * lock held.
 *
 * @returns FUTEXQ_WAITING when it was still queued (it is not any more),
 *   else how a waker took it off (FUTEXQ_WOKEN or FUTEXQ_OWNER)
 */
export function futexUnqueue(mem: Memory, slot: TaskSlot): number {
  for (;;) {
    const key = procGet(mem, slot, "futexKey");
    if (key === 0) return procGet(mem, slot, "futexWake");
    futexLockBucket(mem, key);
    try {
      if (procGet(mem, slot, "futexKey") !== key) continue; // requeued meanwhile
      const how = procGet(mem, slot, "futexWake");
      procSet(mem, slot, "futexKey", 0);
      return how;
    } finally {
      futexUnlockBucket(mem, key);
    }
  }
}
