/**
 * The end of a process's life, as the process table sees it: Linux's
 * exit_notify (reparent the children, become a zombie, tell the parent),
 * the vfork completion, reaping (release_task), and the Machine's part as
 * init.
 *
 * Who frees a slot. A zombie stays in its slot until two parties are done
 * with it: its parent, which collects the status with wait4/waitid (state
 * ZOMBIE -> REAPED), and the Machine, which retires the Worker that ran it
 * (PROC_DONE_MACHINE). The second of the two frees the slot
 * (procFreeIfDone). So a slot is never reused while the Machine still
 * tracks its Worker, nor while the parent may still read the status.
 *
 * The Machine is init: processes it spawned have parent slot 0, and an
 * exiting process hands its children to it (Linux reparents to the child
 * reaper). The Machine reaps its children's zombies as it sees them
 * (machineReap) and records nothing else about them.
 *
 * Lock: the tasklist lock (PROCS_HDR.tasklistLock, LockClass.TASK_TABLE, a
 * leaf) guards the parent links and the moves to ZOMBIE and REAPED, so a
 * parent scanning its children in wait never misses an exit, and a child
 * never wakes a parent that already left. Every section under it is a
 * no-kill region: it frees or hands over slots that no lock records.
 *
 * @module
 */

import {
  GROUP_EXIT_SET,
  PROC_DONE_MACHINE,
  PROC_FREE,
  PROC_REAPED,
  PROC_ZOMBIE,
  PROCS_HDR,
} from "../abi/layout/mod.ts";
import { KernelPanic } from "../abi/panic.ts";
import { MM } from "../abi/layout/mod.ts";
import { asTaskSlot, asVirt, type MmId, type TaskSlot } from "../abi/types.ts";
import type { Memory } from "../hw/memory.ts";
import { mmField, TASK_SIZE } from "../mm/mm.ts";
import { copyToUser } from "../mm/uaccess.ts";
import { LockClass, mutexLock, mutexUnlock, withNoKill } from "../sync/mod.ts";
import { SIGGRP, SIGNAL_GROUP_EXIT, SIGTASK_FREE } from "../abi/layout/signal.ts";
import { futexPhysWord, futexWakeWord } from "./futex.ts";
import { SIGCHLD } from "./signal.ts";
import { notifyParentExit, startGroupExit } from "./signal_send.ts";
import {
  groupField,
  lockTaskSighand,
  setGroupField,
  sigGroup,
  sigunlock,
  taskField,
} from "./signal_state.ts";
import { procExit, procFreeIfDone, procGet, procSet, procSlot, procWord } from "./proc.ts";

const tasklistWord = (mem: Memory): number => mem.layout.procs.base + PROCS_HDR.tasklistLock;

/**
 * Run `fn` under the tasklist lock, as a no-kill region. Entry: no
 * TASK_TABLE or FILE_TABLE lock held (it is a leaf; anything else may be).
 */
export function withTasklist<T>(mem: Memory, fn: () => T): T {
  return withNoKill(() => {
    mutexLock(mem.k32, tasklistWord(mem), LockClass.TASK_TABLE);
    try {
      return fn();
    } finally {
      mutexUnlock(mem.k32, tasklistWord(mem));
    }
  });
}

/**
 * Slots of the processes whose parent is `slot` (any state but free):
 * thread-group leaders only, since a thread is nobody's child. Entry:
 * tasklist lock held, for an answer that stays true.
 */
export function childSlots(mem: Memory, slot: TaskSlot): TaskSlot[] {
  const out: TaskSlot[] = [];
  for (let i = 2; i < mem.layout.config.maxTasks; i++) {
    const s = asTaskSlot(i);
    if (procGet(mem, s, "state") === PROC_FREE) continue;
    if (procGet(mem, s, "parentSlot") === slot && procGet(mem, s, "leader") === s) out.push(s);
  }
  return out;
}

/** The signal group of task `slot`, 0 when its signal state is gone (released). */
function liveGroup(mem: Memory, slot: TaskSlot): number {
  return taskField(mem, slot, "state") === SIGTASK_FREE ? 0 : taskField(mem, slot, "group");
}

/**
 * exit_group's first step (Linux's do_group_exit): fix the status the
 * whole thread group of task `slot` reports and kill its other threads,
 * unless a group exit is already under way (then its status stands).
 * Entry: no lock held; the caller is a live task of the group.
 *
 * @returns the status the group will report
 */
export function groupExit(mem: Memory, slot: TaskSlot, status: number): number {
  const leader = procSlot(mem, slot, "leader");
  const h = lockTaskSighand(mem, slot);
  if (h === 0) return status;
  try {
    const g = taskField(mem, slot, "group");
    if ((groupField(mem, g, "flags") & SIGNAL_GROUP_EXIT) !== 0) {
      const ge = procGet(mem, leader, "groupExit");
      return (ge & GROUP_EXIT_SET) !== 0 ? ge & 0xff : status;
    }
    procSet(mem, leader, "groupExit", GROUP_EXIT_SET | (status & 0xff));
    if (groupField(mem, g, "live") > 1) startGroupExit(mem, g, 0);
    return status & 0xff;
  } finally {
    sigunlock(mem, h);
  }
}

/**
 * What thread group `g` (leader slot `leader`) reports once its last
 * thread is gone: an exit_group's status, else the fatal signal of a group
 * exit, else the leader's own exit. Entry: tasklist lock held.
 */
function groupStatus(mem: Memory, leader: TaskSlot, g: number): { code: number; signal: number } {
  const ge = procGet(mem, leader, "groupExit");
  if ((ge & GROUP_EXIT_SET) !== 0) return { code: ge & 0xff, signal: 0 };
  if (
    g !== 0 && (groupField(mem, g, "flags") & SIGNAL_GROUP_EXIT) !== 0 &&
    groupField(mem, g, "exitCode") !== 0
  ) {
    return { code: 0, signal: groupField(mem, g, "exitCode") };
  }
  return { code: procGet(mem, leader, "exitCode"), signal: procGet(mem, leader, "exitSignal") };
}

/**
 * Task `slot` has released its mm and files and its signal state has
 * exited (signalExit): record its status, which makes it a zombie, and
 * then (Linux's exit_notify, release_task and delay_group_leader):
 * - a thread other than the leader is reaped at once (nobody waits for
 *   threads); if it was the last one and the leader already exited, the
 *   group is done;
 * - a leader whose threads still run waits for them as a delayed zombie
 *   (PROC.delay), which wait does not report;
 * - when the group is done (groupDone), its children go to the Machine
 *   (init), the leader's record takes the group's status, and the parent
 *   is told: SIGCHLD through notifyParentExit when the exit signal is
 *   SIGCHLD, and its wait4 sleepers woken in every case. A parent that
 *   ignores SIGCHLD (or set SA_NOCLDWAIT) never sees the zombie: it is
 *   reaped at once.
 * Called by the task's own Worker at the end of teardown, or by the
 * Machine for a Worker that died, before the signal state is released.
 * Entry: no lock held.
 */
export function exitNotify(mem: Memory, slot: TaskSlot, code: number, signal: number): void {
  withTasklist(mem, () => {
    const leader = procSlot(mem, slot, "leader");
    const g = liveGroup(mem, slot);
    procExit(mem, slot, code, signal);
    const others = g === 0 ? 0 : groupField(mem, g, "live");
    if (slot !== leader) {
      reapZombie(mem, slot);
      if (others === 0 && procGet(mem, leader, "delay") === 1) groupDone(mem, leader, g);
      return;
    }
    if (others > 0) procSet(mem, leader, "delay", 1);
    else groupDone(mem, leader, g);
  });
}

/** The last thread of group `g` (leader `leader`) is gone. Entry: tasklist lock held. */
function groupDone(mem: Memory, leader: TaskSlot, g: number): void {
  const st = groupStatus(mem, leader, g);
  procSet(mem, leader, "exitCode", st.code);
  procSet(mem, leader, "exitSignal", st.signal);
  procSet(mem, leader, "delay", 0);
  for (const c of childSlots(mem, leader)) {
    procSet(mem, c, "parentSlot", 0);
    procSet(mem, c, "parent", 0);
    const cg = liveGroup(mem, c);
    if (cg !== 0) setGroupField(mem, cg, "parent", 0);
  }
  if (procGet(mem, leader, "parentSlot") === 0 || g === 0) return;
  if (procGet(mem, leader, "childSig") === SIGCHLD) {
    if (notifyParentExit(mem, g, st.code, st.signal, false)) reapZombie(mem, leader);
  } else {
    // A clone child with another exit signal (or none): no SIGCHLD, but
    // its parent's __WCLONE waits are woken.
    const pg = groupField(mem, g, "parent");
    if (pg !== 0) {
      const w = sigGroup(mem, pg) + SIGGRP.childEvents;
      Atomics.add(mem.k32, w, 1);
      Atomics.notify(mem.k32, w);
    }
  }
}

/**
 * The vfork child in `slot` no longer uses its parent's mm (it exec'd or
 * is exiting): let the parent return from clone (Linux's
 * complete_vfork_done). Harmless when no parent waits for it. Any thread.
 */
export function vforkRelease(mem: Memory, slot: TaskSlot): void {
  const parent = procSlot(mem, slot, "parentSlot");
  if (parent === 0) return;
  // Only the parent that vforked exactly this slot waits on it, and no
  // other process can have vforked this slot while we occupy it.
  const w = procWord(mem, parent, "vforkChild");
  if (Atomics.compareExchange(mem.k32, w, slot, 0) === slot) Atomics.notify(mem.k32, w);
}

/**
 * Collect zombie `slot` for its parent (wait without WNOWAIT): it becomes
 * REAPED, and its slot is freed at once if the Machine is done with it.
 * Entry: tasklist lock held; the caller checked it is a zombie child.
 *
 * @returns false when another reaper got there first
 */
export function reapZombie(mem: Memory, slot: TaskSlot): boolean {
  const w = procWord(mem, slot, "state");
  if (Atomics.compareExchange(mem.k32, w, PROC_ZOMBIE, PROC_REAPED) !== PROC_ZOMBIE) return false;
  procFreeIfDone(mem, slot);
  return true;
}

/**
 * The Machine has retired the Worker of `slot` (it reported its exit, or
 * the Machine tore the process down itself): mark it, then reap every
 * zombie the Machine is parent of, this one included when it is. Main
 * thread. Entry: the process is a zombie (or already reaped); no lock held.
 *
 * @throws KernelPanic when the process is not a zombie yet
 */
export function machineRetire(mem: Memory, slot: TaskSlot): void {
  const st = procGet(mem, slot, "state");
  if (st !== PROC_ZOMBIE && st !== PROC_REAPED) {
    throw new KernelPanic("machineRetire", `slot ${slot} is not a zombie (state ${st})`);
  }
  Atomics.or(mem.k32, procWord(mem, slot, "done"), PROC_DONE_MACHINE);
  procFreeIfDone(mem, slot);
  machineReap(mem);
}

/**
 * Reap the zombies whose parent is the Machine (init's wait loop). Main
 * thread. Entry: no lock held.
 *
 * @returns the slots reaped
 */
export function machineReap(mem: Memory): number[] {
  const out: number[] = [];
  for (let i = 2; i < mem.layout.config.maxTasks; i++) {
    const s = asTaskSlot(i);
    if (procGet(mem, s, "state") !== PROC_ZOMBIE || procGet(mem, s, "parentSlot") !== 0) continue;
    withTasklist(mem, () => {
      if (procGet(mem, s, "parentSlot") === 0 && reapZombie(mem, s)) out.push(s);
    });
  }
  return out;
}

/**
 * CLONE_CHILD_CLEARTID / set_tid_address at exit or exec (Linux's mm_release):
 * when another process still uses the mm, clear the word and wake one
 * futex waiter on it (pthread_join's wait). Entry: the task still runs
 * `mm`; no lock held. A bad address is ignored.
 */
export function clearChildTid(mem: Memory, slot: TaskSlot, mm: MmId): void {
  const va = procGet(mem, slot, "clearTid") >>> 0;
  if (va === 0 || (va & 3) !== 0 || va >= TASK_SIZE) return;
  procSet(mem, slot, "clearTid", 0);
  if (mmField(mem, mm, MM.users) <= 1) return;
  if (copyToUser(mem, mm, asVirt(va), new Uint8Array(4)) < 0) return;
  const w = futexPhysWord(mem, mm, va);
  if (w >= 0) futexWakeWord(mem, w, 1);
}
