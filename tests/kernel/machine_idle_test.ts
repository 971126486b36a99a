/**
 * Idle Workers stop keepWarmMs after the last process exits (so a script
 * that never calls shutdown() ends), and the next spawn starts them again.
 *
 * @module
 */

import assert from "node:assert/strict";
import { Machine } from "../../src/kernel/machine.ts";

const ROOTFS = new URL("../../fixtures/rootfs", import.meta.url).pathname;
const quiet = () => {};

Deno.test("Machine spawns again after its idle Workers were stopped (keepWarmMs)", async () => {
  await using m = await Machine.boot({ from: ROOTFS, warm: 2, keepWarmMs: 20, stdout: quiet });
  for (let round = 0; round < 3; round++) {
    const codes = await Promise.all([1, 2].map(() => m.spawn("/bin/hello").wait()));
    assert.deepEqual(codes.map((s) => s.code), [0, 0], `round ${round}`);
    assert.ok(m.workers >= 1, "Workers are kept right after the exit");
    await new Promise((r) => setTimeout(r, 100)); // well past keepWarmMs
    assert.equal(m.workers, 0, "idle Workers stopped");
  }
  assert.equal(m.stats().procs, 6);
  assert.deepEqual(m.checkInvariants({ fsck: true }), []);
});

Deno.test("Machine with keepWarmMs: Infinity keeps its Workers until shutdown()", async () => {
  const m = await Machine.boot({ from: ROOTFS, warm: 1, keepWarmMs: Infinity, stdout: quiet });
  assert.equal((await m.spawn("/bin/hello").wait()).code, 0);
  await new Promise((r) => setTimeout(r, 300)); // past the default keepWarmMs
  assert.equal(m.workers, 1, "the Worker stays warm");
  assert.equal((await m.spawn("/bin/hello").wait()).code, 0);
  await m.shutdown();
  assert.equal(m.workers, 0);
});
