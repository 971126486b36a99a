/**
 * The live view's model: the runs it shows (one Machine for `xip run`, a
 * DAX and a page-cache run for the demo) and a 10 Hz tick that samples the
 * current run and pushes updates to the connected streams.
 *
 * Work done per tick, on the main thread beside the Machine:
 * - always: machine.stats() for the fault-rate history (a few dozen
 *   Atomics loads);
 * - only while a stream is connected: the process table, the new
 *   fault-ring records, and the frame map when something may have changed
 *   it (a fault, a frame allocated or freed, a process come or gone), at
 *   least once a second otherwise. A changed map goes to the streams at
 *   most every FRAMES_PUSH_MS: the page repaints its map once a second,
 *   and a map in every 10 Hz update cost the browser more than all else it
 *   does for the view (bench/ui_compare.ts).
 * Nothing here writes to the Machine.
 *
 * @module
 */

import { FALLOC } from "../abi/layout/mod.ts";
import { FRING } from "../abi/layout/fring.ts";
import { openVolume, type XipVol } from "../fs/xipfs/xipfs_format.ts";
import type { Machine } from "../kernel/machine.ts";
import type { MachineStats } from "../kernel/stats.ts";
import { readFaultRing } from "./fault_reader.ts";
import { FileIndex, type FrameDetail, frameDetail } from "./frame_info.ts";
import { frameMapOf, type FrameSnapshot, snapshotFrames } from "./frames.ts";
import type { FaultRecord, FrameMap } from "./encode.ts";
import { IpsMeter, processRows } from "./procs.ts";
import type { Hello, ProcRow, RateSample, RunTotals, Update } from "./protocol.ts";

/** Tick period, in ms (10 Hz). */
export const TICK_MS = 100;
/** Rate samples kept: a minute of history. */
const HISTORY = 600;
/** Fault records sent per update at most (the newest). */
const FAULTS_PER_UPDATE = 50;
/** Fault records in the hello event. */
const FAULTS_ON_HELLO = 30;
/** The frame map is recomputed at least this often while a stream is open, in ms. */
const FRAMES_MAX_AGE_MS = 1000;
/** A changed frame map is pushed to the streams at most this often, in ms (the page's repaint). */
const FRAMES_PUSH_MS = 1000;

/** Whether two frame maps show the same thing (so the streams need not be sent it again). */
const sameMap = (a: FrameMap, b: FrameMap): boolean =>
  a.ram === b.ram && a.ram_mappers === b.ram_mappers && a.device === b.device &&
  a.device_mappers === b.device_mappers;

/** One machine the view shows, live or finished. */
export class ViewRun {
  #machine: Machine | null;
  #final: MachineStats | null = null;
  #snap: FrameSnapshot | null = null;
  /** The compact map of #snap, remade when first asked for after a new snapshot. */
  #map: FrameMap | null = null;
  #mapStale = true;
  #snapKey = "";
  #snapAt = -Infinity;
  #ring: number | null = null;
  readonly #meter = new IpsMeter();
  readonly #vol: XipVol | null;
  readonly #index: FileIndex | null;

  constructor(readonly label: string, machine: Machine) {
    this.#machine = machine;
    const opened = openVolume(machine.device.bytes);
    this.#vol = opened.ok ? opened.vol : null;
    this.#index = this.#vol === null ? null : new FileIndex(machine.mem, this.#vol);
  }

  /** Whether the run's Machine is still being watched (finish() not called). */
  get live(): boolean {
    return this.#machine !== null;
  }

  /** machine.stats() now, or as finish() recorded them. */
  stats(): MachineStats {
    return this.#machine?.stats() ?? this.#final!;
  }

  totals(): RunTotals {
    return { label: this.label, live: this.live, stats: this.stats() };
  }

  /**
   * The run is over: record its final stats and frame map. Call it before
   * machine.shutdown(), once the processes are reaped; the view then stops
   * reading the Machine.
   */
  finish(): void {
    const m = this.#machine;
    if (m === null) return;
    this.#snap = snapshotFrames(m.mem, this.#vol);
    this.#mapStale = true;
    this.#final = m.stats();
    this.#machine = null;
  }

  /** What may have changed the frame map since the last snapshot. */
  #changeKey(m: Machine): string {
    const k = m.mem.k32;
    const l = m.mem.layout;
    return `${Atomics.load(k, l.fring.base + FRING.head)}:${
      Atomics.load(k, l.falloc.base + FALLOC.freeFrames)
    }:${m.live}`;
  }

  /** The frame snapshot, recomputed when stale (see the module comment). */
  frames(now: number, force = false): FrameSnapshot | null {
    const m = this.#machine;
    if (m === null) return this.#snap;
    const key = this.#changeKey(m);
    if (force || key !== this.#snapKey || now - this.#snapAt >= FRAMES_MAX_AGE_MS) {
      this.#snap = snapshotFrames(m.mem, this.#vol);
      this.#mapStale = true;
      this.#snapKey = key;
      this.#snapAt = now;
    }
    return this.#snap;
  }

  /** The compact frame map (GET /api/frames); the same object until the snapshot is retaken. */
  frameMap(now: number): FrameMap | null {
    const snap = this.frames(now);
    if (snap === null) return null;
    if (this.#mapStale || this.#map === null) {
      const map = frameMapOf(snap);
      if (this.#map === null || !sameMap(this.#map, map)) this.#map = map;
      this.#mapStale = false;
    }
    return this.#map;
  }

  /** The process table (empty once finished). */
  procs(now: number): ProcRow[] {
    const m = this.#machine;
    if (m === null) return [];
    return processRows(m.mem, this.frames(now), this.#meter, now);
  }

  /** Fault records new since the last call (the newest `max`), and how many were not shown. */
  newFaults(max: number): { records: FaultRecord[]; missed: number } {
    const m = this.#machine;
    if (m === null) return { records: [], missed: 0 };
    const first = this.#ring === null;
    const r = readFaultRing(m.mem, this.#ring);
    this.#ring = r.next;
    const over = Math.max(0, r.records.length - max);
    return { records: r.records.slice(over), missed: first ? 0 : r.missed + over };
  }

  /** The newest `max` fault records, without moving the stream's cursor. */
  recentFaults(max: number): FaultRecord[] {
    const m = this.#machine;
    return m === null ? [] : readFaultRing(m.mem, null, max).records;
  }

  /** GET /api/frame: null when `pfn` is not a frame. */
  detail(pfn: number, now: number): FrameDetail | null {
    const snap = this.frames(now);
    const mem = this.#machine?.mem ?? null;
    if (snap === null || mem === null) return null;
    return frameDetail(mem, snap, this.#index, pfn);
  }
}

/** A stream's sink: receives one server-sent event (name and JSON text). */
export type Subscriber = (event: string, json: string) => void;

/** The runs, the rate history and the streams. */
export class View {
  readonly runs: ViewRun[] = [];
  readonly #history: RateSample[] = [];
  readonly #subs = new Set<Subscriber>();
  readonly #t0 = performance.now();
  #lastFaults: { run: ViewRun; t: number; faults: Record<string, number> } | null = null;
  /** The frame map the streams were last sent (by identity), and when. */
  #lastMap: FrameMap | null = null;
  #lastMapAt = -Infinity;
  #timer: ReturnType<typeof setInterval> | undefined;

  /** Start ticking. */
  start(): void {
    this.#timer ??= setInterval(() => this.tick(), TICK_MS);
  }

  /** Stop ticking and end every stream. */
  close(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#subs.clear();
  }

  /** Watch `machine` as run `label`; it becomes the current run. */
  addRun(label: string, machine: Machine): ViewRun {
    const run = new ViewRun(label, machine);
    this.runs.push(run);
    return run;
  }

  /** The run the frame map and process table show: the newest. */
  current(): ViewRun | null {
    return this.runs.at(-1) ?? null;
  }

  /** Streams connected. */
  get watchers(): number {
    return this.#subs.size;
  }

  /** Add a stream; it gets the hello event at once. Returns the function that removes it. */
  subscribe(send: Subscriber): () => void {
    send("hello", JSON.stringify(this.hello()));
    this.#subs.add(send);
    return () => this.#subs.delete(send);
  }

  #seconds(now: number): number {
    return Math.round((now - this.#t0) / 100) / 10;
  }

  /** Sample the fault rates of the current run. */
  #sampleRate(now: number): RateSample | null {
    const run = this.current();
    if (run === null) return null;
    const faults = { ...run.stats().faults } as Record<string, number>;
    const last = this.#lastFaults;
    this.#lastFaults = { run, t: now, faults };
    if (last === null || last.run !== run || now <= last.t) return null;
    const rate: Record<string, number> = {};
    for (const [kind, n] of Object.entries(faults)) {
      rate[kind] = Math.max(
        0,
        Math.round(((n - (last.faults[kind] ?? 0)) * 1000) / (now - last.t)),
      );
    }
    const sample = { t: this.#seconds(now), faults: rate };
    this.#history.push(sample);
    if (this.#history.length > HISTORY) this.#history.shift();
    return sample;
  }

  #update(now: number, rate: RateSample | null, fresh: boolean): Update {
    const run = this.current();
    const faults = fresh
      ? { records: run?.recentFaults(FAULTS_ON_HELLO) ?? [], missed: 0 }
      : run?.newFaults(FAULTS_PER_UPDATE) ?? { records: [], missed: 0 };
    const due = now - this.#lastMapAt >= FRAMES_PUSH_MS;
    const map = fresh || due ? run?.frameMap(now) ?? null : this.#lastMap;
    const frames = fresh || map !== this.#lastMap ? map : null;
    if (!fresh && frames !== null) {
      this.#lastMap = map;
      this.#lastMapAt = now;
    }
    return {
      t: this.#seconds(now),
      run: run?.label ?? "",
      runs: this.runs.map((r) => r.totals()),
      rate,
      procs: run?.procs(now) ?? [],
      faults: faults.records,
      faults_missed: faults.missed,
      frames,
    };
  }

  /** Everything a new stream needs. */
  hello(): Hello {
    const now = performance.now();
    return { ...this.#update(now, null, true), history: [...this.#history] };
  }

  /** One tick: sample, and push an update to every stream. */
  tick(): void {
    const now = performance.now();
    const rate = this.#sampleRate(now);
    if (this.#subs.size === 0) return;
    const json = JSON.stringify(this.#update(now, rate, false));
    for (const send of this.#subs) send("update", json);
  }
}
