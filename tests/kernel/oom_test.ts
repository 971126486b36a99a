import assert from "node:assert/strict";
import { MM, mmBase } from "../../src/abi/layout/mod.ts";
import { createMemory, type Memory } from "../../src/hw/memory.ts";
import { OOM_DIE, OOM_RETRY, outOfMemory } from "../../src/kernel/oom.ts";
import { PROC_EXITING, procAlloc, procSet } from "../../src/kernel/proc.ts";
import { SIGTERM } from "../../src/kernel/signal.ts";
import { fatalSignalPending, killTaskGroup } from "../../src/kernel/signal_send.ts";
import { lockTaskSighand, setBlockedLocked, sigunlock } from "../../src/kernel/signal_state.ts";
import { signalSpawn } from "../../src/kernel/signal_lifecycle.ts";
import { asTaskSlot } from "../../src/abi/types.ts";
import { setCurrentTid, taskInit } from "../../src/sync/mod.ts";

/** A machine with processes in slots 2.. whose mms hold `rss[i]` anonymous pages (one table each). */
function withProcs(rss: number[]): Memory {
  const mem = createMemory({ ramFrames: 16, deviceFrames: 0, deviceMemmap: false, maxTasks: 8 });
  taskInit(mem.k32, asTaskSlot(1)); // the Machine's task, which takes the targets' siglocks
  setCurrentTid(asTaskSlot(1));
  rss.forEach((pages, i) => {
    const slot = asTaskSlot(2 + i);
    signalSpawn(mem, slot, procAlloc(mem, slot, 0));
    procSet(mem, slot, "mm", slot); // mm slot = task slot, as the Machine does
    Atomics.store(mem.k32, mmBase(mem.layout, slot) + MM.rssAnon, pages);
    Atomics.store(mem.k32, mmBase(mem.layout, slot) + MM.ptFrames, 1);
  });
  return mem;
}

const killed = (mem: Memory, slot: number) => fatalSignalPending(mem, asTaskSlot(slot));

Deno.test("outOfMemory() SIGKILLs the process holding the most RAM and tells the faulter to retry", () => {
  const mem = withProcs([10, 50, 30]);
  assert.equal(outOfMemory(mem, asTaskSlot(2)), OOM_RETRY);
  assert.deepEqual([2, 3, 4].map((s) => killed(mem, s)), [false, true, false]);
});

Deno.test("outOfMemory() kills the faulter itself when it holds the most (ties included)", () => {
  for (const rss of [[50, 10], [50, 50], [7]]) {
    const mem = withProcs(rss);
    assert.equal(outOfMemory(mem, asTaskSlot(2)), OOM_DIE, `rss ${rss}`);
    assert.ok(rss.every((_, i) => !killed(mem, 2 + i)), "nobody is signalled");
  }
});

Deno.test("outOfMemory() picks no second victim while the first is still dying", () => {
  const mem = withProcs([10, 50, 30]);
  assert.equal(outOfMemory(mem, asTaskSlot(2)), OOM_RETRY); // slot 3 dies
  assert.equal(outOfMemory(mem, asTaskSlot(4)), OOM_RETRY, "slot 3's memory is on the way");
  assert.ok(!killed(mem, 4) && !killed(mem, 2));
  // Tearing down (EXITING) with its mm not yet released: still on the way.
  procSet(mem, asTaskSlot(3), "state", PROC_EXITING);
  assert.equal(outOfMemory(mem, asTaskSlot(4)), OOM_RETRY);
  assert.ok(!killed(mem, 2));
  // Its mm is gone: the next biggest other than the faulter is chosen.
  procSet(mem, asTaskSlot(3), "mm", 0);
  assert.equal(outOfMemory(mem, asTaskSlot(2)), OOM_RETRY);
  assert.ok(killed(mem, 4));
});

Deno.test("outOfMemory() ignores a pending signal other than SIGKILL", () => {
  const mem = withProcs([10, 50]);
  const h = lockTaskSighand(mem, asTaskSlot(3));
  setBlockedLocked(mem, asTaskSlot(3), { lo: 1 << (SIGTERM - 1), hi: 0 });
  sigunlock(mem, h);
  assert.ok(killTaskGroup(mem, asTaskSlot(3), SIGTERM) >= 0);
  assert.ok(!killed(mem, 3), "a blocked SIGTERM is only pending");
  assert.equal(outOfMemory(mem, asTaskSlot(2)), OOM_RETRY);
  assert.ok(killed(mem, 3));
});
