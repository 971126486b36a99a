/** Worker side of the fault-ring concurrency test: counts a RingJob's faults, then posts "done". */

import { asPfn, asTid, asVirt } from "../../src/abi/types.ts";
import { attachMemory } from "../../src/hw/memory.ts";
import { countFault } from "../../src/mm/fault_ring.ts";
import { setCurrentTid } from "../../src/sync/mod.ts";
import { faultOf, faultPfn, type RingJob } from "./_ring_job.ts";

self.onmessage = (e: MessageEvent<RingJob>) => {
  const j = e.data;
  const mem = attachMemory(j.phys, j.kernel);
  setCurrentTid(asTid(j.tid));
  for (let i = 0; i < j.n; i++) {
    const { va, kind } = faultOf(j.pid, i);
    countFault(mem, kind, asVirt(va), asPfn(faultPfn(j.pid, va, kind)));
  }
  self.postMessage("done");
};
