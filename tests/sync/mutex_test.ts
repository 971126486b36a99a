import assert from "node:assert/strict";
import { KernelPanic } from "../../src/abi/panic.ts";
import { asTaskSlot } from "../../src/abi/types.ts";
import { initBarrier } from "../../src/sync/barrier.ts";
import { DEBUG_PERTURB, setDebug } from "../../src/sync/debug.ts";
import { LockClass } from "../../src/sync/lockdep.ts";
import {
  MUTEX_WORDS,
  mutexLock,
  mutexOwner,
  mutexTryLock,
  mutexUnlock,
} from "../../src/sync/mutex.ts";
import { setCurrentTid, taskInit } from "../../src/sync/current.ts";
import { allDone, enterMainTask, MAIN_TID, makeKernel, testSeed, withWorkers } from "./_helpers.ts";
import { LOCK_MUTEX } from "./_helpers.ts";

const ITERS = 20_000;

for (const perturbOn of [false, true]) {
  Deno.test(`mutexLock() loses no update of a plain counter when 2 Workers contend (perturb=${perturbOn})`, async () => {
    const kern = makeKernel();
    const seed = testSeed();
    setDebug(kern.k, DEBUG_PERTURB, perturbOn);
    const m = kern.alloc(MUTEX_WORDS), ctr = kern.alloc(1), gate = kern.gate(2);
    const iters = perturbOn ? ITERS / 10 : ITERS;
    await withWorkers(kern, seed, async (spawn) => {
      const ws = [2, 3].map((tid) =>
        spawn(tid, "counter", { lw: m, ctr, kind: LOCK_MUTEX, bit: -1, iters, gate })
      );
      await allDone(ws, 30_000);
      assert.equal(kern.k[ctr], 2 * iters, "lost updates");
      assert.equal(mutexOwner(kern.k, m), 0);
    });
  });
}

Deno.test("mutexUnlock() wakes the sleeper on every hand-off between 2 Workers", async () => {
  const kern = makeKernel();
  const seed = testSeed();
  const m = kern.alloc(MUTEX_WORDS),
    turn = kern.alloc(1),
    held = kern.alloc(1),
    bar = kern.alloc(3);
  initBarrier(kern.k, bar, 2);
  await withWorkers(kern, seed, async (spawn) => {
    const ws = [0, 1].map((role) =>
      spawn(2 + role, "handoff", { m, turn, held, bar, role, rounds: 200, timeoutMs: 5000 })
    );
    await allDone(ws, 30_000);
    assert.equal(mutexOwner(kern.k, m), 0);
  });
});

Deno.test("mutexTryLock() fails while held and succeeds once released", () => {
  const kern = makeKernel();
  const m = kern.alloc(MUTEX_WORDS);
  enterMainTask(kern);
  assert.equal(mutexTryLock(kern.k, m, LockClass.TEST_A), true);
  assert.equal(mutexOwner(kern.k, m), MAIN_TID);
  taskInit(kern.k, asTaskSlot(2));
  setCurrentTid(asTaskSlot(2));
  assert.equal(mutexTryLock(kern.k, m, LockClass.TEST_A), false);
  setCurrentTid(MAIN_TID);
  mutexUnlock(kern.k, m);
  assert.equal(mutexOwner(kern.k, m), 0);
  assert.equal(kern.k[m], 0, "an unlocked mutex is an all-zero word");
});

Deno.test("mutexUnlock() panics when the caller does not own the mutex", () => {
  const kern = makeKernel();
  const m = kern.alloc(MUTEX_WORDS);
  enterMainTask(kern);
  assert.throws(() => mutexUnlock(kern.k, m), KernelPanic);
  mutexLock(kern.k, m, LockClass.TEST_A);
  taskInit(kern.k, asTaskSlot(2));
  setCurrentTid(asTaskSlot(2));
  assert.throws(() => mutexUnlock(kern.k, m), /does not hold/);
  setCurrentTid(MAIN_TID);
  mutexUnlock(kern.k, m);
});

Deno.test("mutexLock() panics instead of deadlocking when the owner takes it again", () => {
  const kern = makeKernel();
  const m = kern.alloc(MUTEX_WORDS);
  enterMainTask(kern);
  mutexLock(kern.k, m, LockClass.TEST_A);
  assert.throws(() => mutexLock(kern.k, m, LockClass.TEST_A), /already holds/);
});

Deno.test("mutexLock() panics when no task is current", () => {
  const kern = makeKernel();
  const m = kern.alloc(MUTEX_WORDS);
  setCurrentTid(asTaskSlot(0));
  assert.throws(() => mutexLock(kern.k, m, LockClass.TEST_A), /outside any task/);
  assert.equal(kern.k[m], 0);
});
