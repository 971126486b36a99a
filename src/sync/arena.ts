/**
 * Lock arenas: a SharedArrayBuffer of your own that the src/sync primitives
 * work on outside a Machine. It has what every primitive needs (the header
 * with the debug bits, and one task record per thread holding its held-lock
 * stack) followed by free words for the caller's locks and data.
 *
 * ```
 *  word 0
 *  +---------------------------------------+--------------------------+
 *  | kernel-table header and task records  | the caller's words       |
 *  | (computeLayout of a tiny machine)     | alloc(n) hands them out  |
 *  +---------------------------------------+--------------------------+
 * ```
 *
 * Every thread that takes a lock must first become a task of the arena
 * with enterTask: locks record their holder on its held-lock stack, and a
 * lock operation outside any task panics (it could not be recorded).
 *
 * @module
 */

import { computeLayout, REGION_ALIGN_WORDS, writeHeader } from "../abi/layout/mod.ts";
import { asTaskSlot, type TaskSlot } from "../abi/types.ts";
import { setCurrentTid, taskInit } from "./current.ts";

/** A SharedArrayBuffer laid out for the sync primitives, with room for locks. */
export interface LockArena {
  /** The buffer; post it to Workers, where `new Int32Array(buffer)` is their `k`. */
  readonly buffer: SharedArrayBuffer;
  /** The whole buffer as 32-bit words: the `k` argument of every primitive. */
  readonly k: Int32Array;
  /** Task ids 1..maxTasks-1 may enter the arena. */
  readonly maxTasks: number;
  /**
   * Reserve `n` zeroed words (a zeroed lock word is an unlocked lock),
   * aligned to 64 bytes, and return the index of the first. Call it in the
   * thread that created the arena, before Workers use the words.
   *
   * @throws RangeError when the arena has no room left
   */
  alloc(n: number): number;
}

/** Options of createLockArena. */
export interface LockArenaOptions {
  /** Threads that may take locks, each with its own task id (default 16). */
  readonly maxTasks?: number;
  /** Words for the caller's locks and data (default 4096). */
  readonly words?: number;
}

/**
 * Make a lock arena: a fresh SharedArrayBuffer whose first part is what the
 * primitives need and whose rest is handed out by `alloc`.
 *
 * @example Two tasks share a mutex
 * ```ts
 * import { createLockArena, enterTask, LockClass, mutexLock, mutexUnlock, MUTEX_WORDS } from "@xip/xip/sync";
 *
 * const arena = createLockArena();
 * const lock = arena.alloc(MUTEX_WORDS);
 * enterTask(arena.k, 1); // this thread is task 1; a Worker would enter as 2, 3, ...
 * mutexLock(arena.k, lock, LockClass.NONE);
 * // ... the critical section ...
 * mutexUnlock(arena.k, lock);
 * ```
 *
 * @param opts how many tasks and caller words
 * @returns the arena
 */
export function createLockArena(opts: LockArenaOptions = {}): LockArena {
  const maxTasks = opts.maxTasks ?? 16;
  const words = opts.words ?? 4096;
  if (!Number.isInteger(maxTasks) || maxTasks < 2 || maxTasks > 1024) {
    throw new RangeError(`createLockArena: maxTasks ${maxTasks} is outside 2..1024`);
  }
  if (!Number.isInteger(words) || words < 0) {
    throw new RangeError(`createLockArena: bad word count ${words}`);
  }
  const layout = computeLayout({ ramFrames: 1, deviceFrames: 1, deviceMemmap: false, maxTasks });
  const first = Math.ceil(layout.bytes / 4 / REGION_ALIGN_WORDS) * REGION_ALIGN_WORDS;
  const buffer = new SharedArrayBuffer((first + words) * 4);
  const k = new Int32Array(buffer);
  writeHeader(k, layout);
  let next = first;
  return {
    buffer,
    k,
    maxTasks,
    alloc(n: number): number {
      const w = next;
      const end = w + Math.ceil(n / REGION_ALIGN_WORDS) * REGION_ALIGN_WORDS;
      if (!Number.isInteger(n) || n < 1 || end > k.length) {
        throw new RangeError(`LockArena.alloc: no room for ${n} words`);
      }
      next = end;
      return w;
    },
  };
}

/**
 * Make the calling thread task `tid` of the arena whose words are `k`: a
 * fresh, empty held-lock stack, and the thread's current task. Each thread
 * (the main thread, each Worker) enters once, with a task id no other live
 * thread uses, before it takes any lock.
 *
 * @param k the arena's words (`arena.k`, or `new Int32Array(buffer)` in a Worker)
 * @param tid a task id from 1 to maxTasks-1
 * @returns `tid`, as the branded TaskSlot the primitives report holders with
 * @throws KernelPanic when tid is out of range or already live
 */
export function enterTask(k: Int32Array, tid: number): TaskSlot {
  const t = asTaskSlot(tid);
  taskInit(k, t);
  setCurrentTid(t);
  return t;
}
