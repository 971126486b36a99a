/**
 * The data bench/report.ts collects and renders: what `deno bench --json`
 * gave per bench, and what the standalone measurement scripts
 * (bench/_report_machine.ts) print as JSON. report.ts can save it
 * (--save-json) and render a report from a saved file (--from-json), which
 * is how tests/bench/report_test.ts checks the renderer without timing.
 *
 * Units are in the field names: ns, ms, bytes, frames, per-second rates.
 *
 * @module
 */

import type { MuslResult } from "./_report_musl.ts";

/** How program text reaches a process (the three exec modes of issue 7). */
export type Mode = "dax" | "pagecache" | "copy";
export const MODE_NAMES: readonly Mode[] = ["dax", "pagecache", "copy"];

/** One bench from Deno's JSON. Deno reports no median: avgNs is the mean per iteration. */
export interface BenchRow {
  group: string | null;
  name: string;
  baseline: boolean;
  /** Iterations measured. */
  n: number;
  avgNs: number;
  minNs: number;
  p75Ns: number;
  p99Ns: number;
  /** The failure message when the bench threw. */
  error?: string;
}

/** A `deno bench` suite: ran, failed, skipped (--quick) or absent (layer not landed). */
export interface SuiteResult {
  suite: string;
  file: string;
  status: "ok" | "failed" | "skipped" | "missing";
  /** Why it did not run or failed (one line). */
  reason?: string;
  rows: BenchRow[];
  seconds: number;
}

/** Whether a measurement could be made, and why not. */
export interface Measured {
  status: "ok" | "not measured";
  reason?: string;
}

/** Stats of one Machine run, the fields of docs/stats.schema.json the report uses. */
export interface RunStats {
  instret: number;
  peakFrames: number;
  pagecacheFrames: number;
  copiedBytes: number;
  faultsDax: number;
  faultsFile: number;
  deviceMappedFrames: number;
  /** Peak RSS of the Deno process during the run (sampled every 10 ms). */
  rssBytes: number;
}

/** One scaling run: N processes of compute in one mode. */
export interface ScalingPoint extends RunStats {
  mode: Mode;
  procs: number;
  iterations: number;
  /** From the first spawn to the last exit. */
  wallMs: number;
  instrPerSec: number;
}

/** Text of the one-page library whose run is subtracted to give RAM for code. */
export const FOOTPRINT_BASE_TEXT = 4096;

/** Frames of library text beyond the one-page baseline: what N × text means in frames. */
export const extraTextFrames = (textBytes: number): number =>
  (textBytes - FOOTPRINT_BASE_TEXT) / 4096;

/** One footprint run: N processes sharing a library of textBytes. */
export interface FootprintPoint extends RunStats {
  mode: Mode;
  procs: number;
  textBytes: number;
  /** peakFrames minus the same run with a one-page library: RAM that holds library text. */
  codeFrames: number;
}

/** Exec: spawn to exit of `compute ITER`, medians over interleaved runs. */
export interface ExecPoint {
  mode: Mode;
  runs: number;
  medianMs: number;
  minMs: number;
}

export interface QemuResult extends Measured {
  /** Iteration counts of the two runs whose difference cancels start-up. */
  iterations?: [number, number];
  qemuMs?: number;
  xipMs?: number;
  /** Instructions the extra iterations retire (from xip's instret). */
  instret?: number;
  /** Hart instructions per second over the extra iterations. */
  xipInstrPerSec?: number;
  qemuInstrPerSec?: number;
}

/** Which modes map text in place in this build (exec may still fall back to copying). */
export interface ModeValidity {
  mode: Mode;
  valid: boolean;
  reason?: string;
}

/** TLB shootdown latency (bench/_report_tlb.ts). */
export interface TlbResult extends Measured {
  flushes?: number;
  busyHarts?: number;
  p50Us?: number;
  p99Us?: number;
  /** The same flush with no other hart running the mm (the bookkeeping floor). */
  idleP50Us?: number;
}

/** One workload of the hart-tiers table: the extra instructions of the larger size, and times. */
export interface TierRow {
  workload: string;
  /** The two sizes' arguments. */
  args: [string, string];
  instret: number;
  /** Time of the extra work: interpreter, tier 1 ("auto"), qemu-riscv32 (null: not installed). */
  interpMs: number;
  jitMs: number;
  qemuMs: number | null;
}

/** Translations for N processes of one program on a fresh machine. */
export interface TranslatorPoint {
  procs: number;
  translations: number;
  sharedInstalls: number;
  /** Ms spent discovering and emitting, and compiling and instantiating, summed over the Workers (wall time inside each). */
  emitMs?: number;
  compileMs?: number;
}

/** The translator's CPU cost per frame, measured on one thread (bench/_report_tiers.ts). */
export interface TranslatorCost {
  frames: number;
  /** Wasm bytes per frame. */
  bytesPerFrame: number;
  /** Discover, lay out and emit: the first pass over the frames (cold JavaScript), and the third. */
  emitColdMs: number;
  emitWarmMs: number;
  /** WebAssembly.Module, Instance and the first call (which compiles the function). */
  compileMs: number;
}

/** First call (which compiles the function) of translated frames: where V8 reuses compiled code. */
export interface V8Sharing {
  frames: number;
  /** In a fresh Worker. */
  firstCallMs: number;
  /** The same bytes again, a new Module in the same Worker. */
  sameWorkerAgainMs: number;
  /** The same bytes in a second fresh Worker. */
  otherWorkerMs: number;
}

/** The hart tiers (bench/_report_tiers.ts). */
export interface TiersResult extends Measured {
  qemu?: boolean;
  rows?: TierRow[];
  /** Spawn-to-exit medians of compute 1. */
  exec?: { offMs: number; autoMs: number; runs: number };
  /** The same on a fresh machine each run: a cold Worker, no translations yet. */
  execCold?: { offMs: number; autoMs: number; runs: number };
  daxExec?: { daxMs: number; pagecacheMs: number; runs: number };
  text?: { deviceMs: number; ramMs: number; args: string };
  translator?: TranslatorPoint[];
  cost?: TranslatorCost;
  warmup?: { instructions: number; ms: number; steadyMips: number };
  v8?: V8Sharing;
}

/** How mkfs laid libbig.so out: 4 MiB-aligned extents (megapages) or not (4 KiB PTEs). */
export type HugeLayout = "megapage" | "4k";

/**
 * One layout of the megapage comparison (bench/_report_dax.ts): what
 * touching the 16 MiB cost, the idle baseline subtracted, all processes
 * together, counted while they all map it.
 */
export interface HugePoint {
  layout: HugeLayout;
  procs: number;
  /** Faults of every kind taken to touch the blob. */
  faults: number;
  /** Of those, megapage faults. */
  pmdFaults: number;
  /** Page-table frames in use for it. */
  pagetableFrames: number;
  /** The whole machine at the barrier, baseline included. */
  machineFaults: number;
  machinePagetableFrames: number;
  /** Median over the processes of the touch loop's time, faults included, in µs. */
  touchUsMedian: number;
  /** One process alone: the best of several touch loops (after a warm-up), in µs. */
  soloTouchUs: number;
}

/** Where the host image lay, and µs per record of each way (median of the rounds). */
export interface MapSyncPoint {
  where: "disk" | "tmpfs";
  persistUs: number;
  fsyncUs: number;
}

/** A 64-byte record made durable: MAP_SYNC + cbo.flush + fence against pwrite + fsync. */
export interface MapSyncResult extends Measured {
  records?: number;
  rounds?: number;
  points?: MapSyncPoint[];
}

/** Issue 16's measurements (bench/_report_dax.ts). */
export interface DaxResult extends Measured {
  huge?: Measured & { blobPages?: number; points?: HugePoint[] };
  mapsync?: MapSyncResult;
}

export interface MachineRuns {
  scaling: Measured & { points: ScalingPoint[]; validity: ModeValidity[] };
  footprint: Measured & { points: FootprintPoint[]; validity: ModeValidity[] };
  exec: Measured & { points: ExecPoint[]; iterations: number; validity: ModeValidity[] };
  qemu: QemuResult;
  /** Absent in data saved before it existed. */
  tlb?: TlbResult;
  /** musl and Lua (bench/_report_musl.ts); absent in data saved before it existed. */
  musl?: MuslResult;
  /** Absent in data saved before it existed. */
  tiers?: TiersResult;
  /** Absent in data saved before it existed. */
  dax?: DaxResult;
}

export interface MachineInfo {
  cpu: string;
  cores: number;
  ramBytes: number;
  deno: string;
  v8: string;
  typescript: string;
  os: string;
  date: string;
  loadAverage: number[] | null;
}

export interface ReportData {
  version: 1;
  quick: boolean;
  machine: MachineInfo;
  suites: SuiteResult[];
  runs: MachineRuns;
  totalSeconds: number;
}
