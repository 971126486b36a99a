/**
 * execve(2) from a running process (Linux's do_execveat_common,
 * begin_new_exec and the exec half of mm_release). The program is loaded
 * into a fresh mm by the one exec entry point (exec.ts execve), while the
 * caller's old image is untouched: a failure there returns -errno to the
 * caller as if nothing happened. Only then comes the point of no return:
 *
 * - the caller's clear-child-tid word is cleared and woken in the old mm
 *   (as at exit) and a vfork parent is released;
 * - the task switches to the new mm and drops the old one (a vfork child
 *   just gives its parent's mm back);
 * - close-on-exec fds are closed;
 * - the process layer is asked (Task.execPending) to replace the hart: the
 *   syscall does not return to the old image.
 * - caught signals revert to their default action (signalExec; ignored
 *   ones stay ignored, the blocked mask and pending signals survive).
 *
 * @module
 */

import { E2BIG, EAGAIN, EFAULT, ENOENT, isErr } from "../abi/errno.ts";
import { ERESTARTSYS } from "../abi/signal.ts";
import { asVirt } from "../abi/types.ts";
import { mmAlloc, mmPut, TASK_SIZE } from "../mm/mm.ts";
import { switchMm } from "../mm/tlb_flush.ts";
import { copyFromUser, strncpyFromUser } from "../mm/uaccess.ts";
import { execve, isExecError } from "./exec.ts";
import { clearChildTid, vforkRelease } from "./exit.ts";
import { exitRobustList } from "./futex_ops.ts";
import { procSet } from "./proc.ts";
import { SIGKILL } from "./signal.ts";
import { sleepInterrupted } from "./sleep.ts";
import { signalWakeUp } from "./signal_send.ts";
import {
  groupField,
  groupTasks,
  lockTaskSighand,
  pendingAdd,
  signalExec,
  sigunlock,
  taskField,
  taskPending,
} from "./signal_state.ts";
import type { Task } from "./task.ts";
import { userPath } from "./uaccess_task.ts";

/** Longest single argument or environment string, NUL included (Linux's MAX_ARG_STRLEN). */
export const MAX_ARG_STRLEN = 32 * 4096;
/** Most strings in argv or envp that xip reads (the stack limit refuses far fewer). */
export const MAX_ARG_STRINGS = 0x1_0000;

const dec = new TextDecoder();

/**
 * The NUL-terminated strings of the NULL-terminated pointer array at user
 * address `va` (argv or envp). A NULL array is empty, as Linux treats it.
 * Entry: no lock held; each pointer and string read takes and drops
 * mmap_lock for reading (copyFromUser, strncpyFromUser).
 *
 * @returns the strings, or -EFAULT, -E2BIG (too many, or one too long)
 */
export function userStrings(t: Task, va: number): string[] | number {
  va >>>= 0;
  const out: string[] = [];
  if (va === 0) return out;
  for (let i = 0;; i++) {
    if (i >= MAX_ARG_STRINGS) return -E2BIG;
    const at = va + 4 * i;
    if (at + 4 > TASK_SIZE) return -EFAULT;
    const p = copyFromUser(t.mem, t.mm, asVirt(at), 4);
    if (typeof p === "number") return p;
    const ptr = new DataView(p.buffer).getUint32(0, true);
    if (ptr === 0) return out;
    if (ptr >= TASK_SIZE) return -EFAULT;
    const s = strncpyFromUser(t.mem, t.mm, asVirt(ptr), Math.min(MAX_ARG_STRLEN, TASK_SIZE - ptr));
    if (typeof s === "number") return s;
    if (s.length >= MAX_ARG_STRLEN) return -E2BIG;
    out.push(dec.decode(s));
  }
}

/** How often execve looks whether the threads it killed are gone, in ms. */
const DE_THREAD_POLL_MS = 1;
const NAP = new Int32Array(new SharedArrayBuffer(4));

/**
 * Kill every other thread of `t`'s group and wait until they have exited
 * (Linux's de_thread with zap_other_threads): they get SIGKILL, the
 * caller does not, and the group is not marked as exiting.
 *
 * @returns 0, or -ERESTARTSYS when a fatal signal reached the caller meanwhile
 */
function killOtherThreads(t: Task): number {
  const mem = t.mem;
  const h = lockTaskSighand(mem, t.tid);
  if (h === 0) return 0;
  const g = taskField(mem, t.tid, "group");
  try {
    for (const x of groupTasks(mem, g)) {
      if (x === t.tid) continue;
      pendingAdd(mem, taskPending(mem, x), SIGKILL, null, false);
      signalWakeUp(mem, x);
    }
  } finally {
    sigunlock(mem, h);
  }
  while (groupField(mem, g, "live") > 1) {
    if (sleepInterrupted(mem, t.tid, true)) return -ERESTARTSYS;
    Atomics.wait(NAP, 0, 0, DE_THREAD_POLL_MS);
  }
  return 0;
}

/**
 * execve(path, argv, envp) for task `t`. Entry: a syscall of `t`, no lock
 * held.
 *
 * @returns 0 with `t.execPending` set (the process layer starts the new
 *   image; nothing returns to the old one), or -errno with the caller
 *   unchanged: -ENOENT, -EACCES, -ENOEXEC, -E2BIG, -ENOMEM, -EFAULT,
 *   -ENAMETOOLONG, -ENOTDIR, -ELOOP, -EAGAIN (from a thread that is not
 *   the leader)
 */
export function sysExecve(t: Task, pathp: number, argvp: number, envpp: number): number {
  const path = userPath(t, pathp);
  if (typeof path === "number") return path;
  if (path === "") return -ENOENT; // as Linux, for an empty path
  const argv = userStrings(t, argvp);
  if (typeof argv === "number") return argv;
  const envp = userStrings(t, envpp);
  if (typeof envp === "number") return envp;
  const mem = t.mem;
  // xip cannot yet hand the process's pid to a thread other than the
  // leader (Linux's de_thread does): a non-leader's execve is refused.
  if (t.slot !== t.leader) return -EAGAIN;
  const mm = mmAlloc(mem);
  if (isErr(mm)) return mm;
  const img = execve(
    { mem, mm, openExec: (p) => t.files.openExec(p, mm) },
    path,
    argv,
    envp,
    { textMode: t.textMode },
  );
  if (isExecError(img)) {
    mmPut(mem, mm);
    return -Math.abs(img.errno);
  }
  // The point of no return: the other threads go first (de_thread).
  const z = killOtherThreads(t);
  if (z < 0) {
    mmPut(mem, mm);
    return z;
  }
  const old = t.mm;
  exitRobustList(mem, t.slot, t.pid, old);
  clearChildTid(mem, t.slot, old);
  t.mm = mm;
  procSet(mem, t.slot, "mm", mm);
  switchMm(mem, t.tid, mm);
  mmPut(mem, old);
  vforkRelease(mem, t.slot);
  t.files.execFlush(mm);
  signalExec(mem, t.tid);
  t.execPending = img;
  return 0;
}
