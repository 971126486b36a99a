/**
 * The System V IPC namespace's life-cycle hooks (Linux's ipc/namespace.c
 * and the exit_sem call of do_exit), in one place so the process and
 * Machine code calls one function at each point:
 *
 * - ipcBoot: the id tables' boot state (main thread, once);
 * - ipcAttach: this thread's VmOperations for attached segments (every
 *   thread that mounts or attaches the file system);
 * - ipcExit: a process is gone: its SEM_UNDO adjustments are applied and
 *   its task's semop wait record is cleared (its own thread at exit, or
 *   the Machine for a process whose Worker died; idempotent);
 * - ipcTeardown: remove every id (shutdown: no process is left).
 *
 * Shared memory segments need nothing at exit: their attaches are VMAs,
 * which the mm's teardown closes (detaching them).
 *
 * @module
 */

import type { Memory } from "../hw/memory.ts";
import type { XipCtx } from "../fs/xipfs_ctx.ts";
import { registerVmOps, VMOPS_SYSV_SHM } from "../mm/vma.ts";
import { msgTable, msgTeardown } from "./ipc_msg.ts";
import { semExit, semExitTask, semState, semTeardown } from "./ipc_sem.ts";
import { shmTable, shmTeardown, sysvShmVmOps } from "./ipc_shm.ts";
import { idTableInit } from "./ipc_util.ts";

/** Set the three id tables to their boot state. Main thread, at boot, before any process. */
export function ipcBoot(mem: Memory): void {
  idTableInit(shmTable(mem));
  idTableInit(semState(mem).t);
  idTableInit(msgTable(mem));
}

/** Register this thread's VmOperations of attached System V segments. */
export function ipcAttach(c: XipCtx): void {
  registerVmOps(VMOPS_SYSV_SHM, sysvShmVmOps(c));
}

/**
 * Process `pid`, whose (only) task is `tid`, has exited: apply its
 * semaphore undo list and forget any semop wait of the task. Entry: no
 * lock held; any thread.
 */
export function ipcExit(mem: Memory, tid: number, pid: number): void {
  semExitTask(mem, tid);
  if (pid > 0) semExit(mem, pid);
}

/** Remove every segment, set and queue (machine shutdown). Main thread. */
export function ipcTeardown(c: XipCtx): void {
  shmTeardown(c);
  semTeardown(c.mem);
  msgTeardown(c.mem);
}
