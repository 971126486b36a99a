/**
 * The Atomics locks xip's kernel is built on, for use across Worker threads:
 * a futex-style mutex, a reader-writer semaphore, sequence counts, bit
 * locks, completions and barriers, with a declared lock order that lockdep
 * checks, and recovery of the locks a dead thread held.
 *
 * Every primitive takes `(k, w, ...)`: a lock arena's words and the index
 * of the lock's first word. They work only where they can record who holds
 * what, that is in a thread that is a task of the arena: make an arena with
 * {@linkcode createLockArena}, post its buffer to your Workers, and call
 * {@linkcode enterTask} once in each thread (main thread included) before it
 * takes a lock. A lock operation in a thread that entered no task throws
 * `KernelPanic` ("lock taken outside any task"). Inside a Machine, the
 * kernel does all this itself.
 *
 * ```ts
 * import {
 *   createLockArena,
 *   downRead,
 *   downWrite,
 *   enterTask,
 *   LockClass,
 *   RWSEM_WORDS,
 *   upRead,
 *   upWrite,
 * } from "@xip/xip/sync";
 *
 * const arena = createLockArena();
 * const sem = arena.alloc(RWSEM_WORDS);
 * enterTask(arena.k, 1);
 * downWrite(arena.k, sem, LockClass.NONE);
 * upWrite(arena.k, sem);
 * downRead(arena.k, sem, LockClass.NONE);
 * upRead(arena.k, sem);
 * ```
 *
 * The lock order of xip's kernel is `LockClass` plus the order in
 * docs/ARCHITECTURE.md §3; `LockClass.NONE` is never order-checked.
 *
 * @module
 */

export {
  createLockArena,
  enterTask,
  type LockArena,
  type LockArenaOptions,
} from "./src/sync/arena.ts";
export { currentTid, taskExit, taskInit, taskState } from "./src/sync/current.ts";
export { DEBUG_LOCKDEP, DEBUG_PERTURB, debugFlags, setDebug } from "./src/sync/debug.ts";
export { LockClass, lockClassName, lockRank } from "./src/sync/lockdep.ts";
export { MUTEX_WORDS, mutexLock, mutexOwner, mutexTryLock, mutexUnlock } from "./src/sync/mutex.ts";
export {
  downRead,
  downReadTrylock,
  downWrite,
  downWriteTrylock,
  RWSEM_WORDS,
  rwsemReaders,
  rwsemWriter,
  upRead,
  upWrite,
} from "./src/sync/rwsem.ts";
export {
  readSeqBegin,
  readSeqRetry,
  SEQCOUNT_WORDS,
  writeSeqBegin,
  writeSeqEnd,
} from "./src/sync/seqcount.ts";
export {
  bitIsLocked,
  bitLock,
  bitTryLock,
  bitUnlock,
  waitOnBit,
  wakeUpBit,
} from "./src/sync/bitlock.ts";
export {
  complete,
  completeAll,
  COMPLETION_WORDS,
  initCompletion,
  tryWaitForCompletion,
  waitForCompletion,
} from "./src/sync/completion.ts";
export { BARRIER_WORDS, barrierOpened, barrierWait, initBarrier } from "./src/sync/barrier.ts";
export { type HeldLock, heldLocks, lockHolders, recoverTask } from "./src/sync/recover.ts";
export { asTaskSlot, type Brand, type TaskSlot } from "./src/abi/types.ts";
export { KernelPanic } from "./src/abi/panic.ts";
