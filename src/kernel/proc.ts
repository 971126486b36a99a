/**
 * The process table (region `procs`, src/abi/layout/mod.ts): one record per
 * task slot, shared by the Machine (main thread) and the Workers.
 *
 * Who writes what:
 * - the Machine (at spawn) or a parent's Worker (at fork) claims a free
 *   slot (procClaim); signals live in the `signal` region
 *   (signal_state.ts);
 * - the Worker running the process records its mm and fd table, marks
 *   itself exiting, records each teardown step and finally its status,
 *   which makes it a zombie (exitNotify in exit.ts);
 * - the parent reaps the zombie (wait, exit.ts) and the Machine retires
 *   its Worker; the second of the two frees the slot (procFreeIfDone).
 * Every access is an Atomics operation: both sides read while the other
 * writes. The parent links and the moves to ZOMBIE and REAPED are made
 * under the tasklist lock (exit.ts); everything else needs no lock.
 *
 * @module
 */

import { EAGAIN } from "../abi/errno.ts";
import {
  PROC,
  PROC_DONE_MACHINE,
  PROC_EXITING,
  PROC_FREE,
  PROC_REAPED,
  PROC_RUNNING,
  PROC_WORDS,
  PROC_ZOMBIE,
  procBase,
  PROCS_HDR,
  RLIM32_INFINITY,
} from "../abi/layout/mod.ts";
import { KernelPanic } from "../abi/panic.ts";
import type { Memory } from "../hw/memory.ts";
import { asMmId, asTaskSlot, type MmId, type TaskSlot } from "../abi/types.ts";

export { PROC_EXITING, PROC_FREE, PROC_REAPED, PROC_RUNNING, PROC_ZOMBIE };

/** A PROC field name, e.g. "mm". */
export type ProcField = keyof typeof PROC;

const pw = (mem: Memory, slot: TaskSlot, f: ProcField): number =>
  procBase(mem.layout, slot) + PROC[f];

/** Read field `f` of process slot `slot`. */
export const procGet = (mem: Memory, slot: TaskSlot, f: ProcField): number =>
  Atomics.load(mem.k32, pw(mem, slot, f));

/** The mm of process slot `slot` (0: none yet, or already released). */
export const procMm = (mem: Memory, slot: TaskSlot): MmId => asMmId(procGet(mem, slot, "mm"));

/** A PROC field that holds another record's slot. */
export type ProcSlotField = "leader" | "parentSlot" | "vforkChild" | "heir";

/** The slot that field `f` of process slot `slot` names (0: none). */
export const procSlot = (mem: Memory, slot: TaskSlot, f: ProcSlotField): TaskSlot =>
  asTaskSlot(procGet(mem, slot, f));

/** Write field `f` of process slot `slot`. */
export const procSet = (mem: Memory, slot: TaskSlot, f: ProcField, v: number): void => {
  Atomics.store(mem.k32, pw(mem, slot, f), v);
};

/** Word index of field `f` (for Atomics.wait/notify on it). */
export const procWord = pw;

function checkSlot(mem: Memory, slot: TaskSlot, where: string): void {
  const n = mem.layout.config.maxTasks;
  if (!Number.isInteger(slot) || slot < 2 || slot >= n) {
    throw new KernelPanic(where, `process slot ${slot} outside 2..${n - 1}`);
  }
}

/**
 * Claim process slot `slot` (= the task id its Worker will run as) for a new
 * process with parent `parent`. Main thread. Slot 1 is the Machine's own task.
 *
 * @returns the new pid
 * @throws KernelPanic if the slot is out of range or not free
 */
export function procAlloc(mem: Memory, slot: TaskSlot, parent: number): number {
  checkSlot(mem, slot, "procAlloc");
  const k = mem.k32;
  const b = procBase(mem.layout, slot);
  if (Atomics.compareExchange(k, b + PROC.state, PROC_FREE, PROC_RUNNING) !== PROC_FREE) {
    throw new KernelPanic("procAlloc", `slot ${slot} is in use`);
  }
  return procInit(mem, slot, parent);
}

/**
 * Claim the lowest free slot for a new process whose parent runs in
 * `parentSlot` (0: the Machine). The child inherits the parent's process
 * group and session; a child of the Machine leads its own. The caller
 * initialises the slot's task (taskInit) before anything runs on it.
 * Any thread; no lock (the claim is a compareExchange on the state).
 *
 * @returns the slot and the new pid, or -EAGAIN when every slot is taken
 *   (Linux's fork at the pid or thread limit)
 */
export function procClaim(
  mem: Memory,
  parentSlot: TaskSlot | 0,
): { slot: TaskSlot; pid: number } | number {
  const n = mem.layout.config.maxTasks;
  const k = mem.k32;
  for (let i = 2; i < n; i++) {
    const slot = asTaskSlot(i);
    const b = procBase(mem.layout, slot);
    if (Atomics.load(k, b + PROC.state) !== PROC_FREE) continue;
    if (Atomics.compareExchange(k, b + PROC.state, PROC_FREE, PROC_RUNNING) !== PROC_FREE) continue;
    const pid = procInit(mem, slot, parentSlot === 0 ? 0 : procGet(mem, parentSlot, "pid"));
    Atomics.store(k, b + PROC.parentSlot, parentSlot);
    if (parentSlot !== 0) {
      Atomics.store(k, b + PROC.pgid, procGet(mem, parentSlot, "pgid"));
      Atomics.store(k, b + PROC.sid, procGet(mem, parentSlot, "sid"));
      Atomics.store(k, b + PROC.mceKill, procGet(mem, parentSlot, "mceKill")); // PF_MCE_* is inherited
    }
    return { slot, pid };
  }
  return -EAGAIN;
}

/** Fill a freshly claimed record; returns the new pid. */
function procInit(mem: Memory, slot: TaskSlot, parent: number): number {
  const k = mem.k32;
  const b = procBase(mem.layout, slot);
  const pid = Atomics.add(k, mem.layout.procs.base + PROCS_HDR.lastPid, 1) + 1;
  for (let i = 1; i < PROC_WORDS; i++) Atomics.store(k, b + i, 0);
  Atomics.store(k, b + PROC.pid, pid);
  Atomics.store(k, b + PROC.tid, slot);
  Atomics.store(k, b + PROC.parent, parent);
  Atomics.store(k, b + PROC.pgid, pid);
  Atomics.store(k, b + PROC.sid, pid);
  Atomics.store(k, b + PROC.tgid, pid);
  Atomics.store(k, b + PROC.leader, slot);
  Atomics.store(k, b + PROC.nprocCur, RLIM32_INFINITY);
  Atomics.store(k, b + PROC.nprocMax, RLIM32_INFINITY);
  Atomics.add(k, mem.layout.procs.base + PROCS_HDR.live, 1);
  return pid;
}

/**
 * Give back a slot claimed by procClaim whose process never ran (fork
 * failed after the claim). Entry: nothing else knows the slot yet.
 */
export function procUnclaim(mem: Memory, slot: TaskSlot): void {
  checkSlot(mem, slot, "procUnclaim");
  const b = procBase(mem.layout, slot);
  if (
    Atomics.compareExchange(mem.k32, b + PROC.state, PROC_RUNNING, PROC_FREE) !== PROC_RUNNING
  ) {
    throw new KernelPanic("procUnclaim", `slot ${slot} is not a fresh claim`);
  }
  Atomics.sub(mem.k32, mem.layout.procs.base + PROCS_HDR.live, 1);
}

/**
 * Record the exit status and make the process a zombie. The bare state
 * change: processes exit through exitNotify (exit.ts), which also
 * reparents and wakes the parent.
 */
export function procExit(mem: Memory, slot: TaskSlot, code: number, signal: number): void {
  procSet(mem, slot, "exitCode", code & 0xff);
  procSet(mem, slot, "exitSignal", signal);
  procSet(mem, slot, "state", PROC_ZOMBIE);
}

/**
 * Reap a zombie and free its slot at once (a process nobody else waits
 * for: tests, and the Machine's own children go through exit.ts).
 *
 * @throws KernelPanic if the process is not a zombie
 */
export function procFree(mem: Memory, slot: TaskSlot): void {
  checkSlot(mem, slot, "procFree");
  const k = mem.k32;
  const b = procBase(mem.layout, slot);
  if (Atomics.compareExchange(k, b + PROC.state, PROC_ZOMBIE, PROC_FREE) !== PROC_ZOMBIE) {
    throw new KernelPanic("procFree", `slot ${slot} is not a zombie`);
  }
  Atomics.sub(k, mem.layout.procs.base + PROCS_HDR.live, 1);
}

/**
 * Free a reaped slot once the Machine is done with it too (PROC_REAPED and
 * PROC_DONE_MACHINE). Both the reaper and the Machine call it after their
 * own step; the compareExchange lets exactly one of them free the slot.
 *
 * @returns true when this call freed the slot
 */
export function procFreeIfDone(mem: Memory, slot: TaskSlot): boolean {
  const k = mem.k32;
  const b = procBase(mem.layout, slot);
  if ((Atomics.load(k, b + PROC.done) & PROC_DONE_MACHINE) === 0) return false;
  if (Atomics.compareExchange(k, b + PROC.state, PROC_REAPED, PROC_FREE) !== PROC_REAPED) {
    return false;
  }
  Atomics.sub(k, mem.layout.procs.base + PROCS_HDR.live, 1);
  // A fork waiting for a slot the Machine was still retiring (procRetiring).
  Atomics.notify(k, mem.layout.procs.base + PROCS_HDR.live);
  return true;
}

/**
 * Slots that will be free as soon as the Machine has retired their Workers,
 * with nothing left for a guest to do: reaped processes and threads, and
 * zombies whose parent is the Machine. Any thread; a snapshot.
 */
export function procRetiring(mem: Memory): number {
  let n = 0;
  for (let i = 2; i < mem.layout.config.maxTasks; i++) {
    const slot = asTaskSlot(i);
    const st = procGet(mem, slot, "state");
    if (st === PROC_REAPED || (st === PROC_ZOMBIE && procGet(mem, slot, "parentSlot") === 0)) n++;
  }
  return n;
}

/** Live processes (running or exiting, not reaped). */
export const procLive = (mem: Memory): number =>
  Atomics.load(mem.k32, mem.layout.procs.base + PROCS_HDR.live);
