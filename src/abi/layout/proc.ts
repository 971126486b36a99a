/**
 * The process table.
 * See mod.ts for the map of every region.
 *
 * @module
 */

import { type KernelLayout } from "./mod.ts";

// ---------------------------------------------------------------------------
// procs: the process table (src/kernel/proc.ts). A header, then one record
// per task slot: a process runs on exactly one task (its Worker), so the
// record of the process on task `tid` is slot `tid`. Slot 0 is never used.
// A slot is claimed with compareExchange, by the Machine at spawn or by a
// parent's Worker at fork, and freed once both the parent (wait) and the
// Machine (the Worker retired) are done with the zombie. The Worker fills
// in the mm and fd table and the exit status. Every word is accessed with
// Atomics: the main thread reads them while the Worker runs.

export const PROCS_HDR = {
  /** The last pid handed out (pids start at 1 and are never reused within a boot). */
  lastPid: 0,
  /** Processes alive (running or exiting, not yet reaped). */
  live: 1,
  /**
   * tasklist_lock (a src/sync mutex, TASK_TABLE class, MUTEX_WORDS): guards
   * the parent links (PROC.parent, PROC.parentSlot) and the moves to
   * ZOMBIE and REAPED, so that exit, reparenting and wait agree on who
   * reaps whom (src/kernel/exit.ts).
   */
  tasklistLock: 2,
  /**
   * The Machine's doorbell: a counter a Worker bumps (and notifies) after
   * it leaves a new child in a slot with PROC.start = START_PENDING. The
   * main thread waits on it with Atomics.waitAsync, never blocking.
   */
  doorbell: 4,
  /**
   * Tickets of the events Workers report to the Machine by message
   * (console output, exit), taken as they happen, so the Machine can
   * deliver them in that order (src/kernel/out_order.ts).
   */
  outSeq: 5,
  /**
   * The futex hash (src/kernel/futex_q.ts, Linux's futex_queues): FUTEX_HASH
   * bucket locks, each a src/sync mutex (FUTEX class, MUTEX_WORDS), from
   * this word on. A bucket is only a lock: the queue entries are the
   * PROC.futexKey.. words of the sleepers, found by scanning the slots.
   */
  futexHash: 6,
  /** The futex queue's order counter: each enqueue or requeue takes the next value. */
  futexSeq: 14,
} as const;
/** Buckets of PROCS_HDR.futexHash. */
export const FUTEX_HASH = 4;
export const PROCS_HDR_WORDS = 16;

export const PROC = {
  /** PROC_FREE, PROC_RUNNING, PROC_EXITING or PROC_ZOMBIE. */
  state: 0,
  /** The guest-visible process id. */
  pid: 1,
  /** The task (Worker) that runs it; equals the slot. */
  tid: 2,
  /** Its mm slot (0: none yet, or already released). */
  mm: 3,
  /** Parent pid (0: the Machine). */
  parent: 4,
  /** exit_group status (0..255) once a zombie. */
  exitCode: 5,
  /** The signal that killed it (0: it exited). */
  exitSignal: 6,
  // Word 7 held a 31-bit pending-signal word; signals live in the `signal` region now.
  /** Index of its fd table in the vfs layer + 1 (0: none). */
  fdTable: 8,
  /** physical word index + 1 of the futex word it sleeps on (0: not in a futex wait). */
  futexWord: 9,
  /** Teardown progress, PROC_TD_* bits, so the Machine finishes what a dead Worker left. */
  teardown: 10,
  /** Slot of the parent (0: the Machine, also after reparenting). Under tasklistLock. */
  parentSlot: 11,
  /**
   * Thread-group id: the pid of the group's leader (getpid). A process's
   * first thread has tgid = pid; each thread (clone with CLONE_THREAD) has
   * a pid of its own (its tid) and its leader's tgid.
   */
  tgid: 12,
  /**
   * The slot of the CLONE_VFORK child this process waits for (0: none).
   * The child clears it, and notifies, when it execs or exits (Linux's
   * vfork_done completion).
   */
  vforkChild: 13,
  /** Process group id (inherited at fork; setpgid). */
  pgid: 14,
  /**
   * PROC_DONE_* bits: who is finished with a zombie's slot. The slot is
   * freed once the parent has reaped it (state PROC_REAPED) and the
   * Machine has retired the Worker that ran it (PROC_DONE_MACHINE).
   */
  done: 15,
  /** Session id (inherited at fork; setsid). */
  sid: 16,
  /** START_*: whether a cloned child still waits for the Machine to give it a Worker. */
  start: 17,
  /** Signal the parent gets when the process exits (clone's CSIGNAL byte; SIGCHLD after fork). */
  childSig: 18,
  /** Slot of the thread-group leader (the slot itself for a leader). */
  leader: 19,
  /** User address whose word is cleared and futex-woken at exit (CLONE_CHILD_CLEARTID). */
  clearTid: 20,
  /**
   * On a released leader: the slot of the thread that exec'd and took the
   * process over (de_thread.ts), so the Machine moves the process there;
   * 0 otherwise.
   */
  heir: 21,
  /**
   * On a leader: GROUP_EXIT_SET | status once a thread called exit_group,
   * the status the whole group reports (Linux's group_exit_code).
   */
  groupExit: 22,
  /**
   * On a leader that exited while other threads of its group still run:
   * 1 until the last of them exits, which reports the group to the parent
   * (Linux's delay_group_leader); wait skips such a zombie meanwhile.
   */
  delay: 23,
  /** set_robust_list: the user address of the robust-list head, and its length. */
  robustHead: 24,
  robustLen: 25,
  /**
   * The task's PR_MCE_KILL policy (Linux's PF_MCE_PROCESS / PF_MCE_EARLY):
   * MCE_KILL_DEFAULT, MCE_KILL_LATE or MCE_KILL_EARLY; inherited at fork.
   */
  mceKill: 26,
  /**
   * The futex queue entry of a task asleep in the kernel (src/kernel/futex_q.ts,
   * Linux's struct futex_q): the physical word index + 1 it is queued on
   * (0: not queued), its wake bitset, its place in the queue order, the
   * word it sleeps on (FUTEXQ_WAITING, _WOKEN, _OWNER) and FUTEXQ_PI for
   * a FUTEX_LOCK_PI waiter. futexKey changes only under the lock of the
   * key's bucket (both buckets for a requeue).
   */
  futexKey: 27,
  futexBitset: 28,
  futexOrder: 29,
  futexWake: 30,
  futexFlags: 31,
  /**
   * The register frame a cloned child starts from, written by the parent
   * before it rings the doorbell: word 0 is the pc, words 1..31 x1..x31.
   */
  frame: 32,
  /**
   * The task's user ids (Linux's cred uid, euid, suid): 0 is root. Copied
   * from the cloning task; set by setuid, setreuid, setresuid (sys_cred.ts).
   */
  ruid: 64,
  euid: 65,
  suid: 66,
  /**
   * On a leader: RLIMIT_NPROC's soft and hard limit, as unsigned 32-bit
   * values with RLIM32_INFINITY for none; inherited at fork, kept by exec.
   */
  nprocCur: 67,
  nprocMax: 68,
} as const;
export const PROC_WORDS = 80;
export const PROC_FREE = 0;
export const PROC_RUNNING = 1;
export const PROC_EXITING = 2;
export const PROC_ZOMBIE = 3;
/** A zombie whose status the parent collected; the slot waits for PROC_DONE_MACHINE. */
export const PROC_REAPED = 4;
/** PROC.done: the Machine has retired the process's Worker (or torn it down itself). */
export const PROC_DONE_MACHINE = 1;
/** PROC.groupExit: set once exit_group fixed the group's status (in the low byte). */
export const GROUP_EXIT_SET = 0x100;
/** PROC.start: nothing to start (spawned by the Machine, or already started). */
export const START_NONE = 0;
/** PROC.start: a child made by clone, its frame written, waiting for a Worker. */
export const START_PENDING = 1;
/** PROC.start: the Machine took the child and is giving it a Worker. */
export const START_TAKEN = 2;
/** Teardown steps done (PROC.teardown): the mm was released; the files were closed. */
export const PROC_TD_MM = 1;
export const PROC_TD_FILES = 2;

/** PROC.nprocCur / nprocMax: no limit (any value from 2^32 - 1 up reads as RLIM_INFINITY). */
export const RLIM32_INFINITY = -1;

/** PROC.mceKill: the system default (vm.memory_failure_early_kill = 0: late). */
export const MCE_KILL_DEFAULT = 0;
/** PROC.mceKill: killed when it touches poisoned memory (BUS_MCEERR_AR). */
export const MCE_KILL_LATE = 1;
/** PROC.mceKill: killed as soon as memory it maps is poisoned (BUS_MCEERR_AO). */
export const MCE_KILL_EARLY = 2;

/** PROC.futexWake: queued and asleep; woken by a wake or requeue-wake; handed a PI futex. */
export const FUTEXQ_WAITING = 0;
export const FUTEXQ_WOKEN = 1;
export const FUTEXQ_OWNER = 2;
/** PROC.futexFlags: the entry waits in FUTEX_LOCK_PI. */
export const FUTEXQ_PI = 1;

/** Word index of process slot `slot`'s record. */
export const procBase = (l: KernelLayout, slot: number): number =>
  l.procs.base + PROCS_HDR_WORDS + slot * PROC_WORDS;
