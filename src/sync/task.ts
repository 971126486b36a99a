/**
 * Tasks: which host thread is acting. Each thread (the main thread or a
 * Worker) has its own task id, kept in a module variable, which is per
 * thread because every Worker loads its own copy of this module. The task's
 * record in the kernel tables (TASK in src/abi/layout.ts) holds its state and
 * its held-lock stack, so that any thread can see what a task holds.
 *
 * @module
 */

import { HEADER, TASK, TASK_DEAD, TASK_FREE, TASK_LIVE, TASK_WORDS } from "../abi/layout.ts";
import { KernelPanic } from "../abi/panic.ts";
import type { Tid } from "../abi/types.ts";

let current = 0 as Tid;

/** Make `tid` the calling thread's task id (0: no task). */
export function setCurrentTid(tid: Tid): void {
  current = tid;
}

/** The calling thread's task id, 0 when none was set. */
export function currentTid(): Tid {
  return current;
}

/** Word index of task `tid`'s record in `k`. */
export function taskRecord(k: Int32Array, tid: number): number {
  return k[HEADER.tasksBase]! + tid * TASK_WORDS;
}

function checkTid(k: Int32Array, tid: number, where: string): void {
  const max = k[HEADER.maxTasks]!;
  if (!Number.isInteger(tid) || tid < 1 || tid >= max) {
    throw new KernelPanic(where, `tid ${tid} outside 1..${max - 1}`);
  }
}

/**
 * Start task `tid`: an empty held-lock stack and state TASK_LIVE. Does not
 * make it current; call setCurrentTid in the thread that will run as it.
 *
 * @throws KernelPanic if tid is out of range or the task is already live
 */
export function taskInit(k: Int32Array, tid: Tid): void {
  checkTid(k, tid, "taskInit");
  const t = taskRecord(k, tid);
  if (Atomics.load(k, t + TASK.state) === TASK_LIVE) {
    throw new KernelPanic("taskInit", `task ${tid} is already live`);
  }
  Atomics.store(k, t + TASK.depth, 0);
  Atomics.store(k, t + TASK.bitWait, 0);
  Atomics.store(k, t + TASK.state, TASK_LIVE);
}

/**
 * End task `tid` in an orderly way (the thread returns, as do_exit does).
 * Entry: the task holds no lock. The record becomes TASK_FREE and, if `tid`
 * was the calling thread's task, the thread has no task any more.
 *
 * @throws KernelPanic if the task still holds a lock ("lock held at exit")
 */
export function taskExit(k: Int32Array, tid: Tid): void {
  checkTid(k, tid, "taskExit");
  const t = taskRecord(k, tid);
  const depth = Atomics.load(k, t + TASK.depth);
  if (depth !== 0) {
    throw new KernelPanic("taskExit", `task ${tid} exits holding ${depth} lock(s)`);
  }
  Atomics.store(k, t + TASK.state, TASK_FREE);
  if (current === tid) current = 0 as Tid;
}

/** TASK_FREE, TASK_LIVE or TASK_DEAD. */
export function taskState(k: Int32Array, tid: Tid): number {
  checkTid(k, tid, "taskState");
  return Atomics.load(k, taskRecord(k, tid) + TASK.state);
}

export { TASK_DEAD, TASK_FREE, TASK_LIVE };
