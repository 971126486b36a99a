/**
 * Debug switches of the kernel, all in one word: `k[HEADER.debug]` of the
 * kernel-tables buffer. Every thread reads the same word, so flipping a bit
 * on the main thread turns a check on for every Worker at once.
 *
 * ```
 *  bit 0  DEBUG_LOCKDEP   check the lock order of docs/ARCHITECTURE.md §3 on every acquire
 *  bit 1  DEBUG_PERTURB   random tiny yields at lock acquire/release and inside faults,
 *                         getBlock's fault path and truncate, to shake out races
 *  bit 2  DEBUG_JITCHECK  at every entry into translated code, compare the frame's bytes
 *                         with the bytes it was translated from (src/hw/jit/runtime.ts);
 *                         read when a process starts
 * ```
 *
 * @module
 */

import { HEADER } from "../abi/layout/mod.ts";

/** Check lock order on every blocking acquire (src/sync/lockdep.ts). */
export const DEBUG_LOCKDEP = 1 << 0;
/** Perturb the schedule: a random short spin or sleep at lock acquire and release. */
export const DEBUG_PERTURB = 1 << 1;
/** Check translated code against its frame's bytes at every entry (src/hw/jit). */
export const DEBUG_JITCHECK = 1 << 2;

/** The DEBUG_* bits currently set. */
export function debugFlags(k: Int32Array): number {
  return Atomics.load(k, HEADER.debug);
}

/** Set (`on`) or clear the DEBUG_* bits in `bits`. Any thread may call it. */
export function setDebug(k: Int32Array, bits: number, on: boolean): void {
  if (on) Atomics.or(k, HEADER.debug, bits);
  else Atomics.and(k, HEADER.debug, ~bits);
}

// Per-thread xorshift state for DEBUG_PERTURB; seeded by perturbSeed().
let perturbState = 0x9e3779b9;

/** Seed this thread's perturbation generator (for replaying a failure). */
export function perturbSeed(seed: number): void {
  perturbState = (seed | 0) || 0x9e3779b9;
}

const perturbWord = new Int32Array(new SharedArrayBuffer(4));

/**
 * With DEBUG_PERTURB on, maybe delay the calling thread a little: usually
 * nothing, sometimes a spin of up to a few hundred loads, rarely a 0-1 ms
 * sleep. Called at lock acquire and release, where a delay widens race
 * windows that are otherwise a few nanoseconds wide.
 */
export function perturb(k: Int32Array): void {
  if ((k[HEADER.debug]! & DEBUG_PERTURB) === 0) return;
  let x = perturbState;
  x ^= x << 13;
  x ^= x >>> 17;
  x ^= x << 5;
  perturbState = x;
  const r = (x >>> 0) % 64;
  if (r < 48) return;
  if (r < 63) {
    for (let i = (x >>> 8) & 0x1ff; i > 0; i--) Atomics.load(perturbWord, 0);
    return;
  }
  Atomics.wait(perturbWord, 0, 0, (x >>> 8) & 1);
}
