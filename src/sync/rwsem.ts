/**
 * Reader-writer semaphore (Linux struct rw_semaphore): many readers or one
 * writer, sleeping when it cannot be had, writers not starved.
 *
 * Everything lives in one word, so each transition is one compare-and-swap
 * and the writer's identity is written by the CAS that takes the lock:
 *
 * ```
 *  word w + RWSEM.count:  31   30   29 ........ 16   15 ........ 0
 *                         [WT | WW | writer tid     | readers      ]
 *  readers  tasks holding it for read (each down_read adds 1)
 *  writer   tid of the task holding it for write, 0 if none
 *  WW       a writer is waiting: new readers queue behind it
 *  WT       someone may sleep on the word: the release that frees the
 *           lock clears WT and wakes all sleepers, who retry
 *  words 1..3: reserved, 0
 * ```
 *
 * Writer preference: a writer that has to sleep sets WW, and readers do not
 * enter while WW is set, so the readers already inside drain and the writer
 * goes next. WW survives the last reader's release (the woken readers see
 * it and sleep again) and is cleared when a writer takes the lock; the
 * writer's release clears the whole word, so readers and writers then race
 * again and a stream of writers cannot starve readers either. This is the
 * effect of Linux's RWSEM_FLAG_HANDOFF without its wait list.
 *
 * An all-zero word is a free rwsem: no init is needed.
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
  KIND_RWSEM,
  MODE_EXCL,
  MODE_READ,
} from "./held.ts";
import { LockClass } from "./lockdep.ts";
import { currentTid, KILL_POLL_MS, killCheck, noteLockSleep } from "./current.ts";

/** Word offsets of an rwsem. */
export const RWSEM = {
  count: 0,
} as const;
/** Words an rwsem occupies (all zero: unlocked): the layouts' constant (src/abi/layout/lock_words.ts). */
export { RWSEM_WORDS } from "../abi/layout/lock_words.ts";

export const RWSEM_READERS_MASK = 0xffff;
export const RWSEM_WRITER_SHIFT = 16;
/** Largest tid that fits the writer field. */
export const RWSEM_MAX_TID = 0x3fff;
export const RWSEM_WRITER_MASK = RWSEM_MAX_TID << RWSEM_WRITER_SHIFT;
export const RWSEM_WRITER_WAITING = 1 << 30;
export const RWSEM_WAITERS = 1 << 31;

/** Spins before sleeping; see MUTEX_SPIN. */
export const RWSEM_SPIN = 200;

const BUSY = RWSEM_READERS_MASK | RWSEM_WRITER_MASK;

/**
 * Take the rwsem at `w` for read, sleeping while a writer holds it or waits.
 * Exit: held for read (one more reader).
 *
 * @throws KernelPanic when the calling task holds it for write, or (lockdep)
 *   on an order violation
 */
export function downRead(
  k: Int32Array,
  w: number,
  cls: LockClass = LockClass.NONE,
  subclass = 0,
): void {
  const e = heldPush(k, w, heldDesc(cls, KIND_RWSEM, MODE_READ, subclass), -1, true);
  perturb(k);
  const cw = w + RWSEM.count;
  const v = Atomics.load(k, cw);
  if (
    (v & (RWSEM_WRITER_MASK | RWSEM_WRITER_WAITING)) === 0 &&
    (v & RWSEM_READERS_MASK) < RWSEM_READERS_MASK
  ) {
    if (Atomics.compareExchange(k, cw, v, v + 1) === v) {
      k[e + HELD.state] = HELD_HELD;
      return;
    }
  }
  downReadSlow(k, cw, e);
}

function downReadSlow(k: Int32Array, cw: number, e: number): void {
  const tid = currentTid();
  let spins = RWSEM_SPIN;
  for (;;) {
    const v = Atomics.load(k, cw);
    if ((v & (RWSEM_WRITER_MASK | RWSEM_WRITER_WAITING)) === 0) {
      if ((v & RWSEM_READERS_MASK) === RWSEM_READERS_MASK) {
        throw new KernelPanic("downRead", `reader count overflow at ${cw}`);
      }
      if (Atomics.compareExchange(k, cw, v, v + 1) === v) {
        k[e + HELD.state] = HELD_HELD;
        return;
      }
      continue;
    }
    if (((v & RWSEM_WRITER_MASK) >>> RWSEM_WRITER_SHIFT) === tid) {
      throw new KernelPanic("downRead", `task ${tid} holds the rwsem at ${cw} for write`);
    }
    if (spins > 0) {
      spins--;
      continue;
    }
    if ((v & RWSEM_WAITERS) === 0 && Atomics.compareExchange(k, cw, v, v | RWSEM_WAITERS) !== v) {
      continue;
    }
    noteLockSleep();
    Atomics.wait(k, cw, v | RWSEM_WAITERS, KILL_POLL_MS);
    killCheck(k);
  }
}

/**
 * Try once to take the rwsem for read. Fails when a writer holds it or
 * waits for it. Not order-checked, but recorded.
 *
 * @returns true if held for read on return
 */
export function downReadTrylock(
  k: Int32Array,
  w: number,
  cls: LockClass = LockClass.NONE,
): boolean {
  const e = heldPush(k, w, heldDesc(cls, KIND_RWSEM, MODE_READ, 0), -1, false);
  const cw = w + RWSEM.count;
  for (;;) {
    const v = Atomics.load(k, cw);
    if ((v & (RWSEM_WRITER_MASK | RWSEM_WRITER_WAITING)) !== 0) break;
    if ((v & RWSEM_READERS_MASK) === RWSEM_READERS_MASK) break;
    if (Atomics.compareExchange(k, cw, v, v + 1) === v) {
      k[e + HELD.state] = HELD_HELD;
      return true;
    }
  }
  heldAbort(k, e);
  return false;
}

/**
 * Release one read hold of the rwsem at `w`; the last reader out wakes the
 * sleepers. Entry: the calling task holds it for read.
 *
 * @throws KernelPanic if it does not
 */
export function upRead(k: Int32Array, w: number): void {
  const cw = w + RWSEM.count;
  const e = heldFind(k, w, -1, "upRead");
  if ((k[e + HELD.desc]! & 0xf) !== MODE_READ) {
    throw new KernelPanic("upRead", `rwsem ${w} is held for write, not read`);
  }
  perturb(k);
  const old = Atomics.sub(k, cw, 1); // adjacent to the NONE mark (held.ts)
  k[e + HELD.state] = HELD_NONE;
  if ((old & RWSEM_READERS_MASK) === 1 && (old & RWSEM_WAITERS) !== 0) rwsemWake(k, w);
  heldPop(k, e);
  if ((old & RWSEM_READERS_MASK) === 0) {
    throw new KernelPanic("upRead", `rwsem ${w} had no readers`);
  }
}

/**
 * If the rwsem at `w` is free and someone may sleep on it, clear WT and wake
 * everyone (WW stays, so a waiting writer still goes before new readers).
 * Called by the release that frees the lock, and by recovery.
 */
export function rwsemWake(k: Int32Array, w: number): void {
  const cw = w + RWSEM.count;
  for (;;) {
    const v = Atomics.load(k, cw);
    if ((v & BUSY) !== 0 || (v & RWSEM_WAITERS) === 0) return; // the holder will wake
    if (Atomics.compareExchange(k, cw, v, v & ~RWSEM_WAITERS) === v) {
      Atomics.notify(k, cw);
      return;
    }
  }
}

/**
 * Take the rwsem at `w` for write, sleeping while anyone holds it.
 * Exit: held for write, the caller recorded as writer.
 *
 * @throws KernelPanic on recursion, a tid above RWSEM_MAX_TID, or (lockdep)
 *   an order violation
 */
export function downWrite(
  k: Int32Array,
  w: number,
  cls: LockClass = LockClass.NONE,
  subclass = 0,
): void {
  const tid = currentTid();
  if (tid > RWSEM_MAX_TID) throw new KernelPanic("downWrite", `tid ${tid} too large`);
  const e = heldPush(k, w, heldDesc(cls, KIND_RWSEM, MODE_EXCL, subclass), -1, true);
  perturb(k);
  const cw = w + RWSEM.count;
  if (Atomics.compareExchange(k, cw, 0, tid << RWSEM_WRITER_SHIFT) === 0) {
    k[e + HELD.state] = HELD_HELD;
    return;
  }
  downWriteSlow(k, cw, tid, e);
}

function downWriteSlow(k: Int32Array, cw: number, tid: TaskSlot, e: number): void {
  const me = tid << RWSEM_WRITER_SHIFT;
  let spins = RWSEM_SPIN;
  for (;;) {
    const v = Atomics.load(k, cw);
    if ((v & BUSY) === 0) {
      // Free: take it, clearing WW (other sleeping writers set it again
      // when they wake), keeping WT so our release wakes the sleepers.
      if (Atomics.compareExchange(k, cw, v, me | (v & RWSEM_WAITERS)) === v) {
        k[e + HELD.state] = HELD_HELD;
        return;
      }
      continue;
    }
    if ((v & RWSEM_WRITER_MASK) === me) {
      throw new KernelPanic("downWrite", `task ${tid} already holds the rwsem at ${cw}`);
    }
    if (spins > 0) {
      spins--;
      continue;
    }
    const want = v | RWSEM_WRITER_WAITING | RWSEM_WAITERS;
    if (want !== v && Atomics.compareExchange(k, cw, v, want) !== v) continue;
    noteLockSleep();
    Atomics.wait(k, cw, want, KILL_POLL_MS);
    killCheck(k);
  }
}

/**
 * Try once to take the rwsem for write. Not order-checked, but recorded.
 *
 * @returns true if held for write on return
 */
export function downWriteTrylock(
  k: Int32Array,
  w: number,
  cls: LockClass = LockClass.NONE,
): boolean {
  const tid = currentTid();
  if (tid > RWSEM_MAX_TID) throw new KernelPanic("downWriteTrylock", `tid ${tid} too large`);
  const e = heldPush(k, w, heldDesc(cls, KIND_RWSEM, MODE_EXCL, 0), -1, false);
  const cw = w + RWSEM.count;
  for (;;) {
    const v = Atomics.load(k, cw);
    if ((v & BUSY) !== 0) break;
    if (
      Atomics.compareExchange(k, cw, v, (tid << RWSEM_WRITER_SHIFT) | (v & RWSEM_WAITERS)) === v
    ) {
      k[e + HELD.state] = HELD_HELD;
      return true;
    }
  }
  heldAbort(k, e);
  return false;
}

/**
 * Release the write hold of the rwsem at `w`, waking every sleeper.
 * Entry: the calling task holds it for write.
 *
 * @throws KernelPanic if it does not
 */
export function upWrite(k: Int32Array, w: number): void {
  const tid = currentTid();
  const cw = w + RWSEM.count;
  const e = heldFind(k, w, -1, "upWrite");
  const writer = rwsemWriter(k, w);
  if (writer !== tid) {
    throw new KernelPanic("upWrite", `task ${tid} releases rwsem ${w} written by ${writer}`);
  }
  perturb(k);
  // No reader can be inside; clearing WW too lets waiting readers compete.
  const old = Atomics.exchange(k, cw, 0);
  k[e + HELD.state] = HELD_NONE;
  if ((old & RWSEM_WAITERS) !== 0) Atomics.notify(k, cw);
  heldPop(k, e);
}

/** The task holding the rwsem at `w` for write, 0 if none. */
export function rwsemWriter(k: Int32Array, w: number): TaskSlot {
  return asTaskSlot((Atomics.load(k, w + RWSEM.count) & RWSEM_WRITER_MASK) >>> RWSEM_WRITER_SHIFT);
}

/** How many read holds the rwsem at `w` has. */
export function rwsemReaders(k: Int32Array, w: number): number {
  return Atomics.load(k, w + RWSEM.count) & RWSEM_READERS_MASK;
}

/**
 * Drop one read hold on behalf of a dead task (recoverTask only).
 */
export function rwsemForceUpRead(k: Int32Array, w: number): void {
  const old = Atomics.sub(k, w + RWSEM.count, 1);
  if ((old & RWSEM_READERS_MASK) === 0) {
    throw new KernelPanic("rwsemForceUpRead", `rwsem ${w} had no readers`);
  }
  if ((old & RWSEM_READERS_MASK) === 1) rwsemWake(k, w);
}

/**
 * Release the write hold if `tid` is the writer (recoverTask only). Either
 * way, clear a WW that `tid` may have left as a waiting writer and wake
 * everyone: live waiting writers set WW again when they retry.
 *
 * @returns true if `tid` was the writer
 */
export function rwsemForceUpWrite(k: Int32Array, w: number, tid: TaskSlot): boolean {
  const cw = w + RWSEM.count;
  for (;;) {
    const v = Atomics.load(k, cw);
    const mine = ((v & RWSEM_WRITER_MASK) >>> RWSEM_WRITER_SHIFT) === tid;
    const next = mine ? 0 : v & ~(RWSEM_WRITER_WAITING | RWSEM_WAITERS);
    if (Atomics.compareExchange(k, cw, v, next) === v) {
      Atomics.notify(k, cw);
      return mine;
    }
  }
}
