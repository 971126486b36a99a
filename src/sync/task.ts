/**
 * Tasks: which host thread is acting, and how a task is killed. Each thread (the main thread or a
 * Worker) has its own task id, kept in a module variable, which is per
 * thread because every Worker loads its own copy of this module. The task's
 * record in the kernel tables (TASK in src/abi/layout.ts) holds its state and
 * its held-lock stack, so that any thread can see what a task holds.
 *
 * Killing a task is cooperative, because `worker.terminate()` in Deno 2.9
 * does not stop a Worker that is running or blocked in JavaScript: it only
 * asks the Worker's event loop to stop at its next turn (denoland/deno
 * #12930, #35657; measured here: a spinning Worker ran on for over 5 s
 * after terminate(), and a Worker parked in Atomics.wait resumed running
 * when it was woken). So the Machine first calls taskKill. The killed
 * task's thread notices at its next lock acquire or release, within
 * KILL_POLL_MS while it sleeps on a lock, or wherever it calls killCheck
 * (the hart's poll loop should), before it touches any lock word. It then
 * sets TASK.killAck and throws TaskKilled, which unwinds to its event loop,
 * where the pending terminate() ends it. Once taskKillAcked is true the
 * Machine runs recoverTask (src/sync/recover.ts).
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
  Atomics.store(k, t + TASK.killAck, 0);
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

/** Thrown in a killed task's own thread; never caught by kernel code. */
export class TaskKilled extends Error {
  override name = "TaskKilled";
  constructor(readonly tid: Tid) {
    super(`task ${tid} was killed`);
  }
}

/**
 * How long a task sleeping on a lock, completion or barrier may go without
 * checking whether it was killed, in ms. Bounds the time to taskKillAcked.
 */
export const KILL_POLL_MS = 50;

/**
 * Throw TaskKilled if the calling thread's task was killed, after setting
 * its TASK.killAck. Cheap (one load); the hart calls it at its poll points.
 * A thread with no task (tid 0) is never killed.
 */
export function killCheck(k: Int32Array): void {
  if (current === 0) return;
  const t = k[HEADER.tasksBase]! + current * TASK_WORDS;
  if (k[t + TASK.state] === TASK_DEAD) killNoticed(k, t);
}

/**
 * The current task, at record `t`, was found not live when about to take or
 * release a lock: if it was killed, acknowledge and unwind with TaskKilled;
 * if it was never started (taskInit), that is a bug.
 */
export function killNoticed(k: Int32Array, t: number): never {
  if (k[t + TASK.state] === TASK_FREE) {
    throw new KernelPanic("killNoticed", `task ${current} uses locks before taskInit`);
  }
  Atomics.store(k, t + TASK.killAck, 1);
  throw new TaskKilled(current);
}

/**
 * Kill task `tid`: from now on its thread throws TaskKilled at its next
 * check point instead of touching a lock. Any thread may call it; it does
 * not wait. A task that is not live is left alone.
 *
 * @returns true if the task was live
 */
export function taskKill(k: Int32Array, tid: Tid): boolean {
  checkTid(k, tid, "taskKill");
  const t = taskRecord(k, tid);
  return Atomics.compareExchange(k, t + TASK.state, TASK_LIVE, TASK_DEAD) === TASK_LIVE;
}

/** Whether killed task `tid` has noticed (its thread will not touch a lock again). */
export function taskKillAcked(k: Int32Array, tid: Tid): boolean {
  checkTid(k, tid, "taskKillAcked");
  return Atomics.load(k, taskRecord(k, tid) + TASK.killAck) === 1;
}

export { TASK_DEAD, TASK_FREE, TASK_LIVE };
