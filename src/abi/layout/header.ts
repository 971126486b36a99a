/**
 * The header region (identifies the buffer, echoes the configuration) and the scratch region.
 * See mod.ts for the map of every region.
 *
 * @module
 */

// ---------------------------------------------------------------------------
// header: identifies the buffer and echoes the configuration.

export const KERNEL_MAGIC = 0x5849_5031; // "XIP1"

export const HEADER = {
  magic: 0,
  ramFrames: 1,
  deviceFrames: 2,
  deviceMemmap: 3, // 0 or 1
  maxTasks: 4,
  /** DEBUG_* bits (src/sync/debug.ts): lockdep, schedule perturbation. */
  debug: 5,
  /** Word index of the tasks region, so src/sync finds held-lock stacks from the buffer alone. */
  tasksBase: 6,
  /**
   * Threads sleeping on some bit lock (src/sync/bitlock.ts). A bit unlock
   * calls Atomics.notify only when this is non-zero; notify costs ~60 ns.
   */
  bitWaiters: 7,
} as const;
export const HEADER_WORDS = 16;

// ---------------------------------------------------------------------------
// scratch: words with no owner, for the tests and benchmarks of src/sync and
// for the Machine's own one-off handshakes. Kernel code never uses it.

export const SCRATCH_WORDS = 4096;
