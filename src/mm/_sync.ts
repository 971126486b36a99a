/**
 * The lock primitives src/mm uses, gathered in one place so that mm code
 * names one module. TEMPORARY: a minimal futex mutex and rwsem with the
 * signatures of src/sync (branch `sync`), used until that branch lands; then
 * this file only re-exports src/sync.
 *
 * @module
 */

import { KernelPanic } from "../abi/panic.ts";

/** Lock classes (subset of src/sync's LockClass). */
export enum LockClass {
  NONE = 0,
  MMAP_LOCK = 2,
  PAGE_TABLE = 9,
}

export const MUTEX_WORDS = 2;
export const RWSEM_WORDS = 4;

const SPIN = 100;
const WAIT_MS = 50;

/** Take the mutex at word `w` (0 free, 1 held, 2 held with waiters). */
export function mutexLock(k: Int32Array, w: number, _cls: LockClass): void {
  for (let i = 0; i < SPIN; i++) {
    if (Atomics.compareExchange(k, w, 0, 1) === 0) return;
  }
  for (;;) {
    if (Atomics.exchange(k, w, 2) === 0) return;
    Atomics.wait(k, w, 2, WAIT_MS);
  }
}

/** Release the mutex at word `w`. */
export function mutexUnlock(k: Int32Array, w: number): void {
  const old = Atomics.exchange(k, w, 0);
  if (old === 0) throw new KernelPanic("mutexUnlock", `mutex ${w} not held`);
  if (old === 2) Atomics.notify(k, w, 1);
}

// rwsem word w: count (-1 writer, n readers); w+1: waiters sequence.
/** Take the rwsem at `w` for reading. */
export function downRead(k: Int32Array, w: number, _cls: LockClass): void {
  for (let i = 0;; i++) {
    const c = Atomics.load(k, w);
    if (c >= 0 && Atomics.compareExchange(k, w, c, c + 1) === c) return;
    if (i > SPIN) Atomics.wait(k, w + 1, Atomics.load(k, w + 1), 1);
  }
}

/** Release a read hold. */
export function upRead(k: Int32Array, w: number): void {
  if (Atomics.sub(k, w, 1) <= 0) throw new KernelPanic("upRead", `rwsem ${w} not read-held`);
  Atomics.add(k, w + 1, 1);
  Atomics.notify(k, w + 1);
}

/** Take the rwsem at `w` for writing. */
export function downWrite(k: Int32Array, w: number, _cls: LockClass): void {
  for (let i = 0;; i++) {
    if (Atomics.compareExchange(k, w, 0, -1) === 0) return;
    if (i > SPIN) Atomics.wait(k, w + 1, Atomics.load(k, w + 1), 1);
  }
}

/** Release a write hold. */
export function upWrite(k: Int32Array, w: number): void {
  if (Atomics.compareExchange(k, w, -1, 0) !== -1) {
    throw new KernelPanic("upWrite", `rwsem ${w} not write-held`);
  }
  Atomics.add(k, w + 1, 1);
  Atomics.notify(k, w + 1);
}
