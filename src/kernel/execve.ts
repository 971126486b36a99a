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

import { E2BIG, EFAULT, ENOENT, isErr } from "../abi/errno.ts";
import { asVirt } from "../abi/types.ts";
import { mmAlloc, mmPut, TASK_SIZE } from "../mm/mm.ts";
import { switchMm } from "../mm/tlb_flush.ts";
import { copyFromUser, strncpyFromUser } from "../mm/uaccess.ts";
import { deThread } from "./de_thread.ts";
import { execve, isExecError } from "./exec.ts";
import { clearChildTid, vforkRelease } from "./exit.ts";
import { exitRobustList } from "./futex_ops.ts";
import { procSet } from "./proc.ts";
import { signalExec } from "./signal_lifecycle.ts";
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

/**
 * execve(path, argv, envp) for task `t`. Entry: a syscall of `t`, no lock
 * held.
 *
 * @returns 0 with `t.execPending` set (the process layer starts the new
 *   image; nothing returns to the old one), or -errno with the caller
 *   unchanged: -ENOENT, -EACCES, -ENOEXEC, -E2BIG, -ENOMEM, -EFAULT,
 *   -ENAMETOOLONG, -ENOTDIR, -ELOOP, -EAGAIN (another thread is exiting
 *   the group or exec'ing), -ERESTARTSYS (a fatal signal while the other
 *   threads died)
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
  // The point of no return: the other threads go first, and a thread
  // other than the leader takes the leader's place (de_thread).
  const z = deThread(t);
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
