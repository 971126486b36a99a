import assert from "node:assert/strict";
import {
  complete,
  completeAll,
  COMPLETION_WORDS,
  initCompletion,
  tryWaitForCompletion,
  waitForCompletion,
} from "../../src/sync/completion.ts";
import { allDone, makeKernel, testSeed, withWorkers } from "./_helpers.ts";

Deno.test("complete() wakes the waiter every round when 2 Workers ping-pong", async () => {
  const kern = makeKernel();
  const seed = testSeed();
  const c1 = kern.alloc(COMPLETION_WORDS), c2 = kern.alloc(COMPLETION_WORDS), gate = kern.gate(2);
  const rounds = 5000;
  await withWorkers(kern, seed, async (spawn) => {
    const ws = [0, 1].map((role) =>
      spawn(2 + role, "pingpong", { c1, c2, role, rounds, timeoutMs: 5000, gate })
    );
    await allDone(ws, 30_000);
    assert.equal(kern.k[c1], 0, "every completion consumed");
    assert.equal(kern.k[c2], 0, "every completion consumed");
  });
});

Deno.test("waitForCompletion() returns false on timeout in a Worker", async () => {
  const kern = makeKernel();
  const seed = testSeed();
  const c = kern.alloc(COMPLETION_WORDS);
  await withWorkers(kern, seed, async (spawn) => {
    const r = await spawn(2, "completionTimeout", { c, timeoutMs: 30 }).done(10_000);
    assert.equal(r.ok, 0);
  });
});

Deno.test("waitForCompletion() consumes one complete() each and none of completeAll()", () => {
  const { k, alloc } = makeKernel();
  const c = alloc(COMPLETION_WORDS);
  assert.equal(waitForCompletion(k, c, 5), false);
  complete(k, c);
  complete(k, c);
  assert.equal(waitForCompletion(k, c, 5), true);
  assert.equal(tryWaitForCompletion(k, c), true);
  assert.equal(tryWaitForCompletion(k, c), false, "two completes, two waits");
  completeAll(k, c);
  for (let i = 0; i < 3; i++) assert.equal(waitForCompletion(k, c, 5), true);
  complete(k, c);
  assert.equal(tryWaitForCompletion(k, c), true, "still all-done after complete()");
  initCompletion(k, c);
  assert.equal(waitForCompletion(k, c, 5), false);
});
