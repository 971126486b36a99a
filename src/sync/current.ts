/**
 * Tasks: which host thread is acting, and how a task is killed. Each thread (the main thread or a
 * Worker) has its own task id, kept in a module variable, which is per
 * thread because every Worker loads its own copy of this module. The task's
 * record in the kernel tables (TASK in src/abi/layout/mod.ts) holds its state and
 * its held-lock stack, so that any thread can see what a task holds.
 *
 * Killing a task is cooperative, because `worker.terminate()` in Deno 2.9
 * does not stop a Worker that is running or blocked in JavaScript: it only
 * asks the Worker's event loop to stop at its next turn (denoland/deno
 * #12930, #35657; measured here: a spinning Worker ran on for over 5 s
 * after terminate(), and a Worker parked in Atomics.wait resumed running
 * when it was woken). So the Machine calls taskKill. The killed task's
 * thread notices at its next *kill point*: a lock acquire or release,
 * a wait slice of at most KILL_POLL_MS while it sleeps on a lock, or a
 * killCheck (the hart's poll, futex sleeps). There it sets TASK.killAck and
 * runs the thread's kill action, which never returns:
 *
 * - in a process Worker, exitWorker: `Deno.exit()` followed by a loop
 *   (set by workers/process.ts): V8 ends the isolate at the loop's first back
 *   edge, so no `finally` block and no later statement runs (measured), and
 *   the task dies exactly as it stood, holding whatever locks it held; the
 *   Machine recovers them (src/kernel/reap.ts) and tears the process down
 *   from the main thread;
 * - elsewhere (the default), throwing TaskKilled, for tests that run tasks
 *   in their own Workers and catch it.
 *
 * A thread inside noKillEnter/noKillExit is not stopped at its kill points:
 * it runs on to the first kill point after the region. Kernel code uses it
 * where the task holds something no lock records (a process tearing itself
 * down, as Linux's do_exit ignores further signals), so that death never
 * strands it.
 *
 * @module
 */

import { HEADER, TASK, TASK_DEAD, TASK_FREE, TASK_LIVE, TASK_WORDS } from "../abi/layout/mod.ts";
import { KernelPanic } from "../abi/panic.ts";
import { asTaskSlot, type TaskSlot } from "../abi/types.ts";

let current = asTaskSlot(0);
let noKill = 0;
let killAction: (tid: TaskSlot) => never = (tid) => {
  throw new TaskKilled(tid);
};

/**
 * How often this thread slept in the kernel, for the thread-scaling
 * counters (TSTAT.lockSleeps, waitSleeps): one Worker runs one task at a
 * time, so plain module counters, never shared, cost nothing to bump.
 */
export const sleepCounts = { lock: 0, wait: 0 };

/** A blocking wait for a contended lock (mutex, rwsem, bit lock, seqcount writer) is about to start. */
export function noteLockSleep(): void {
  sleepCounts.lock++;
}

/** Any other kernel sleep (futex, pipe, wait, TLB shootdown ack, completion) is about to start. */
export function noteWaitSleep(): void {
  sleepCounts.wait++;
}

/** Make `tid` the calling thread's task id (0: no task). */
export function setCurrentTid(tid: TaskSlot): void {
  current = tid;
}

/** The calling thread's task id, 0 when none was set. */
export function currentTid(): TaskSlot {
  return current;
}

/** Word index of task `tid`'s record in `k`. */
export function taskRecord(k: Int32Array, tid: TaskSlot): number {
  return k[HEADER.tasksBase]! + tid * TASK_WORDS;
}

function checkTid(k: Int32Array, tid: TaskSlot, where: string): void {
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
export function taskInit(k: Int32Array, tid: TaskSlot): void {
  checkTid(k, tid, "taskInit");
  const t = taskRecord(k, tid);
  if (Atomics.load(k, t + TASK.state) === TASK_LIVE) {
    throw new KernelPanic("taskInit", `task ${tid} is already live`);
  }
  Atomics.store(k, t + TASK.depth, 0);
  Atomics.store(k, t + TASK.bitWait, 0);
  Atomics.store(k, t + TASK.killAck, 0);
  for (const w of [TASK.chaosAt, TASK.chaosClass, TASK.fileRef, TASK.truncOp]) {
    Atomics.store(k, t + w, 0);
  }
  Atomics.store(k, t + TASK.state, TASK_LIVE);
}

/**
 * End task `tid` in an orderly way (the thread returns, as do_exit does).
 * Entry: the task holds no lock. The record becomes TASK_FREE and, if `tid`
 * was the calling thread's task, the thread has no task any more.
 *
 * @throws KernelPanic if the task still holds a lock ("lock held at exit")
 */
export function taskExit(k: Int32Array, tid: TaskSlot): void {
  checkTid(k, tid, "taskExit");
  const t = taskRecord(k, tid);
  const depth = Atomics.load(k, t + TASK.depth);
  if (depth !== 0) {
    throw new KernelPanic("taskExit", `task ${tid} exits holding ${depth} lock(s)`);
  }
  Atomics.store(k, t + TASK.state, TASK_FREE);
  if (current === tid) current = asTaskSlot(0);
}

/** TASK_FREE, TASK_LIVE or TASK_DEAD. */
export function taskState(k: Int32Array, tid: TaskSlot): number {
  checkTid(k, tid, "taskState");
  return Atomics.load(k, taskRecord(k, tid) + TASK.state);
}

/** Thrown in a killed task's own thread by the default kill action; never caught by kernel code. */
export class TaskKilled extends Error {
  override name = "TaskKilled";
  constructor(readonly tid: TaskSlot) {
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
 * The current task, at record `t`, was found not live at a kill point: if it
 * was killed, acknowledge and run the kill action (which does not return),
 * unless the thread is in a no-kill region, where it returns and the caller
 * goes on. A task that was never started (taskInit) is a bug.
 */
export function killNoticed(k: Int32Array, t: number): void {
  if (k[t + TASK.state] === TASK_FREE) {
    throw new KernelPanic("killNoticed", `task ${current} uses locks before taskInit`);
  }
  if (noKill > 0) return;
  Atomics.store(k, t + TASK.killAck, 1);
  killAction(current);
}

/**
 * What this thread does when its task is killed at a kill point, after the
 * acknowledgement: `action` must not return (Deno.exit in a process Worker).
 * The default throws TaskKilled.
 */
export function setKillAction(action: (tid: TaskSlot) => never): void {
  killAction = action;
}

const parked = new Int32Array(new SharedArrayBuffer(4));
const requestExit: (code: number) => void = Deno.exit; // typed `never`, but it returns in a Worker

/**
 * The kill action of a process Worker: end this Worker's isolate now.
 * Deno.exit() in a Worker asks V8 to terminate the isolate, and V8 acts at
 * the next function entry or loop back edge (denoland/deno#32169): the call
 * itself returns, and the caller would run on for a few statements,
 * writing shared memory after its acknowledgement. Hence the loop: its
 * first back edge ends the isolate. No finally block runs.
 */
export function exitWorker(): never {
  requestExit(0);
  for (;;) Atomics.wait(parked, 0, 0, 1000);
}

/**
 * Enter a region where this thread's task is not stopped at kill points
 * (regions nest). The task still sees that it was killed once it leaves.
 */
export function noKillEnter(): void {
  noKill++;
}

/** Leave a noKillEnter region. */
export function noKillExit(): void {
  if (noKill === 0) throw new KernelPanic("noKillExit", "not in a no-kill region");
  noKill--;
}

/** Run `body` as a no-kill region (noKillEnter/noKillExit around it). */
export function withNoKill<T>(body: () => T): T {
  noKill++;
  try {
    return body();
  } finally {
    noKill--;
  }
}

/** Whether this thread is in a no-kill region. */
export function inNoKill(): boolean {
  return noKill > 0;
}

/** Words of a task record that say what the task holds beyond its locks (TASK in layout/mod.ts). */
export type TaskNote =
  | typeof TASK.fileRef
  | typeof TASK.truncOp
  | typeof TASK.truncSlot;

/**
 * Record `value` in word `note` of the calling task's record, so that the
 * Machine can undo it should the task die before clearing it. Write the
 * note in the same no-kill region that takes what it describes.
 *
 * @returns the previous value (restore it when the scope ends)
 */
export function taskNote(k: Int32Array, note: TaskNote, value: number): number {
  if (current === 0) return 0;
  const w = taskRecord(k, current) + note;
  const old = k[w]!;
  Atomics.store(k, w, value);
  return old;
}

/** Forget word `note` of dead task `tid`'s record, once the Machine has undone it. */
export function taskNoteClear(k: Int32Array, tid: TaskSlot, note: TaskNote): void {
  checkTid(k, tid, "taskNoteClear");
  Atomics.store(k, taskRecord(k, tid) + note, 0);
}

/** Word `note` of task `tid`'s record (for the Machine, once the task is dead). */
export function taskNoteOf(k: Int32Array, tid: TaskSlot, note: TaskNote): number {
  checkTid(k, tid, "taskNoteOf");
  return Atomics.load(k, taskRecord(k, tid) + note);
}

/**
 * Chaos testing: make task `tid` kill itself at its `points`-th lock
 * operation from now (acquire or release; with `cls` non-zero, counting
 * only operations made while it holds a lock of class `cls`). No-kill
 * regions are skipped. The task then dies as if taskKill had been called
 * at that instant. Any thread may arm it; 0 disarms.
 */
export function taskChaosArm(k: Int32Array, tid: TaskSlot, points: number, cls = 0): void {
  checkTid(k, tid, "taskChaosArm");
  const t = taskRecord(k, tid);
  Atomics.store(k, t + TASK.chaosClass, cls);
  Atomics.store(k, t + TASK.chaosAt, Math.max(0, points | 0));
}

/**
 * Kill task `tid`: from now on its thread throws TaskKilled at its next
 * check point instead of touching a lock. Any thread may call it; it does
 * not wait. A task that is not live is left alone.
 *
 * @returns true if the task was live
 */
export function taskKill(k: Int32Array, tid: TaskSlot): boolean {
  checkTid(k, tid, "taskKill");
  const t = taskRecord(k, tid);
  return Atomics.compareExchange(k, t + TASK.state, TASK_LIVE, TASK_DEAD) === TASK_LIVE;
}

/** Whether killed task `tid` has noticed (its thread will not touch a lock again). */
export function taskKillAcked(k: Int32Array, tid: TaskSlot): boolean {
  checkTid(k, tid, "taskKillAcked");
  return Atomics.load(k, taskRecord(k, tid) + TASK.killAck) === 1;
}

export { TASK_DEAD, TASK_FREE, TASK_LIVE };
