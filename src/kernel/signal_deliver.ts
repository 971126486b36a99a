/**
 * Delivering signals on the way back to user mode (kernel/signal.c
 * get_signal, do_signal_stop, signal_delivered; arch/riscv/kernel/signal.c
 * do_signal and handle_signal).
 *
 * The process layer (proc_run.ts) calls doSignal while the task's
 * TIF_SIGPENDING is set, at the three points a hart re-enters user mode:
 * the return from a system call, from a fault or trap, and from a poll.
 * The interpreter and the translated code both stop at those points, so a
 * signal is delivered at the same instruction boundary either way. Each
 * call handles one signal: runs its default action (ignore, stop,
 * terminate), or builds a handler frame; the loop in proc_run delivers the
 * next one, stacking frames as Linux does.
 *
 * System-call restart: a call interrupted by a signal returns one of the
 * ERESTART* codes (src/abi/signal.ts). When a handler runs, ERESTARTSYS
 * restarts only with SA_RESTART, ERESTARTNOINTR always, the others become
 * EINTR; with no handler every one restarts (ERESTART_RESTARTBLOCK through
 * restart_syscall). Restarting rewinds pc to the ecall and puts back the
 * original a0.
 *
 * @module
 */

import { EINTR } from "../abi/errno.ts";
import { REG_A0, REG_A7 } from "../abi/regs.ts";
import {
  CLD_CONTINUED,
  CLD_STOPPED,
  ERESTART_RESTARTBLOCK,
  ERESTARTNOHAND,
  ERESTARTNOINTR,
  ERESTARTSYS,
  SA_NODEFER,
  SA_RESETHAND,
  SA_RESTART,
  SI_KERNEL,
  SIG_DFL,
  SIG_IGN,
  SIGKILL,
  SIGSEGV,
  sigsetOf,
  SYNCHRONOUS_MASK,
  SYS_restart_syscall,
} from "../abi/signal.ts";
import {
  JOBCTL_STOP_PENDING,
  SIGGRP,
  SIGNAL_CLD_CONTINUED,
  SIGNAL_CLD_STOPPED,
  SIGNAL_GROUP_EXIT,
  SIGNAL_STOP_STOPPED,
  SIGPEND,
  SIGTASK,
  TASK_STOPPED,
} from "../abi/layout/signal.ts";
import type { Hart } from "../hw/hart.ts";
import { sigKernelCoredump, sigKernelIgnore, sigKernelStop } from "./signal.ts";
import { setupRtFrame } from "./signal_frame.ts";
import { forceSigInfo, notifyParentCldstop, signalWakeUp, startGroupExit } from "./signal_send.ts";
import {
  getAction,
  groupPending,
  groupTasks,
  type KSigInfo,
  lockTaskSighand,
  pendingHas,
  pendingTake,
  recalcSigpending,
  setAction,
  setBlockedLocked,
  type SigAction,
  sigGroup,
  siginfoNew,
  sigTask,
  sigunlock,
  taskBlocked,
  taskField,
  taskPending,
} from "./signal_state.ts";
import { signalSleep } from "./signal_task.ts";
import type { Task } from "./task.ts";

/** A signal get_signal chose: run its handler, or die of it. */
export type KSignal =
  | { kind: "handler"; sig: number; info: KSigInfo; act: SigAction }
  | { kind: "fatal"; sig: number; core: boolean };

/** The system call the task is returning from, for restarts (null: a fault or a poll). */
export interface SyscallReturn {
  /** Cleared once restart handling ran (Linux sets regs->cause to -1). */
  active: boolean;
  /** a0 as the call received it. */
  origA0: number;
}

/** The lowest pending unblocked signal of a block, synchronous ones first (next_signal). */
function nextSignal(k: Int32Array, p: number, blockedLo: number, blockedHi: number): number {
  let x = k[p + SIGPEND.lo]! & ~blockedLo;
  if (x !== 0) {
    if ((x & SYNCHRONOUS_MASK) !== 0) x &= SYNCHRONOUS_MASK;
    return 31 - Math.clz32(x & -x) + 1;
  }
  x = k[p + SIGPEND.hi]! & ~blockedHi;
  return x === 0 ? 0 : 31 - Math.clz32(x & -x) + 33;
}

/**
 * Take the next deliverable signal of task `tid`, private set first, then
 * the group's (dequeue_signal). Entry: siglock held.
 *
 * @returns [sig, info], or [0, null] when nothing is deliverable
 */
function dequeueSignal(t: Task, g: number): [number, KSigInfo | null] {
  const { mem } = t;
  const k = mem.k32;
  const b = taskBlocked(mem, t.tid);
  for (const p of [taskPending(mem, t.tid), groupPending(mem, g)]) {
    const sig = nextSignal(k, p, b.lo, b.hi);
    if (sig !== 0) return [sig, pendingTake(mem, p, sig)];
  }
  return [0, null];
}

/**
 * Join the group stop, starting it with `sig` if this task is the first
 * (do_signal_stop and task_participate_group_stop): every thread is asked
 * to stop; the last to stop marks the group stopped and tells the parent.
 * Then sleep in killable slices until SIGCONT clears TASK_STOPPED or
 * SIGKILL arrives. Entry: siglock of `h` held; returns with it released.
 */
function doSignalStop(t: Task, h: number, g: number, sig: number): void {
  const { mem } = t;
  const k = mem.k32;
  const tb = sigTask(mem, t.tid);
  const gb = sigGroup(mem, g);
  if ((k[tb + SIGTASK.flags]! & JOBCTL_STOP_PENDING) === 0) {
    k[gb + SIGGRP.stopSig] = sig;
    k[gb + SIGGRP.stopCount] = 0;
    for (const x of groupTasks(mem, g)) {
      Atomics.or(k, sigTask(mem, x) + SIGTASK.flags, JOBCTL_STOP_PENDING);
      k[gb + SIGGRP.stopCount] = k[gb + SIGGRP.stopCount]! + 1;
      if (x !== t.tid) signalWakeUp(mem, x);
    }
  }
  Atomics.and(k, tb + SIGTASK.flags, ~JOBCTL_STOP_PENDING);
  const left = Math.max(0, k[gb + SIGGRP.stopCount]! - 1);
  k[gb + SIGGRP.stopCount] = left;
  let notify = false;
  if (left === 0) {
    const keep = k[gb + SIGGRP.flags]! & SIGNAL_GROUP_EXIT;
    k[gb + SIGGRP.flags] = keep | SIGNAL_STOP_STOPPED;
    notify = true;
  }
  Atomics.or(k, tb + SIGTASK.flags, TASK_STOPPED);
  recalcSigpending(mem, t.tid);
  sigunlock(mem, h);
  if (notify) notifyParentCldstop(mem, g, CLD_STOPPED);
  // TASK_STOPPED: only SIGCONT (which clears the bit) or SIGKILL ends it.
  for (;;) {
    const seen = Atomics.load(k, t.sig.wakeWord);
    if ((Atomics.load(k, tb + SIGTASK.flags) & TASK_STOPPED) === 0) break;
    if (t.sig.fatalPending()) break;
    signalSleep(t.sig, k, t.sig.wakeWord, seen, null);
  }
  Atomics.and(k, tb + SIGTASK.flags, ~TASK_STOPPED);
}

/**
 * Find the next signal to act on (Linux's get_signal): tell the parent
 * about a stop or continue it is owed, die with the group if it is
 * exiting, join a group stop, then dequeue signals, skipping ignored
 * ones, stopping for stop signals, until one has a handler or kills.
 * Entry: no lock held; may sleep (stopped) in killable slices.
 *
 * @returns the signal to handle or die of, or null when none is left
 */
export function getSignal(t: Task): KSignal | null {
  const { mem } = t;
  const k = mem.k32;
  for (;;) {
    const h = lockTaskSighand(mem, t.tid);
    if (h === 0) return { kind: "fatal", sig: SIGKILL, core: false };
    let locked = true;
    try {
      const g = taskField(mem, t.tid, "group");
      const gb = sigGroup(mem, g);
      const flags = k[gb + SIGGRP.flags]!;
      if ((flags & (SIGNAL_CLD_CONTINUED | SIGNAL_CLD_STOPPED)) !== 0) {
        const why = (flags & SIGNAL_CLD_CONTINUED) !== 0 ? CLD_CONTINUED : CLD_STOPPED;
        k[gb + SIGGRP.flags] = flags & ~(SIGNAL_CLD_CONTINUED | SIGNAL_CLD_STOPPED);
        sigunlock(mem, h);
        locked = false;
        notifyParentCldstop(mem, g, why);
        continue;
      }
      if ((flags & SIGNAL_GROUP_EXIT) !== 0) {
        if (pendingHas(k, taskPending(mem, t.tid), SIGKILL)) {
          pendingTake(mem, taskPending(mem, t.tid), SIGKILL);
        }
        recalcSigpending(mem, t.tid);
        const sig = k[gb + SIGGRP.exitCode]! || SIGKILL;
        return { kind: "fatal", sig, core: false };
      }
      const exec = k[gb + SIGGRP.execTask]!;
      if (exec !== 0 && exec !== t.tid) {
        // Another thread's execve kills this one (de_thread.ts): it dies
        // alone, without a group exit that would take the exec'ing thread.
        pendingTake(mem, taskPending(mem, t.tid), SIGKILL);
        recalcSigpending(mem, t.tid);
        return { kind: "fatal", sig: SIGKILL, core: false };
      }
      if ((taskField(mem, t.tid, "flags") & JOBCTL_STOP_PENDING) !== 0) {
        locked = false;
        doSignalStop(t, h, g, 0);
        continue;
      }
      const [sig, info] = dequeueSignal(t, g);
      if (sig === 0) {
        recalcSigpending(mem, t.tid);
        return null;
      }
      const act = getAction(mem, h, sig);
      if (act.handler === SIG_IGN) continue;
      if (act.handler !== SIG_DFL) {
        if ((act.flags & SA_RESETHAND) !== 0) setAction(mem, h, sig, { ...act, handler: SIG_DFL });
        recalcSigpending(mem, t.tid);
        return { kind: "handler", sig, info: info!, act };
      }
      if (sigKernelIgnore(sig)) continue;
      if (sigKernelStop(sig)) {
        // Linux drops SIGTSTP/SIGTTIN/SIGTTOU in an orphaned process group;
        // xip has no process groups, and no process's group is orphaned.
        locked = false;
        doSignalStop(t, h, g, sig);
        continue;
      }
      startGroupExit(mem, g, sig);
      pendingTake(mem, taskPending(mem, t.tid), SIGKILL);
      recalcSigpending(mem, t.tid);
      return { kind: "fatal", sig, core: sigKernelCoredump(sig) };
    } finally {
      if (locked) sigunlock(mem, h);
    }
  }
}

/** Put back the mask rt_sigsuspend replaced, if it is still owed (restore_saved_sigmask). */
function restoreSavedSigmask(t: Task): void {
  if (!t.sig.restoreSigmask) return;
  t.sig.restoreSigmask = false;
  const h = lockTaskSighand(t.mem, t.tid);
  if (h === 0) return;
  setBlockedLocked(t.mem, t.tid, t.sig.savedSigmask);
  sigunlock(t.mem, h);
}

/** Rewind to the ecall so the call runs again with its first argument (a0 = orig_a0). */
function restartSyscall(hart: Hart, sc: SyscallReturn): void {
  hart.x[REG_A0] = sc.origA0;
  hart.pc = (hart.pc - 4) >>> 0;
}

/**
 * Run a handler for `ks` (handle_signal): settle an interrupted system
 * call, build the frame, then block sa_mask and (without SA_NODEFER) the
 * signal itself. A frame that cannot be written forces SIGSEGV
 * (force_sigsegv), with the default action if the failing signal was
 * SIGSEGV itself, so a broken stack ends the process instead of looping.
 */
function handleSignal(
  t: Task,
  hart: Hart,
  ks: { sig: number; info: KSigInfo; act: SigAction },
  sc: SyscallReturn | null,
): void {
  const { mem } = t;
  if (sc !== null && sc.active) {
    sc.active = false;
    switch (-hart.x[REG_A0]!) {
      case ERESTART_RESTARTBLOCK:
      case ERESTARTNOHAND:
        hart.x[REG_A0] = -EINTR;
        break;
      case ERESTARTSYS:
        if ((ks.act.flags & SA_RESTART) === 0) hart.x[REG_A0] = -EINTR;
        else restartSyscall(hart, sc);
        break;
      case ERESTARTNOINTR:
        restartSyscall(hart, sc);
        break;
    }
  }
  const oldset = t.sig.restoreSigmask ? t.sig.savedSigmask : taskBlocked(mem, t.tid);
  const r = setupRtFrame(mem, t.mm, t.tid, hart, ks.sig, ks.info, ks.act, oldset);
  if (r < 0) {
    forceSigsegv(t, ks.sig);
    return;
  }
  t.sig.restoreSigmask = false;
  const h = lockTaskSighand(mem, t.tid);
  if (h === 0) return;
  const b = taskBlocked(mem, t.tid);
  const self = (ks.act.flags & SA_NODEFER) !== 0 ? { lo: 0, hi: 0 } : sigsetOf(ks.sig);
  setBlockedLocked(mem, t.tid, {
    lo: b.lo | ks.act.mask.lo | self.lo,
    hi: b.hi | ks.act.mask.hi | self.hi,
  });
  sigunlock(mem, h);
}

/** Force SIGSEGV after a failed frame (force_sigsegv). */
function forceSigsegv(t: Task, sig: number): void {
  if (sig === SIGSEGV) {
    const h = lockTaskSighand(t.mem, t.tid);
    if (h !== 0) {
      setAction(t.mem, h, SIGSEGV, { ...getAction(t.mem, h, SIGSEGV), handler: SIG_DFL });
      sigunlock(t.mem, h);
    }
  }
  forceSigInfo(t.mem, t.tid, siginfoNew(SIGSEGV, SI_KERNEL));
}

/**
 * Act on one pending signal of `t`, whose registers are `hart`'s (Linux's
 * arch do_signal). `sc` describes the system call being returned from,
 * null after a fault or poll. Entry: no lock held, kernel mode.
 *
 * @returns false when the process must stop (`t.exiting` is set), else true
 */
export function doSignal(t: Task, hart: Hart, sc: SyscallReturn | null): boolean {
  const ks = getSignal(t);
  if (ks !== null && ks.kind === "fatal") {
    const f = t.sig.fault;
    t.exit({
      code: 0,
      signal: ks.sig,
      message: f !== null && f.sig === ks.sig ? f.message : undefined,
    });
    return false;
  }
  if (ks !== null) {
    handleSignal(t, hart, ks, sc);
    return true;
  }
  if (sc !== null && sc.active) {
    sc.active = false;
    switch (-hart.x[REG_A0]!) {
      case ERESTARTNOHAND:
      case ERESTARTSYS:
      case ERESTARTNOINTR:
        restartSyscall(hart, sc);
        break;
      case ERESTART_RESTARTBLOCK:
        restartSyscall(hart, sc);
        hart.x[REG_A7] = SYS_restart_syscall;
        break;
    }
  }
  restoreSavedSigmask(t);
  return true;
}
