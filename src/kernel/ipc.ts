/**
 * The System V IPC namespace's life-cycle hooks (Linux's ipc/namespace.c
 * and the exit_sem call of do_exit), in one place so the process and
 * Machine code calls one function at each point:
 *
 * - ipcBoot: the id tables' boot state (main thread, once);
 * - ipcAttach: this thread's VmOperations for attached segments (every
 *   thread that mounts or attaches the file system);
 * - ipcExit: a task is gone: its semop wait record is cleared, and when it
 *   was its thread group's last, the group's SEM_UNDO adjustments are
 *   applied (its own thread at exit, or the Machine for a Worker that
 *   died; after signalExit, so the group's live count says whether it was
 *   the last; idempotent);
 * - ipcTeardown: remove every id (shutdown: no process is left).
 *
 * Shared memory segments need nothing at exit: their attaches are VMAs,
 * which the mm's teardown closes (detaching them).
 *
 * @module
 */

import type { Memory } from "../hw/memory.ts";
import type { XipCtx } from "../fs/xipfs/xipfs_ctx.ts";
import { registerVmOps, VMOPS_SYSV_SHM } from "../mm/vma.ts";
import { msgTable, msgTeardown } from "./ipc_msg.ts";
import { semExit, semExitTask, semState, semTeardown } from "./ipc_sem.ts";
import { shmTable, shmTeardown, sysvShmVmOps } from "./ipc_shm.ts";
import { idTableInit } from "./ipc_util.ts";
import { procGet } from "./proc.ts";
import { groupField, taskField } from "./signal_state.ts";
import type { TaskSlot } from "../abi/types.ts";

/** Set the three id tables to their boot state. Main thread, at boot, before any process. */
export function ipcBoot(mem: Memory): void {
  idTableInit(shmTable(mem));
  idTableInit(semState(mem).t);
  idTableInit(msgTable(mem));
}

/**
 * Register this thread's VmOperations of attached System V segments. Entry:
 * any lock state; takes no lock (the ops' contracts are sysvShmVmOps's).
 */
export function ipcAttach(c: XipCtx): void {
  registerVmOps(VMOPS_SYSV_SHM, sysvShmVmOps(c));
}

/**
 * Task `tid` has exited (after signalExit): forget any semop wait of it,
 * and when its thread group has no live thread left, apply the group's
 * undo list (threads share it, as CLONE_SYSVSEM does; Linux's exit_sem
 * runs when the last user of the undo list goes). Entry: no lock held;
 * any thread.
 */
export function ipcExit(mem: Memory, tid: TaskSlot): void {
  semExitTask(mem, tid);
  const g = taskField(mem, tid, "group");
  if (g !== 0 && groupField(mem, g, "live") > 0) return;
  const tgid = procGet(mem, tid, "tgid") || procGet(mem, tid, "pid");
  if (tgid > 0) semExit(mem, tgid);
}

/**
 * Remove every segment, set and queue (machine shutdown). Main thread.
 * Entry: no lock held; takes the shm, sem and msg IPC locks one after
 * another (never two kinds together), dropping segment inode references
 * after the shm lock.
 */
export function ipcTeardown(c: XipCtx): void {
  shmTeardown(c);
  semTeardown(c.mem);
  msgTeardown(c.mem);
}
