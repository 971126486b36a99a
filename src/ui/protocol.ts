/**
 * The messages of the live view's stream (GET /api/stream, server-sent
 * events), shared by the server and the page. Types only.
 *
 * On connect the server sends one `hello` event with the whole state it
 * has; then an `update` event about ten times a second. An update carries
 * the frame map only when it changed since the last one sent.
 *
 * It imports nothing from the kernel, so that the page's sources, which
 * use these types, type-check against the browser's library alone.
 *
 * @module
 */

import type { FaultRecord, FrameMap } from "./encode.ts";

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

/** A stream update. */
export interface Update {
  /** Seconds since the view started. */
  t: number;
  /** The run the frame map, processes and faults belong to. */
  run: string;
  runs: RunTotals[];
  rate: RateSample | null;
  procs: ProcRow[];
  /** Fault-ring records new since the previous update (the newest FAULTS_PER_UPDATE at most). */
  faults: FaultRecord[];
  /** Fault records the view did not show: overwritten, dropped by writers, or over the cap. */
  faults_missed: number;
  frames: FrameMap | null;
}

/** The first event of a stream: an update with history. */
export interface Hello extends Update {
  history: RateSample[];
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
