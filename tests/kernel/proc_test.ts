import assert from "node:assert/strict";
import { KernelPanic } from "../../src/abi/panic.ts";
import { PROC_WORDS, procBase, PROCS_HDR_WORDS } from "../../src/abi/layout/mod.ts";
import { createMemory } from "../../src/hw/memory.ts";
import {
  PROC_RUNNING,
  PROC_ZOMBIE,
  procAlloc,
  procExit,
  procFree,
  procGet,
  procLive,
} from "../../src/kernel/proc.ts";
import { SIGKILL, signalName, signalStatus, SIGSEGV, SIGTERM } from "../../src/kernel/signal.ts";
import { asTaskSlot } from "../../src/abi/types.ts";

const mem = () =>
  createMemory({ ramFrames: 16, deviceFrames: 0, deviceMemmap: false, maxTasks: 6 });

Deno.test("the procs region holds one record per task slot after its header, inside the buffer", () => {
  const m = mem();
  const l = m.layout;
  assert.equal(l.procs.words, PROCS_HDR_WORDS + 6 * PROC_WORDS);
  assert.equal(procBase(l, 5) + PROC_WORDS, l.procs.base + l.procs.words);
  assert.ok(l.procs.base + l.procs.words <= l.bytes / 4);
  for (const r of l.regions) {
    if (r !== l.procs) {
      assert.ok(r.base + r.words <= l.procs.base || r.base >= l.procs.base + l.procs.words, r.name);
    }
  }
});

Deno.test("procAlloc() gives increasing pids; procExit/procFree make a zombie then free the slot", () => {
  const m = mem();
  const a = procAlloc(m, asTaskSlot(2), 0), b = procAlloc(m, asTaskSlot(3), a);
  assert.deepEqual([a, b], [1, 2]);
  assert.equal(procGet(m, asTaskSlot(3), "parent"), 1);
  assert.equal(procGet(m, asTaskSlot(2), "state"), PROC_RUNNING);
  assert.equal(procLive(m), 2);
  assert.throws(() => procAlloc(m, asTaskSlot(2), 0), KernelPanic, "slot in use");
  assert.throws(() => procAlloc(m, asTaskSlot(1), 0), KernelPanic, "slot 1 is the Machine's");
  assert.throws(() => procFree(m, asTaskSlot(2)), KernelPanic, "not a zombie yet");
  procExit(m, asTaskSlot(2), 300, 0);
  assert.equal(procGet(m, asTaskSlot(2), "state"), PROC_ZOMBIE);
  assert.equal(procGet(m, asTaskSlot(2), "exitCode"), 300 & 0xff);
  procFree(m, asTaskSlot(2));
  assert.equal(procLive(m), 1);
  assert.equal(procAlloc(m, asTaskSlot(2), 0), 3, "pids are not reused");
});

Deno.test("signalStatus() is 128 + sig; signalName() names 1..64 as Linux's kill -l", () => {
  assert.equal(signalStatus(SIGSEGV), 139);
  assert.equal(signalStatus(64), 192);
  assert.equal(signalName(SIGKILL), "SIGKILL");
  assert.equal(signalName(SIGTERM), "SIGTERM");
  assert.equal(signalName(32), "SIGRT0");
  assert.equal(signalName(64), "SIGRT32");
  assert.equal(signalName(65), "signal 65");
});
