/**
 * The pipes region of the kernel tables (src/kernel/pipe.ts): one record
 * per pipe, Linux's struct pipe_inode_info reduced. Placed by computeLayout
 * in layout/mod.ts as region `pipes`.
 *
 * ```
 *  +------------------+--------------------------------------------------+
 *  | header: lastId   | PIPES_MAX records of PIPE_WORDS                  |
 *  +------------------+--------------------------------------------------+
 *  record: [ id | readers | writers | head | tail | event | lock (2) |
 *            page 0 .. page PIPE_PAGES-1 (pfn + 1, 0: none) | (pad) ]
 * ```
 *
 * A pipe is a ring of PIPE_PAGES pages (Linux's default capacity, 16 pages,
 * 64 KiB). The pages are RAM frames, allocated as writes first need them
 * and freed with the pipe (checkInvariants knows them as pipe buffers).
 * head and tail count the bytes read and written since the pipe was made
 * (u32, wrapping): tail - head is what is buffered, and byte `n` of the
 * stream lives at ring offset n mod PIPE_CAPACITY.
 *
 * `id` is unique within a boot and 0 when the record is free (-1 while it
 * is being claimed), so an open file that names a pipe by id never
 * mistakes a reused record for its own. readers and writers count the open
 * files of each end (Linux's pipe->readers, pipe->writers). `event` is the
 * futex word sleepers wait on: every change a sleeper may wait for (data,
 * room, an end closing) bumps it and notifies. Everything but id, readers,
 * writers and event changes only under `lock` (a src/sync mutex,
 * LockClass.PIPE).
 *
 * @module
 */

/** Words of the region header. */
export const PIPES_HDR = {
  /** Last pipe id handed out (ids start at 1). */
  lastId: 0,
} as const;
export const PIPES_HDR_WORDS = 16;

/** Word offsets of a pipe record. */
export const PIPE = {
  /** Pipe id, 0 when free, -1 while being claimed. */
  id: 0,
  /** Open files of the read end. */
  readers: 1,
  /** Open files of the write end. */
  writers: 2,
  /** Bytes read since creation (u32, wrapping). */
  head: 3,
  /** Bytes written since creation (u32, wrapping). */
  tail: 4,
  /** Futex word: bumped and notified at every change a sleeper may wait for. */
  event: 5,
  /** Mutex (MUTEX_WORDS, lock_words.ts): readers and writers of the ring. */
  lock: 6,
  /** PIPE_PAGES words: the ring's frames, pfn + 1 (0: not allocated yet). */
  pages: 8,
} as const;

/** Pages in a pipe's ring (Linux's PIPE_DEF_BUFFERS). */
export const PIPE_PAGES = 16;
/** Bytes a pipe holds (Linux's default pipe capacity, F_GETPIPE_SZ). */
export const PIPE_CAPACITY = PIPE_PAGES * 4096;
/** Writes of at most this many bytes are atomic (POSIX PIPE_BUF, Linux's value). */
export const PIPE_BUF = 4096;
export const PIPE_WORDS = 32;
/** Pipes machine-wide (each takes two open-file records, so FILES_MAX / 4 leaves room). */
export const PIPES_MAX = 256;

/** Words of the pipes region. */
export const pipesWords = (): number => PIPES_HDR_WORDS + PIPES_MAX * PIPE_WORDS;

/** Word index of pipe record `slot` in a pipes region at `base`. */
export const pipeBase = (base: number, slot: number): number =>
  base + PIPES_HDR_WORDS + slot * PIPE_WORDS;
