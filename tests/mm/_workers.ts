/** Running mm_worker.ts jobs with a watchdog. */

import { asTaskSlot } from "../../src/abi/types.ts";
import { type Memory } from "../../src/hw/memory.ts";
import { taskInit } from "../../src/sync/mod.ts";
import type { Job } from "./mm_worker.ts";

export interface Running<T> {
  worker: Worker;
  done: Promise<T>;
}

/**
 * Start `job` in a new Worker (after making its task live). `done` settles
 * with the Worker's result, or rejects on its error or after `timeoutMs`;
 * either way the Worker is terminated.
 */
export function startJob<T>(mem: Memory, job: Job, timeoutMs: number, seed: number): Running<T> {
  taskInit(mem.k32, asTaskSlot(job.tid));
  const worker = new Worker(new URL("./mm_worker.ts", import.meta.url).href, { type: "module" });
  const done = new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      worker.terminate();
      reject(new Error(`watchdog: ${job.role} worker ${job.tid} timed out (seed ${seed})`));
    }, timeoutMs);
    worker.onmessage = (e: MessageEvent<{ ok: boolean; result?: T; error?: string }>) => {
      clearTimeout(timer);
      worker.terminate();
      if (e.data.ok) resolve(e.data.result as T);
      else reject(new Error(`${job.role} worker ${job.tid} (seed ${seed}): ${e.data.error}`));
    };
    worker.onerror = (e) => {
      clearTimeout(timer);
      worker.terminate();
      e.preventDefault();
      reject(new Error(`${job.role} worker ${job.tid} crashed (seed ${seed}): ${e.message}`));
    };
  });
  worker.postMessage(job);
  return { worker, done };
}

/** Spin (with short waits) until `cond` holds; throws after `ms`. */
export function waitUntil(cond: () => boolean, ms: number, what: string): void {
  const deadline = performance.now() + ms;
  const scratch = new Int32Array(new SharedArrayBuffer(4));
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    Atomics.wait(scratch, 0, 0, 1);
  }
}
