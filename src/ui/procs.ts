/**
 * The process table of the live view: one row per process in the shared
 * process table, with its program, state, resident pages by kind (from the
 * frame walk of frames.ts), faults by kind and instructions per second
 * (from its task's counters, fault_reader.ts). Any thread; no lock.
 *
 * @module
 */

import {
  PROC,
  PROC_EXITING,
  PROC_FREE,
  PROC_RUNNING,
  PROC_ZOMBIE,
  procBase,
  TASK_TLB,
  taskBase,
} from "../abi/layout/mod.ts";
import type { Memory } from "../hw/memory.ts";
import { TLB_MODE_KERNEL, TLB_MODE_USER } from "../mm/tlb_flush.ts";
import { readTaskStat } from "./fault_reader.ts";
import type { FrameSnapshot } from "./frames.ts";
import type { ProcRow } from "./protocol.ts";

/** What the state column is computed from. */
export interface ProcFacts {
  state: number;
  /** The task's TLB mode (TLB_MODE_*): where its thread runs now. */
  mode: number;
  /** Sleeping in a futex wait. */
  futex: boolean;
}

/**
 * Process states as the view names them, in matching order (first match
 * wins), after Linux's ps letters. A new state (stopped by SIGSTOP) is one
 * entry.
 */
export const PROC_STATES: readonly { name: string; match: (p: ProcFacts) => boolean }[] = [
  { name: "zombie", match: (p) => p.state === PROC_ZOMBIE },
  { name: "exiting", match: (p) => p.state === PROC_EXITING },
  { name: "sleeping", match: (p) => p.futex },
  { name: "user", match: (p) => p.state === PROC_RUNNING && p.mode === TLB_MODE_USER },
  { name: "kernel", match: (p) => p.state === PROC_RUNNING && p.mode === TLB_MODE_KERNEL },
  { name: "starting", match: () => true },
];

/** The window instructions per second are averaged over, in ms (instret is published in steps). */
const IPS_WINDOW_MS = 2000;
/** The shortest span a rate is given for, in ms. */
const IPS_MIN_SPAN_MS = 250;

/** Remembers each pid's recent instret samples, for the rate. */
export class IpsMeter {
  #samples = new Map<number, { instret: number; at: number }[]>();

  /**
   * Instructions per second of `pid` over the last IPS_WINDOW_MS; records
   * this sample. 0 until samples span IPS_MIN_SPAN_MS.
   */
  rate(pid: number, instret: number, at: number): number {
    let q = this.#samples.get(pid);
    if (q === undefined) this.#samples.set(pid, q = []);
    q.push({ instret, at });
    while (q.length > 2 && at - q[1]!.at >= IPS_WINDOW_MS) q.shift();
    const first = q[0]!;
    const span = at - first.at;
    if (span < IPS_MIN_SPAN_MS || instret < first.instret) return 0;
    return (instret - first.instret) / (span / 1000);
  }

  /** Forget pids not in `live`. */
  keep(live: Set<number>): void {
    for (const pid of this.#samples.keys()) if (!live.has(pid)) this.#samples.delete(pid);
  }
}

/**
 * The rows of every process in the table, in pid order. `frames` supplies
 * resident pages (null: none shown); `meter` turns instret into a rate.
 */
export function processRows(
  mem: Memory,
  frames: FrameSnapshot | null,
  meter: IpsMeter,
  at: number,
): ProcRow[] {
  const k = mem.k32;
  const rows: ProcRow[] = [];
  for (let slot = 1; slot < mem.layout.config.maxTasks; slot++) {
    const b = procBase(mem.layout, slot);
    const state = Atomics.load(k, b + PROC.state);
    if (state === PROC_FREE) continue;
    const pid = Atomics.load(k, b + PROC.pid);
    if (pid <= 0) continue;
    const tid = Atomics.load(k, b + PROC.tid);
    const facts: ProcFacts = {
      state,
      mode: tid > 0 ? Atomics.load(k, taskBase(mem.layout, tid) + TASK_TLB.mode) : 0,
      futex: Atomics.load(k, b + PROC.futexWord) !== 0,
    };
    const ts = readTaskStat(mem, tid, pid);
    const mm = frames?.mms.get(Atomics.load(k, b + PROC.mm));
    const rss: Record<string, number> = mm === undefined ? {} : { ...mm.rss };
    if (mm !== undefined) rss.pagetable = (rss.pagetable ?? 0) + mm.tables;
    const instret = ts?.instret ?? 0;
    rows.push({
      pid,
      program: ts?.comm ?? "",
      state: PROC_STATES.find((s) => s.match(facts))!.name,
      rss,
      faults: ts?.faults ?? {},
      instret,
      ips: Math.round(meter.rate(pid, instret, at)),
    });
  }
  meter.keep(new Set(rows.map((r) => r.pid)));
  return rows.sort((a, b) => a.pid - b.pid);
}
