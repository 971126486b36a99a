/**
 * The reader side of region `fring` (src/abi/layout/fring.ts): fault-ring
 * records and the per-task counters, read from any thread with Atomics
 * loads and no lock, under the region's seqcounts.
 *
 * @module
 */

import {
  FRING,
  FRING_ENTRIES,
  FRING_ENTRY,
  fringEntry,
  TSTAT,
  TSTAT_COMM_BYTES,
  TSTAT_FAULT_SLOTS,
  tstatBase,
} from "../abi/layout/fring.ts";
import type { Memory } from "../hw/memory.ts";
import { FAULT_KINDS } from "../mm/fault_ring.ts";
import type { FaultRecord } from "./encode.ts";

/** What readFaultRing found. */
export interface RingRead {
  /** Records in ticket order, each one consistent (never fields of two faults). */
  readonly records: FaultRecord[];
  /** The ticket to pass next time. */
  readonly next: number;
  /** Tickets skipped: overwritten before they were read, or never completed. */
  readonly missed: number;
  /** Records writers dropped (ring lapped mid-write), since boot. */
  readonly dropped: number;
}

/** How far a not-yet-written entry may lag the head before the reader gives up on it. */
const STALL_TICKETS = 64;

const kindName = (kind: number): string => FAULT_KINDS[kind]?.name ?? `kind${kind}`;

/**
 * Read the ring's records from ticket `from` to the head, at most `max` of
 * the newest. A record whose entry is being written is waited for (the
 * reader stops there and returns it as `next`) unless STALL_TICKETS newer
 * tickets exist, in which case it is counted as missed. Tickets are int32
 * counters; comparisons are modular, so the head may wrap. Any thread; no lock.
 *
 * @param from the `next` of the previous call, or null for "the newest `max`"
 */
export function readFaultRing(mem: Memory, from: number | null, max = FRING_ENTRIES): RingRead {
  const k = mem.k32;
  const base = mem.layout.fring.base;
  const head = Atomics.load(k, base + FRING.head);
  const dropped = Atomics.load(k, base + FRING.dropped);
  const span = Math.min(max, FRING_ENTRIES);
  // Without a cursor, the newest `span` tickets, or all of them while fewer were handed out.
  let start = from ?? ((head >>> 0) < span ? 0 : (head - span) | 0);
  let missed = 0;
  const behind = (head - start) | 0;
  if (behind < 0) start = head; // a cursor from another boot or garbage: start afresh
  else if (behind > span) {
    missed += behind - span;
    start = (head - span) | 0;
  }
  const records: FaultRecord[] = [];
  let n = start;
  for (; n !== head; n = (n + 1) | 0) {
    const e = fringEntry(base, n);
    const s1 = Atomics.load(k, e + FRING_ENTRY.seq);
    const got = Atomics.load(k, e + FRING_ENTRY.n);
    const pid = Atomics.load(k, e + FRING_ENTRY.pid);
    const va = Atomics.load(k, e + FRING_ENTRY.va);
    const kind = Atomics.load(k, e + FRING_ENTRY.kind);
    const pfn = Atomics.load(k, e + FRING_ENTRY.pfn);
    const s2 = Atomics.load(k, e + FRING_ENTRY.seq);
    if ((s1 & 1) === 0 && s1 === s2 && got === n) {
      records.push({ n: n >>> 0, pid, va: va >>> 0, kind: kindName(kind), pfn });
      continue;
    }
    // Not written yet (or mid-write): wait for it, unless it has stalled far
    // behind the head; overwritten by a newer lap: it is gone.
    if (((got - n) | 0) > 0) missed++;
    else if (((head - n) | 0) > STALL_TICKETS) missed++;
    else break;
  }
  return { records, next: n, missed, dropped };
}

/** One task slot's counters, as the live view shows them per process. */
export interface TaskStat {
  readonly pid: number;
  /** The exec'd program path ("" before exec). */
  readonly comm: string;
  readonly instret: number;
  /** Faults by kind name. */
  readonly faults: Record<string, number>;
}

const dec = new TextDecoder();

/**
 * Read task `tid`'s counters if they belong to `pid`: null when the record
 * is another process's, or is changing hands right now (its gen is odd or
 * moved while it was read). Any thread; no lock.
 */
export function readTaskStat(mem: Memory, tid: number, pid: number): TaskStat | null {
  if (tid < 1 || tid >= mem.layout.config.maxTasks) return null;
  const k = mem.k32;
  const r = tstatBase(mem.layout.fring.base, tid);
  const g1 = Atomics.load(k, r + TSTAT.gen);
  if ((g1 & 1) !== 0 || Atomics.load(k, r + TSTAT.pid) !== pid) return null;
  const faults: Record<string, number> = {};
  FAULT_KINDS.forEach((f, kind) => {
    if (kind < TSTAT_FAULT_SLOTS) faults[f.name] = Atomics.load(k, r + TSTAT.faults + kind);
  });
  const instret = Number(Atomics.load(mem.k64, (r + TSTAT.instret) / 2));
  const words = new Int32Array(TSTAT_COMM_BYTES / 4);
  for (let i = 0; i < words.length; i++) words[i] = Atomics.load(k, r + TSTAT.comm + i);
  const bytes = new Uint8Array(words.buffer);
  const end = bytes.indexOf(0);
  const comm = dec.decode(bytes.subarray(0, end < 0 ? bytes.length : end));
  if (Atomics.load(k, r + TSTAT.gen) !== g1) return null;
  return { pid, comm, instret, faults };
}
