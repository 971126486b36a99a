import assert from "node:assert/strict";
import { HEADER } from "../../src/abi/layout/mod.ts";
import { KernelPanic } from "../../src/abi/panic.ts";
import { asTaskSlot } from "../../src/abi/types.ts";
import {
  bitIsLocked,
  bitLock,
  bitTryLock,
  bitUnlock,
  waitOnBit,
  wakeUpBit,
} from "../../src/sync/bitlock.ts";
import { LockClass } from "../../src/sync/lockdep.ts";
import { lockHolders } from "../../src/sync/recover.ts";
import { setCurrentTid, taskInit } from "../../src/sync/current.ts";
import {
  allDone,
  enterMainTask,
  LOCK_BIT,
  MAIN_TID,
  makeKernel,
  sleep,
  testSeed,
  withWorkers,
} from "./_helpers.ts";

const OTHER_BITS = 0x5a5a_0000 | 0b1010_0000;

Deno.test("bitLock() loses no update of a plain counter and keeps the word's other bits when 2 Workers contend", async () => {
  const kern = makeKernel();
  const seed = testSeed();
  const flags = kern.alloc(1), ctr = kern.alloc(1), gate = kern.gate(2);
  kern.k[flags] = OTHER_BITS;
  const iters = 20_000;
  await withWorkers(kern, seed, async (spawn) => {
    const ws = [2, 3].map((tid) =>
      spawn(tid, "counter", { lw: flags, ctr, kind: LOCK_BIT, bit: 3, iters, gate })
    );
    await allDone(ws, 30_000);
    assert.equal(kern.k[ctr], 2 * iters, "lost updates");
    assert.equal(kern.k[flags], OTHER_BITS, "other bits of the flags word changed");
    assert.equal(kern.k[HEADER.bitWaiters], 0, "bit-waiter count leaked");
  });
});

Deno.test("bitLock() on different bits of one word keeps both counters exact when 2 Workers per bit contend", async () => {
  const kern = makeKernel();
  const seed = testSeed();
  const flags = kern.alloc(1), c0 = kern.alloc(1), c1 = kern.alloc(1), gate = kern.gate(4);
  const iters = 10_000;
  await withWorkers(kern, seed, async (spawn) => {
    const ws = [2, 3, 4, 5].map((tid) =>
      spawn(tid, "counter", {
        lw: flags,
        ctr: tid % 2 ? c1 : c0,
        kind: LOCK_BIT,
        bit: tid % 2,
        iters,
        gate,
      })
    );
    await allDone(ws, 60_000);
    assert.equal(kern.k[c0], 2 * iters, "lost updates under bit 0");
    assert.equal(kern.k[c1], 2 * iters, "lost updates under bit 1");
    assert.equal(kern.k[flags], 0);
  });
});

Deno.test("bitUnlock() wakes a Worker blocked in bitLock()", async () => {
  const kern = makeKernel();
  const seed = testSeed();
  const flags = kern.alloc(1);
  enterMainTask(kern);
  bitLock(kern.k, flags, 5, LockClass.PAGE_LOCK);
  await withWorkers(kern, seed, async (spawn) => {
    const w = spawn(2, "takeOne", { w: flags, which: 3, bit: 5 });
    await w.expect("trying", 20_000);
    await sleep(30); // long enough that it went to sleep
    assert.deepEqual(lockHolders(kern.k, flags, 5), [MAIN_TID]);
    bitUnlock(kern.k, flags, 5);
    await w.expect("got", 10_000);
    await w.done(10_000);
    assert.equal(kern.k[flags], 0);
  });
});

Deno.test("bitTryLock() fails while the bit is held and bitUnlock() panics for a non-holder", () => {
  const kern = makeKernel();
  const { k } = kern;
  const flags = kern.alloc(1);
  k[flags] = OTHER_BITS;
  enterMainTask(kern);
  assert.equal(bitTryLock(k, flags, 0, LockClass.PAGE_LOCK), true);
  assert.equal(bitIsLocked(k, flags, 0), true);
  taskInit(k, asTaskSlot(2));
  setCurrentTid(asTaskSlot(2));
  assert.equal(bitTryLock(k, flags, 0, LockClass.PAGE_LOCK), false);
  assert.throws(() => bitUnlock(k, flags, 0), KernelPanic);
  setCurrentTid(MAIN_TID);
  bitUnlock(k, flags, 0);
  assert.equal(k[flags], OTHER_BITS);
  assert.throws(() => bitLock(k, flags, 32, LockClass.PAGE_LOCK), /outside 0..31/);
});

Deno.test("waitOnBit() returns false on timeout and true once the bit is clear", async () => {
  const kern = makeKernel();
  const { k } = kern;
  const flags = kern.alloc(1);
  enterMainTask(kern);
  assert.equal(waitOnBit(k, flags, 2, 5), true, "clear bit: no wait");
  k[flags] = 1 << 2;
  assert.equal(waitOnBit(k, flags, 2, 10), false);
  assert.equal(k[HEADER.bitWaiters], 0);
  // A Worker waits on the bit; clearing it by hand and wakeUpBit releases it.
  const seed = testSeed();
  await withWorkers(kern, seed, async (spawn) => {
    const w = spawn(2, "waitBit", { flags, bit: 2, timeoutMs: 10_000 });
    await w.expect("waiting", 20_000);
    await sleep(20);
    Atomics.and(k, flags, ~(1 << 2));
    wakeUpBit(k, flags, 2);
    const r = await w.done(10_000);
    assert.equal(r.ok, 1);
  });
});
