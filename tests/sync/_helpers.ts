/**
 * Shared helpers for the src/sync tests: a small kernel-tables buffer, a
 * seeded generator, and Workers driven through a message queue with a
 * watchdog that terminates them and fails instead of hanging.
 *
 * These suites do not end with checkInvariants (tests/_invariants.ts): their
 * buffer has kernel tables but no physical memory, frames or mms, and their
 * lock words live in scratch, which the checker does not know. Each suite
 * checks what it owns instead (held-lock stacks empty, counters exact).
 *
 * @module
 */

import { computeLayout, type KernelLayout, writeHeader } from "../../src/abi/layout/mod.ts";
import { asTaskSlot, type TaskSlot } from "../../src/abi/types.ts";
import { BARRIER_WORDS, initBarrier } from "../../src/sync/barrier.ts";
import assert from "node:assert/strict";
import { heldLocks } from "../../src/sync/held.ts";
import { recoverTask } from "../../src/sync/recover.ts";
import { setCurrentTid, taskInit, taskKill, taskKillAcked } from "../../src/sync/current.ts";

/** A fresh kernel-tables buffer. */
export interface Kernel {
  readonly sab: SharedArrayBuffer;
  readonly k: Int32Array;
  readonly layout: KernelLayout;
  /** Allocate `n` zeroed scratch words (64-byte aligned); returns the first word index. */
  alloc(n: number): number;
  /** A start gate for `parties` Workers: pass it as the `gate` argument. */
  gate(parties: number): number;
}

/** Build a small kernel buffer with its header written; tasks 1..maxTasks-1. */
export function makeKernel(maxTasks = 16): Kernel {
  const layout = computeLayout({ ramFrames: 4, deviceFrames: 4, deviceMemmap: false, maxTasks });
  const sab = new SharedArrayBuffer(layout.bytes);
  const k = new Int32Array(sab);
  writeHeader(k, layout);
  let next = layout.scratch.base;
  const end = layout.scratch.base + layout.scratch.words;
  return {
    sab,
    k,
    layout,
    alloc(n: number): number {
      const w = next;
      next += Math.ceil(n / 16) * 16;
      if (next > end) throw new Error("scratch region exhausted");
      return w;
    },
    gate(parties: number): number {
      const w = this.alloc(BARRIER_WORDS);
      initBarrier(k, w, parties);
      return w;
    },
  };
}

/** The main thread's task in tests. */
export const MAIN_TID: TaskSlot = asTaskSlot(1);

/** Make the main thread task MAIN_TID of `kern` (a fresh record each time). */
export function enterMainTask(kern: Kernel): void {
  taskInit(kern.k, MAIN_TID);
  setCurrentTid(MAIN_TID);
}

/** The seed for this run: $SYNC_SEED if set, else random. */
export function testSeed(): number {
  const env = Deno.env.get("SYNC_SEED");
  return env !== undefined ? Number(env) >>> 0 : (Math.random() * 2 ** 32) >>> 0;
}

/** A seeded xorshift32 generator returning integers in [0, n). */
export function rng(seed: number): (n: number) => number {
  let x = (seed >>> 0) || 0x9e3779b9;
  return (n: number) => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) % n;
  };
}

/** Lock kinds of the "counter" scenario. */
export const LOCK_MUTEX = 0;
export const LOCK_RWSEM = 1;
export const LOCK_BIT = 2;

/** What the main thread sends a test worker. */
export interface WorkerStart {
  readonly sab: SharedArrayBuffer;
  readonly tid: number;
  readonly scenario: string;
  readonly args: Record<string, number>;
  readonly seed: number;
}

/** What a test worker posts: progress messages, then done or failed. */
export type WorkerMsg =
  | { readonly type: "progress"; readonly what: string }
  | { readonly type: "done"; readonly result: Record<string, number> }
  | { readonly type: "failed"; readonly error: string };

/** How long a Worker may take to load (type-checking included). */
const STARTUP_TIMEOUT_MS = 120_000;

/** A Worker running one scenario of sync_worker.ts, with a message queue. */
export class TestWorker {
  readonly #worker: Worker;
  readonly #queue: WorkerMsg[] = [];
  #waiter: (() => void) | null = null;
  #error: string | null = null;
  #ready = false;
  terminated = false;

  constructor(
    kern: Kernel,
    readonly tid: number,
    scenario: string,
    args: Record<string, number>,
    seed: number,
  ) {
    this.#worker = new Worker(new URL("./sync_worker.ts", import.meta.url).href, {
      type: "module",
    });
    this.#worker.onmessage = (ev: MessageEvent<WorkerMsg>) => {
      this.#queue.push(ev.data);
      this.#waiter?.();
    };
    this.#worker.onerror = (ev: ErrorEvent) => {
      ev.preventDefault();
      this.#error = ev.message;
      this.#waiter?.();
    };
    const start: WorkerStart = { sab: kern.sab, tid, scenario, args, seed };
    this.#worker.postMessage(start);
  }

  /**
   * The next message, or a rejection after `timeoutMs`. The clock starts
   * once the Worker has loaded (it posts "ready"): loading may include a
   * type check that takes seconds, which is not what the watchdog is for.
   */
  async next(timeoutMs: number): Promise<WorkerMsg> {
    let deadline = this.#ready ? Date.now() + timeoutMs : Date.now() + STARTUP_TIMEOUT_MS;
    for (;;) {
      const m = this.#queue.shift();
      if (m !== undefined) {
        if (m.type === "progress" && m.what === "ready") {
          this.#ready = true;
          deadline = Date.now() + timeoutMs;
          continue;
        }
        return m;
      }
      if (this.#error !== null) throw new Error(`worker ${this.tid}: ${this.#error}`);
      const left = deadline - Date.now();
      if (left <= 0) {
        const what = this.#ready ? `silent for ${timeoutMs} ms` : "did not load";
        throw new Error(`watchdog: worker ${this.tid} ${what}`);
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#waiter = resolve;
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
      this.#waiter = null;
    }
  }

  /** Wait for a progress message saying `what`. */
  async expect(what: string, timeoutMs: number): Promise<void> {
    const m = await this.next(timeoutMs);
    if (m.type === "failed") throw new Error(`worker ${this.tid} failed: ${m.error}`);
    if (m.type !== "progress" || m.what !== what) {
      throw new Error(`worker ${this.tid}: expected "${what}", got ${JSON.stringify(m)}`);
    }
  }

  /** Wait for the scenario's result, skipping progress messages. */
  async done(timeoutMs: number): Promise<Record<string, number>> {
    for (;;) {
      const m = await this.next(timeoutMs);
      if (m.type === "failed") throw new Error(`worker ${this.tid} failed: ${m.error}`);
      if (m.type === "done") return m.result;
    }
  }

  /** Stop the Worker now; pending next() calls reject. */
  terminate(): void {
    if (this.terminated) return;
    this.terminated = true;
    this.#worker.terminate();
    this.#error ??= "terminated";
    this.#waiter?.();
  }
}

/**
 * Run `body` with Workers it spawns through `spawn`; every Worker is
 * terminated afterwards, and any failure is reported with the seed. Ends
 * with the part of the machine invariants these lock-only tests have: no
 * task's held-lock stack records a lock (src/kernel/invariants.ts needs a
 * whole machine's memory).
 */
export async function withWorkers(
  kern: Kernel,
  seed: number,
  body: (
    spawn: (tid: number, scenario: string, args: Record<string, number>) => TestWorker,
  ) => Promise<void>,
): Promise<void> {
  const workers: TestWorker[] = [];
  try {
    await body((tid, scenario, args) => {
      const w = new TestWorker(kern, tid, scenario, args, seed);
      workers.push(w);
      return w;
    });
    for (let tid = 1; tid < kern.layout.config.maxTasks; tid++) {
      const held = heldLocks(kern.k, asTaskSlot(tid));
      assert.deepEqual(held, [], `task ${tid} still records locks at the end`);
    }
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    throw new Error(`${msg} (seed ${seed}; replay with SYNC_SEED=${seed})`, { cause: e });
  } finally {
    for (const w of workers) w.terminate();
  }
}

/** Wait for every worker's result, each within `timeoutMs` of the call. */
export function allDone(
  workers: TestWorker[],
  timeoutMs: number,
): Promise<Record<string, number>[]> {
  return Promise.all(workers.map((w) => w.done(timeoutMs)));
}

/** Resolve after `ms` (lets the event loop run, unlike Atomics.wait). */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Kill the task of `w` the way the Machine must (taskKill, then terminate),
 * and wait until its thread acknowledges, so that recoverTask is safe.
 */
export async function killWorker(kern: Kernel, w: TestWorker, timeoutMs = 10_000): Promise<void> {
  const tid = asTaskSlot(w.tid);
  taskKill(kern.k, tid);
  w.terminate();
  const deadline = Date.now() + timeoutMs;
  while (!taskKillAcked(kern.k, tid)) {
    if (Date.now() > deadline) throw new Error(`watchdog: task ${tid} never acknowledged its kill`);
    await sleep(2);
  }
}

/**
 * After task `victim` of this thread was killed (the default kill action
 * threw TaskKilled): become task `as`, as the Machine's thread is, and
 * release the victim's locks.
 */
export function takeOverDeadTask(
  k: Int32Array,
  victim: TaskSlot,
  as: TaskSlot = asTaskSlot(2),
): void {
  taskInit(k, as);
  setCurrentTid(as);
  recoverTask(k, victim);
}
