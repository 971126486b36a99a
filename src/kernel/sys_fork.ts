/**
 * The process-lifecycle system calls: clone, execve, wait4, waitid, and the
 * process-group and session calls a shell needs (setpgid, getpgid, setsid,
 * getsid). riscv32 has no fork, vfork or waitpid: C libraries make them
 * from clone and waitid (or wait4).
 *
 * @module
 */

import { asErrno, EFAULT, EINVAL, EPERM, type Errno, ESRCH, isErr } from "../abi/errno.ts";
import { PROC_FREE, PROC_REAPED, PROC_ZOMBIE } from "../abi/layout/mod.ts";
import * as nr from "../abi/syscall_nr.ts";
import { withTasklist } from "./exit.ts";
import { sysExecve } from "./execve.ts";
import { doClone } from "./fork.ts";
import { procGet, procSet } from "./proc.ts";
import { SIGCHLD } from "./signal.ts";
import { defineSyscall, type SyscallDef } from "./syscall_def.ts";
import type { Task } from "./task.ts";
import { userWrite } from "./uaccess_task.ts";
import { doWait, wait4Sel, waitidSel, type WaitResult, type WaitSel, WEXITED } from "./wait.ts";
import { asTaskSlot, type TaskSlot } from "../abi/types.ts";

/**
 * clone(flags, newsp, ptid, tls, ctid). Entry: no lock held (a syscall).
 * Takes what doClone takes, one lock at a time: the parent's mmap_lock for
 * writing to copy the mm (dupMm), the fd-table lock to copy the table, the
 * parent's siglock (signalFork), and mmap_lock for reading to store the
 * tids; a vfork parent then sleeps with nothing held.
 *
 * @returns as doClone
 */
export function sysClone(
  t: Task,
  flags: number,
  newsp: number,
  ptid: number,
  tls: number,
  ctid: number,
): number {
  return doClone(t, { flags, newsp: newsp >>> 0, ptid: ptid >>> 0, tls, ctid: ctid >>> 0 });
}

/** Bytes of the riscv32 struct rusage (two old timevals of 32-bit longs, 14 longs). */
export const RUSAGE_BYTES = 72;
/** Bytes of siginfo_t. */
export const SIGINFO_BYTES = 128;
/** siginfo_t fields for SIGCHLD on a 32-bit ABI (a 12-byte preamble, then _sigchld). */
export const SIGINFO = { signo: 0, errno: 4, code: 8, pid: 12, uid: 16, status: 20 } as const;

/** rusage: xip does not account CPU time per process; a requested one reads as zeros. */
function putRusage(t: Task, ru: number): number {
  return ru === 0 ? 0 : userWrite(t, ru, new Uint8Array(RUSAGE_BYTES));
}

function wait(t: Task, sel: WaitSel | number, options: number): WaitResult | number {
  return typeof sel === "number" ? sel : doWait(t, sel, options);
}

/**
 * wait4(pid, int *wstatus, options, struct rusage *). Entry: no lock held (a
 * syscall). doWait takes the tasklist lock (and a child's siglock under it
 * for stop and continue reports) and sleeps with nothing held; the status
 * and rusage are copied out afterwards under mmap_lock (read).
 *
 * @returns the child's pid, 0 (WNOHANG, none ready), or -ECHILD, -EINVAL,
 *   -ESRCH, -EFAULT, -ERESTARTSYS
 */
export function sysWait4(
  t: Task,
  pid: number,
  wstatus: number,
  options: number,
  ru: number,
): number {
  const r = wait(t, wait4Sel(t, pid, options), options | WEXITED);
  if (typeof r === "number") return r;
  if (wstatus !== 0) {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setInt32(0, r.wstatus, true);
    if (userWrite(t, wstatus, b) < 0) return -EFAULT; // after the reap, as Linux
  }
  if (putRusage(t, ru) < 0) return -EFAULT;
  return r.pid;
}

/**
 * waitid(idtype, id, siginfo_t *, options, struct rusage *): 0, the child
 * described in *infop. Entry: no lock held (a syscall); locks as sysWait4.
 *
 * @returns 0, or -ECHILD, -EINVAL, -EFAULT, -ERESTARTSYS
 */
export function sysWaitid(
  t: Task,
  idtype: number,
  id: number,
  infop: number,
  options: number,
  ru: number,
): number {
  const r = wait(t, waitidSel(t, idtype, id, options), options);
  if (typeof r === "number" && r !== 0) return r;
  if (infop !== 0) {
    // With WNOHANG and nothing ready, Linux fills the fields it reports with zeros.
    const b = new Uint8Array(SIGINFO_BYTES);
    if (typeof r !== "number") {
      const dv = new DataView(b.buffer);
      dv.setInt32(SIGINFO.signo, SIGCHLD, true);
      dv.setInt32(SIGINFO.code, r.code, true);
      dv.setInt32(SIGINFO.pid, r.pid, true);
      dv.setInt32(SIGINFO.status, r.status, true);
    }
    if (userWrite(t, infop, b) < 0) return -EFAULT;
  }
  if (putRusage(t, ru) < 0) return -EFAULT;
  return 0;
}

/** The slot of live process `pid` (any state but free and reaped), or -ESRCH. Entry: tasklist lock. */
function slotOfPid(t: Task, pid: number): TaskSlot | Errno {
  for (let i = 2; i < t.mem.layout.config.maxTasks; i++) {
    const s = asTaskSlot(i);
    const st = procGet(t.mem, s, "state");
    if (st === PROC_FREE || st === PROC_REAPED || procGet(t.mem, s, "leader") !== s) continue;
    if (procGet(t.mem, s, "pid") === pid) return s;
  }
  return asErrno(-ESRCH);
}

/**
 * setpgid(pid, pgid) (Linux's rules, without exec'd-child tracking): the
 * target is the caller or one of its children in the same session, not a
 * session leader; the group is the target's own pid or an existing group of
 * the session.
 *
 * Entry: no lock held (a syscall). Takes and drops the tasklist lock
 * (TASK_TABLE), as one no-kill region.
 *
 * @returns 0, or -EINVAL, -ESRCH, -EPERM
 */
export function sysSetpgid(t: Task, pid: number, pgid: number): number {
  if (pid < 0 || pgid < 0) return -EINVAL;
  const mem = t.mem;
  return withTasklist(mem, () => {
    const target = pid === 0 ? t.leader : slotOfPid(t, pid);
    if (isErr(target)) return target;
    if (target !== t.leader && procGet(mem, target, "parentSlot") !== t.leader) return -ESRCH;
    const sid = procGet(mem, t.leader, "sid");
    if (procGet(mem, target, "sid") !== sid) return -EPERM;
    const tpid = procGet(mem, target, "pid");
    if (sid === tpid) return -EPERM; // a session leader keeps its group
    const group = pgid === 0 ? tpid : pgid;
    if (group !== tpid) {
      let exists = false;
      for (let i = 2; i < mem.layout.config.maxTasks && !exists; i++) {
        const s = asTaskSlot(i);
        const st = procGet(mem, s, "state");
        exists = st !== PROC_FREE && st !== PROC_REAPED && st !== PROC_ZOMBIE &&
          procGet(mem, s, "pgid") === group && procGet(mem, s, "sid") === sid;
      }
      if (!exists) return -EPERM;
    }
    procSet(mem, target, "pgid", group);
    return 0;
  });
}

/** getpgid(pid) and getsid(pid): pid 0 is the caller. */
function getIdOf(t: Task, pid: number, field: "pgid" | "sid"): number {
  if (pid < 0) return -ESRCH;
  if (pid === 0) return procGet(t.mem, t.leader, field);
  return withTasklist(t.mem, () => {
    const s = slotOfPid(t, pid);
    return isErr(s) ? s : procGet(t.mem, s, field);
  });
}

/**
 * getpgid(pid): pid 0 is the caller. Entry: no lock held (a syscall); for
 * another pid, takes and drops the tasklist lock.
 *
 * @returns the group id, or -ESRCH
 */
export const sysGetpgid = (t: Task, pid: number): number => getIdOf(t, pid, "pgid");
/**
 * getsid(pid): pid 0 is the caller. Entry: no lock held (a syscall); for
 * another pid, takes and drops the tasklist lock.
 *
 * @returns the session id, or -ESRCH
 */
export const sysGetsid = (t: Task, pid: number): number => getIdOf(t, pid, "sid");

/**
 * setsid(): a new session and group led by the caller, unless it already
 * leads a group. Entry: no lock held (a syscall); takes and drops the
 * tasklist lock (TASK_TABLE), as one no-kill region.
 *
 * @returns the new session id, or -EPERM
 */
export function sysSetsid(t: Task): number {
  const mem = t.mem;
  return withTasklist(mem, () => {
    const pid = t.tgid;
    for (let i = 2; i < mem.layout.config.maxTasks; i++) {
      const s = asTaskSlot(i);
      const st = procGet(mem, s, "state");
      if (st === PROC_FREE || st === PROC_REAPED || procGet(mem, s, "leader") !== s) continue;
      if (procGet(mem, s, "pgid") === pid) return -EPERM;
    }
    procSet(mem, t.leader, "pgid", pid);
    procSet(mem, t.leader, "sid", pid);
    return pid;
  });
}

/** The lifecycle calls. clone (a vfork parent's wait), wait4 and waitid sleep killably. */
export const FORK_SYSCALLS: readonly SyscallDef[] = [
  defineSyscall(nr.SYS_clone, "clone", ["hex", "ptr", "ptr", "ptr", "ptr"], sysClone, {
    killable: true,
  }),
  defineSyscall(nr.SYS_execve, "execve", ["path", "ptr", "ptr"], sysExecve),
  defineSyscall(nr.SYS_wait4, "wait4", ["int", "ptr", "hex", "ptr"], sysWait4, { killable: true }),
  defineSyscall(nr.SYS_waitid, "waitid", ["int", "int", "ptr", "hex", "ptr"], sysWaitid, {
    killable: true,
  }),
  defineSyscall(nr.SYS_setpgid, "setpgid", ["int", "int"], sysSetpgid),
  defineSyscall(nr.SYS_getpgid, "getpgid", ["int"], sysGetpgid),
  defineSyscall(nr.SYS_getsid, "getsid", ["int"], sysGetsid),
  defineSyscall(nr.SYS_setsid, "setsid", [], sysSetsid),
];
