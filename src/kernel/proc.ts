/**
 * The process table (region `procs`, src/abi/layout.ts): one record per
 * task slot, shared by the Machine (main thread) and the Workers.
 *
 * Who writes what:
 * - the Machine claims a slot (procAlloc) at spawn and frees the slot when
 *   it reaps the process (procFree); signals live in the `signal` region
 *   (signal_state.ts);
 * - the Worker running the process records its mm and fd table, marks
 *   itself exiting, records each teardown step and finally its status
 *   (procExit), which makes it a zombie.
 * Every access is an Atomics operation: both sides read while the other
 * writes, and no lock guards the record.
 *
 * @module
 */

import {
  PROC,
  PROC_EXITING,
  PROC_FREE,
  PROC_RUNNING,
  PROC_WORDS,
  PROC_ZOMBIE,
  procBase,
  PROCS_HDR,
} from "../abi/layout.ts";
import { KernelPanic } from "../abi/panic.ts";
import type { Memory } from "../hw/memory.ts";

export { PROC_EXITING, PROC_FREE, PROC_RUNNING, PROC_ZOMBIE };

/** A PROC field name, e.g. "mm". */
export type ProcField = keyof typeof PROC;

const pw = (mem: Memory, slot: number, f: ProcField): number =>
  procBase(mem.layout, slot) + PROC[f];

/** Read field `f` of process slot `slot`. */
export const procGet = (mem: Memory, slot: number, f: ProcField): number =>
  Atomics.load(mem.k32, pw(mem, slot, f));

/** Write field `f` of process slot `slot`. */
export const procSet = (mem: Memory, slot: number, f: ProcField, v: number): void => {
  Atomics.store(mem.k32, pw(mem, slot, f), v);
};

/** Word index of field `f` (for Atomics.wait/notify on it). */
export const procWord = pw;

function checkSlot(mem: Memory, slot: number, where: string): void {
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
export function procAlloc(mem: Memory, slot: number, parent: number): number {
  checkSlot(mem, slot, "procAlloc");
  const k = mem.k32;
  const b = procBase(mem.layout, slot);
  if (Atomics.compareExchange(k, b + PROC.state, PROC_FREE, PROC_RUNNING) !== PROC_FREE) {
    throw new KernelPanic("procAlloc", `slot ${slot} is in use`);
  }
  const pid = Atomics.add(k, mem.layout.procs.base + PROCS_HDR.lastPid, 1) + 1;
  for (let i = 1; i < PROC_WORDS; i++) Atomics.store(k, b + i, 0);
  Atomics.store(k, b + PROC.pid, pid);
  Atomics.store(k, b + PROC.tid, slot);
  Atomics.store(k, b + PROC.parent, parent);
  Atomics.add(k, mem.layout.procs.base + PROCS_HDR.live, 1);
  return pid;
}

/**
 * Record the exit status and make the process a zombie. Called by its
 * Worker once teardown is done, or by the Machine for a dead Worker.
 */
export function procExit(mem: Memory, slot: number, code: number, signal: number): void {
  procSet(mem, slot, "exitCode", code & 0xff);
  procSet(mem, slot, "exitSignal", signal);
  procSet(mem, slot, "state", PROC_ZOMBIE);
}

/**
 * Reap a zombie: free the slot. Main thread.
 *
 * @throws KernelPanic if the process is not a zombie
 */
export function procFree(mem: Memory, slot: number): void {
  checkSlot(mem, slot, "procFree");
  const k = mem.k32;
  const b = procBase(mem.layout, slot);
  if (Atomics.compareExchange(k, b + PROC.state, PROC_ZOMBIE, PROC_FREE) !== PROC_ZOMBIE) {
    throw new KernelPanic("procFree", `slot ${slot} is not a zombie`);
  }
  Atomics.sub(k, mem.layout.procs.base + PROCS_HDR.live, 1);
}

/** Live processes (running or exiting, not reaped). */
export const procLive = (mem: Memory): number =>
  Atomics.load(mem.k32, mem.layout.procs.base + PROCS_HDR.live);
