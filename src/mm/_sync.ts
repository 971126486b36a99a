/**
 * The lock primitives src/mm uses, gathered in one place so that mm code
 * names one module (src/sync).
 *
 * @module
 */

export {
  downRead,
  downWrite,
  LockClass,
  MUTEX_WORDS,
  mutexLock,
  mutexUnlock,
  noKillEnter,
  noKillExit,
  RWSEM_WORDS,
  upRead,
  upWrite,
  withNoKill,
} from "../sync/mod.ts";
