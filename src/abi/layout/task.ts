/**
 * One record per host thread: state, TLB words and the held-lock stack.
 * See mod.ts for the map of every region.
 *
 * @module
 */

// ---------------------------------------------------------------------------
// tasks: one record per host thread. The task id (TaskSlot) is the record's index;
// TaskSlot 0 is never used, so an owner word of 0 means "not held".
//
// The held-lock stack is how every lock records its holder, readers and bit
// locks included: src/sync pushes an entry before it takes a lock and pops it
// after it releases. When a Worker dies, the Machine walks the dead task's
// stack and releases what it held (see src/sync/recover.ts).

export const TASK = {
  /** TASK_FREE, TASK_LIVE or TASK_DEAD. */
  state: 0,
  /** Number of entries on the held-lock stack. */
  depth: 1,
  /** 1 while the task sleeps on a bit lock (counted in HEADER.bitWaiters), for recovery. */
  bitWait: 2,
  /** Set to 1 by the task's own thread when it notices it was killed (src/sync/current.ts). */
  killAck: 3,
  /**
   * Chaos testing (src/sync/held.ts chaosPoint): when non-zero, the number of
   * lock operations left before the task kills itself; 0 is off.
   */
  chaosAt: 4,
  /** With chaosAt: count only operations made while holding this LockClass (0: any). */
  chaosClass: 5,
  /**
   * What a task holds that no lock records, so that the Machine can put it
   * back if the task dies (src/sync/current.ts taskNote). fileRef: the open
   * file (index + 1) whose reference the running fd syscall holds (fdget).
   */
  fileRef: 6,
  /**
   * A shrinking truncate in flight (Linux keeps such an inode on the orphan
   * list): TRUNC_NONE or TRUNC_SIZE, and the inode-cache slot. A task that
   * dies between setting i_size and freeing the blocks past it leaves this
   * set, and the Machine finishes the truncate.
   */
  truncOp: 7,
  truncSlot: 11,
  /** First held-lock entry. */
  held: 16,
} as const;

/**
 * TLB shootdown words of a task (src/mm/tlb_flush.ts, docs/ARCHITECTURE.md §5). A task
 * publishes where it runs so that code which weakens PTEs knows whom to
 * wait for. Written by the task itself, read by flushers.
 */
export const TASK_TLB = {
  /** TLB_MODE_IDLE, TLB_MODE_KERNEL or TLB_MODE_USER. */
  mode: 8,
  /** The mm slot the task runs (0: none). */
  mm: 9,
  /** The mm TLB generation the task has flushed to; also the ack futex word. */
  gen: 10,
} as const;

export const TASK_FREE = 0;
export const TASK_LIVE = 1;
export const TASK_DEAD = 2;

/** TASK.truncOp values. */
export const TRUNC_NONE = 0;
export const TRUNC_SIZE = 1;

/**
 * A held-lock entry: the lock's word index and a packed descriptor.
 * Entry i starts at `held + i * HELD_ENTRY_WORDS`.
 */
export const HELD = {
  /** Word index of the lock (for a bit lock: of its flags word). */
  word: 0,
  /** class << 16 | kind << 8 | subclass << 4 | mode (see src/sync/held.ts). */
  desc: 1,
  /** HELD_ACQUIRING while the lock is being taken, HELD_HELD once it is. */
  state: 2,
  /** Bit number for bit locks, -1 otherwise. */
  bit: 3,
} as const;
export const HELD_ENTRY_WORDS = 4;
export const HELD_MAX = 56;
export const TASK_WORDS = TASK.held + HELD_MAX * HELD_ENTRY_WORDS; // 240
