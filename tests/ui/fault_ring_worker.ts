/**
 * Worker side of the fault-ring concurrency test: posts "ready", waits at
 * the gate, counts a RingJob's faults, marks itself done at the gate and
 * posts "done".
 */

import { asPfn, asTaskSlot, asVirt } from "../../src/abi/types.ts";
import { attachMemory } from "../../src/hw/memory.ts";
import { countFault } from "../../src/mm/fault_ring.ts";
import { setCurrentTid } from "../../src/sync/mod.ts";
import { faultOf, faultPfn, GATE_DONE, GATE_START, type RingJob } from "./_ring_job.ts";

/** The longest wait for the test to open the gate, in ms. */
const GATE_WAIT_MS = 120_000;

self.onmessage = (e: MessageEvent<RingJob>) => {
  const j = e.data;
  const mem = attachMemory(j.phys, j.kernel);
  setCurrentTid(asTaskSlot(j.tid));
  const gate = new Int32Array(j.gate);
  self.postMessage("ready");
  if (Atomics.wait(gate, GATE_START, 0, GATE_WAIT_MS) === "timed-out") {
    throw new Error("the gate never opened");
  }
  for (let i = 0; i < j.n; i++) {
    const { va, kind } = faultOf(j.pid, i);
    countFault(mem, kind, asVirt(va), asPfn(faultPfn(j.pid, va, kind)));
  }
  Atomics.add(gate, GATE_DONE, 1);
  self.postMessage("done");
};
