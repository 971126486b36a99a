/**
 * The `signal` region of the kernel tables: every piece of signal state,
 * in shared memory because other Workers and the Machine send signals.
 * Linux splits it into three structures, and so does xip:
 *
 * - sighand (struct sighand_struct): the 64 dispositions and the siglock.
 *   Threads of one process share it (CLONE_SIGHAND); fork copies it.
 * - group (struct signal_struct): what the thread group shares: its
 *   pending set, group stop and group exit state, its tgid.
 * - task (the signal part of struct task_struct): one per host task (the
 *   TaskSlot indexes it): blocked mask, private pending set, alternate stack,
 *   TIF_SIGPENDING, and the task's links to its sighand and group.
 *
 * ```
 *  +--------+--------------+---------------------+------------+------------+------------+
 *  | header | queue bitmap | queue entries       | sighands   | groups     | tasks      |
 *  |        | 1 bit each   | SIGQ_WORDS each     | by index   | by index   | by TaskSlot     |
 *  +--------+--------------+---------------------+------------+------------+------------+
 *  pending block (in groups and tasks):
 *    [ lo | hi | qHead | qTail | info of signal 1 (8 words) | ... | info of signal 31 ]
 *  queue entry: [ next | info (8 words) | (pad) ]
 * ```
 *
 * A standard signal (1..31) is pending at most once, so its siginfo lives
 * in a fixed slot of the pending block. Real-time signals (32..64) queue:
 * each instance is an entry from the machine-wide pool, linked in arrival
 * order from qHead (entry index + 1; 0 = none). The pool is the bound
 * Linux's RLIMIT_SIGPENDING sets.
 *
 * Sighand and group records are claimed from their tables (index 0 is
 * never used); their `users` word is the reference count. Everything in
 * a sighand, in a group, and in the tasks that use them is guarded by the
 * sighand's siglock, except words the comments mark as atomics.
 *
 * @module
 */

import type { LayoutConfig } from "./mod.ts";

/** Words of a kernel siginfo (KSIGINFO_SIZE bytes). */
export const SIGINFO_WORDS = 8;
/** Standard signals, each with one fixed siginfo slot. */
export const STD_SIGNALS = 31;

export const SIGHDR = {
  /** Queue entries in use (atomic). */
  queued: 1,
} as const;
export const SIGHDR_WORDS = 16;

/** A pending set, at `pending` in a group or task record. */
export const SIGPEND = {
  lo: 0,
  hi: 1,
  /** First queued real-time instance (entry + 1), 0 = none. */
  qHead: 2,
  qTail: 3,
  /** Siginfo of standard signal s at info + (s - 1) * SIGINFO_WORDS. */
  info: 4,
} as const;
export const SIGPEND_WORDS = SIGPEND.info + STD_SIGNALS * SIGINFO_WORDS;

/** A queued real-time signal instance. */
export const SIGQ = {
  /** Next entry + 1 in its list, 0 = last. */
  next: 0,
  /** Its siginfo (signo first). */
  info: 1,
} as const;
export const SIGQ_WORDS = 10;

/** struct sighand_struct. */
export const SIGHAND = {
  /** The siglock: a src/sync mutex (SIGHAND_LOCK_WORDS words). */
  lock: 0,
  /** Tasks using it (atomic); 0 = the record is free. */
  users: 4,
  /** Action of signal s at actions + (s - 1) * SIGACT_WORDS. */
  actions: 16,
} as const;
export const SIGHAND_LOCK_WORDS = 4;
/** One disposition: handler, flags and the 64-bit sa_mask. */
export const SIGACT = { handler: 0, flags: 1, maskLo: 2, maskHi: 3 } as const;
export const SIGACT_WORDS = 4;
export const SIGHAND_WORDS = SIGHAND.actions + 64 * SIGACT_WORDS;

/** struct signal_struct, reduced. */
export const SIGGRP = {
  /** References: tasks of the group until each is reaped (atomic); 0 = free. */
  users: 0,
  /** Threads that have not exited. */
  live: 1,
  /** The group's pid as the guest sees it. */
  tgid: 2,
  /** SIGNAL_* bits. */
  flags: 3,
  /** The fatal signal once SIGNAL_GROUP_EXIT is set. */
  exitCode: 4,
  /** Threads yet to stop in a group stop. */
  stopCount: 5,
  /** The signal that stopped (or is stopping) the group. */
  stopSig: 6,
  /**
   * Bumped whenever a child of this group stops, continues or exits
   * (atomic): Linux's wait_chldexit, the word a wait4 sleeps on.
   */
  childEvents: 7,
  /** The parent's group index, 0 for the Machine (which gets no SIGCHLD). */
  parent: 8,
  /** The sighand every thread of the group uses. */
  sighand: 9,
  /**
   * The task (slot) whose execve is killing the other threads (Linux's
   * group_exec_task), 0 = none: they die without taking it along.
   */
  execTask: 10,
  /** The shared pending set. */
  pending: 16,
} as const;
export const SIGGRP_WORDS = SIGGRP.pending + SIGPEND_WORDS;

/** The signal part of a task. */
export const SIGTASK = {
  /** SIGTASK_FREE, SIGTASK_LIVE or SIGTASK_EXITED. */
  state: 0,
  /** TIF_* and JOBCTL_* bits (atomic: the poll reads it without the siglock). */
  flags: 1,
  /** The task's id as the guest sees it (gettid). */
  tid: 2,
  /** Its group and sighand indexes. */
  group: 3,
  sighand: 4,
  /** Blocked mask. */
  blockedLo: 5,
  blockedHi: 6,
  /** Bumped by every wake-up for a signal (atomic): the word sleeps wait on. */
  wake: 7,
  /** A kernel-table word index + 1 the task sleeps on (signalSleep), 0 = none (atomic). */
  waitWord: 8,
  /** The alternate signal stack (sigaltstack); written only by the task itself. */
  sasSp: 9,
  sasSize: 10,
  sasFlags: 11,
  /** The mask blocked before rt_sigtimedwait unblocked the awaited signals (Linux's real_blocked). */
  realBlockedLo: 12,
  realBlockedHi: 13,
  /** The private pending set. */
  pending: 16,
} as const;
export const SIGTASK_WORDS = SIGTASK.pending + SIGPEND_WORDS;
export const SIGTASK_FREE = 0;
export const SIGTASK_LIVE = 1;
export const SIGTASK_EXITED = 2;

/** SIGTASK.flags bits. */
export const TIF_SIGPENDING = 1 << 0;
/** A group stop asks this task to stop (Linux's JOBCTL_STOP_PENDING). */
export const JOBCTL_STOP_PENDING = 1 << 1;
/** The task is asleep in a group stop (TASK_STOPPED). */
export const TASK_STOPPED = 1 << 2;

/** SIGGRP.flags bits (Linux's SIGNAL_*). */
export const SIGNAL_STOP_STOPPED = 1 << 0;
export const SIGNAL_STOP_CONTINUED = 1 << 1;
export const SIGNAL_GROUP_EXIT = 1 << 2;
/** The parent is owed a CLD_CONTINUED / CLD_STOPPED notification. */
export const SIGNAL_CLD_CONTINUED = 1 << 4;
export const SIGNAL_CLD_STOPPED = 1 << 5;

/** Queue entries machine-wide: the RLIMIT_SIGPENDING xip reports. */
export const sigqueueMax = (cfg: LayoutConfig): number => Math.max(256, 16 * cfg.maxTasks);

const align16 = (n: number): number => Math.ceil(n / 16) * 16;

/** Offsets of each part, in words from the region's base. */
export interface SignalParts {
  readonly bitmap: number;
  readonly queue: number;
  readonly sighands: number;
  readonly groups: number;
  readonly tasks: number;
  readonly words: number;
}

/** Where each part of the region lies for `cfg`. Pure. */
export function signalParts(cfg: LayoutConfig): SignalParts {
  const q = sigqueueMax(cfg);
  const bitmap = SIGHDR_WORDS;
  const queue = align16(bitmap + Math.ceil(q / 32));
  const sighands = align16(queue + q * SIGQ_WORDS);
  const groups = align16(sighands + cfg.maxTasks * SIGHAND_WORDS);
  const tasks = align16(groups + cfg.maxTasks * SIGGRP_WORDS);
  return { bitmap, queue, sighands, groups, tasks, words: tasks + cfg.maxTasks * SIGTASK_WORDS };
}

/** Words of the signal region for `cfg`. */
export const signalWords = (cfg: LayoutConfig): number => signalParts(cfg).words;
