/**
 * Sending signals (kernel/signal.c: prepare_signal, __send_signal_locked,
 * complete_signal, signal_wake_up, force_sig_info_to_task,
 * do_notify_parent and do_notify_parent_cldstop).
 *
 * A sender locks the target's siglock, decides whether the signal is
 * dropped (the group is exiting, or the signal is ignored and not
 * blocked), does the SIGCONT / stop-signal bookkeeping, queues it in the
 * task's private set (tkill, faults) or the group's shared set (kill),
 * and picks a thread that does not block it to wake. A fatal signal with
 * the default action starts the group exit at once: every thread gets
 * SIGKILL. Waking a task sets its TIF_SIGPENDING, bumps its wake word and
 * notifies whatever word it sleeps on (its futex word, or the word it
 * registered with signalSleep), so a sleeper sees the signal at once.
 *
 * Any thread may send: the Machine's main thread, another process's
 * Worker, or the target itself. Entry for every exported function: no
 * siglock held, unless its comment says otherwise.
 *
 * @module
 */

import { EAGAIN, ESRCH } from "../abi/errno.ts";
import {
  BUS_MCEERR_AR,
  CLD_CONTINUED,
  CLD_DUMPED,
  CLD_EXITED,
  CLD_KILLED,
  CLD_STOPPED,
  SA_NOCLDSTOP,
  SA_NOCLDWAIT,
  SEGV_ACCERR,
  SEGV_MAPERR,
  SI_USER,
  SIG_DFL,
  SIG_IGN,
  SIGBUS,
  SIGCHLD,
  SIGCONT,
  SIGINFO,
  SIGKILL,
  type SigSet,
  sigsetOf,
  SIGSTOP,
  SIGTSTP,
  SIGTTIN,
  SIGTTOU,
} from "../abi/signal.ts";
import {
  JOBCTL_STOP_PENDING,
  SIGGRP,
  SIGNAL_CLD_CONTINUED,
  SIGNAL_CLD_STOPPED,
  SIGNAL_GROUP_EXIT,
  SIGNAL_STOP_CONTINUED,
  SIGNAL_STOP_STOPPED,
  SIGTASK,
  SIGTASK_LIVE,
  TASK_STOPPED,
  TIF_SIGPENDING,
} from "../abi/layout/signal.ts";
import { asVirt, type MmId, type TaskSlot } from "../abi/types.ts";
import type { Memory } from "../hw/memory.ts";
import { mmapReadLock, mmapReadUnlock, TASK_SIZE } from "../mm/mm.ts";
import { findVma, vmaStart } from "../mm/vma.ts";
import { sigKernelCoredump, sigKernelIgnore, sigKernelStop } from "./signal.ts";
import {
  actionHandler,
  findGroupByTgid,
  getAction,
  groupField,
  groupPending,
  groupTasks,
  type KSigInfo,
  lockTaskSighand,
  pendingAdd,
  pendingFlush,
  pendingHas,
  setAction,
  setBlockedLocked,
  sigGroup,
  siginfoNew,
  siglock,
  sigTask,
  sigunlock,
  taskBlocked,
  taskBlocks,
  taskField,
  taskPending,
} from "./signal_state.ts";

/** What a send did (callers that only need success look at `>= 0`). */
export const SEND_DROPPED = 0;
export const SEND_QUEUED = 1;
/** The signal will kill the process: SIGKILL, or a fatal default action not blocked. */
export const SEND_FATAL = 2;

const STOP_SET: SigSet = {
  lo: sigsetOf(SIGSTOP).lo | sigsetOf(SIGTSTP).lo | sigsetOf(SIGTTIN).lo | sigsetOf(SIGTTOU).lo,
  hi: 0,
};
const CONT_SET: SigSet = sigsetOf(SIGCONT);

/**
 * Wake task `tid` for a signal (Linux's signal_wake_up): set
 * TIF_SIGPENDING, bump its wake word and notify every word it may sleep
 * on. Spurious wake-ups are harmless: each sleeper re-checks.
 * Entry: any (takes no lock).
 */
export function signalWakeUp(mem: Memory, tid: TaskSlot): void {
  const k = mem.k32;
  const b = sigTask(mem, tid);
  Atomics.or(k, b + SIGTASK.flags, TIF_SIGPENDING);
  Atomics.add(k, b + SIGTASK.wake, 1);
  Atomics.notify(k, b + SIGTASK.wake);
  // Every kernel sleep that a signal ends, futex waits included (futex_q.ts), publishes its word here.
  const w = Atomics.load(k, b + SIGTASK.waitWord);
  if (w !== 0) Atomics.notify(k, w - 1);
}

/** Wake a task sleeping in a group stop (or any signal sleep) without marking a signal. */
function wakeStopped(mem: Memory, tid: TaskSlot): void {
  const b = sigTask(mem, tid);
  Atomics.add(mem.k32, b + SIGTASK.wake, 1);
  Atomics.notify(mem.k32, b + SIGTASK.wake);
}

/** SIG_IGN, or SIG_DFL for a signal whose default is to ignore it (sig_handler_ignored). */
export const sigHandlerIgnored = (handler: number, sig: number): boolean =>
  handler === SIG_IGN || (handler === SIG_DFL && sigKernelIgnore(sig));

/** Would `sig` kill with its current disposition (Linux's sig_fatal)? Entry: siglock held. */
const sigFatal = (mem: Memory, h: number, sig: number): boolean =>
  !sigKernelIgnore(sig) && !sigKernelStop(sig) && actionHandler(mem, h, sig) === SIG_DFL;

/**
 * Begin a group exit with `sig` (Linux's complete_signal fast path and
 * zap_other_threads): every thread gets SIGKILL and is woken.
 * Entry: the group's siglock held.
 */
export function startGroupExit(mem: Memory, g: number, sig: number): void {
  const k = mem.k32;
  const gb = sigGroup(mem, g);
  k[gb + SIGGRP.flags] = SIGNAL_GROUP_EXIT;
  k[gb + SIGGRP.exitCode] = sig;
  k[gb + SIGGRP.stopCount] = 0;
  for (const t of groupTasks(mem, g)) {
    Atomics.and(k, sigTask(mem, t) + SIGTASK.flags, ~JOBCTL_STOP_PENDING);
    pendingAdd(mem, taskPending(mem, t), SIGKILL, null, false);
    signalWakeUp(mem, t);
  }
}

/**
 * The checks made before a signal is queued (Linux's prepare_signal): a
 * group that is exiting takes nothing; a stop signal discards a pending
 * SIGCONT; SIGCONT discards pending stop signals, wakes a stopped group
 * and notes that its parent must be told, whatever SIGCONT's own
 * disposition. Entry: siglock held.
 *
 * @returns whether the signal should be queued (false: dropped, ignored)
 */
function prepareSignal(mem: Memory, h: number, g: number, t: TaskSlot, sig: number): boolean {
  const k = mem.k32;
  const gb = sigGroup(mem, g);
  const flags = k[gb + SIGGRP.flags]!;
  if ((flags & SIGNAL_GROUP_EXIT) !== 0) return false;
  const tasks = groupTasks(mem, g);
  if (sigKernelStop(sig)) {
    pendingFlush(mem, groupPending(mem, g), CONT_SET);
    for (const x of tasks) pendingFlush(mem, taskPending(mem, x), CONT_SET);
  } else if (sig === SIGCONT) {
    pendingFlush(mem, groupPending(mem, g), STOP_SET);
    for (const x of tasks) {
      pendingFlush(mem, taskPending(mem, x), STOP_SET);
      Atomics.and(k, sigTask(mem, x) + SIGTASK.flags, ~(JOBCTL_STOP_PENDING | TASK_STOPPED));
      wakeStopped(mem, x);
    }
    const why = (flags & SIGNAL_STOP_STOPPED) !== 0
      ? SIGNAL_CLD_CONTINUED
      : k[gb + SIGGRP.stopCount]! > 0
      ? SIGNAL_CLD_STOPPED
      : 0;
    if (why !== 0) {
      k[gb + SIGGRP.flags] = why | SIGNAL_STOP_CONTINUED;
      k[gb + SIGGRP.stopCount] = 0;
    }
  }
  if (taskBlocks(mem, t, sig, true)) return true; // blocked signals are never ignored
  return !sigHandlerIgnored(actionHandler(mem, h, sig), sig);
}

/** Does task `t` take `sig` now (Linux's wants_signal)? Entry: siglock held. */
function wantsSignal(mem: Memory, t: TaskSlot, sig: number): boolean {
  if (taskField(mem, t, "state") !== SIGTASK_LIVE || taskBlocks(mem, t, sig)) return false;
  return sig === SIGKILL || (taskField(mem, t, "flags") & TASK_STOPPED) === 0;
}

/**
 * Pick the thread that will handle `sig` and wake it, or start the group
 * exit for a fatal one (Linux's complete_signal). `tid` is the thread a
 * thread-directed signal was queued for, 0 for a group-directed one, which
 * goes to `prefer` when that thread can take it (Linux's target task).
 * Entry: siglock held.
 */
function completeSignal(
  mem: Memory,
  h: number,
  g: number,
  tid: TaskSlot | 0,
  sig: number,
  prefer: TaskSlot | 0,
): number {
  let t: TaskSlot | 0 = 0;
  if (tid !== 0) t = wantsSignal(mem, tid, sig) ? tid : 0;
  else if (prefer !== 0 && wantsSignal(mem, prefer, sig)) t = prefer;
  else t = groupTasks(mem, g).find((x) => wantsSignal(mem, x, sig)) ?? 0;
  if (t === 0) return SEND_QUEUED; // blocked everywhere: it waits until someone unblocks it
  const fatal = sigFatal(mem, h, sig) && !taskBlocks(mem, t, sig, true);
  if (fatal && !sigKernelCoredump(sig)) {
    startGroupExit(mem, g, sig);
    return SEND_FATAL;
  }
  signalWakeUp(mem, t);
  return fatal ? SEND_FATAL : SEND_QUEUED;
}

/**
 * Send `sig` with `info` to thread `tid` (thread-directed) or to group `g`
 * (tid 0). `mustQueue`: a real-time signal that finds the queue full fails
 * with -EAGAIN instead of losing its siginfo (sigqueue and tgsigqueue do
 * this; kill does not). `prefer`: for a group-directed signal, the thread
 * to give it to if it can take it. Entry: siglock of sighand `h` held.
 *
 * @returns SEND_DROPPED, SEND_QUEUED, SEND_FATAL, or -EAGAIN
 */
export function sendSignalLocked(
  mem: Memory,
  h: number,
  g: number,
  tid: TaskSlot | 0,
  sig: number,
  info: KSigInfo | null,
  mustQueue = false,
  prefer: TaskSlot | 0 = 0,
): number {
  const leader = tid !== 0 ? tid : prefer !== 0 ? prefer : groupTasks(mem, g)[0] ?? 0;
  if (leader === 0) return SEND_DROPPED; // every thread has exited
  if (!prepareSignal(mem, h, g, leader, sig)) return SEND_DROPPED;
  const p = tid !== 0 ? taskPending(mem, tid) : groupPending(mem, g);
  const r = pendingAdd(mem, p, sig, sig === SIGKILL ? null : info, mustQueue);
  if (r < 0) return -EAGAIN;
  if (r === 0) return SEND_QUEUED; // a standard signal already pending
  return completeSignal(mem, h, g, tid, sig, prefer);
}

/**
 * Send `sig` to the thread group `g` (kill's PIDTYPE_TGID). Entry: no
 * siglock held (the tasklist lock may be: siglock nests inside it). Takes
 * and drops the group's siglock, retaking it if an exec swapped the group's
 * sighand meanwhile.
 *
 * @returns as sendSignalLocked, or -ESRCH when the group has no live thread
 */
export function sendToGroup(
  mem: Memory,
  g: number,
  sig: number,
  info: KSigInfo | null,
  mustQueue = false,
): number {
  for (;;) {
    const h = groupField(mem, g, "sighand");
    if (h === 0 || groupField(mem, g, "users") === 0) return -ESRCH;
    siglock(mem, h);
    try {
      if (groupField(mem, g, "sighand") !== h) continue; // an exec changed it: retry
      if (groupField(mem, g, "live") === 0) return SEND_DROPPED; // a zombie takes nothing
      return sendSignalLocked(mem, h, g, 0, sig, info, mustQueue);
    } finally {
      sigunlock(mem, h);
    }
  }
}

/**
 * Send `sig` to task `tid` alone (tkill, tgkill, faults). Entry: no siglock
 * held (the tasklist lock may be). Takes and drops the task's siglock
 * (lockTaskSighand).
 *
 * @returns as sendSignalLocked, or -ESRCH when the task is not live
 */
export function sendToTask(
  mem: Memory,
  tid: TaskSlot,
  sig: number,
  info: KSigInfo | null,
  mustQueue = false,
): number {
  const h = lockTaskSighand(mem, tid);
  if (h === 0) return -ESRCH;
  try {
    return sendSignalLocked(mem, h, taskField(mem, tid, "group"), tid, sig, info, mustQueue);
  } finally {
    sigunlock(mem, h);
  }
}

/** A kill()-style siginfo: SI_USER from process `pid` (0: from outside the guest). */
export function siginfoKill(sig: number, code: number, pid: number): KSigInfo {
  const i = siginfoNew(sig, code);
  i[SIGINFO.pid / 4] = pid;
  return i;
}

/**
 * Deliver a synchronous signal that the task itself caused (a fault, a bad
 * sigreturn frame), as Linux's force_sig_info_to_task: if the task blocks or
 * ignores it, the disposition reverts to SIG_DFL and it is unblocked, so the
 * fault kills rather than loops. Called by task `tid` itself.
 *
 * Entry: no siglock held. Takes and drops the task's siglock
 * (lockTaskSighand); nothing if the task is no longer live.
 */
export function forceSigInfo(mem: Memory, tid: TaskSlot, info: KSigInfo): void {
  const sig = info[0]!;
  const h = lockTaskSighand(mem, tid);
  if (h === 0) return;
  try {
    const act = getAction(mem, h, sig);
    const blocked = taskBlocks(mem, tid, sig);
    if (blocked || act.handler === SIG_IGN) {
      setAction(mem, h, sig, { ...act, handler: SIG_DFL });
      if (blocked) {
        const b = taskBlocked(mem, tid);
        const s = sigsetOf(sig);
        setBlockedLocked(mem, tid, { lo: b.lo & ~s.lo, hi: b.hi & ~s.hi });
      }
    }
    sendSignalLocked(mem, h, taskField(mem, tid, "group"), tid, sig, info);
    if ((taskField(mem, tid, "flags") & TIF_SIGPENDING) === 0) signalWakeUp(mem, tid);
  } finally {
    sigunlock(mem, h);
  }
}

/**
 * kill(pid, sig) as the Machine (or the host) sends it: SI_USER with si_pid
 * 0, since the sender is outside the guest's pid space. Entry: no siglock
 * held; finding the group takes no lock, and sendToGroup takes and drops its
 * siglock.
 *
 * @returns as sendToGroup; -ESRCH when no process has that pid
 */
export function killFromOutside(mem: Memory, pid: number, sig: number): number {
  const g = findGroupByTgid(mem, pid);
  if (g === 0) return -ESRCH;
  return sendToGroup(mem, g, sig, siginfoKill(sig, SI_USER, 0));
}

/**
 * Send `sig` to the process that task `tid` belongs to, from outside the
 * guest (the Machine's kill): SI_USER, si_pid 0. Entry: no siglock held;
 * takes and drops the group's siglock (sendToGroup).
 *
 * @returns as sendToGroup; -ESRCH when the task has no live signal state
 */
export function killTaskGroup(mem: Memory, tid: TaskSlot, sig: number): number {
  const g = taskField(mem, tid, "group");
  if (g === 0 || taskField(mem, tid, "state") !== SIGTASK_LIVE) return -ESRCH;
  return sendToGroup(mem, g, sig, siginfoKill(sig, SI_USER, 0));
}

/**
 * Raise `sig` for the calling task's process as the kernel does on its
 * behalf (Linux's send_sig(sig, current, 0)): SIGPIPE for a write to a
 * pipe or console nobody reads, SIGXFSZ, and the like. It is
 * group-directed with the caller as the preferred thread, carries SI_USER
 * with the caller's own pid, and is delivered on the way back to user
 * mode, so the system call returns its error (EPIPE) first, as on Linux.
 * Entry: no siglock held; `tid` is the calling task.
 *
 * @returns as sendSignalLocked, or -ESRCH when the task has no signal state
 */
export function sendSigSelf(mem: Memory, tid: TaskSlot, sig: number): number {
  const h = lockTaskSighand(mem, tid);
  if (h === 0) return -ESRCH;
  try {
    const g = taskField(mem, tid, "group");
    const info = siginfoKill(sig, SI_USER, groupField(mem, g, "tgid"));
    return sendSignalLocked(mem, h, g, 0, sig, info, false, tid);
  } finally {
    sigunlock(mem, h);
  }
}

/**
 * Send SIGKILL to the process of task `tid` (the OOM killer). Entry: no
 * siglock held; takes and drops the group's siglock (sendToGroup).
 *
 * @returns false if it is not live
 */
export function sendSigkill(mem: Memory, tid: TaskSlot): boolean {
  const g = taskField(mem, tid, "group");
  return g !== 0 && taskField(mem, tid, "state") === SIGTASK_LIVE &&
    sendToGroup(mem, g, SIGKILL, null) >= 0;
}

/** Is a SIGKILL pending for task `tid`, or its group exiting (fatal_signal_pending)? No lock. */
export function fatalSignalPending(mem: Memory, tid: TaskSlot): boolean {
  const k = mem.k32;
  if (pendingHas(k, taskPending(mem, tid), SIGKILL)) return true;
  const g = taskField(mem, tid, "group");
  return g !== 0 && (groupField(mem, g, "flags") & SIGNAL_GROUP_EXIT) !== 0;
}

// ---------------------------------------------------------------------------
// Telling the parent.

/** Bump group `pg`'s child-event word and wake its wait4 sleepers (__wake_up_parent). */
function wakeParent(mem: Memory, pg: number): void {
  const w = sigGroup(mem, pg) + SIGGRP.childEvents;
  Atomics.add(mem.k32, w, 1);
  Atomics.notify(mem.k32, w);
}

/** A SIGCHLD siginfo about group `g`. */
function childInfo(mem: Memory, g: number, code: number, status: number): KSigInfo {
  const i = siginfoNew(SIGCHLD, code);
  i[SIGINFO.pid / 4] = groupField(mem, g, "tgid");
  i[SIGINFO.status / 4] = status;
  return i;
}

/**
 * Group `g` stopped or continued: tell its parent (Linux's
 * do_notify_parent_cldstop): SIGCHLD with CLD_STOPPED or CLD_CONTINUED,
 * unless the parent ignores SIGCHLD or set SA_NOCLDSTOP; its wait4 sleepers
 * are woken either way. Nothing for a child of the Machine.
 *
 * Entry: no siglock held (the child's was dropped first: no two siglocks
 * nest). Takes and drops the parent's siglock.
 */
export function notifyParentCldstop(mem: Memory, g: number, why: number): void {
  const pg = groupField(mem, g, "parent");
  if (pg === 0) return;
  const status = why === CLD_CONTINUED ? SIGCONT : groupField(mem, g, "stopSig");
  const info = childInfo(mem, g, why === CLD_CONTINUED ? CLD_CONTINUED : CLD_STOPPED, status);
  const ph = groupField(mem, pg, "sighand");
  if (ph === 0) return;
  siglock(mem, ph);
  try {
    const act = getAction(mem, ph, SIGCHLD);
    if (act.handler !== SIG_IGN && (act.flags & SA_NOCLDSTOP) === 0) {
      sendSignalLocked(mem, ph, pg, 0, SIGCHLD, info);
    }
    wakeParent(mem, pg);
  } finally {
    sigunlock(mem, ph);
  }
}

/**
 * Group `g` has exited: send its parent SIGCHLD (Linux's do_notify_parent)
 * with CLD_EXITED and the exit status, or CLD_KILLED / CLD_DUMPED and the
 * signal, and wake the parent's wait4 sleepers. For the fork layer's exit
 * path; a child of the Machine has nobody to tell.
 *
 * Entry: tasklist lock held (exitNotify's groupDone), no siglock held. Takes
 * and drops the parent's siglock under it; returns with the tasklist lock
 * still held.
 *
 * @returns whether the child should be reaped at once because the parent
 *   ignores SIGCHLD or set SA_NOCLDWAIT (autoreap)
 */
export function notifyParentExit(
  mem: Memory,
  g: number,
  status: number,
  signal: number,
  core: boolean,
): boolean {
  const pg = groupField(mem, g, "parent");
  if (pg === 0) return false;
  const code = signal === 0 ? CLD_EXITED : core ? CLD_DUMPED : CLD_KILLED;
  const info = childInfo(mem, g, code, signal === 0 ? status & 0xff : signal);
  const ph = groupField(mem, pg, "sighand");
  if (ph === 0) return false;
  siglock(mem, ph);
  try {
    const act = getAction(mem, ph, SIGCHLD);
    const autoreap = act.handler === SIG_IGN || (act.flags & SA_NOCLDWAIT) !== 0;
    if (act.handler !== SIG_IGN) sendSignalLocked(mem, ph, pg, 0, SIGCHLD, info);
    wakeParent(mem, pg);
    return autoreap;
  } finally {
    sigunlock(mem, ph);
  }
}

/**
 * For wait4(WUNTRACED): the stop signal of group `g` if it is stopped and
 * the stop has not been reported yet, else 0; with `consume`, report it
 * (Linux's wait_task_stopped clearing the exit code).
 *
 * Entry: tasklist lock held (wait's jobResult), no siglock held. Takes and
 * drops the group's siglock.
 */
export function waitStopped(mem: Memory, g: number, consume: boolean): number {
  const h = groupField(mem, g, "sighand");
  if (h === 0) return 0;
  siglock(mem, h);
  try {
    const gb = sigGroup(mem, g);
    if ((mem.k32[gb + SIGGRP.flags]! & SIGNAL_STOP_STOPPED) === 0) return 0;
    const sig = mem.k32[gb + SIGGRP.stopSig]!;
    if (consume) mem.k32[gb + SIGGRP.stopSig] = 0;
    return sig;
  } finally {
    sigunlock(mem, h);
  }
}

/**
 * For wait4(WCONTINUED): whether group `g` was continued since the last
 * report; with `consume`, report it (clears SIGNAL_STOP_CONTINUED).
 *
 * Entry: tasklist lock held (wait's jobResult), no siglock held. Takes and
 * drops the group's siglock.
 */
export function waitContinued(mem: Memory, g: number, consume: boolean): boolean {
  const h = groupField(mem, g, "sighand");
  if (h === 0) return false;
  siglock(mem, h);
  try {
    const gb = sigGroup(mem, g);
    const f = mem.k32[gb + SIGGRP.flags]!;
    if ((f & SIGNAL_STOP_CONTINUED) === 0) return false;
    if (consume) mem.k32[gb + SIGGRP.flags] = f & ~SIGNAL_STOP_CONTINUED;
    return true;
  } finally {
    sigunlock(mem, h);
  }
}

// ---------------------------------------------------------------------------
// Faults.

/** A fault's siginfo (force_sig_fault): si_code and si_addr. */
export function faultInfo(sig: number, code: number, addr: number): KSigInfo {
  const i = siginfoNew(sig, code);
  i[SIGINFO.addr / 4] = addr | 0;
  return i;
}

/**
 * The si_code of a SIGSEGV at `va` in mm `mm`, as Linux's do_page_fault
 * tells them apart: SEGV_ACCERR when a VMA covers the address (the access
 * was not allowed), SEGV_MAPERR when nothing is mapped there. Entry: no
 * lock held; takes mmap_lock for reading.
 */
export function segvCode(mem: Memory, mm: MmId, va: number): number {
  mmapReadLock(mem, mm);
  try {
    const v = va >>> 0 < TASK_SIZE ? findVma(mem, mm, asVirt(va)) : 0;
    return v !== 0 && vmaStart(mem, v) <= va >>> 0 ? SEGV_ACCERR : SEGV_MAPERR;
  } finally {
    mmapReadUnlock(mem, mm);
  }
}

/**
 * Raise SIGBUS with BUS_MCEERR_AR on the calling task (Linux's
 * force_sig_mceerr, for memory_failure): the access at `addr` consumed
 * poisoned memory; `lsb` is the log2 of the poisoned range (PAGE_SHIFT for a
 * page). Use it from a fault that returns to user mode through proc_run's
 * fault path, or call it and let the next return to user mode deliver it. A
 * handler sees si_addr and si_addr_lsb; without one (or with SIGBUS blocked
 * or ignored) the process dies of SIGBUS.
 *
 * Entry: no siglock held; takes and drops the task's siglock (forceSigInfo).
 */
export function forceSigMceerr(mem: Memory, tid: TaskSlot, addr: number, lsb: number): void {
  const i = faultInfo(SIGBUS, BUS_MCEERR_AR, addr);
  i[SIGINFO.addrLsb / 4] = lsb & 0xffff; // si_addr_lsb is a short
  forceSigInfo(mem, tid, i);
}
