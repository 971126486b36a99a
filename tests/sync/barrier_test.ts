import assert from "node:assert/strict";
import { BARRIER_WORDS, barrierOpened, barrierWait, initBarrier } from "../../src/sync/barrier.ts";
import { KernelPanic } from "../../src/abi/panic.ts";
import { allDone, makeKernel, testSeed, withWorkers } from "./_helpers.ts";

Deno.test("barrierWait() holds every Worker until all arrive, over many generations", async () => {
  const kern = makeKernel();
  const seed = testSeed();
  const parties = 3, gens = 300;
  const b = kern.alloc(BARRIER_WORDS), slots = kern.alloc(16);
  initBarrier(kern.k, b, parties);
  await withWorkers(kern, seed, async (spawn) => {
    const ws = [2, 3, 4].map((tid) =>
      spawn(tid, "barrier", { b, slots, firstTid: 2, parties, gens, timeoutMs: 10_000 })
    );
    await allDone(ws, 30_000);
    assert.equal(barrierOpened(kern.k, b), gens);
  });
});

Deno.test("barrierWait() returns false on timeout and withdraws, leaving the barrier usable", () => {
  const { k, alloc } = makeKernel();
  const b = alloc(BARRIER_WORDS);
  initBarrier(k, b, 2);
  assert.equal(barrierWait(k, b, 10), false);
  assert.equal(barrierOpened(k, b), 0);
  initBarrier(k, b, 1);
  assert.equal(barrierWait(k, b, 10), true, "a one-party barrier opens at once");
  assert.equal(barrierWait(k, b, 10), true);
  assert.equal(barrierOpened(k, b), 2);
  assert.throws(() => initBarrier(k, b, 0), KernelPanic);
});
