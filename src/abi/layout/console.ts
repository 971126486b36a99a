/**
 * The console region of the kernel tables (src/kernel/console.ts): the
 * character device behind fds 0, 1 and 2. Placed by computeLayout in
 * layout/mod.ts as region `console`.
 *
 * ```
 *  +------------------+-------------------------------------------------------+
 *  | header: lastId   | CONSOLE_MAX records of CONSOLE_WORDS                 |
 *  +------------------+-------------------------------------------------------+
 *  record: [ id | refs | flags | outErr | errErr | inHead | inTail | inEof |
 *            inWant | inEvent | inLock (2) | outLock (2) | (pad ...) |
 *            input ring: CONSOLE_RING bytes ]
 * ```
 *
 * A record is one console: an input stream (the host's stdin, or bytes the
 * Machine was given) and two output streams (stdout and stderr). `id` is
 * unique within a boot and 0 when the record is free; messages and open
 * files name a console by id, so a reused record is never mistaken for the
 * old one. `refs` counts the open-file records naming the console, plus one
 * the Machine holds while it may still open it for a new process.
 *
 * Input is a single-producer ring: only the Machine's main thread appends
 * (inTail), readers consume under inLock (inHead). Both indexes count bytes
 * since the console was made (u32, wrapping); tail - head is what is
 * buffered. A reader that finds the ring empty stores how many bytes it
 * wants in inWant and notifies it; the main thread waits on that word
 * (Atomics.waitAsync), reads the host once, appends (or sets inEof) and
 * bumps inEvent, the word readers sleep on.
 *
 * outErr/errErr latch a delivery failure of a stream whose bytes go through
 * the main thread (a positive errno: EPIPE, ENOSPC, EIO), so that the next
 * write reports it. outLock serialises writes to the host's own stdout and
 * stderr, so that lines of different processes never mix.
 *
 * @module
 */

/** Words of the region header. */
export const CONSOLE_HDR = {
  /** Last console id handed out (ids start at 1). */
  lastId: 0,
} as const;
export const CONSOLE_HDR_WORDS = 16;

/** Word offsets of a console record. */
export const CONSOLE = {
  /** Console id, 0 when the record is free. */
  id: 0,
  /** Open-file records naming it, plus the Machine's own reference. */
  refs: 1,
  /** CONS_* bits, fixed at allocation. */
  flags: 2,
  /** Latched delivery error of stdout (positive errno), 0 when none. */
  outErr: 3,
  /** Latched delivery error of stderr. */
  errErr: 4,
  /** Input bytes consumed (u32, wrapping). */
  inHead: 5,
  /** Input bytes appended by the main thread (u32, wrapping). */
  inTail: 6,
  /** 1 once the input source ended: after the buffered bytes, reads return 0. */
  inEof: 7,
  /** Bytes a sleeping reader asks for (0: none asked); the main thread waits on it. */
  inWant: 8,
  /** Bumped by every push (bytes or end of input); readers sleep on it. */
  inEvent: 9,
  /** Mutex: one reader consumes at a time. */
  inLock: 10,
  /** Mutex: one writer to the host's stdout/stderr at a time. */
  outLock: 12,
  /** First word of the input ring. */
  ring: 16,
} as const;

/** Bytes of a console's input ring (one pipe page, as PIPE_BUF). */
export const CONSOLE_RING = 4096;
export const CONSOLE_WORDS = CONSOLE.ring + CONSOLE_RING / 4;

/** The console prefixes every output line with "[pid] " (xip run --procs N > 1). */
export const CONS_PREFIX = 1 << 0;
/** stdout goes straight to the host's fd 1 from the writing thread. */
export const CONS_OUT_HOST = 1 << 1;
/** stderr goes straight to the host's fd 2 from the writing thread. */
export const CONS_ERR_HOST = 1 << 2;
/** The console has an input source (else reads return 0 at once). */
export const CONS_INPUT = 1 << 3;

/** Consoles machine-wide: one for the Machine, one per process that asks for its own. */
export const consoleMax = (maxTasks: number): number => maxTasks + 1;

/** Words of the console region for `maxTasks` tasks. */
export const consoleWords = (maxTasks: number): number =>
  CONSOLE_HDR_WORDS + consoleMax(maxTasks) * CONSOLE_WORDS;

/** Word index of console record `slot` in a console region at `base`. */
export const consoleBase = (base: number, slot: number): number =>
  base + CONSOLE_HDR_WORDS + slot * CONSOLE_WORDS;
