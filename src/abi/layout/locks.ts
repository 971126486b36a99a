/**
 * The shared-memory layout of POSIX record locks (region `flocks`, Linux's
 * file_lock lists of fs/locks.c kept as one machine-wide table): src/fs/locks.ts.
 *
 * ```
 *  +------------------------------------+-------------------------------------+
 *  | header: lock (2) | used | seq | pad | waits: one [waiter, blocker] pair a |
 *  |                                    | task slot (deadlock detection)      |
 *  +------------------------------------+-------------------------------------+
 *  | records: FLOCKS_MAX of [ owner | pid | type | ino | start (2) | end (2) ] |
 *  +--------------------------------------------------------------------------+
 * ```
 *
 * owner 0 is a free record; a positive owner is an fd table (index + 1: a
 * traditional POSIX lock belongs to the process's files_struct), a
 * negative one an open-file record (-(index + 1): an OFD lock). start and
 * end are byte offsets as two words each (low, high: a non-negative safe
 * integer), end exclusive, FLOCK_EOF for "to the end of the file". Every
 * word is guarded by the header lock (FILE_TABLE class, a leaf); `seq`
 * counts releases, and F_SETLKW sleepers wait on it.
 *
 * @module
 */

import type { LayoutConfig } from "./mod.ts";

export const FLOCKS = {
  /** Mutex (2 words) guarding the whole region. */
  lock: 0,
  /** Records in use: 0 lets close skip the table entirely. */
  used: 2,
  /** Bumped and notified whenever a lock is removed or shrunk. */
  seq: 3,
  /** First [waiter owner, blocker owner] pair, one per task slot. */
  waits: 8,
} as const;

export const FLOCK = {
  owner: 0,
  /** pid of the process that set it (F_GETLK's l_pid; -1 for OFD locks). */
  pid: 1,
  /** F_RDLCK (0) or F_WRLCK (1). */
  type: 2,
  ino: 3,
  start: 4,
  end: 6,
} as const;
export const FLOCK_WORDS = 8;
/** Records machine-wide (Linux allocates them; xip has a fixed pool: ENOLCK when full). */
export const FLOCKS_MAX = 512;
/** The end of a lock that reaches to the end of the file (and past it). */
export const FLOCK_EOF = Number.MAX_SAFE_INTEGER;

/** Word index, inside the region, of the first record. */
export const flocksRecords = (cfg: LayoutConfig): number =>
  FLOCKS.waits + ((cfg.maxTasks * 2 + 7) & ~7);

/** Words of the flocks region for `cfg`. */
export const flocksWords = (cfg: LayoutConfig): number =>
  flocksRecords(cfg) + FLOCKS_MAX * FLOCK_WORDS;
