/**
 * The messages of the live view's stream (GET /api/stream, server-sent
 * events), shared by the server and the page. Types only.
 *
 * On connect the server sends one `hello` event: the whole state (a
 * ViewState), the rate history and the newest fault records. Then, about
 * ten times a second, an `update` event with only what is new: a merge
 * patch (src/ui/delta.ts) from the state sent before to the state now,
 * the fault rates of the last interval, and the fault records since the
 * last update. In a steady run an update is a few hundred bytes (the
 * instruction counters that moved); the frame map is in a patch only when
 * it changed, and at most once a second.
 *
 * ```
 *  event: hello    {"t":0.4,"state":{"run":…,"runs":{"0":…},"procs":{"1":…},"frames":…},
 *                   "fault_kinds":["dax",…],"history":[[0.3,0,…]],"faults":[[17,1,65536,0,16422]]}
 *  event: update   {"t":0.5,"patch":{"procs":{"1":{"instret":…,"ips":…}}},"rate":[0.5,20,0,…]}
 * ```
 *
 * It imports nothing from the kernel, so that the page's sources, which
 * use these types, type-check against the browser's library alone.
 *
 * @module
 */

import type { Json } from "./delta.ts";
import type { FrameMap } from "./encode.ts";

/** One row of the process table. */
export interface ProcRow {
  pid: number;
  /** The exec'd program path ("" before exec). */
  program: string;
  /** A PROC_STATES name (src/ui/procs.ts): user, kernel, sleeping, exiting, zombie, starting. */
  state: string;
  /** Resident pages by kind of frame (RAM kind names and "device"), and page-table frames. */
  rss: Record<string, number>;
  /** Faults by kind name, as in the stats' `faults` object. */
  faults: Record<string, number>;
  instret: number;
  /** Instructions per second since the previous sample of this pid (0 on the first). */
  ips: number;
}

/** One run's totals: machine.stats() now, or at the end of a finished run. */
export interface RunTotals {
  label: string;
  live: boolean;
  /** A MachineStats (src/kernel/stats.ts), as --stats writes it. */
  stats: object;
}

/** Faults per second by kind name, over the sample interval ending at `t` (seconds). */
export interface RateSample {
  t: number;
  faults: Record<string, number>;
}

/**
 * What a stream keeps in step by merge patches. No member is ever null
 * (a null in a patch deletes): what is not there is left out.
 */
export interface ViewState {
  /** The run the frame map, processes and faults belong to (the newest). */
  run: string;
  /** Every run's totals, keyed by the run's index ("0", "1"…), so that a patch names one run. */
  runs: Record<string, RunTotals>;
  /** The process table, keyed by pid (JSON objects keep integer keys in ascending order). */
  procs: Record<string, ProcRow>;
  /** The frame map as last pushed, at most once a second; absent before there is a run. */
  frames?: FrameMap;
}

/**
 * A fault record on the wire: [ticket, pid, address, kind, pfn], the kind
 * an index into the hello's `fault_kinds` (encode.ts packFault).
 */
export type FaultTuple = [number, number, number, number, number];

/** A rate sample on the wire: [t, faults per second of each of `fault_kinds`…]. */
export type RateTuple = number[];

/** The first event of a stream. */
export interface Hello {
  /** Seconds since the view started. */
  t: number;
  state: ViewState;
  /** Fault kind names: the order of a RateTuple's rates and what a FaultTuple's kind indexes. */
  fault_kinds: string[];
  /** The rate samples of the last minute, oldest first. */
  history: RateTuple[];
  /** The newest fault records, oldest first. */
  faults: FaultTuple[];
}

/** A stream update: what changed since the previous event. */
export interface Update {
  /** Seconds since the view started. */
  t: number;
  /** The merge patch from the state sent before to the state now; absent when it did not change. */
  patch?: Json;
  /** The fault rates over the interval ending now; absent when there was no sample. */
  rate?: RateTuple;
  /** Fault-ring records new since the previous update (the newest FAULTS_PER_UPDATE at most). */
  faults?: FaultTuple[];
  /** Fault records the view did not show (overwritten, dropped by writers, over the cap); absent when 0. */
  missed?: number;
}

/** What a device block is to the file that owns it: its data, or a block of its block map. */
export type FileUse = "data" | "indirect" | "dindirect";

/** A file position: the file's path (null when unreachable from /), inode and byte offset. */
export interface FilePos {
  readonly path: string | null;
  readonly ino: number;
  readonly offset: number;
  /** What the block is to the file: its data, or a block of its block map. */
  readonly use: FileUse;
}

/** GET /api/frame?pfn=N. */
export interface FrameDetail {
  readonly pfn: number;
  readonly region: "ram" | "device";
  readonly kind: string;
  readonly label: string;
  /** Struct page counters; null for a device frame without one (memmap=none: pte_special). */
  readonly refcount: number | null;
  readonly mapcount: number | null;
  readonly flags: string[];
  /** Processes whose page tables map the frame, from the last snapshot. */
  readonly pids: number[];
  readonly file: FilePos | null;
  /** The device block (device frames). */
  readonly block: number | null;
  /** The xipfs metadata region a device block lies in, or the page cache's metadata mapping. */
  readonly meta: string | null;
}
