/**
 * The thread-group part of execve (Linux's de_thread in fs/exec.c): before
 * the new image starts, every other thread of the caller's group dies, and
 * a caller that is not the group's leader takes the leader's place.
 *
 * 1. The caller claims the group's exec (SIGGRP.execTask, Linux's
 *    group_exec_task) and sends SIGKILL to every other thread
 *    (zap_other_threads). While the claim stands, a thread that takes a
 *    signal dies alone (getSignal), without starting a group exit that
 *    would take the caller along.
 * 2. It waits, killably, until those threads have gone through exitNotify
 *    (the old leader is then a delayed zombie, the others are reaped).
 * 3. A caller other than the leader takes over the leader's identity
 *    (exchange_tids, transfer_pid and release_task(leader)), under the
 *    tasklist lock: its record gets the process's pid, parent, process
 *    group and session, it becomes the leader, exits with SIGCHLD, and the
 *    process's children hang off its slot; its guest tid becomes the pid.
 *    The old leader's record is released silently (REAPED, no SIGCHLD)
 *    under the caller's old tid, and names the caller as its heir, so the
 *    Machine moves the process (its pid, wait promise, console) to the
 *    caller's slot (machine.ts). The parent's wait4 then finds the same
 *    pid in the new slot; /proc/PID names it.
 *
 * @module
 */

import { EAGAIN } from "../abi/errno.ts";
import { PROC_FREE, PROC_REAPED, PROC_ZOMBIE } from "../abi/layout/mod.ts";
import { SIGNAL_GROUP_EXIT } from "../abi/layout/signal.ts";
import { ERESTARTSYS } from "../abi/signal.ts";
import { asTaskSlot, type TaskSlot } from "../abi/types.ts";
import { reapZombie, withTasklist } from "./exit.ts";
import { procGet, procSet } from "./proc.ts";
import { SIGCHLD, SIGKILL } from "./signal.ts";
import { signalWakeUp } from "./signal_send.ts";
import {
  groupField,
  groupTasks,
  lockTaskSighand,
  pendingAdd,
  setGroupField,
  setTaskField,
  sigunlock,
  taskField,
  taskPending,
} from "./signal_state.ts";
import { sleepInterrupted } from "./sleep.ts";
import type { Task } from "./task.ts";

/** How often the exec'ing thread looks whether the threads it killed are gone, in ms. */
const DE_THREAD_POLL_MS = 1;
const NAP = new Int32Array(new SharedArrayBuffer(4));

/** Whether slot `s` has finished exitNotify (a zombie, reaped, or free again). */
function pastExitNotify(t: Task, s: TaskSlot): boolean {
  const st = procGet(t.mem, s, "state");
  return st === PROC_ZOMBIE || st === PROC_REAPED || st === PROC_FREE;
}

/**
 * Whether every other thread of `t`'s group has exited: its signal state
 * counts only the caller as live, and no other record of the group is
 * still before exitNotify (which a thread reaches after signalExit).
 */
function othersGone(t: Task, g: number): boolean {
  if (groupField(t.mem, g, "live") > 1) return false;
  for (let i = 2; i < t.mem.layout.config.maxTasks; i++) {
    const s = asTaskSlot(i);
    if (s === t.slot || procGet(t.mem, s, "leader") !== t.leader) continue;
    if (!pastExitNotify(t, s)) return false;
  }
  return true;
}

/**
 * Make task `t` the only thread of its group, and its leader (Linux's
 * de_thread). Entry: an execve of `t` whose new image is loaded (the point
 * of no return); no lock held. Takes and drops the siglock and the
 * tasklist lock.
 *
 * @returns 0; -EAGAIN when a group exit or another thread's execve is
 *   already under way (the caller is about to die of it);
 *   -ERESTARTSYS when a fatal signal reached the caller while it waited
 *   (the threads it killed stay dead, as on Linux)
 */
export function deThread(t: Task): number {
  const mem = t.mem;
  const h = lockTaskSighand(mem, t.tid);
  if (h === 0) return -ERESTARTSYS; // its signal state is gone: it is exiting
  const g = taskField(mem, t.tid, "group");
  try {
    const busy = (groupField(mem, g, "flags") & SIGNAL_GROUP_EXIT) !== 0 ||
      groupField(mem, g, "execTask") !== 0;
    if (busy) return -EAGAIN;
    const others = groupTasks(mem, g).filter((x) => x !== t.tid);
    if (others.length === 0 && t.slot === t.leader) return 0;
    setGroupField(mem, g, "execTask", t.tid);
    for (const x of others) {
      pendingAdd(mem, taskPending(mem, x), SIGKILL, null, false);
      signalWakeUp(mem, x);
    }
  } finally {
    sigunlock(mem, h);
  }
  let r = 0;
  while (!othersGone(t, g)) {
    if (sleepInterrupted(mem, t.tid, true)) {
      r = -ERESTARTSYS;
      break;
    }
    Atomics.wait(NAP, 0, 0, DE_THREAD_POLL_MS);
  }
  if (r === 0 && t.slot !== t.leader) takeOverLeader(t);
  const h2 = lockTaskSighand(mem, t.tid);
  if (h2 !== 0) {
    setGroupField(mem, g, "execTask", 0);
    sigunlock(mem, h2);
  }
  return r;
}

/**
 * Task `t`, the group's only thread left, takes the place of its dead
 * leader (exchange_tids, transfer_pid, release_task(leader)). Entry: the
 * old leader is past exitNotify (a delayed zombie, or already reaped by
 * the Machine as its init); no lock held. Takes and drops the tasklist lock.
 */
function takeOverLeader(t: Task): void {
  const mem = t.mem;
  const old = t.leader, me = t.slot, oldTid = t.pid;
  withTasklist(mem, () => {
    const pid = procGet(mem, old, "pid");
    const process = [
      "pid",
      "tgid",
      "parent",
      "parentSlot",
      "pgid",
      "sid",
      "nprocCur",
      "nprocMax",
    ] as const;
    for (const f of process) {
      procSet(mem, me, f, procGet(mem, old, f));
    }
    procSet(mem, me, "leader", me);
    procSet(mem, me, "childSig", SIGCHLD); // de_thread: tsk->exit_signal = SIGCHLD
    procSet(mem, me, "delay", 0);
    for (let i = 2; i < mem.layout.config.maxTasks; i++) {
      const s = asTaskSlot(i);
      if (procGet(mem, s, "state") === PROC_FREE) continue;
      if (procGet(mem, s, "parentSlot") === old) procSet(mem, s, "parentSlot", me);
    }
    // The old leader goes under the caller's old tid, reaped without a word to the parent.
    procSet(mem, old, "pid", oldTid);
    procSet(mem, old, "leader", me);
    procSet(mem, old, "parentSlot", 0);
    procSet(mem, old, "heir", me);
    reapZombie(mem, old);
    setTaskField(mem, me, "tid", pid);
    t.takeOver(pid);
  });
  t.host?.ringDoorbell(); // the Machine moves the process to this slot (machine.ts #adoptHeirs)
}
