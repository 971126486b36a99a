/**
 * src/sync throughput: uncontended on the main thread, and contended by two
 * Workers that each run N lock/unlock pairs on one lock. Run with
 * `deno bench -A bench/sync_bench.ts`.
 *
 * Uncontended benches time UNCONTENDED_N pairs per iteration; contended
 * ones time a whole batch (both Workers, CONTENDED_N pairs each, started
 * together by a barrier). Workers are spawned once, before any bench.
 *
 * @module
 */

import { computeLayout, writeHeader } from "../src/abi/layout/mod.ts";
import { asTaskSlot } from "../src/abi/types.ts";
import { BARRIER_WORDS, initBarrier } from "../src/sync/barrier.ts";
import { bitLock, bitUnlock } from "../src/sync/bitlock.ts";
import { LockClass } from "../src/sync/lockdep.ts";
import { MUTEX_WORDS, mutexLock, mutexUnlock } from "../src/sync/mutex.ts";
import { downRead, downWrite, RWSEM_WORDS, upRead, upWrite } from "../src/sync/rwsem.ts";
import { setCurrentTid, taskInit } from "../src/sync/current.ts";
import type { BenchJob } from "./sync_bench_worker.ts";

const UNCONTENDED_N = 1000;
const CONTENDED_N = 20_000;

const layout = computeLayout({ ramFrames: 4, deviceFrames: 4, deviceMemmap: false, maxTasks: 8 });
const sab = new SharedArrayBuffer(layout.bytes);
const k = new Int32Array(sab);
writeHeader(k, layout);
taskInit(k, asTaskSlot(1));
setCurrentTid(asTaskSlot(1));

// Each lock on its own cache line; the protected counter 8 words after it.
const s = layout.scratch.base;
const M = s, RW = s + 16, BIT = s + 32, ATOM = s + 48, GATE = s + 64;
void [MUTEX_WORDS, RWSEM_WORDS, BARRIER_WORDS]; // all fit in 16 words

// ---------------------------------------------------------------- uncontended

Deno.bench({
  name: `Atomics CAS + exchange (no lock bookkeeping) x${UNCONTENDED_N}`,
  group: "uncontended",
  baseline: true,
  fn() {
    for (let i = 0; i < UNCONTENDED_N; i++) {
      Atomics.compareExchange(k, ATOM, 0, 1);
      Atomics.exchange(k, ATOM, 0);
    }
  },
});

Deno.bench({
  name: `mutexLock/mutexUnlock x${UNCONTENDED_N}`,
  group: "uncontended",
  fn() {
    for (let i = 0; i < UNCONTENDED_N; i++) {
      mutexLock(k, M, LockClass.TEST_A);
      mutexUnlock(k, M);
    }
  },
});

Deno.bench({
  name: `downRead/upRead x${UNCONTENDED_N}`,
  group: "uncontended",
  fn() {
    for (let i = 0; i < UNCONTENDED_N; i++) {
      downRead(k, RW, LockClass.TEST_A);
      upRead(k, RW);
    }
  },
});

Deno.bench({
  name: `downWrite/upWrite x${UNCONTENDED_N}`,
  group: "uncontended",
  fn() {
    for (let i = 0; i < UNCONTENDED_N; i++) {
      downWrite(k, RW, LockClass.TEST_A);
      upWrite(k, RW);
    }
  },
});

Deno.bench({
  name: `bitLock/bitUnlock x${UNCONTENDED_N}`,
  group: "uncontended",
  fn() {
    for (let i = 0; i < UNCONTENDED_N; i++) {
      bitLock(k, BIT, 3, LockClass.TEST_A);
      bitUnlock(k, BIT, 3);
    }
  },
});

// ---------------------------------------------------------------- contended

function spawn(tid: number): Promise<Worker> {
  const w = new Worker(new URL("./sync_bench_worker.ts", import.meta.url).href, { type: "module" });
  return new Promise((resolve) => {
    w.onmessage = () => resolve(w);
    w.postMessage({ sab, tid });
  });
}
const workers = await Promise.all([spawn(2), spawn(3)]);
addEventListener("unload", () => workers.forEach((w) => w.terminate()));

function batch(op: BenchJob["op"], w: number): Promise<void> {
  initBarrier(k, GATE, 2);
  const job: BenchJob = { op, n: CONTENDED_N, w, gate: GATE };
  return Promise.all(workers.map((wk) =>
    new Promise<void>((resolve) => {
      wk.onmessage = () => resolve();
      wk.postMessage(job);
    })
  )).then(() => {});
}

const contended: [string, BenchJob["op"], number, boolean?][] = [
  ["Atomics.add on one word (no lock)", "atomic", ATOM, true],
  ["mutexLock/mutexUnlock", "mutex", M],
  ["downWrite/upWrite", "rwsemWrite", RW],
  ["downRead/upRead (shared)", "rwsemRead", RW],
  ["bitLock/bitUnlock", "bit", BIT],
];
for (const [name, op, w, baseline] of contended) {
  Deno.bench({
    name: `2 Workers x ${CONTENDED_N}: ${name}`,
    group: "contended",
    baseline: baseline ?? false,
    async fn() {
      await batch(op, w);
    },
  });
}
