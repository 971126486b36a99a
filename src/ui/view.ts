/**
 * The live view's model: the runs it shows (one Machine for `xip run`, a
 * DAX and a page-cache run for the demo) and a tick that samples the
 * current run and pushes updates to the connected streams: 10 Hz while a
 * stream is open, 1 Hz (the rate history only) while none is.
 *
 * Work done per tick, on the main thread beside the Machine:
 * - always: the fault counters, for the fault-rate history (a few Atomics
 *   loads);
 * - only while a stream is connected: the process table, the totals, the
 *   new fault-ring records, and the merge patch (delta.ts) from the state
 *   the streams were sent last, so that an update carries what changed and
 *   nothing else. The frame snapshot behind the frame map and the RSS
 *   columns is retaken at most once a second (FRAMES_PERIOD_MS), and only
 *   every FRAMES_IDLE_MS when nothing that could change it moved: a
 *   snapshot walks every frame and page table (~0.7 ms), and the page
 *   repaints once a second anyway.
 * Nothing here writes to the Machine.
 *
 * @module
 */

import { FALLOC } from "../abi/layout/mod.ts";
import { FRING } from "../abi/layout/fring.ts";
import { statRead } from "../hw/memory.ts";
import { openVolume, type XipVol } from "../fs/xipfs/xipfs_format.ts";
import type { Machine } from "../kernel/machine.ts";
import type { MachineStats } from "../kernel/stats.ts";
import { readFaultRing } from "./fault_reader.ts";
import { FAULT_KINDS } from "../mm/fault_ring.ts";
import { createMergePatch } from "./delta.ts";
import { FileIndex, type FrameDetail, frameDetail } from "./frame_info.ts";
import { frameMapOf, type FrameSnapshot, snapshotFrames } from "./frames.ts";
import { type FaultRecord, type FrameMap, packFault } from "./encode.ts";
import { IpsMeter, processRows } from "./procs.ts";
import type {
  FaultTuple,
  Hello,
  ProcRow,
  RateTuple,
  RunTotals,
  Update,
  ViewState,
} from "./protocol.ts";

/** Tick period while a stream is open, in ms (10 Hz). */
export const TICK_MS = 100;
/**
 * Tick period while nobody watches, in ms: only the rate history is kept
 * then, and a 10 Hz timer's wake-ups alone cost the main thread more than
 * the sampling does.
 */
const IDLE_TICK_MS = 1000;
/** Rate samples kept: a minute of history. */
const HISTORY = 600;
/** Fault records sent per update at most (the newest). */
const FAULTS_PER_UPDATE = 50;
/** Fault records in the hello event. */
const FAULTS_ON_HELLO = 30;
/** The frame snapshot is retaken at most this often, in ms. */
const FRAMES_PERIOD_MS = 1000;
/** ... and at least this often when nothing that could change it moved, in ms. */
const FRAMES_IDLE_MS = 5000;
/** Fault kind names, in the order of a rate tuple and of a fault tuple's kind index. */
const KIND_NAMES = FAULT_KINDS.map((k) => k.name);

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

  /** Faults resolved since boot by kind, in KIND_NAMES order: a few loads, not a whole stats(). */
  faultCounts(): number[] {
    const m = this.#machine;
    if (m === null) {
      const f = this.#final!.faults as Record<string, number>;
      return KIND_NAMES.map((k) => f[k] ?? 0);
    }
    return FAULT_KINDS.map((k) => statRead(m.mem, k.stat));
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

  /** The frame snapshot, retaken when stale (see the module comment) or when `force`d. */
  frames(now: number, force = false): FrameSnapshot | null {
    const m = this.#machine;
    if (m === null) return this.#snap;
    const age = now - this.#snapAt;
    if (force || age >= FRAMES_PERIOD_MS) {
      const key = this.#changeKey(m);
      if (force || key !== this.#snapKey || age >= FRAMES_IDLE_MS) {
        this.#snap = snapshotFrames(m.mem, this.#vol);
        this.#mapStale = true;
        this.#snapKey = key;
        this.#snapAt = now;
      }
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

  /** Start newFaults() at the ring's head: what came before is not new to a stream opened now. */
  skipFaults(): void {
    const m = this.#machine;
    if (m !== null) this.#ring = Atomics.load(m.mem.k32, m.mem.layout.fring.base + FRING.head);
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
  readonly #history: RateTuple[] = [];
  readonly #subs = new Set<Subscriber>();
  readonly #t0 = performance.now();
  #lastFaults: { run: ViewRun; t: number; faults: number[] } | null = null;
  /** The state the streams were sent last: the base of the next patch (null with no stream). */
  #sent: ViewState | null = null;
  #timer: ReturnType<typeof setInterval> | undefined;

  #timerMs = 0;

  /** Start ticking: every TICK_MS while a stream is open, every IDLE_TICK_MS otherwise. */
  start(): void {
    const ms = this.#subs.size > 0 ? TICK_MS : IDLE_TICK_MS;
    if (this.#timer !== undefined && this.#timerMs === ms) return;
    clearInterval(this.#timer);
    this.#timer = setInterval(() => this.tick(), ms);
    this.#timerMs = ms;
  }

  /** Stop ticking and end every stream. */
  close(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#subs.clear();
    this.#sent = null;
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

  /**
   * Add a stream; it gets the hello event at once, holding the state the
   * other streams were sent last, so that the next update's patch is right
   * for every stream alike. Returns the function that removes it.
   */
  subscribe(send: Subscriber): () => void {
    const now = performance.now();
    const run = this.current();
    if (this.#sent === null) {
      run?.skipFaults();
      this.#sent = this.#state(now);
    }
    const hello: Hello = {
      t: this.#seconds(now),
      state: this.#sent,
      fault_kinds: KIND_NAMES,
      history: this.#history,
      faults: (run?.recentFaults(FAULTS_ON_HELLO) ?? []).map((r) => packFault(r, KIND_NAMES)),
    };
    send("hello", JSON.stringify(hello));
    this.#subs.add(send);
    if (this.#timer !== undefined) this.start(); // at 10 Hz now
    return () => {
      if (!this.#subs.delete(send) || this.#subs.size > 0) return;
      this.#sent = null;
      if (this.#timer !== undefined) this.start(); // idle again
    };
  }

  #seconds(now: number): number {
    return Math.round((now - this.#t0) / 100) / 10;
  }

  /** Sample the fault rates of the current run (faults per second by KIND_NAMES). */
  #sampleRate(now: number): RateTuple | null {
    const run = this.current();
    if (run === null) return null;
    const faults = run.faultCounts();
    const last = this.#lastFaults;
    this.#lastFaults = { run, t: now, faults };
    if (last === null || last.run !== run || now <= last.t) return null;
    const dt = now - last.t;
    const sample = [
      this.#seconds(now),
      ...faults.map((n, i) => Math.max(0, Math.round(((n - last.faults[i]!) * 1000) / dt))),
    ];
    this.#history.push(sample);
    if (this.#history.length > HISTORY) this.#history.shift();
    return sample;
  }

  /** What the streams show now. */
  #state(now: number): ViewState {
    const run = this.current();
    const state: ViewState = { run: run?.label ?? "", runs: {}, procs: {} };
    this.runs.forEach((r, i) => state.runs[i] = r.totals());
    for (const p of run?.procs(now) ?? []) state.procs[p.pid] = p;
    const map = run?.frameMap(now) ?? null;
    if (map !== null) state.frames = map;
    return state;
  }

  /** One tick: sample, and push what changed to every stream. */
  tick(): void {
    const now = performance.now();
    const rate = this.#sampleRate(now);
    if (this.#subs.size === 0) return;
    const state = this.#state(now);
    const update: Update = { t: this.#seconds(now) };
    const patch = createMergePatch(this.#sent, state);
    this.#sent = state;
    if (patch !== undefined) update.patch = patch;
    if (rate !== null) update.rate = rate;
    const faults = this.current()?.newFaults(FAULTS_PER_UPDATE) ?? { records: [], missed: 0 };
    if (faults.records.length > 0) {
      update.faults = faults.records.map((r): FaultTuple => packFault(r, KIND_NAMES));
    }
    if (faults.missed > 0) update.missed = faults.missed;
    const json = JSON.stringify(update);
    for (const send of this.#subs) send("update", json);
  }
}
