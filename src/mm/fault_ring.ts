/**
 * Counting a resolved page fault, and the per-task counters of the live
 * view: the writer side of region `fring` (src/abi/layout/fring.ts).
 *
 * countFault is the one place a fault is counted. It bumps the machine-wide
 * counter of its kind (what machine.stats() reports), the faulting task's
 * own counter, and writes a record into the fault ring, all without a lock:
 * the fault path runs it after the PTE is in place, under whatever locks the
 * fault handler holds at that point, and it takes none (Linux's equivalent is
 * a tracepoint plus count_vm_event, both lock-free).
 *
 * Cost, per fault: one contended Atomics.add (the ring head), a
 * compareExchange and seven stores on the task's own entry and record, on
 * top of the existing machine-wide Atomics.add. bench/ui_bench.ts measures
 * what that and a watching browser cost a run.
 *
 * @module
 */

import { PROC, procBase, VMSTAT } from "../abi/layout/mod.ts";
import {
  FAULT_KIND,
  type FaultKind,
  FRING,
  FRING_ENTRY,
  fringEntry,
  TSTAT,
  TSTAT_COMM_BYTES,
  TSTAT_FAULT_SLOTS,
  TSTAT_WORDS,
  tstatBase,
} from "../abi/layout/fring.ts";
import type { Pfn, TaskSlot, VirtAddr } from "../abi/types.ts";
import { type Memory, type StatId } from "../hw/memory.ts";
import { currentTid } from "../sync/current.ts";

export { FAULT_KIND, type FaultKind };

/**
 * Every fault kind: its name in the stats JSON (`faults.<name>`) and its
 * machine-wide counter, indexed by FAULT_KIND. A new kind is one entry here
 * and one in FAULT_KIND.
 */
export const FAULT_KINDS: readonly { readonly name: string; readonly stat: StatId }[] = [
  { name: "dax", stat: VMSTAT.faultDax },
  { name: "file_minor", stat: VMSTAT.faultFileMinor },
  { name: "file_major", stat: VMSTAT.faultFileMajor },
  { name: "cow", stat: VMSTAT.faultCow },
  { name: "anon", stat: VMSTAT.faultAnon },
  { name: "zero", stat: VMSTAT.faultZero },
  { name: "dax_pmd", stat: VMSTAT.faultDaxPmd },
];

const ONE = 1n;

/** The calling thread's task and the pid of the process it runs (0 outside a process). */
function currentPid(mem: Memory, tid: TaskSlot): number {
  if (tid < 1 || tid >= mem.layout.config.maxTasks) return 0;
  return Atomics.load(mem.k32, procBase(mem.layout, tid) + PROC.pid);
}

/**
 * The calling task's TSTAT record, made to belong to `pid`: a record left by
 * the previous process of the slot is cleared first, its gen odd meanwhile.
 * Only the owning task calls this, so the check and the clear cannot race
 * with another writer.
 *
 * @returns the record's word index, or -1 when `tid` is no task slot
 */
function tstatOwn(mem: Memory, tid: TaskSlot, pid: number): number {
  if (tid < 1 || tid >= mem.layout.config.maxTasks) return -1;
  const k = mem.k32;
  const r = tstatBase(mem.layout.fring.base, tid);
  if (Atomics.load(k, r + TSTAT.pid) === pid) return r;
  const gen = Atomics.load(k, r + TSTAT.gen); // even: only this task writes it
  Atomics.store(k, r + TSTAT.gen, gen + 1); // odd while the record changes hands
  for (let w = TSTAT.instret; w < TSTAT_WORDS; w++) Atomics.store(k, r + w, 0);
  Atomics.store(k, r + TSTAT.pid, pid);
  Atomics.store(k, r + TSTAT.gen, gen + 2);
  return r;
}

/**
 * Count a resolved fault of `kind` at `va` that mapped `pfn`: the stats
 * counter, the task's counter, and a fault-ring record. Entry: any lock
 * state (takes none); call it once the PTE is in place.
 */
export function countFault(mem: Memory, kind: FaultKind, va: VirtAddr, pfn: Pfn): void {
  const k = mem.k32;
  Atomics.add(mem.k64, mem.layout.stats.base / 2 + FAULT_KINDS[kind]!.stat, ONE);
  const tid = currentTid();
  const pid = currentPid(mem, tid);
  const r = tstatOwn(mem, tid, pid);
  if (r >= 0 && kind < TSTAT_FAULT_SLOTS) {
    k[r + TSTAT.faults + kind] = k[r + TSTAT.faults + kind]! + 1;
  }
  const base = mem.layout.fring.base;
  const n = Atomics.add(k, base + FRING.head, 1);
  const e = fringEntry(base, n);
  const seq = Atomics.load(k, e + FRING_ENTRY.seq);
  if ((seq & 1) !== 0 || Atomics.compareExchange(k, e + FRING_ENTRY.seq, seq, seq + 1) !== seq) {
    Atomics.add(k, base + FRING.dropped, 1); // a lapped writer is still in this entry
    return;
  }
  Atomics.store(k, e + FRING_ENTRY.n, n);
  Atomics.store(k, e + FRING_ENTRY.pid, pid);
  Atomics.store(k, e + FRING_ENTRY.va, va);
  Atomics.store(k, e + FRING_ENTRY.kind, kind);
  Atomics.store(k, e + FRING_ENTRY.pfn, pfn);
  Atomics.store(k, e + FRING_ENTRY.seq, seq + 2);
}

/**
 * Publish the instructions task `tid` (running process `pid`) has retired,
 * for the live view's instructions per second. Entry: any lock state; the
 * task's own thread.
 */
export function tstatInstret(mem: Memory, tid: TaskSlot, pid: number, instret: number): void {
  const r = tstatOwn(mem, tid, pid);
  if (r >= 0) Atomics.store(mem.k64, (r + TSTAT.instret) / 2, BigInt(instret));
}

/** What pulled a task off its hart so far (TSTAT.kentries .. tlbFlushes), as the task counts it. */
export interface SchedCounts {
  kentries: number;
  lockSleeps: number;
  waitSleeps: number;
  tlbFlushes: number;
}

/**
 * Publish task `tid`'s (process `pid`'s) SchedCounts, for the thread
 * scaling bench and the live view. Entry: any lock state; the task's own
 * thread.
 */
export function tstatSched(mem: Memory, tid: TaskSlot, pid: number, c: SchedCounts): void {
  const r = tstatOwn(mem, tid, pid);
  if (r < 0) return;
  Atomics.store(mem.k32, r + TSTAT.kentries, c.kentries);
  Atomics.store(mem.k32, r + TSTAT.lockSleeps, c.lockSleeps);
  Atomics.store(mem.k32, r + TSTAT.waitSleeps, c.waitSleeps);
  Atomics.store(mem.k32, r + TSTAT.tlbFlushes, c.tlbFlushes);
}

/**
 * A task's SchedCounts as last published, or null when the record no
 * longer belongs to `pid` (the slot went to another process). Any thread.
 */
export function tstatSchedOf(mem: Memory, tid: number, pid: number): SchedCounts | null {
  if (tid < 1 || tid >= mem.layout.config.maxTasks) return null;
  const k = mem.k32;
  const r = tstatBase(mem.layout.fring.base, tid);
  if (Atomics.load(k, r + TSTAT.pid) !== pid) return null;
  return {
    kentries: Atomics.load(k, r + TSTAT.kentries),
    lockSleeps: Atomics.load(k, r + TSTAT.lockSleeps),
    waitSleeps: Atomics.load(k, r + TSTAT.waitSleeps),
    tlbFlushes: Atomics.load(k, r + TSTAT.tlbFlushes),
  };
}

const enc = new TextEncoder();

/**
 * Record the program task `tid` (process `pid`) now runs: the path it
 * exec'd, cut to TSTAT_COMM_BYTES - 1 bytes at a character boundary (Linux
 * sets task->comm in begin_new_exec). Entry: any lock state; the task's own
 * thread, once exec has succeeded.
 */
export function tstatComm(mem: Memory, tid: TaskSlot, pid: number, path: string): void {
  const r = tstatOwn(mem, tid, pid);
  if (r < 0) return;
  const bytes = new Uint8Array(TSTAT_COMM_BYTES);
  enc.encodeInto(path, bytes.subarray(0, TSTAT_COMM_BYTES - 1)); // the rest stays NUL
  const words = new Int32Array(bytes.buffer);
  for (let i = 0; i < words.length; i++) Atomics.store(mem.k32, r + TSTAT.comm + i, words[i]!);
}

/**
 * Give a new child task `tid` (process `pid`) the program name of task
 * `from`, as fork copies task->comm (dup_task_struct): the child runs the
 * same program until it execs. Entry: any lock state; the parent's thread,
 * before the child's Worker starts (so the child's record has no writer).
 */
export function tstatCommFork(mem: Memory, from: TaskSlot, tid: TaskSlot, pid: number): void {
  if (from < 1 || from >= mem.layout.config.maxTasks) return;
  const r = tstatOwn(mem, tid, pid);
  if (r < 0) return;
  const src = tstatBase(mem.layout.fring.base, from) + TSTAT.comm;
  for (let i = 0; i < TSTAT_COMM_BYTES / 4; i++) {
    Atomics.store(mem.k32, r + TSTAT.comm + i, Atomics.load(mem.k32, src + i));
  }
}
