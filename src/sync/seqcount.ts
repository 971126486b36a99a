/**
 * Sequence counter (Linux seqcount_t): lock-free readers of a small
 * multi-word value that retry when a writer ran meanwhile.
 *
 * The count is even when no write is in progress and odd during one. A
 * reader takes the count, reads the protected words, and accepts them only
 * if the count is unchanged. Writers are NOT serialised by the seqcount:
 * the caller must hold another lock (a mutex, the write side of an rwsem or
 * a bit lock) around writeSeqBegin..writeSeqEnd, as Linux requires for a
 * bare seqcount_t. Two concurrent writers would make the count even in
 * mid-write; writeSeqBegin panics when it sees that it is already odd.
 *
 * Memory ordering: the count is read and written with seq-cst Atomics. V8
 * does not move typed-array accesses across an Atomics operation, and on
 * x86-64 (TSO) plain loads stay in order. On a weakly ordered CPU a reader
 * that must never accept a torn value should read the protected words with
 * Atomics.load, which then act as the smp_rmb() of read_seqcount_retry.
 *
 * A zero word is a valid, idle seqcount.
 *
 * @module
 */

import { KernelPanic } from "../abi/panic.ts";
import { noteLockSleep } from "./current.ts";

/** Words a sequence count occupies (zero: no write in progress). */
export const SEQCOUNT_WORDS = 1;

/** Spins on an odd count before napping 50 µs at a time. */
const SEQ_SPIN = 1000;

/**
 * Begin a read section: wait until no write is in progress and return the
 * count to hand to readSeqRetry.
 */
export function readSeqBegin(k: Int32Array, w: number): number {
  for (let spins = SEQ_SPIN;; spins--) {
    const s = Atomics.load(k, w);
    if ((s & 1) === 0) return s;
    // Writers never notify (they are cheap); a descheduled writer costs
    // the reader short naps instead.
    if (spins <= 0) {
      noteLockSleep();
      Atomics.wait(k, w, s, 0.05);
    }
  }
}

/**
 * End a read section.
 *
 * @returns true if a writer ran since readSeqBegin returned `seq`, so the
 *   words read must be discarded and the read repeated
 */
export function readSeqRetry(k: Int32Array, w: number, seq: number): boolean {
  return Atomics.load(k, w) !== seq;
}

/**
 * Begin a write section: the count becomes odd.
 * Entry: the caller holds the lock that serialises this seqcount's writers.
 *
 * @throws KernelPanic if a write is already in progress (writers not serialised)
 */
export function writeSeqBegin(k: Int32Array, w: number): void {
  const old = Atomics.add(k, w, 1);
  if ((old & 1) !== 0) {
    throw new KernelPanic("writeSeqBegin", `seqcount ${w} already odd: writers not serialised`);
  }
}

/**
 * End a write section: the count becomes even again.
 *
 * @throws KernelPanic if no write was in progress
 */
export function writeSeqEnd(k: Int32Array, w: number): void {
  const old = Atomics.add(k, w, 1);
  if ((old & 1) === 0) {
    throw new KernelPanic("writeSeqEnd", `seqcount ${w} was even: no write in progress`);
  }
}
