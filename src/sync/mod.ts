/**
 * src/sync: Atomics locks on the kernel-tables SharedArrayBuffer.
 *
 * Lock order: see LOCK_ORDER in lockdep.ts (docs/ARCHITECTURE.md §3). Every primitive
 * takes `(k, w, ...)`: the kernel tables as an Int32Array and the word
 * index of the lock. All-zero words are unlocked locks.
 *
 * @module
 */

export {
  DEBUG_JITCHECK,
  DEBUG_LOCKDEP,
  DEBUG_PERTURB,
  debugFlags,
  perturbSeed,
  setDebug,
} from "./debug.ts";
export type { TaskNote } from "./current.ts";
export {
  currentTid,
  KILL_POLL_MS,
  killCheck,
  noKillEnter,
  noKillExit,
  setCurrentTid,
  setKillAction,
  sleepCounts,
  taskChaosArm,
  taskExit,
  taskInit,
  taskKill,
  taskKillAcked,
  TaskKilled,
  taskNote,
  taskNoteOf,
  taskState,
  withNoKill,
} from "./current.ts";
export { LockClass, lockClassName, lockRank } from "./lockdep.ts";
export {
  HELD_ACQUIRING,
  HELD_HELD,
  KIND_BIT,
  KIND_MUTEX,
  KIND_RWSEM,
  MODE_EXCL,
  MODE_READ,
} from "./held.ts";
export { MUTEX_WORDS, mutexLock, mutexOwner, mutexTryLock, mutexUnlock } from "./mutex.ts";
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
} from "./rwsem.ts";
export {
  readSeqBegin,
  readSeqRetry,
  SEQCOUNT_WORDS,
  writeSeqBegin,
  writeSeqEnd,
} from "./seqcount.ts";
export { bitIsLocked, bitLock, bitTryLock, bitUnlock, waitOnBit, wakeUpBit } from "./bitlock.ts";
export {
  complete,
  completeAll,
  COMPLETION_WORDS,
  initCompletion,
  tryWaitForCompletion,
  waitForCompletion,
} from "./completion.ts";
export { BARRIER_WORDS, barrierOpened, barrierWait, initBarrier } from "./barrier.ts";
export { type HeldLock, heldLocks, lockHolders, recoverTask } from "./recover.ts";
