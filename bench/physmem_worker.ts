/// <reference lib="deno.worker" />
// Worker for bench/physmem_bench.ts: runs `ops` allocate+free pairs against
// one of the two allocator designs and answers when done.

import { attachMemory } from "../src/hw/memory.ts";
import { churn, type Design } from "./_churn.ts";

export interface BenchJob {
  phys: SharedArrayBuffer;
  kernel: SharedArrayBuffer;
  design: Design;
  ops: number;
}

// Attaching per job costs microseconds against the job's milliseconds.
self.onmessage = (e: MessageEvent<BenchJob>) => {
  const job = e.data;
  churn(attachMemory(job.phys, job.kernel), job.design, job.ops);
  self.postMessage(job.ops);
};
