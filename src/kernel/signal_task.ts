/**
 * The part of a task's signal state that only its own thread uses, kept
 * on the Task rather than in shared memory: the hart whose registers a
 * frame saves, the mask rt_sigsuspend replaced (TIF_RESTORE_SIGMASK and
 * saved_sigmask), the restart block restart_syscall resumes, and the
 * fault that raised a synchronous signal (for the exit message).
 *
 * It also gives other subsystems the two checks an interruptible sleep
 * needs (Linux's signal_pending and fatal_signal_pending) and the sleep
 * itself (signalSleep): pipes, terminals and any other blocking call use
 * them, and return -ERESTARTSYS when a signal interrupts them before they
 * transferred anything. The return to user mode then turns that into
 * EINTR, or restarts the call transparently when the handler has
 * SA_RESTART or the signal had no handler (signal_deliver.ts).
 *
 * @module
 */

import type { SigSet } from "../abi/signal.ts";
import type { TaskSlot } from "../abi/types.ts";
import { SIGTASK, TIF_SIGPENDING } from "../abi/layout/signal.ts";
import type { Hart } from "../hw/hart.ts";
import type { Memory } from "../hw/memory.ts";
import { killCheck } from "../sync/mod.ts";
import { noteWaitSleep } from "../sync/current.ts";
import { fatalSignalPending } from "./signal_send.ts";
import { sigTask } from "./signal_state.ts";
import { signalAttach } from "./signal_lifecycle.ts";

/** Longest single sleep slice of a signal sleep: bounds a missed wake-up and a hard kill's delay. */
export const SIGNAL_SLICE_MS = 20;

/** Task-local signal state (one per Task, in the Worker that runs it). */
export class TaskSignals {
  /** Word index of the task's SIGTASK.flags (TIF_SIGPENDING): what the poll reads. */
  readonly flagsWord: number;
  /** Word index of the task's wake word. */
  readonly wakeWord: number;
  /** The hart running the task (set once it exists): frames save and restore its registers. */
  hart: Hart | null = null;
  /** rt_sigsuspend replaced the blocked mask: put savedSigmask back on the way out. */
  restoreSigmask = false;
  savedSigmask: SigSet = { lo: 0, hi: 0 };
  /** What restart_syscall runs (Linux's restart_block), null: return -EINTR. */
  restartBlock: (() => number) | null = null;
  /** The last synchronous signal a fault raised, and the line to print if it kills. */
  fault: { sig: number; message: string } | null = null;

  constructor(readonly mem: Memory, readonly tid: TaskSlot, pid: number) {
    signalAttach(mem, tid, pid);
    const b = sigTask(mem, tid);
    this.flagsWord = b + SIGTASK.flags;
    this.wakeWord = b + SIGTASK.wake;
  }

  /** Linux's signal_pending: an unblocked signal (or a stop or group exit) awaits. One load. */
  pending(): boolean {
    return (Atomics.load(this.mem.k32, this.flagsWord) & TIF_SIGPENDING) !== 0;
  }

  /** Linux's fatal_signal_pending: SIGKILL is pending or the group is exiting. */
  fatalPending(): boolean {
    return fatalSignalPending(this.mem, this.tid);
  }
}

/** What ended a signalSleep. */
export type SleepResult = "woken" | "timeout" | "signal";

/**
 * Sleep interruptibly until the kernel-table word `index` of `k` no
 * longer holds `value` (Atomics.wait semantics), `timeoutMs` passes
 * (null: forever) or a signal is pending, in killable slices: the
 * sender's wake-up notifies `index` directly, so a signal ends the sleep
 * at once. `index` must be a word of the kernel tables (mem.k32). Entry:
 * no lock held; the task is in kernel mode.
 *
 * Typical use, for a call that blocks (a pipe read):
 * ```ts
 * while (nothingToRead()) {
 *   const r = signalSleep(t.sig, mem.k32, word, seen, null);
 *   if (r === "signal") return -ERESTARTSYS;
 * }
 * ```
 */
export function signalSleep(
  ts: TaskSignals,
  k: Int32Array,
  index: number,
  value: number,
  timeoutMs: number | null,
): SleepResult {
  const deadline = timeoutMs === null ? Infinity : performance.now() + timeoutMs;
  const reg = sigTask(ts.mem, ts.tid) + SIGTASK.waitWord;
  Atomics.store(ts.mem.k32, reg, index + 1);
  try {
    for (;;) {
      killCheck(ts.mem.k32);
      if (ts.pending()) return "signal";
      const left = deadline - performance.now();
      if (left <= 0) return "timeout";
      noteWaitSleep();
      if (Atomics.wait(k, index, value, Math.min(SIGNAL_SLICE_MS, left)) === "not-equal") {
        return "woken";
      }
      if (Atomics.load(k, index) !== value) return "woken";
    }
  } finally {
    Atomics.store(ts.mem.k32, reg, 0);
  }
}
