import assert from "node:assert/strict";
import { asTaskSlot } from "../../src/abi/types.ts";
import { heldLocks } from "../../src/sync/held.ts";
import { LockClass } from "../../src/sync/lockdep.ts";
import { MUTEX_WORDS } from "../../src/sync/mutex.ts";
import { taskKillAcked } from "../../src/sync/current.ts";
import { makeKernel } from "./_helpers.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Run the worker with `action`; what the task's record shows once it acknowledged and stopped. */
async function dieAtKillPoint(action: "exitWorker" | "bare") {
  const kern = makeKernel();
  const tid = asTaskSlot(3);
  const a = kern.alloc(MUTEX_WORDS), b = kern.alloc(MUTEX_WORDS), progress = kern.alloc(1);
  const w = new Worker(new URL("./exit_worker_worker.ts", import.meta.url).href, {
    type: "module",
  });
  try {
    w.postMessage({ sab: kern.sab, tid, a, b, progress, action });
    const deadline = Date.now() + 30_000;
    while (!taskKillAcked(kern.k, tid)) {
      if (Date.now() > deadline) throw new Error("the task never acknowledged its kill");
      await sleep(5);
    }
    await sleep(200); // anything it would still do after the acknowledgement, it has done
    return {
      held: heldLocks(kern.k, tid).map((h) => LockClass[h.cls]),
      progress: Atomics.load(kern.k, progress),
      bWord: Atomics.load(kern.k, b),
    };
  } finally {
    w.terminate();
  }
}

Deno.test("exitWorker() stops a killed Worker at its kill point: nothing is written after the acknowledgement", async () => {
  const r = await dieAtKillPoint("exitWorker");
  assert.deepEqual(r, { held: ["TEST_A"], progress: 1, bWord: 0 });
});

Deno.test("Deno.exit() alone returns in a Worker: the killed task runs on and records a lock after acknowledging", async () => {
  // The platform fact exitWorker exists for (denoland/deno#32169). Were it
  // to change, exitWorker's loop would merely be unneeded.
  const r = await dieAtKillPoint("bare");
  assert.deepEqual(r.held, ["TEST_A", "TEST_B"], "the push that follows the kill point ran");
});
