/**
 * wait4 and waitid (Linux's kernel/exit.c do_wait): find a child in a
 * state the caller asked about, collect it, and encode its status; sleep
 * until a child changes state when there is none yet.
 *
 * A child is eligible as Linux's eligible_child decides: it matches the
 * selector (any child, a pid, a process group), and unless __WALL it must
 * be a "clone child" exactly when __WCLONE is given (a clone child is one
 * whose exit signal to the parent is not SIGCHLD). Reaped children are
 * gone. A child's stop and continue are the signal layer's events
 * (waitStopped, waitContinued), reported with WUNTRACED and WCONTINUED.
 *
 * The status word is Linux's: an exit is (code & 0xff) << 8, a death by
 * signal is the signal number (xip never dumps core, so 0x80 is never
 * set), a stop is (sig << 8) | 0x7f, a continue 0xffff.
 *
 * The sleep is on the caller's signal group's childEvents word, which the
 * signal layer bumps for every exit, stop and continue of a child.
 *
 * @module
 */

import { ECHILD, EINVAL, ESRCH } from "../abi/errno.ts";
import { PROC_REAPED, PROC_RUNNING, PROC_ZOMBIE } from "../abi/layout/mod.ts";
import { SIGGRP } from "../abi/layout/signal.ts";
import { childSlots, reapZombie, withTasklist } from "./exit.ts";
import { procGet } from "./proc.ts";
import { SIGCHLD, SIGCONT } from "./signal.ts";
import { waitContinued, waitStopped } from "./signal_send.ts";
import { sigGroup, taskField } from "./signal_state.ts";
import { sleepOnWord } from "./sleep.ts";
import type { Task } from "./task.ts";
import type { TaskSlot } from "../abi/types.ts";

// Options (include/uapi/linux/wait.h).
export const WNOHANG = 0x1;
export const WUNTRACED = 0x2;
export const WSTOPPED = WUNTRACED;
export const WEXITED = 0x4;
export const WCONTINUED = 0x8;
export const WNOWAIT = 0x0100_0000;
export const __WNOTHREAD = 0x2000_0000;
export const __WALL = 0x4000_0000;
export const __WCLONE = 0x8000_0000 | 0;

// waitid's idtype.
export const P_ALL = 0;
export const P_PID = 1;
export const P_PGID = 2;

// siginfo si_code values for SIGCHLD.
export const CLD_EXITED = 1;
export const CLD_KILLED = 2;
export const CLD_STOPPED = 5;
export const CLD_CONTINUED = 6;

/** Which children a wait is about. */
export interface WaitSel {
  readonly type: typeof P_ALL | typeof P_PID | typeof P_PGID;
  readonly id: number;
}

/** What a successful wait found. */
export interface WaitResult {
  pid: number;
  /** CLD_EXITED, CLD_KILLED, CLD_STOPPED or CLD_CONTINUED. */
  code: number;
  /** The exit code (CLD_EXITED), or the signal that killed, stopped or continued it. */
  status: number;
  /** The wait4 status word. */
  wstatus: number;
}

const WAIT4_OPTIONS = WNOHANG | WUNTRACED | WCONTINUED | __WNOTHREAD | __WCLONE | __WALL;
const WAITID_OPTIONS = WNOHANG | WNOWAIT | WEXITED | WSTOPPED | WCONTINUED | __WNOTHREAD |
  __WCLONE | __WALL;

/**
 * wait4's pid argument as a selector (Linux's kernel_wait4).
 *
 * @returns the selector, or -EINVAL (unknown option), -ESRCH (INT_MIN)
 */
export function wait4Sel(t: Task, pid: number, options: number): WaitSel | number {
  if ((options & ~WAIT4_OPTIONS) !== 0) return -EINVAL;
  if (pid === -0x8000_0000) return -ESRCH; // -INT_MIN does not exist
  if (pid === -1) return { type: P_ALL, id: 0 };
  if (pid < 0) return { type: P_PGID, id: -pid };
  if (pid === 0) return { type: P_PGID, id: procGet(t.mem, t.leader, "pgid") };
  return { type: P_PID, id: pid };
}

/**
 * waitid's (idtype, id, options) as a selector (Linux's kernel_waitid).
 *
 * @returns the selector, or -EINVAL
 */
export function waitidSel(t: Task, idtype: number, id: number, options: number): WaitSel | number {
  if ((options & ~WAITID_OPTIONS) !== 0) return -EINVAL;
  if ((options & (WEXITED | WSTOPPED | WCONTINUED)) === 0) return -EINVAL;
  switch (idtype) {
    case P_ALL:
      return { type: P_ALL, id: 0 };
    case P_PID:
      return id <= 0 ? -EINVAL : { type: P_PID, id };
    case P_PGID:
      if (id < 0) return -EINVAL;
      return { type: P_PGID, id: id === 0 ? procGet(t.mem, t.leader, "pgid") : id };
    default:
      return -EINVAL;
  }
}

/** Whether child `slot` is one the wait is about (Linux's eligible_child). */
function eligible(t: Task, slot: TaskSlot, sel: WaitSel, options: number): boolean {
  const mem = t.mem;
  if (sel.type === P_PID && procGet(mem, slot, "pid") !== sel.id) return false;
  if (sel.type === P_PGID && procGet(mem, slot, "pgid") !== sel.id) return false;
  if ((options & __WALL) !== 0) return true;
  const cloneChild = procGet(mem, slot, "childSig") !== SIGCHLD;
  return cloneChild === ((options & __WCLONE) !== 0);
}

/** The result for zombie `slot`. */
function zombieResult(t: Task, slot: TaskSlot): WaitResult {
  const mem = t.mem;
  const pid = procGet(mem, slot, "pid");
  const sig = procGet(mem, slot, "exitSignal");
  if (sig !== 0) return { pid, code: CLD_KILLED, status: sig, wstatus: sig & 0x7f };
  const code = procGet(mem, slot, "exitCode") & 0xff;
  return { pid, code: CLD_EXITED, status: code, wstatus: code << 8 };
}

/**
 * A stop or continue of live child `slot` to report, consumed unless
 * WNOWAIT (Linux's wait_task_stopped / wait_task_continued). Entry:
 * tasklist lock held.
 */
function jobResult(t: Task, slot: TaskSlot, options: number): WaitResult | null {
  const g = taskField(t.mem, slot, "group");
  if (g === 0) return null;
  const consume = (options & WNOWAIT) === 0;
  const pid = procGet(t.mem, slot, "pid");
  if ((options & WSTOPPED) !== 0) {
    const sig = waitStopped(t.mem, g, consume);
    if (sig !== 0) return { pid, code: CLD_STOPPED, status: sig, wstatus: (sig << 8) | 0x7f };
  }
  if ((options & WCONTINUED) !== 0 && waitContinued(t.mem, g, consume)) {
    return { pid, code: CLD_CONTINUED, status: SIGCONT, wstatus: 0xffff };
  }
  return null;
}

/**
 * Look for an eligible child of `t` that exited (with WEXITED), stopped
 * (WSTOPPED) or continued (WCONTINUED); collect it (unless WNOWAIT);
 * otherwise sleep until a child changes state and look again (unless
 * WNOHANG). wait4 adds WEXITED itself. Entry: no lock held.
 *
 * @returns the child found; 0 with WNOHANG when none is ready; -ECHILD when
 *   no eligible child exists; -ERESTARTSYS when a signal interrupted the sleep
 */
export function doWait(t: Task, sel: WaitSel, options: number): WaitResult | number {
  const mem = t.mem;
  const ev = sigGroup(mem, taskField(mem, t.slot, "group")) + SIGGRP.childEvents;
  for (;;) {
    const seen = Atomics.load(mem.k32, ev);
    let any = false;
    const found = withTasklist(mem, (): WaitResult | null => {
      for (const c of childSlots(mem, t.leader)) {
        const st = procGet(mem, c, "state");
        if (st === PROC_REAPED || !eligible(t, c, sel, options)) continue;
        any = true;
        if (st !== PROC_ZOMBIE) {
          const j = st === PROC_RUNNING ? jobResult(t, c, options) : null;
          if (j !== null) return j;
          continue;
        }
        // A leader whose threads still run is not reported yet (delay_group_leader).
        if ((options & WEXITED) === 0 || procGet(mem, c, "delay") !== 0) continue;
        const r = zombieResult(t, c);
        if ((options & WNOWAIT) === 0 && !reapZombie(mem, c)) continue;
        return r;
      }
      return null;
    });
    if (found !== null) return found;
    if (!any) return -ECHILD;
    if ((options & WNOHANG) !== 0) return 0;
    const r = sleepOnWord(mem, t.slot, ev, seen);
    if (r < 0) return r;
  }
}
