/**
 * The signal records' life: a task's records at spawn, attach and fork
 * (Linux's copy_sighand and copy_signal), exec (flush_signal_handlers),
 * exit and release, and whether a process is stopped. The records, the
 * siglock and the pending-set helpers they use are signal_state.ts; its
 * locking rules hold here.
 *
 * @module
 */

import { KernelPanic } from "../abi/panic.ts";
import { SIGKILL, SS_DISABLE } from "../abi/signal.ts";
import {
  SIGACT_WORDS,
  SIGGRP,
  SIGGRP_WORDS,
  SIGHAND,
  SIGHAND_WORDS,
  SIGNAL_GROUP_EXIT,
  SIGNAL_STOP_STOPPED,
  SIGTASK,
  SIGTASK_EXITED,
  SIGTASK_FREE,
  SIGTASK_LIVE,
  SIGTASK_WORDS,
  TIF_SIGPENDING,
} from "../abi/layout/signal.ts";
import type { Memory } from "../hw/memory.ts";
import { type TaskSlot } from "../abi/types.ts";
import {
  getAction,
  groupField,
  groupPending,
  lockTaskSighand,
  orW,
  pendingAdd,
  pendingClear,
  setAction,
  setGroupField,
  setTaskField,
  sigGroup,
  sigHand,
  siglock,
  sigTask,
  sigunlock,
  taskField,
  taskPending,
} from "./signal_state.ts";

// Life cycle.

/** Claim a free record of a table whose records have a `users` word. */
function claim(mem: Memory, base: (mem: Memory, i: number) => number, users: number): number {
  const n = mem.layout.config.maxTasks;
  for (let i = 1; i < n; i++) {
    if (Atomics.compareExchange(mem.k32, base(mem, i) + users, 0, 1) === 0) return i;
  }
  throw new KernelPanic("signal claim", "no free record (one per task slot can never run out)");
}

function newSighand(mem: Memory): number {
  const h = claim(mem, sigHand, SIGHAND.users);
  const b = sigHand(mem, h);
  mem.k32.fill(0, b + SIGHAND.actions, b + SIGHAND_WORDS);
  return h;
}

function newGroup(mem: Memory, tgid: number, h: number, parent: number): number {
  const g = claim(mem, sigGroup, SIGGRP.users);
  const b = sigGroup(mem, g);
  mem.k32.fill(0, b + SIGGRP.live, b + SIGGRP_WORDS);
  mem.k32[b + SIGGRP.live] = 1;
  mem.k32[b + SIGGRP.tgid] = tgid;
  mem.k32[b + SIGGRP.sighand] = h;
  mem.k32[b + SIGGRP.parent] = parent;
  return g;
}

function initTask(mem: Memory, tid: TaskSlot, guestTid: number, g: number, h: number): void {
  const b = sigTask(mem, tid);
  if (Atomics.load(mem.k32, b + SIGTASK.state) !== SIGTASK_FREE) {
    throw new KernelPanic("signal initTask", `task ${tid} already has signal state`);
  }
  mem.k32.fill(0, b + 1, b + SIGTASK_WORDS);
  mem.k32[b + SIGTASK.tid] = guestTid;
  mem.k32[b + SIGTASK.group] = g;
  mem.k32[b + SIGTASK.sighand] = h;
  mem.k32[b + SIGTASK.sasFlags] = SS_DISABLE;
  Atomics.store(mem.k32, b + SIGTASK.state, SIGTASK_LIVE);
}

/**
 * Give task `tid` (a new process, guest pid `pid`, spawned by the Machine)
 * its signal state: default dispositions, nothing blocked or pending, no
 * alternate stack, and no parent to notify. Any thread.
 *
 * @throws KernelPanic if the task already has signal state
 */
export function signalSpawn(mem: Memory, tid: TaskSlot, pid: number): void {
  const h = newSighand(mem);
  const g = newGroup(mem, pid, h, 0);
  initTask(mem, tid, pid, g, h);
}

/**
 * Attach signal state to a task that was set up without the Machine (a test
 * bench's Task): spawn it unless the record is live already. Entry: no
 * siglock held; releasing an exited record first takes and drops its siglock
 * (signalRelease); spawning takes no lock.
 */
export function signalAttach(mem: Memory, tid: TaskSlot, pid: number): void {
  if (taskField(mem, tid, "state") === SIGTASK_LIVE) return;
  if (taskField(mem, tid, "state") === SIGTASK_EXITED) signalRelease(mem, tid);
  signalSpawn(mem, tid, pid);
}

/** What a clone shares (Linux's CLONE_* bits, as the fork layer decodes them). */
export interface SignalCloneFlags {
  /** CLONE_SIGHAND: share the dispositions instead of copying them. */
  readonly sighand: boolean;
  /** CLONE_THREAD: join the parent's thread group (requires sighand). */
  readonly thread: boolean;
  /** CLONE_VM without CLONE_VFORK: the child starts without an alternate stack. */
  readonly vmNoVfork: boolean;
}

/**
 * Create the signal state of `child` (guest tid `childTid`) cloned from
 * task `parent` (Linux's copy_sighand, copy_signal and the signal part of
 * copy_process): dispositions shared or copied, the thread group joined or
 * a new one made (whose parent is `parent`'s group, to be told of stops,
 * continues and exit), the blocked mask and alternate stack inherited,
 * nothing pending (pending signals are never inherited). Called by the
 * parent's thread before the child runs. Entry: no siglock held.
 *
 * @throws KernelPanic for CLONE_THREAD without CLONE_SIGHAND, or a parent without signal state
 */
export function signalFork(
  mem: Memory,
  parent: TaskSlot,
  child: TaskSlot,
  childTid: number,
  flags: SignalCloneFlags,
): void {
  if (flags.thread && !flags.sighand) {
    throw new KernelPanic("signalFork", "CLONE_THREAD without CLONE_SIGHAND");
  }
  const k = mem.k32;
  const ph = lockTaskSighand(mem, parent);
  if (ph === 0) throw new KernelPanic("signalFork", `parent ${parent} has no signal state`);
  try {
    const pg = taskField(mem, parent, "group");
    let h = ph;
    if (flags.sighand) Atomics.add(k, sigHand(mem, ph) + SIGHAND.users, 1);
    else {
      h = newSighand(mem);
      const from = sigHand(mem, ph) + SIGHAND.actions;
      k.copyWithin(sigHand(mem, h) + SIGHAND.actions, from, from + 64 * SIGACT_WORDS);
    }
    let g: number;
    if (flags.thread) {
      g = pg;
      Atomics.add(k, sigGroup(mem, g) + SIGGRP.users, 1);
      k[sigGroup(mem, g) + SIGGRP.live] = k[sigGroup(mem, g) + SIGGRP.live]! + 1;
    } else g = newGroup(mem, childTid, h, pg);
    initTask(mem, child, childTid, g, h);
    const pb = sigTask(mem, parent), cb = sigTask(mem, child);
    if (flags.thread && k[sigGroup(mem, g) + SIGGRP.execTask] !== 0) {
      // A thread born while another thread's execve kills the group dies too (de_thread.ts).
      pendingAdd(mem, taskPending(mem, child), SIGKILL, null, false);
      Atomics.or(k, cb + SIGTASK.flags, TIF_SIGPENDING);
    }
    k[cb + SIGTASK.blockedLo] = k[pb + SIGTASK.blockedLo]!;
    k[cb + SIGTASK.blockedHi] = k[pb + SIGTASK.blockedHi]!;
    if (!flags.vmNoVfork) {
      k[cb + SIGTASK.sasSp] = k[pb + SIGTASK.sasSp]!;
      k[cb + SIGTASK.sasSize] = k[pb + SIGTASK.sasSize]!;
      k[cb + SIGTASK.sasFlags] = k[pb + SIGTASK.sasFlags]!;
    }
  } finally {
    sigunlock(mem, ph);
  }
}

/**
 * The signal part of execve (Linux's unshare_sighand and
 * flush_signal_handlers(t, 0)): a sighand shared with another process is
 * copied first, then every caught signal reverts to SIG_DFL (ignored ones
 * stay ignored) and all flags and masks clear. The alternate stack is
 * disabled. The blocked mask and pending signals survive exec.
 * Entry: no siglock held; the caller is task `tid`, the group's only thread.
 */
export function signalExec(mem: Memory, tid: TaskSlot): void {
  const k = mem.k32;
  let h = lockTaskSighand(mem, tid);
  if (h === 0) return;
  if (Atomics.load(k, sigHand(mem, h) + SIGHAND.users) > 1) {
    const nh = newSighand(mem);
    const from = sigHand(mem, h) + SIGHAND.actions;
    k.copyWithin(sigHand(mem, nh) + SIGHAND.actions, from, from + 64 * SIGACT_WORDS);
    setTaskField(mem, tid, "sighand", nh);
    setGroupField(mem, taskField(mem, tid, "group"), "sighand", nh);
    Atomics.sub(k, sigHand(mem, h) + SIGHAND.users, 1);
    sigunlock(mem, h);
    h = nh;
    siglock(mem, h);
  }
  for (let sig = 1; sig <= 64; sig++) {
    const a = getAction(mem, h, sig);
    setAction(mem, h, sig, { handler: a.handler === 1 ? 1 : 0, flags: 0, mask: { lo: 0, hi: 0 } });
  }
  setTaskField(mem, tid, "sasSp", 0);
  setTaskField(mem, tid, "sasSize", 0);
  setTaskField(mem, tid, "sasFlags", SS_DISABLE);
  sigunlock(mem, h);
}

/**
 * Task `tid` has exited (the end of do_exit): it takes no more signals,
 * its private pending set is discarded, and when it was the group's last
 * thread the shared one too. Idempotent. Entry: no siglock held.
 */
export function signalExit(mem: Memory, tid: TaskSlot): void {
  const h = lockTaskSighand(mem, tid);
  if (h === 0) return;
  try {
    const g = taskField(mem, tid, "group");
    setTaskField(mem, tid, "state", SIGTASK_EXITED);
    Atomics.and(mem.k32, sigTask(mem, tid) + SIGTASK.flags, 0);
    pendingClear(mem, taskPending(mem, tid));
    const gb = sigGroup(mem, g);
    const live = mem.k32[gb + SIGGRP.live]! - 1;
    mem.k32[gb + SIGGRP.live] = live;
    if (live <= 0) {
      mem.k32[gb + SIGGRP.live] = 0;
      orW(mem.k32, gb + SIGGRP.flags, SIGNAL_GROUP_EXIT);
      pendingClear(mem, groupPending(mem, g));
    }
  } finally {
    sigunlock(mem, h);
  }
}

/**
 * Free task `tid`'s signal state once it is reaped (or its Worker died):
 * exit it if it has not, then drop its references on its group and
 * sighand (the last frees them). Idempotent. Entry: no siglock held.
 */
export function signalRelease(mem: Memory, tid: TaskSlot): void {
  signalExit(mem, tid);
  const b = sigTask(mem, tid);
  if (Atomics.load(mem.k32, b + SIGTASK.state) !== SIGTASK_EXITED) return;
  const g = mem.k32[b + SIGTASK.group]!, h = mem.k32[b + SIGTASK.sighand]!;
  Atomics.store(mem.k32, b + SIGTASK.state, SIGTASK_FREE);
  if (g !== 0) Atomics.sub(mem.k32, sigGroup(mem, g) + SIGGRP.users, 1);
  if (h !== 0) Atomics.sub(mem.k32, sigHand(mem, h) + SIGHAND.users, 1);
}

/**
 * Whether the process of task `tid` is stopped (a completed group stop,
 * not yet continued), and by which signal; 0 when it is not stopped.
 * For the Machine, tests and wait4. No lock (a snapshot).
 */
export function stoppedBy(mem: Memory, tid: TaskSlot): number {
  const g = taskField(mem, tid, "group");
  if (g === 0) return 0;
  return (groupField(mem, g, "flags") & SIGNAL_STOP_STOPPED) !== 0
    ? groupField(mem, g, "stopSig")
    : 0;
}
